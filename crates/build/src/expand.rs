//! Docker's shell-like word processing (`shell.Lex`): quotes, escapes and
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`,
//! `${VAR+alt}`, `${VAR:?message}` (and the prefix/suffix removals
//! `${VAR#p}`, `${VAR##p}`, `${VAR%p}`, `${VAR%%p}` Docker has since 23).
//!
//! A port of BuildKit's `frontend/dockerfile/shell/lex.go`: single quotes
//! are literal; double quotes allow `$` and escape only `"`, `$` and the
//! escape character (other escapes stay as written); outside quotes the
//! escape character takes the next character literally; `$` followed by
//! anything but a name, a digit, a special parameter or `{` stays `$`; an
//! unset variable expands to nothing. Also `${VAR/pattern/repl}` and
//! `${VAR//pattern/repl}` (first or every match, replaced literally).
//! Errors read as Docker's: `failed to process "${A:?}": A: is not
//! allowed to be unset`.

mod pattern;

use pattern::{glob_tokens, replace, trim};

/// How deeply `${…}` may nest (`${a:-${b:-…}}`): each level recurses, and a
/// hostile Dockerfile must not exhaust the stack (BuildKit's Go stacks
/// grow; ours do not). Real Dockerfiles nest two or three deep.
pub const MAX_NESTING: usize = 64;

/// Expands one word: quotes removed, escapes applied (`escape` is the
/// Dockerfile's escape character), variables from `lookup`.
pub fn expand(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    Ok(process(word, escape, lookup)?.0)
}

/// Expands a line into words (`COPY a "b c" $D` → `a`, `b c`, value of D),
/// split on unquoted whitespace, as Docker's `ProcessWords`.
///
/// As in BuildKit (`wordsStruct.addString`), whitespace inside an
/// unquoted variable's value splits it too: with `D="x y"`, `$D` gives two
/// words and `"$D"` one. Quoted text never splits, and an empty quoted
/// word (`""`) yields no word, also as BuildKit does.
pub fn expand_words(
    text: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    Ok(process(text, escape, lookup)?.1)
}

/// BuildKit's `SkipUnsetEnv` words with no variables set: what a heredoc
/// marker's name is (`<<$EOF` is named `$EOF`).
pub(crate) fn words_keeping_variables(text: &str) -> Result<Vec<String>, String> {
    let mut lex = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        escape: '\\',
        raw_escapes: false,
        depth: 0,
        keep_unset: true,
        lookup: &|_| None,
    };
    Ok(lex.process_until(None, false)?.1)
}

fn process(
    text: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<String>), String> {
    let mut lex = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        escape,
        raw_escapes: false,
        depth: 0,
        keep_unset: false,
        lookup,
    };
    lex.process_until(None, false)
        .map_err(|e| format!("failed to process {text:?}: {e}"))
}

/// BuildKit's `wordsStruct`: the words of a line as they are built.
#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    /// A character that splits on whitespace.
    fn add_char(&mut self, c: char) {
        if c.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(c);
        }
    }

    fn add_raw_char(&mut self, c: char) {
        self.word.push(c);
        self.in_word = true;
    }

    fn add_raw_str(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
        }
        self.words
    }
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    /// Keep escape characters in the result (inside `${v#…}` and
    /// `${v/…/…}`, whose pattern syntax reads them itself).
    raw_escapes: bool,
    /// `${` levels open around the cursor.
    depth: usize,
    /// Leave unset variables as written (BuildKit's `SkipUnsetEnv`).
    keep_unset: bool,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// BuildKit's `processStopOn`: reads up to `stop` (consumed) or the
    /// end, giving the text and its words.
    fn process_until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let result = self.process_inner(stop);
        self.raw_escapes = saved;
        result
    }

    fn process_inner(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            match c {
                '\'' => {
                    let s = self.single_quote()?;
                    result.push_str(&s);
                    words.add_raw_str(&s);
                }
                '"' => {
                    let s = self.double_quote()?;
                    result.push_str(&s);
                    words.add_raw_str(&s);
                }
                '$' => {
                    let s = self.dollar()?;
                    result.push_str(&s);
                    s.chars().for_each(|c| words.add_char(c));
                }
                '<' => {
                    // `<<` keeps the blanks after it in the same word, so
                    // `<< EOF` stays one heredoc marker.
                    self.pos += 1;
                    let mut s = String::from("<");
                    if self.peek() == Some('<') {
                        self.pos += 1;
                        s.push('<');
                        while let Some(b) = self.peek().filter(|b| matches!(b, ' ' | '\t' | '\r')) {
                            self.pos += 1;
                            s.push(b);
                        }
                    }
                    result.push_str(&s);
                    words.add_raw_str(&s);
                }
                _ => {
                    self.pos += 1;
                    if c == self.escape {
                        if self.raw_escapes {
                            words.add_raw_char(c);
                            result.push(c);
                        }
                        // An escape at the very end is dropped.
                        let Some(escaped) = self.next() else { break };
                        words.add_raw_char(escaped);
                        result.push(escaped);
                    } else {
                        words.add_char(c);
                        result.push(c);
                    }
                }
            }
        }
        if let Some(stop) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            ));
        }
        Ok((result, words.finish()))
    }

    /// `'…'`: everything literal; a single quote cannot be escaped.
    fn single_quote(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    /// `"…"`: `$` expands; the escape character escapes `"`, `$` and
    /// itself, and is kept before anything else.
    fn double_quote(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some('$') => s.push_str(&self.dollar()?),
                Some(mut c) => {
                    self.pos += 1;
                    if c == self.escape {
                        // In raw mode BuildKit writes the escape, then the
                        // escaped character, or the escape once more.
                        if self.raw_escapes {
                            s.push(c);
                        }
                        match self.peek() {
                            // The closing quote is missing anyway; the
                            // loop reports it.
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                c = n;
                            }
                            Some(_) => {}
                        }
                    }
                    s.push(c);
                }
            }
        }
    }

    /// BuildKit's `processName`: letters, digits and `_`; a leading digit
    /// run (`$1`) or one special parameter (`$@`, `$*`, `$#`, `$?`, `$-`,
    /// `$$`, `$!`, `$0`).
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    self.pos += 1;
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return c.to_string();
            }
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            self.pos += 1;
            name.push(c);
        }
        name
    }

    /// `$…` at the cursor.
    fn dollar(&mut self) -> Result<String, String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match (self.lookup)(&name) {
                None if self.keep_unset => format!("${name}"),
                value => value.unwrap_or_default(),
            });
        }
        if self.depth == MAX_NESTING {
            return Err(format!("more than {MAX_NESTING} nested ${{}}"));
        }
        self.depth += 1;
        let result = self.braced();
        self.depth -= 1;
        result
    }

    /// `${…}`, the cursor on the `{`.
    fn braced(&mut self) -> Result<String, String> {
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let mut op = self.next();
        let mut ops: String = op.map(String::from).unwrap_or_default();
        let mut colon = false;
        if op == Some(':') {
            // `:` makes an empty value count as unset.
            colon = true;
            op = self.next();
            ops.extend(op);
        }
        let value = (self.lookup)(&name);
        if value.is_none() && self.keep_unset {
            return Ok(self.unset_as_written(&name, op, &ops));
        }
        match op {
            Some('}') if !colon => Ok(value.unwrap_or_default()),
            Some(c @ ('-' | '+' | '?')) => {
                let word = self.operand('}', false)?;
                let unset = value.is_none() || (colon && value.as_deref() == Some(""));
                match c {
                    '-' if unset => Ok(word),
                    '-' => Ok(value.unwrap_or_default()),
                    '+' if unset => Ok(String::new()),
                    '+' => Ok(word),
                    _ if value.is_none() => {
                        Err(required(&name, word, "is not allowed to be unset"))
                    }
                    _ if unset => Err(required(&name, word, "is not allowed to be empty")),
                    _ => Ok(value.unwrap_or_default()),
                }
            }
            Some(c @ ('#' | '%')) if !colon => {
                let word = self.operand('}', true)?;
                let (longest, pattern) = match word.strip_prefix(c) {
                    Some(p) => (true, p),
                    None => (false, word.as_str()),
                };
                let tokens = glob_tokens(pattern)?;
                Ok(trim(&value.unwrap_or_default(), &tokens, c == '#', longest))
            }
            Some('/') if !colon => {
                let all = self.peek() == Some('/');
                if all {
                    self.pos += 1;
                }
                let pattern = match self.process_until(Some('/'), true) {
                    Ok((p, _)) => p,
                    Err(_) if self.peek().is_none() => {
                        return Err("syntax error: missing '/' in ${}".into())
                    }
                    Err(e) => return Err(e),
                };
                let replacement = self.operand('}', true)?;
                let tokens = glob_tokens(&pattern)?;
                Ok(replace(
                    &value.unwrap_or_default(),
                    &tokens,
                    &replacement,
                    all,
                ))
            }
            None => Err("syntax error: missing '}'".into()),
            _ => Err(format!("unsupported modifier ({ops}) in substitution")),
        }
    }

    /// `${name…}` of an unset variable, as written (only the heredoc
    /// marker reader asks for it, and only its name matters there).
    fn unset_as_written(&mut self, name: &str, op: Option<char>, ops: &str) -> String {
        if op == Some('}') {
            return format!("${{{name}}}");
        }
        let word = self.operand('}', false).unwrap_or_default();
        format!("${{{name}{ops}{word}}}")
    }

    /// The word after an operator, up to `stop`.
    fn operand(&mut self, stop: char, raw_escapes: bool) -> Result<String, String> {
        match self.process_until(Some(stop), raw_escapes) {
            Ok((word, _)) => Ok(word),
            Err(_) if self.peek().is_none() => Err("syntax error: missing '}'".into()),
            Err(e) => Err(e),
        }
    }
}

/// `${VAR?msg}`'s error: `VAR: msg`, or the default wording.
fn required(name: &str, word: String, default: &str) -> String {
    let word = if word.is_empty() {
        default.to_string()
    } else {
        word
    };
    format!("{name}: {word}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PWD" => Some("/home".into()),
            "SHELL" => Some("bash".into()),
            "KOREAN" => Some("한국어".into()),
            "EMPTY" => Some(String::new()),
            "SPACED" => Some("a b  c".into()),
            "FILE" => Some("dir/archive.tar.gz".into()),
            "1" => Some("one".into()),
            _ => None,
        }
    }

    fn ex(word: &str) -> Result<String, String> {
        expand(word, '\\', &env)
    }

    #[test]
    fn words_like_moby_env_var_test() {
        // (input, expected), in the spirit of moby's envVarTest file.
        let cases = [
            ("hello", "hello"),
            ("he'll'o", "hello"),
            ("he'llo", "ERR"),
            ("he\\'llo", "he'llo"),
            ("he\\\\'llo", "ERR"),
            ("abc\\'def", "abc'def"),
            ("\"abc'def\"", "abc'def"),
            ("\"abc\\'def\"", "abc\\'def"),
            ("'abc\\'def'", "ERR"),
            ("\"abc\\\"def\"", "abc\"def"),
            ("'abc\\\"def'", "abc\\\"def"),
            ("\"a\\$b\"", "a$b"),
            ("\"a\\\\b\"", "a\\b"),
            ("\"a\\xb\"", "a\\xb"),
            ("a\\xb", "axb"),
            ("trailing\\", "trailing"),
            ("$PWD", "/home"),
            ("${PWD}", "/home"),
            ("'$PWD'", "$PWD"),
            ("\"$PWD\"", "/home"),
            ("\\$PWD", "$PWD"),
            ("\"\\$PWD\"", "$PWD"),
            ("$PWD/x", "/home/x"),
            ("${PWD}x", "/homex"),
            ("$PWDx", ""),
            ("$KOREAN", "한국어"),
            ("$", "$"),
            ("a$", "a$"),
            ("$ x", "$ x"),
            ("$/", "$/"),
            ("${", "ERR"),
            ("${}", "ERR"),
            ("${:-x}", "ERR"),
            ("${PWD", "ERR"),
            ("${PWD:-x", "ERR"),
            ("${PWD x}", "ERR"),
            ("${PWD:=x}", "ERR"),
            ("${PWD:#x}", "ERR"),
            ("${PWD/home/x}", "/x"),
            ("${FILE/a/A}", "dir/Archive.tar.gz"),
            ("${FILE//a/A}", "dir/Archive.tAr.gz"),
            ("${FILE/*./}", "gz"),
            ("${FILE//[/x}", "dir/archive.tar.gz"),
            ("${FILE/\\//-}", "dir-archive.tar.gz"),
            ("${UNSET//x/y}", ""),
            ("a<<b", "a<<b"),
            ("$1", "one"),
            ("$12", ""),
            ("${UNSET}", ""),
            ("${UNSET:-def}", "def"),
            ("${EMPTY:-def}", "def"),
            ("${PWD:-def}", "/home"),
            ("${UNSET-def}", "def"),
            ("${EMPTY-def}", ""),
            ("${PWD-def}", "/home"),
            ("${UNSET:+alt}", ""),
            ("${EMPTY:+alt}", ""),
            ("${PWD:+alt}", "alt"),
            ("${UNSET+alt}", ""),
            ("${EMPTY+alt}", "alt"),
            ("${PWD+alt}", "alt"),
            ("${UNSET:-${PWD}}", "/home"),
            ("${UNSET:-${ALSO:-deep}}", "deep"),
            ("${UNSET:-'a b'}", "a b"),
            ("${UNSET:-\"$SHELL x\"}", "bash x"),
            ("${UNSET:-a\\}b}", "a}b"),
            ("${PWD:?no}", "/home"),
            ("${EMPTY?no}", ""),
            ("${FILE#*/}", "archive.tar.gz"),
            ("${FILE##*.}", "gz"),
            ("${FILE#*.}", "tar.gz"),
            ("${FILE%.*}", "dir/archive.tar"),
            ("${FILE%%.*}", "dir/archive"),
            ("${FILE%/*}", "dir"),
            ("${FILE#dir}", "/archive.tar.gz"),
            ("${FILE#nomatch}", "dir/archive.tar.gz"),
            ("${FILE%?z}", "dir/archive.tar."),
            ("${FILE%\\*}", "dir/archive.tar.gz"),
            ("${FILE#*\\}}", "dir/archive.tar.gz"),
            ("\"${FILE%.*}\"", "dir/archive.tar"),
            ("${UNSET#x}", ""),
            ("a b", "a b"),
        ];
        for (input, want) in cases {
            let got = ex(input);
            if want == "ERR" {
                assert!(got.is_err(), "{input:?} should fail, got {got:?}");
            } else {
                assert_eq!(got.as_deref(), Ok(want), "{input:?}");
            }
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |n: usize| format!("{}x{}", "${U:-".repeat(n), "}".repeat(n));
        assert_eq!(ex(&nested(MAX_NESTING)), Ok("x".into()));
        let deep = nested(200_000);
        assert_eq!(
            ex(&deep).unwrap_err().split(": ").last(),
            Some("more than 64 nested ${}")
        );
        let quoted = format!("{}x{}", "${U:-\"".repeat(100), "\"}".repeat(100));
        assert!(ex(&quoted).is_err());
    }

    #[test]
    fn errors_read_like_docker() {
        let cases = [
            ("${UNSET:?oops}", "UNSET: oops"),
            ("${UNSET?oops}", "UNSET: oops"),
            ("${UNSET?}", "UNSET: is not allowed to be unset"),
            ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
            ("${UNSET:?}", "UNSET: is not allowed to be unset"),
            (
                "'abc",
                "unexpected end of statement while looking for matching single-quote",
            ),
            (
                "\"abc",
                "unexpected end of statement while looking for matching double-quote",
            ),
            ("${PWD x}", "unsupported modifier ( ) in substitution"),
            ("${PWD:=x}", "unsupported modifier (:=) in substitution"),
            ("${PWD:#x}", "unsupported modifier (:#) in substitution"),
            ("${}", "syntax error: bad substitution"),
            ("${", "syntax error: missing '}'"),
            ("${PWD:-x", "syntax error: missing '}'"),
            ("${PWD/x", "syntax error: missing '/' in ${}"),
            (
                "${PWD#\\x}",
                "invalid pattern (\\x) in substitution: invalid escape '\\x'",
            ),
        ];
        for (word, message) in cases {
            assert_eq!(
                ex(word),
                Err(format!("failed to process {word:?}: {message}")),
                "{word:?}"
            );
        }
    }

    #[test]
    fn backtick_escape_keeps_backslashes() {
        let w = |s: &str| expand(s, '`', &env);
        assert_eq!(w("C:\\path\\to"), Ok("C:\\path\\to".into()));
        assert_eq!(w("a` b"), Ok("a b".into()));
        assert_eq!(w("`$PWD"), Ok("$PWD".into()));
        assert_eq!(w("\"`\"q\""), Ok("\"q".into()));
        assert_eq!(w("\"c:\\x\""), Ok("c:\\x".into()));
    }

    #[test]
    fn words_split_on_unquoted_whitespace() {
        let w = |s: &str| expand_words(s, '\\', &env).unwrap();
        assert_eq!(w("a \"b c\" $PWD"), ["a", "b c", "/home"]);
        assert_eq!(w("  a\t b  "), ["a", "b"]);
        assert_eq!(w("a\\ b c"), ["a b", "c"]);
        assert_eq!(w("'x y'z"), ["x yz"]);
        // An unquoted value splits (moby's addString), a quoted one not.
        assert_eq!(w("$SPACED"), ["a", "b", "c"]);
        assert_eq!(w("\"$SPACED\""), ["a b  c"]);
        assert_eq!(w("x$SPACED"), ["xa", "b", "c"]);
        // Empty quotes make no word, as in moby.
        assert_eq!(w("a \"\" b"), ["a", "b"]);
        assert_eq!(w("$UNSET"), Vec::<String>::new());
        assert!(expand_words("\"open", '\\', &env).is_err());
        // `<<` keeps the blanks after it: a heredoc marker stays one word.
        assert_eq!(w("RUN << EOF x"), ["RUN", "<< EOF", "x"]);
        assert_eq!(w("a < b"), ["a", "<", "b"]);
    }
}
