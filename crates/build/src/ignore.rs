//! `.dockerignore` (moby's `patternmatcher`): one pattern a line, `#`
//! comments, paths cleaned and relative to the context root, Go's
//! `filepath.Match` syntax plus `**` for any number of directories, `!`
//! to re-include; the last matching pattern decides; a pattern matches a
//! path or any of its parents (excluding a directory excludes what it
//! holds).
//!
//! Reading follows `dockerignore.ReadAll` (moby/patternmatcher): a line is
//! a comment only if `#` is its very first character (before trimming, as
//! Docker does), then it is trimmed, `!` split off, the rest cleaned like
//! Go's `filepath.Clean` and a leading `/` dropped. Matching follows
//! `PatternMatcher.MatchesOrParentMatches`, with the pattern read the way
//! its regexp translation reads it.

/// The most patterns a `.dockerignore` may hold: each path is matched
/// against every pattern, so an untrusted context must not make that
/// unbounded.
const MAX_PATTERNS: usize = 100_000;

/// The patterns of a `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// `!pattern`: re-includes what it matches.
    exception: bool,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// One character, literally.
    Literal(char),
    /// `?`: one character but `/`.
    Any,
    /// `*`: any run without `/`.
    Star,
    /// `**` (or `**/`) followed by more: nothing, or anything ending in `/`.
    DirStar,
    /// `**` at the end (or a leading `**` before plain text): any run,
    /// `/` included.
    AnyRun,
    /// `[…]` / `[^…]`: ranges, negated or not.
    Class(bool, Vec<(char, char)>),
}

impl Patterns {
    /// Parses a `.dockerignore`'s text.
    pub fn parse(text: &str) -> Result<Patterns, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut line = line.trim();
            if line.is_empty() {
                continue;
            }
            let exception = line.starts_with('!');
            if exception {
                line = line[1..].trim();
                if line.is_empty() {
                    return Err("illegal exclusion pattern: \"!\"".into());
                }
            }
            let mut cleaned = clean(line);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            if patterns.len() == MAX_PATTERNS {
                return Err(format!(
                    ".dockerignore has more than {MAX_PATTERNS} patterns"
                ));
            }
            let tokens =
                compile(&cleaned, Dialect::Ignore).map_err(|e| format!("{e}: {line:?}"))?;
            patterns.push(Pattern { exception, tokens });
        }
        Ok(Patterns { patterns })
    }

    /// Whether `path` (relative to the context, `/`-separated, no leading
    /// `./`) is excluded.
    pub fn excluded(&self, path: &str) -> bool {
        let path = clean(path);
        let path = path.trim_start_matches('/');
        let path: Vec<char> = path.chars().collect();
        // The parents of the path: `a`, `a/b` for `a/b/c`.
        let parents: Vec<usize> = path
            .iter()
            .enumerate()
            .filter(|(_, &c)| c == '/')
            .map(|(i, _)| i)
            .collect();
        let mut matched = false;
        for p in &self.patterns {
            // Only a pattern that could change the answer is tried.
            if p.exception != matched {
                continue;
            }
            let hit = matches(&p.tokens, &path)
                || parents.iter().any(|&end| matches(&p.tokens, &path[..end]));
            if hit {
                matched = !p.exception;
            }
        }
        matched
    }

    /// Whether any pattern is an exception (`!…`): then an excluded
    /// directory must still be walked, since something under it may be
    /// re-included.
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }
}

/// Go's `path.Clean`: no `.` segments, `..` resolved where it can be, no
/// repeated or trailing `/`; `.` for nothing.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// What Go's `filepath.ErrBadPattern` says.
const BAD_PATTERN: &str = "syntax error in pattern";

/// One character of a `[…]` class, as Go's `getEsc`: `\` quotes the next;
/// a bare `-` or `]`, or the end, is malformed.
fn class_char(chars: &[char], i: &mut usize) -> Result<char, &'static str> {
    let mut c = *chars.get(*i).ok_or(BAD_PATTERN)?;
    if c == '-' || c == ']' {
        return Err(BAD_PATTERN);
    }
    if c == '\\' {
        *i += 1;
        c = *chars.get(*i).ok_or(BAD_PATTERN)?;
    }
    *i += 1;
    Ok(c)
}

/// Go's `filepath.Match` of all of `name` against `pattern` (`*`, `?` and
/// `[…]` stop at `/`; `[!…]` negates as `[^…]`; `\` quotes), as `COPY`
/// sources and the image filters match, with the linear matcher below; a
/// malformed pattern matches nothing.
pub fn path_match(pattern: &str, name: &str) -> bool {
    let name: Vec<char> = name.chars().collect();
    compile(pattern, Dialect::PathMatch).is_ok_and(|tokens| matches(&tokens, &name))
}

/// Which rules a pattern follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// moby's `.dockerignore` patterns (`**` crosses directories).
    Ignore,
    /// Go's `filepath.Match` (`**` is two stars).
    PathMatch,
}

/// Turns a cleaned pattern into tokens, as moby's `Pattern.compile` turns
/// it into a regexp; a `[` without its `]` is refused as
/// `filepath.Match` refuses it.
fn compile(pattern: &str, dialect: Dialect) -> Result<Vec<Token>, &'static str> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') && dialect == Dialect::Ignore => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                tokens.push(if i == chars.len() {
                    Token::AnyRun
                } else {
                    Token::DirStar
                });
            }
            '*' => tokens.push(Token::Star),
            '?' => tokens.push(Token::Any),
            '\\' => {
                // A trailing `\` is malformed for `filepath.Match`.
                let &n = chars.get(i).ok_or(BAD_PATTERN)?;
                tokens.push(Token::Literal(n));
                i += 1;
            }
            '[' => {
                // Only `^` negates: moby hands `[…]` to Go's regexp, where
                // `[!a]` is the class of `!` and `a`.
                let negated = chars.get(i) == Some(&'^')
                    || (dialect == Dialect::PathMatch && chars.get(i) == Some(&'!'));
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    if chars.get(i) == Some(&']') && !ranges.is_empty() {
                        i += 1;
                        break;
                    }
                    let lo = class_char(&chars, &mut i)?;
                    let mut hi = lo;
                    if chars.get(i) == Some(&'-') {
                        i += 1;
                        hi = class_char(&chars, &mut i)?;
                        if hi < lo {
                            return Err(BAD_PATTERN);
                        }
                    }
                    ranges.push((lo, hi));
                }
                if dialect == Dialect::PathMatch && negated {
                    // No class of `filepath.Match` crosses a `/`.
                    ranges.push(('/', '/'));
                }
                tokens.push(Token::Class(negated, ranges));
            }
            c => tokens.push(Token::Literal(c)),
        }
    }
    // moby's `suffixMatch` fast path: `**` then plain text matches any
    // path ending in that text (`**foo` matches `xfoo`, where the regexp
    // would want `x/foo`).
    if dialect == Dialect::Ignore
        && pattern.starts_with("**")
        && !pattern.starts_with("**/")
        && tokens[1..].iter().all(|t| matches!(t, Token::Literal(_)))
    {
        tokens[0] = Token::AnyRun;
    }
    Ok(tokens)
}

/// Whether the tokens match all of `path`: a dynamic programme over
/// (token, position), so no pattern can make matching exponential.
fn matches(tokens: &[Token], path: &[char]) -> bool {
    let n = path.len();
    // reach[j]: the tokens so far can consume exactly path[..j].
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    for token in tokens {
        let mut next = vec![false; n + 1];
        for j in 0..=n {
            if !reach[j] {
                continue;
            }
            match token {
                Token::Literal(c) => {
                    if path.get(j) == Some(c) {
                        next[j + 1] = true;
                    }
                }
                Token::Any => {
                    if path.get(j).is_some_and(|&c| c != '/') {
                        next[j + 1] = true;
                    }
                }
                Token::Class(negated, ranges) => {
                    if let Some(&c) = path.get(j) {
                        let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                        if inside != *negated {
                            next[j + 1] = true;
                        }
                    }
                }
                Token::Star => {
                    next[j] = true;
                    let mut k = j;
                    while k < n && path[k] != '/' {
                        k += 1;
                        next[k] = true;
                    }
                }
                Token::DirStar => {
                    next[j] = true;
                    for k in j..n {
                        if path[k] == '/' {
                            next[k + 1] = true;
                        }
                    }
                }
                Token::AnyRun => next[j..].iter_mut().for_each(|r| *r = true),
            }
        }
        reach = next;
        if !reach.iter().any(|&r| r) {
            return false;
        }
    }
    reach[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ignore: &str, cases: &[(&str, bool)]) {
        let p = Patterns::parse(ignore).unwrap();
        for (path, want) in cases {
            assert_eq!(p.excluded(path), *want, "{ignore:?} on {path:?}");
        }
    }

    #[test]
    fn path_match_is_go_filepath_match() {
        // The builder's COPY sources (once engine::build::glob_match).
        assert!(path_match("*.txt", "a.txt"));
        assert!(!path_match("*.txt", "d/a.txt"));
        assert!(path_match("d/*.txt", "d/a.txt"));
        assert!(path_match("f?le", "file"));
        assert!(path_match("[a-c]x", "bx"));
        assert!(!path_match("[!a-c]x", "bx"));
        assert!(!path_match("[^a]", "/"));
        assert!(path_match("**.txt", "a.txt") && !path_match("**.txt", "d/a.txt"));
        assert!(!path_match("[a", "a"), "malformed");
        // Linear: a pattern that made the backtracking matcher exponential.
        let long = "a".repeat(60);
        assert!(!path_match(&"*a".repeat(30), &format!("{long}b")));
    }

    #[test]
    fn globs_and_double_stars() {
        check(
            "**/*.go",
            &[
                ("main.go", true),
                ("a/b/c.go", true),
                ("a/b/c.gox", false),
                ("go", false),
            ],
        );
        check("*.md", &[("README.md", true), ("docs/x.md", false)]);
        check("*/*.md", &[("docs/x.md", true), ("a/b/x.md", false)]);
        check(
            "a/**/b",
            &[
                ("a/b", true),
                ("a/x/y/b", true),
                ("a/x/b/c", true),
                ("ab", false),
            ],
        );
        check("a/**", &[("a/x", true), ("a/x/y", true), ("a", false)]);
        check("**", &[("anything/at/all", true)]);
        check(
            "**foo\n**/bar",
            &[
                ("xfoo", true),
                ("a/b/foo", true),
                ("xbar", false),
                ("bar", true),
                ("a/bar", true),
            ],
        );
        check("file?.txt", &[("file1.txt", true), ("file10.txt", false)]);
        check(
            "[a-c]*.log\n[^x]z\n[!q]w",
            &[
                ("b1.log", true),
                ("d1.log", false),
                ("yz", true),
                ("xz", false),
                // `!` is no negation, as in Go's regexp.
                ("!w", true),
                ("qw", true),
                ("pw", false),
            ],
        );
        check("\\*star", &[("*star", true), ("xstar", false)]);
    }

    #[test]
    fn a_directory_excludes_its_contents() {
        check(
            "node_modules\nbuild/",
            &[
                ("node_modules", true),
                ("node_modules/x/y.js", true),
                ("src/node_modules", false),
                ("build/out.o", true),
                ("buildx", false),
            ],
        );
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let p = Patterns::parse("*.txt\n!keep.txt").unwrap();
        assert!(p.has_exceptions());
        assert!(p.excluded("a.txt"));
        assert!(!p.excluded("keep.txt"));
        assert!(!p.excluded("sub/a.txt"));
        check("!keep.txt\n*.txt", &[("keep.txt", true), ("a.txt", true)]);
        check(
            "docs\n!docs/README.md",
            &[("docs/a", true), ("docs/README.md", false)],
        );
        check(
            "*\n!src\nsrc/*.tmp",
            &[("x", true), ("src/a.rs", false), ("src/a.tmp", true)],
        );
        assert!(!Patterns::parse("a").unwrap().has_exceptions());
    }

    #[test]
    fn lines_are_read_like_docker() {
        let p = Patterns::parse(
            "\u{feff}# comment\n\n   \n  /abs/x  \n./rel/../dot\n! spaced \n #notcomment\nend\r\n",
        )
        .unwrap();
        assert_eq!(p.patterns.len(), 5);
        assert!(p.excluded("abs/x"));
        assert!(p.excluded("abs/x/deep"));
        assert!(p.excluded("dot"));
        assert!(!p.excluded("# comment"));
        assert!(p.excluded("#notcomment"));
        assert!(p.excluded("end"));
        assert!(p.excluded("./dot"));
        assert!(p.has_exceptions());
        assert!(Patterns::parse("!").is_err());
        for bad in ["[abc", "[]", "[-a]", "[a-]", "a\\", "[z-a]"] {
            assert!(Patterns::parse(bad).is_err(), "{bad:?}");
        }
        check(
            "[\\]]x\n[a\\-]y",
            &[("]x", true), ("-y", true), ("by", false)],
        );
    }

    #[test]
    fn clean_matches_go() {
        for (input, want) in [
            ("a/b/../c", "a/c"),
            ("./a//b/", "a/b"),
            ("/../a", "/a"),
            ("../a", "../a"),
            ("a/..", "."),
            ("", "."),
            ("/", "/"),
        ] {
            assert_eq!(clean(input), want, "{input:?}");
        }
    }
}
