//! Splitting a template into text and actions, and an action into tokens,
//! as Go's `text/template/parse` lexer does: `{{-` and `-}}` trim the
//! spaces beside them, `{{/* */}}` is a comment, and inside an action come
//! fields (`.A`), variables (`$x`), words, quoted and raw strings, character
//! and number constants, `(`, `)`, `|`, `,`, `:=` and `=`.

/// A piece of the source.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Piece {
    /// Literal text.
    Text(String),
    /// The inside of `{{ }}`, tokenized.
    Action(Vec<Token>),
}

/// One token of an action, and whether a space came before it (so that
/// `.A.B` is one chain and `.A .B` two arguments).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) spaced: bool,
}

/// A token's kind.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// `.` alone.
    Dot,
    /// `.Name` (the name, without the dot).
    Field(String),
    /// `$` or `$name` (with the dollar).
    Var(String),
    /// A keyword, function name, `true`, `false` or `nil`.
    Word(String),
    /// A quoted or raw string, unquoted.
    Str(String),
    /// A number or character constant.
    Num(Num),
    /// `|`.
    Pipe,
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// `,`.
    Comma,
    /// `:=`.
    Declare,
    /// `=`.
    Assign,
}

/// A number constant: an integer where it reads as one, as Go's untyped
/// constants become `int` when they can.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    /// An integer.
    Int(i64),
    /// Anything else.
    Float(f64),
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits `src` into text and tokenized actions.
pub(super) fn split(src: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start_matches(is_space);
        }
        let mut inner = &rest[start + 2..];
        // `{{- ` trims the text before; the dash needs a space after it.
        if inner.starts_with('-') && inner[1..].starts_with(is_space) {
            text = text.trim_end_matches(is_space);
            inner = &inner[1..];
        }
        push_text(&mut out, text);
        let comment = inner.trim_start_matches(is_space).starts_with("/*");
        let end = if comment {
            let open = inner.find("/*").unwrap_or(0);
            let close = inner[open..].find("*/").ok_or("unclosed comment")?;
            let after = open + close + 2;
            after
                + inner[after..]
                    .find("}}")
                    .ok_or("comment ends before closing delimiter")?
        } else {
            find_close(inner)?
        };
        let mut body = &inner[..end];
        trim_next = false;
        if body.ends_with('-') && body[..body.len() - 1].ends_with(is_space) {
            body = &body[..body.len() - 1];
            trim_next = true;
        }
        if !comment {
            out.push(Piece::Action(tokens(body)?));
        }
        rest = &inner[end + 2..];
    }
    let text = if trim_next {
        rest.trim_start_matches(is_space)
    } else {
        rest
    };
    push_text(&mut out, text);
    Ok(out)
}

/// Adds text, joined to the text before it (across a comment).
fn push_text(out: &mut Vec<Piece>, text: &str) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(Piece::Text(t)) => t.push_str(text),
        _ => out.push(Piece::Text(text.to_string())),
    }
}

/// Where the action ends: the first `}}` outside a quoted string.
fn find_close(s: &str) -> Result<usize, String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'}' if b.get(i + 1) == Some(&b'}') => return Ok(i),
            q @ (b'"' | b'`' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' && q != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= b.len() {
                    return Err("unterminated quoted string".into());
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err("unclosed action".into())
}

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Tokenizes the inside of one action.
pub(super) fn tokens(src: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut spaced = true;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let tok = match c {
            c if is_space(c) => {
                i += 1;
                spaced = true;
                continue;
            }
            '|' => Tok::Pipe,
            '(' => Tok::Open,
            ')' => Tok::Close,
            ',' => Tok::Comma,
            '=' => Tok::Assign,
            ':' if chars.get(i + 1) == Some(&'=') => {
                i += 1;
                Tok::Declare
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None | Some('\n') => return Err("unterminated quoted string".into()),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            let (ch, used) = unescape(&chars[i..], '"')?;
                            s.push(ch);
                            i += used - 1;
                        }
                        Some(&o) => s.push(o),
                    }
                    i += 1;
                }
                Tok::Str(s)
            }
            '`' => {
                let close = chars[i + 1..]
                    .iter()
                    .position(|&x| x == '`')
                    .ok_or("unterminated raw quoted string")?;
                let s: String = chars[i + 1..i + 1 + close].iter().collect();
                i += close + 1;
                Tok::Str(s)
            }
            '\'' => {
                let (ch, used) = match chars.get(i + 1) {
                    Some('\\') => {
                        let (ch, used) = unescape(&chars[i + 2..], '\'')?;
                        (ch, used + 1)
                    }
                    Some(&ch) => (ch, 1),
                    None => return Err("unterminated character constant".into()),
                };
                i += used + 1;
                if chars.get(i) != Some(&'\'') {
                    return Err("unterminated character constant".into());
                }
                Tok::Num(Num::Int(i64::from(u32::from(ch))))
            }
            '$' => {
                i += 1;
                while chars.get(i).is_some_and(|&c| word_char(c)) {
                    i += 1;
                }
                i -= 1;
                Tok::Var(chars[start..=i].iter().collect())
            }
            '.' if chars
                .get(i + 1)
                .is_some_and(|&c| word_char(c) && !c.is_ascii_digit()) =>
            {
                i += 1;
                while chars.get(i + 1).is_some_and(|&c| word_char(c)) {
                    i += 1;
                }
                Tok::Field(chars[start + 1..=i].iter().collect())
            }
            '.' if !chars.get(i + 1).is_some_and(char::is_ascii_digit) => Tok::Dot,
            c if c.is_ascii_digit() || matches!(c, '+' | '-' | '.') => {
                while chars.get(i + 1).is_some_and(|&c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')
                }) {
                    // A sign belongs to the number only after an exponent.
                    if matches!(chars[i + 1], '+' | '-')
                        && !matches!(chars[i], 'e' | 'E' | 'p' | 'P')
                    {
                        break;
                    }
                    i += 1;
                }
                let word: String = chars[start..=i].iter().collect();
                Tok::Num(number(&word)?)
            }
            c if word_char(c) => {
                while chars.get(i + 1).is_some_and(|&c| word_char(c)) {
                    i += 1;
                }
                Tok::Word(chars[start..=i].iter().collect())
            }
            c => return Err(format!("unexpected {c:?} in command")),
        };
        out.push(Token { tok, spaced });
        spaced = false;
        i += 1;
    }
    Ok(out)
}

/// One escape after a backslash: the character and how many chars it used.
fn unescape(s: &[char], quote: char) -> Result<(char, usize), String> {
    let bad = || "invalid syntax".to_string();
    let c = *s.first().ok_or_else(bad)?;
    Ok(match c {
        'n' => ('\n', 1),
        't' => ('\t', 1),
        'r' => ('\r', 1),
        'a' => ('\x07', 1),
        'b' => ('\x08', 1),
        'f' => ('\x0c', 1),
        'v' => ('\x0b', 1),
        '\\' => ('\\', 1),
        c if c == quote => (c, 1),
        'x' | 'u' | 'U' => {
            let n = match c {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let hex: String = s.get(1..=n).ok_or_else(bad)?.iter().collect();
            let v = u32::from_str_radix(&hex, 16).map_err(|_| bad())?;
            (char::from_u32(v).ok_or_else(bad)?, n + 1)
        }
        '0'..='7' => {
            let oct: String = s.get(..3).ok_or_else(bad)?.iter().collect();
            let v = u32::from_str_radix(&oct, 8).map_err(|_| bad())?;
            (char::from_u32(v).ok_or_else(bad)?, 3)
        }
        _ => return Err(bad()),
    })
}

/// A number constant as Go reads one: decimal, `0x`, `0o`, `0b`, with `_`.
fn number(word: &str) -> Result<Num, String> {
    let bad = || format!("bad number syntax: \"{word}\"");
    let clean = word.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let radix = |p: &str, r| {
        body.strip_prefix(p)
            .or_else(|| body.strip_prefix(&p.to_uppercase()))
            .map(|d| i64::from_str_radix(d, r))
    };
    let int = radix("0x", 16)
        .or_else(|| radix("0o", 8))
        .or_else(|| radix("0b", 2))
        .unwrap_or_else(|| body.parse::<i64>());
    if let Ok(n) = int {
        return Ok(Num::Int(if neg { -n } else { n }));
    }
    let f: f64 = body.parse().map_err(|_| bad())?;
    if !f.is_finite() {
        return Err(bad());
    }
    Ok(Num::Float(if neg { -f } else { f }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokens(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_actions() {
        assert_eq!(
            toks(r#"$x := .A.B | printf "%d\n" 0x1f 'a' -2.5"#),
            vec![
                Tok::Var("$x".into()),
                Tok::Declare,
                Tok::Field("A".into()),
                Tok::Field("B".into()),
                Tok::Pipe,
                Tok::Word("printf".into()),
                Tok::Str("%d\n".into()),
                Tok::Num(Num::Int(31)),
                Tok::Num(Num::Int(97)),
                Tok::Num(Num::Float(-2.5)),
            ]
        );
        assert_eq!(
            toks("(.).X"),
            vec![Tok::Open, Tok::Dot, Tok::Close, Tok::Field("X".into())]
        );
        assert!(tokens("\"open").is_err());
        assert!(tokens("1x").is_err());
    }

    #[test]
    fn splits_trims_and_comments() {
        let p = split("a  {{- .X -}}  b{{/* no */}}c{{- /* gone */ -}} d {{\"}}\"}}").unwrap();
        assert_eq!(p.len(), 4, "{p:?}");
        assert_eq!(p[0], Piece::Text("a".into()));
        assert_eq!(p[2], Piece::Text("bcd ".into()));
        assert!(split("{{.A").is_err());
        // `{{-3}}` is the number -3, not a trim marker.
        assert_eq!(
            split("{{-3}}").unwrap(),
            vec![Piece::Action(vec![Token {
                tok: Tok::Num(Num::Int(-3)),
                spaced: true
            }])]
        );
    }
}
