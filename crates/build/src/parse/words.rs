//! The word-level helpers of moby's `frontend/dockerfile/parser`
//! (`line_parsers.go`, `parser.go`): builder flags, words that keep their
//! quotes, JSON arrays, here-document markers and "did you mean".

use crate::Heredoc;

/// BuildKit's `extractBuilderFlags`: the leading `--flag[=value]` words
/// (quotes and escapes removed) and the rest of the line. A lone `--` ends
/// the flags.
pub(super) fn extract_flags(line: &str, escape: char) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut chars = line.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            return (flags, "");
        };
        if !line[start..].starts_with("--") {
            return (flags, &line[start..]);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut end = line.len();
        while let Some((i, c)) = chars.next() {
            match quote {
                None if c.is_whitespace() => {
                    end = i;
                    break;
                }
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == escape => {
                    if let Some((_, n)) = chars.next() {
                        word.push(n);
                    }
                }
                _ => word.push(c),
            }
        }
        if word == "--" {
            return (flags, &line[end..]);
        }
        flags.push(word);
    }
}

/// moby's `reWhitespace` (`[\t\v\f\r ]+`): the blanks that split the
/// keyword from its arguments, the words of FROM, EXPOSE and of COPY, ADD
/// and VOLUME in shell form, and the old `ENV name value`. ASCII only, so
/// a no-break space pasted from a web page stays inside its word there (as
/// it does not in `parseWords` and `extractBuilderFlags`, which use Go's
/// `unicode.IsSpace` like [`char::is_whitespace`]).
pub(super) fn is_go_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{b}' | '\u{c}' | '\r')
}

/// The keyword and the rest, split as moby's `splitCommand` does: at the
/// first run of [`is_go_blank`] characters of the trimmed line.
pub(super) fn split_keyword(line: &str) -> (&str, &str) {
    let line = line.trim();
    match line.split_once(is_go_blank) {
        Some((keyword, rest)) => (keyword, rest.trim_start_matches(is_go_blank)),
        None => (line, ""),
    }
}

/// moby's `parseWords`: splits on whitespace outside quotes, keeping the
/// quotes and escapes in each word (expansion removes them later).
pub(super) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if !in_word {
            if c.is_whitespace() {
                continue;
            }
            in_word = true;
        }
        match quote {
            None => {
                if c.is_whitespace() {
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    in_word = false;
                    continue;
                }
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    // An escape at the end is dropped; otherwise it stays
                    // with the character it escapes.
                    let Some(n) = chars.next() else { continue };
                    word.push(c);
                    word.push(n);
                    continue;
                }
                word.push(c);
            }
            Some(q) => {
                if c == q {
                    quote = None;
                }
                if c == escape && q != '\'' {
                    match chars.next() {
                        None => continue,
                        Some(n) => {
                            word.push(c);
                            word.push(n);
                            continue;
                        }
                    }
                }
                word.push(c);
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// What a `[`-line turned out to be.
pub(super) enum Json {
    /// A JSON array of strings.
    Strings(Vec<String>),
    /// Not JSON (shell form, as Docker falls back).
    Invalid,
    /// A JSON array holding something else: an error in Docker.
    Mixed,
}

/// moby's `parseJSON`: a JSON array of strings.
pub(super) fn parse_json(rest: &str) -> Json {
    let rest = rest.trim();
    if !rest.starts_with('[') || !rest.ends_with(']') {
        return Json::Invalid;
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(&go_surrogates(rest)) {
        Err(_) => Json::Invalid,
        Ok(values) => values
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Some(s),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map_or(Json::Mixed, Json::Strings),
    }
}

/// Go's `encoding/json` reads a `\u` escape of a UTF-16 surrogate that is
/// not half of a valid pair as U+FFFD (and the next escape on its own),
/// where serde_json refuses the whole document, which would turn an exec
/// form into a shell form. Such escapes inside strings are rewritten to
/// `\ufffd` first, so both read the same array.
fn go_surrogates(json: &str) -> std::borrow::Cow<'_, str> {
    if !json.contains("\\u") {
        return json.into();
    }
    let b = json.as_bytes();
    let hex = |at: usize| -> Option<u32> {
        let h = b.get(at..at + 4)?;
        if !h.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    let escape_at = |at: usize| -> Option<u32> {
        (b.get(at) == Some(&b'\\') && b.get(at + 1) == Some(&b'u'))
            .then(|| hex(at + 2))
            .flatten()
    };
    let mut out = String::new();
    let (mut i, mut copied, mut in_string) = (0, 0, false);
    while i < b.len() {
        match b[i] {
            b'"' => {
                in_string = !in_string;
                i += 1;
            }
            b'\\' if in_string => match escape_at(i) {
                Some(0xD800..=0xDBFF)
                    if escape_at(i + 6).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low)) =>
                {
                    i += 12
                }
                Some(0xD800..=0xDFFF) => {
                    out.push_str(&json[copied..i]);
                    out.push_str("\\ufffd");
                    i += 6;
                    copied = i;
                }
                Some(_) => i += 6,
                None => i += 2,
            },
            _ => i += 1,
        }
    }
    if copied == 0 {
        return json.into();
    }
    out.push_str(&json[copied..]);
    out.into()
}

/// moby's `ParseHeredoc`: whether a word is `[n]<<[-]NAME`, and which.
/// The content is filled in by the line reader.
pub(super) fn heredoc_marker(word: &str) -> Option<(Heredoc, bool)> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let rest = word[digits..].strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let words = crate::expand::words_keeping_variables(rest).ok()?;
    let [name] = <[String; 1]>::try_from(words).ok()?;
    // A quoted name turns expansion off, as in sh (BuildKit compares the
    // quotes left with and without quote removal).
    let expand = !has_unescaped_quote(rest);
    Some((
        Heredoc {
            name,
            content: String::new(),
            expand,
        },
        chomp,
    ))
}

fn has_unescaped_quote(s: &str) -> bool {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' | '\'' => return true,
            _ => {}
        }
    }
    false
}

/// The here-documents a RUN/COPY/ADD line opens, in order (BuildKit's
/// `heredocsFromLine`, which always splits with `\`; its lexer keeps
/// `<<` and the blanks after it with the next word, so `<< EOF` counts).
pub(super) fn heredocs_in(line: &str) -> Vec<(Heredoc, bool)> {
    if !line.contains("<<") {
        return Vec::new();
    }
    let mut words = parse_words(line, '\\').into_iter().peekable();
    let mut found = Vec::new();
    while let Some(mut word) = words.next() {
        let bare = word.trim_start_matches(|c: char| c.is_ascii_digit()) == "<<";
        if bare {
            if let Some(next) = words.next() {
                word.push_str(&next);
            }
        }
        found.extend(heredoc_marker(&word));
    }
    found
}

/// The known word closest to `word`, if within two edits (BuildKit's
/// `suggest.Search`). Ignoring case, the answer takes the case of `word`
/// when that is all lower or all upper, else lower case.
pub(super) fn suggest(word: &str, known: &[&str], ignore_case: bool) -> Option<String> {
    let wanted = if ignore_case {
        word.to_lowercase()
    } else {
        word.to_string()
    };
    let wanted: Vec<char> = wanted.chars().collect();
    let best = known
        .iter()
        .filter(|k| k.chars().count().abs_diff(wanted.len()) <= 2)
        .map(|k| (levenshtein(&wanted, &k.chars().collect::<Vec<_>>()), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)?
        .1;
    if !ignore_case {
        return Some(best.to_string());
    }
    Some(if word == word.to_uppercase() {
        best.to_uppercase()
    } else {
        best.to_lowercase()
    })
}

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_split_off_the_front() {
        let (f, rest) = extract_flags("  --a=1 --b='x y' --c=\"q\\\"\" cmd --d", '\\');
        assert_eq!(f, ["--a=1", "--b=x y", "--c=q\""]);
        assert_eq!(rest, "cmd --d");
        let (f, rest) = extract_flags("--link -- --notflag", '\\');
        assert_eq!(f, ["--link"]);
        assert_eq!(rest, " --notflag");
        assert_eq!(extract_flags("--only", '\\').0, ["--only"]);
        assert_eq!(extract_flags("--a=x`=y b", '`').0, ["--a=x=y"]);
        assert_eq!(extract_flags("-x", '\\').1, "-x");
    }

    #[test]
    fn words_keep_quotes() {
        assert_eq!(
            parse_words(r#"a=b c="d e" f='g h'  i\ j"#, '\\'),
            ["a=b", "c=\"d e\"", "f='g h'", "i\\ j"]
        );
        assert_eq!(parse_words(r#"x="a\"b""#, '\\'), [r#"x="a\"b""#]);
        assert_eq!(parse_words("''", '\\'), ["''"]);
        assert_eq!(parse_words("a` b", '`'), ["a` b"]);
        assert!(parse_words("   ", '\\').is_empty());
    }

    #[test]
    fn json_or_not() {
        assert!(matches!(parse_json(r#" ["a", "b c"] "#), Json::Strings(v) if v == ["a", "b c"]));
        assert!(matches!(parse_json("[\"a\", 1]"), Json::Mixed));
        assert!(matches!(parse_json("[a]"), Json::Invalid));
        assert!(matches!(parse_json("[\"a\"] x"), Json::Invalid));
        assert!(matches!(parse_json("echo"), Json::Invalid));
    }

    #[test]
    fn lone_surrogates_read_as_go_reads_them() {
        let strings = |s: &str| match parse_json(s) {
            Json::Strings(v) => v,
            _ => panic!("{s:?} should be a JSON array of strings"),
        };
        assert_eq!(strings(r#"["\ud800 x"]"#), ["\u{fffd} x"]);
        assert_eq!(strings(r#"["\udc00\ud83d\ude00"]"#), ["\u{fffd}\u{1f600}"]);
        assert_eq!(
            strings(r#"["\ud83d\u0041", "\ud83d"]"#),
            ["\u{fffd}A", "\u{fffd}"]
        );
        // An escaped backslash before `u` is no escape; outside strings
        // nothing is rewritten.
        assert_eq!(strings(r#"["\\ud800"]"#), ["\\ud800"]);
        assert!(matches!(parse_json(r#"[\ud800]"#), Json::Invalid));
    }

    #[test]
    fn keyword_split_on_ascii_blanks_only() {
        assert_eq!(split_keyword("  RUN \t echo hi "), ("RUN", "echo hi"));
        assert_eq!(split_keyword("RUN\u{a0}echo"), ("RUN\u{a0}echo", ""));
        assert_eq!(split_keyword("RUN"), ("RUN", ""));
    }

    #[test]
    fn heredoc_markers() {
        let names = |l: &str| {
            heredocs_in(l)
                .into_iter()
                .map(|(h, chomp)| (h.name, h.expand, chomp))
                .collect::<Vec<_>>()
        };
        assert_eq!(names("RUN <<EOF"), [("EOF".into(), true, false)]);
        assert_eq!(
            names("RUN <<-A cat - <<\"B\" 3<<'C'"),
            [
                ("A".into(), true, true),
                ("B".into(), false, false),
                ("C".into(), false, false)
            ]
        );
        assert!(names("RUN echo \"<<EOF\"").is_empty());
        assert!(names("RUN a<<b").is_empty());
        assert!(names("RUN echo <<").is_empty());
        assert_eq!(names("RUN cat << EOF"), [("EOF".into(), true, false)]);
        assert_eq!(names("RUN <<$EOF"), [("$EOF".into(), true, false)]);
        assert_eq!(names("RUN <<${A}"), [("${A}".into(), true, false)]);
        assert_eq!(names("RUN <<E\\\"OF"), [("E\"OF".into(), true, false)]);
        assert_eq!(names("RUN <<'it\"s'"), [("it\"s".into(), false, false)]);
    }

    #[test]
    fn suggestions() {
        let known = ["from", "run", "copy", "healthcheck"];
        let s = |w: &str| suggest(w, &known, true);
        assert_eq!(s("FORM").as_deref(), Some("FROM"));
        assert_eq!(s("form").as_deref(), Some("from"));
        assert_eq!(s("Form").as_deref(), Some("from"));
        assert_eq!(s("rn").as_deref(), Some("run"));
        assert_eq!(s("helthchek").as_deref(), Some("healthcheck"));
        assert_eq!(s("banana"), None);
        assert_eq!(
            suggest("chwon", &["chown"], false).as_deref(),
            Some("chown")
        );
        assert_eq!(suggest("CHOWN", &["chown"], false), None);
    }
}
