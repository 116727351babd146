//! Docker's shell-like word processing (`shell.Lex`): quotes, escapes and
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`,
//! `${VAR+alt}`, `${VAR:?message}` (and the prefix/suffix removals
//! `${VAR#p}`, `${VAR##p}`, `${VAR%p}`, `${VAR%%p}` Docker has since 23).
//!
//! A port of moby's `frontend/dockerfile/shell/lex.go` (BuildKit): single
//! quotes are literal; double quotes allow `$` and escape only `"`, `$` and
//! the escape character (other escapes stay as written); outside quotes
//! the escape character takes the next character literally; `$` followed
//! by anything but a name, a digit, a special parameter or `{` stays `$`;
//! an unset variable expands to nothing.

/// Expands one word: quotes removed, escapes applied (`escape` is the
/// Dockerfile's escape character), variables from `lookup`.
pub fn expand(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut lex = Lexer::new(word, escape, lookup);
    let (text, _) = lex.process_until(None, false)?;
    Ok(text)
}

/// Expands a line into words (`COPY a "b c" $D` → `a`, `b c`, value of D),
/// split on unquoted whitespace, as Docker's `ProcessWords`.
///
/// As in moby (`wordsStruct.addString`), whitespace inside an unquoted
/// variable's value splits it too: with `D="x y"`, `$D` gives two words
/// and `"$D"` one. Quoted text never splits, and an empty quoted word
/// (`""`) yields no word, also as moby does.
pub fn expand_words(
    text: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let mut lex = Lexer::new(text, escape, lookup);
    let (_, words) = lex.process_until(None, false)?;
    Ok(words)
}

/// moby's `wordsStruct`: the words of a line as they are built.
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
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// How deep `${…${…}}` substitutions are nested here.
    depth: usize,
}

/// Deepest nesting of substitutions taken (hostile input must not
/// exhaust the stack).
const MAX_DEPTH: usize = 64;

impl<'a> Lexer<'a> {
    fn new(text: &str, escape: char, lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Lexer {
            chars: text.chars().collect(),
            pos: 0,
            escape,
            lookup,
            depth: 0,
        }
    }

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

    /// moby's `processStopOn`: reads up to `stop` (consumed) or the end.
    /// `raw_escapes` keeps the escape character in the result (patterns of
    /// `#` and `%`, where the glob matcher needs it).
    fn process_until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
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
                _ => {
                    self.pos += 1;
                    if c == self.escape {
                        if raw_escapes {
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
                Some(c) => {
                    self.pos += 1;
                    if c == self.escape {
                        match self.peek() {
                            // The closing quote is missing anyway; the
                            // loop reports it.
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                s.push(n);
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    s.push(c);
                }
            }
        }
    }

    /// moby's `processName`: letters, digits and `_`; a leading digit run
    /// (`$1`) or one special parameter (`$@`, `$*`, `$#`, `$?`, `$-`,
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
            return Ok((self.lookup)(&name).unwrap_or_default());
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let value = (self.lookup)(&name);
        let op = self.next();
        match op {
            Some('}') => Ok(value.unwrap_or_default()),
            Some('?') => {
                let word = self.operand(false)?;
                match value {
                    Some(v) => Ok(v),
                    None => Err(unset_message(&name, word, "is not allowed to be unset")),
                }
            }
            Some(':') => {
                let modifier = self.next();
                let word = self.operand(false)?;
                let v = value.clone().unwrap_or_default();
                match modifier {
                    Some('+') => Ok(if v.is_empty() { v } else { word }),
                    Some('-') => Ok(if v.is_empty() { word } else { v }),
                    Some('?') if value.is_none() => {
                        Err(unset_message(&name, word, "is not allowed to be unset"))
                    }
                    Some('?') if v.is_empty() => {
                        Err(unset_message(&name, word, "is not allowed to be empty"))
                    }
                    Some('?') => Ok(v),
                    other => Err(format!(
                        "unsupported modifier ({}) in substitution",
                        other.map(String::from).unwrap_or_default()
                    )),
                }
            }
            Some(c @ ('-' | '+')) => {
                let word = self.operand(false)?;
                Ok(match (c, value) {
                    ('+', Some(_)) => word,
                    ('+', None) => String::new(),
                    (_, Some(v)) => v,
                    (_, None) => word,
                })
            }
            Some(c @ ('#' | '%')) => {
                let longest = self.peek() == Some(c);
                if longest {
                    self.pos += 1;
                }
                let pattern = self.operand(true)?;
                let pattern: Vec<char> = pattern.chars().collect();
                let v: Vec<char> = value.unwrap_or_default().chars().collect();
                Ok(trim(&v, &pattern, self.escape, c == '#', longest))
            }
            Some(c) => Err(format!("unsupported modifier ({c}) in substitution")),
            None => Err("syntax error: missing '}'".into()),
        }
    }

    /// The word after an operator, up to `}`.
    fn operand(&mut self, raw_escapes: bool) -> Result<String, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "substitutions nested deeper than {MAX_DEPTH} levels"
            ));
        }
        self.depth += 1;
        let r = self.process_until(Some('}'), raw_escapes);
        self.depth -= 1;
        match r {
            Ok((word, _)) => Ok(word),
            Err(e) if e.contains("nested deeper") => Err(e),
            Err(_) if self.peek().is_none() => Err("syntax error: missing '}'".into()),
            Err(e) => Err(e),
        }
    }
}

/// `${VAR?msg}`'s error: `VAR: msg`, or the default wording.
fn unset_message(name: &str, word: String, default: &str) -> String {
    let word = if word.is_empty() {
        default.to_string()
    } else {
        word
    };
    format!("{name}: {word}")
}

/// `${v#p}`, `${v##p}`, `${v%p}`, `${v%%p}`: removes the shortest or
/// longest prefix or suffix matching the glob `pattern`.
fn trim(value: &[char], pattern: &[char], escape: char, prefix: bool, longest: bool) -> String {
    let n = value.len();
    let cut = |i: usize| -> Option<String> {
        let (part, rest) = if prefix {
            (&value[..i], &value[i..])
        } else {
            (&value[n - i..], &value[..n - i])
        };
        glob(pattern, part, escape).then(|| rest.iter().collect())
    };
    let found = if longest {
        (0..=n).rev().find_map(cut)
    } else {
        (0..=n).find_map(cut)
    };
    found.unwrap_or_else(|| value.iter().collect())
}

/// Shell glob as moby converts it to a regexp for `#` and `%`: `*` any
/// run, `?` any one character, the escape character quotes the next.
fn glob(pattern: &[char], text: &[char], escape: char) -> bool {
    // Iterative matcher with single-star backtracking: linear memory and
    // O(len²) at worst, whatever the pattern.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pattern.get(p) {
            Some('*') => {
                star = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some('?') => Some(1),
            Some(&c) if c == escape && p + 1 < pattern.len() => {
                (pattern[p + 1] == text[t]).then_some(2)
            }
            Some(&c) => (c == text[t]).then_some(1),
            None => None,
        };
        match (step, star) {
            (Some(s), _) => {
                p += s;
                t += 1;
            }
            (None, Some((sp, st))) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            (None, None) => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == '*')
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
    fn required_variables_report_their_message() {
        assert_eq!(ex("${UNSET:?oops}"), Err("UNSET: oops".into()));
        assert_eq!(ex("${UNSET?oops}"), Err("UNSET: oops".into()));
        assert_eq!(
            ex("${UNSET?}"),
            Err("UNSET: is not allowed to be unset".into())
        );
        assert_eq!(
            ex("${EMPTY:?}"),
            Err("EMPTY: is not allowed to be empty".into())
        );
        assert_eq!(
            ex("${UNSET:?}"),
            Err("UNSET: is not allowed to be unset".into())
        );
        assert_eq!(
            ex("'abc"),
            Err("unexpected end of statement while looking for matching single-quote".into())
        );
        assert_eq!(
            ex("${PWD x}"),
            Err("unsupported modifier ( ) in substitution".into())
        );
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
    }

    #[test]
    fn glob_matches_like_sh() {
        let g = |p: &str, t: &str| {
            glob(
                &p.chars().collect::<Vec<_>>(),
                &t.chars().collect::<Vec<_>>(),
                '\\',
            )
        };
        assert!(g("*", ""));
        assert!(g("a*c", "abbbc"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(g("*.*", "x.y"));
        assert!(!g("a\\*", "ab"));
        assert!(g("a\\*", "a*"));
        assert!(g("**a", "bba"));
    }
}
