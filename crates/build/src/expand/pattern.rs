//! The patterns of `${VAR#p}`, `${VAR%p}` and `${VAR/p/r}`: BuildKit's
//! shell patterns (`*`, `?`, escapes), matched in time linear in the text.

/// One element of a `#`, `%` or `/` pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Glob {
    /// `*`: any run of characters.
    Star,
    /// `?`: any one character.
    Any,
    /// A character, literally.
    Lit(char),
}

/// BuildKit's `convertShellPatternToRegex`: `*`, `?`, and `\` quoting `*`,
/// `?` or `\` (`\}` and `\/` are the delimiters escaped; any other escape
/// is an error). Brackets are literal.
pub(super) fn glob_tokens(pattern: &str) -> Result<Vec<Glob>, String> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' => Glob::Star,
            '?' => Glob::Any,
            '\\' => match chars.peek() {
                Some('}' | '/') => continue,
                Some(&n @ ('*' | '?' | '\\')) => {
                    chars.next();
                    Glob::Lit(n)
                }
                other => {
                    let shown = other.map(|c| c.to_string()).unwrap_or_default();
                    return Err(format!(
                        "invalid pattern ({pattern}) in substitution: invalid escape '\\{shown}'"
                    ));
                }
            },
            c => Glob::Lit(c),
        });
    }
    Ok(tokens)
}

/// For each end `j` in `start..=text.len()`, the smallest start `s ≥
/// start` such that the pattern matches `text[s..j]` (`usize::MAX`: none).
/// A dynamic programme, O(text × pattern) whatever the pattern.
fn earliest_starts(tokens: &[Glob], text: &[char], start: usize, anchored: bool) -> Vec<usize> {
    const NONE: usize = usize::MAX;
    let n = text.len();
    // best[j - start] for the tokens so far.
    let mut best: Vec<usize> = (start..=n)
        .map(|j| if anchored && j != start { NONE } else { j })
        .collect();
    for token in tokens {
        let mut next = vec![NONE; best.len()];
        match token {
            Glob::Star => {
                let mut min = NONE;
                for (k, b) in best.iter().enumerate() {
                    min = min.min(*b);
                    next[k] = min;
                }
            }
            Glob::Any | Glob::Lit(_) => {
                for k in 0..best.len() - 1 {
                    let fits = match token {
                        Glob::Lit(c) => text[start + k] == *c,
                        _ => true,
                    };
                    if fits {
                        next[k + 1] = best[k];
                    }
                }
            }
        }
        best = next;
    }
    best
}

/// `${v#p}`, `${v##p}`, `${v%p}`, `${v%%p}`: removes the shortest or
/// longest prefix or suffix matching `tokens`.
pub(super) fn trim(value: &str, tokens: &[Glob], prefix: bool, longest: bool) -> String {
    let mut text: Vec<char> = value.chars().collect();
    let mut tokens = tokens.to_vec();
    if !prefix {
        // A suffix of the text is a prefix of it reversed, as BuildKit
        // does it.
        text.reverse();
        tokens.reverse();
    }
    let ends = earliest_starts(&tokens, &text, 0, true);
    let mut matching = ends.iter().enumerate().filter(|(_, s)| **s == 0);
    let cut = if longest {
        matching.next_back()
    } else {
        matching.next()
    };
    if let Some((len, _)) = cut {
        text.drain(..len);
    }
    if !prefix {
        text.reverse();
    }
    text.into_iter().collect()
}

/// `${v/p/r}` and `${v//p/r}`: the leftmost (then longest) match of `p`
/// replaced by `r`, once or for every non-overlapping match.
pub(super) fn replace(value: &str, tokens: &[Glob], replacement: &str, all: bool) -> String {
    let text: Vec<char> = value.chars().collect();
    let n = text.len();
    let mut out = String::new();
    let mut pos = 0;
    let mut last_end = None;
    while pos <= n {
        let ends = earliest_starts(tokens, &text, pos, false);
        let Some(first) = ends.iter().copied().min().filter(|s| *s != usize::MAX) else {
            break;
        };
        let end = pos + ends.iter().rposition(|s| *s == first).unwrap_or(0);
        out.extend(&text[pos..first]);
        // An empty match right after the previous match does not count,
        // as Go's ReplaceAll has it.
        if !(first == end && last_end == Some(first)) {
            out.push_str(replacement);
        }
        last_end = Some(end);
        pos = end;
        if first == end {
            out.extend(text.get(pos));
            pos += 1;
        }
        if !all {
            break;
        }
    }
    if pos < n {
        out.extend(&text[pos..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_trim_and_replace() {
        let t =
            |v: &str, p: &str, prefix, longest| trim(v, &glob_tokens(p).unwrap(), prefix, longest);
        assert_eq!(t("abcabc", "*b", true, false), "cabc");
        assert_eq!(t("abcabc", "*b", true, true), "c");
        assert_eq!(t("abcabc", "b*", false, false), "abca");
        assert_eq!(t("abcabc", "b*", false, true), "a");
        assert_eq!(t("abc", "x", true, false), "abc");
        assert_eq!(t("abc", "", true, true), "abc");
        assert_eq!(t("a*c", "a\\*", true, false), "c");
        assert_eq!(t("a[b]", "a[", true, false), "b]");
        assert_eq!(t("héllo", "h?", true, false), "llo");

        let r = |v: &str, p: &str, rep: &str, all| replace(v, &glob_tokens(p).unwrap(), rep, all);
        assert_eq!(r("a.b.c", ".", "/", false), "a/b.c");
        assert_eq!(r("a.b.c", ".", "/", true), "a/b/c");
        assert_eq!(r("aXbYb", "X*b", "-", false), "a-");
        assert_eq!(r("abc", "*", "x", true), "x");
        assert_eq!(r("abc", "z", "x", true), "abc");
        assert_eq!(r("ab", "", "-", true), "-a-b-");
        assert_eq!(r("aaa", "a", "", true), "");

        // Matching stays linear in the text whatever the pattern.
        let long = "a".repeat(20_000);
        assert_eq!(t(&long, "*b", true, true), long);
        assert_eq!(t(&long, "*a*a*a*a*", true, false), "a".repeat(19_996));
    }
}
