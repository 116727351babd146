//! Go's `fmt.Sprintf` for the values a template holds: the verbs `%v %s
//! %d %q %t %f %F %e %E %g %x %X %o %b %c %%`, the flags `- + 0 #` and
//! space, width and precision (also `*`), and Go's `%!verb(type=value)`,
//! `%!v(MISSING)` and `%!(EXTRA ...)` texts for what does not fit.

use serde_json::Value;

use super::value::{go_float, go_type, to_text, Val};

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Formats `args` by `format` as Go's `fmt.Sprintf`.
pub(super) fn sprintf(format: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        let mut number = |chars: &mut std::iter::Peekable<std::str::Chars>| -> Option<usize> {
            if chars.peek() == Some(&'*') {
                chars.next();
                let n = args.get(next).and_then(|a| a.v.as_u64());
                next += 1;
                return n.and_then(|n| usize::try_from(n).ok());
            }
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
                chars.next();
            }
            n
        };
        spec.width = number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        out.push_str(&one(verb, &spec, arg));
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", go_type(&a.v), a.text(false)))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn bad(verb: char, arg: &Val) -> String {
    format!("%!{verb}({}={})", go_type(&arg.v), arg.text(false))
}

fn one(verb: char, spec: &Spec, arg: &Val) -> String {
    let v = &arg.v;
    let int = v
        .as_i64()
        .filter(|_| !v.as_number().is_some_and(|n| n.is_f64()));
    let body = match (verb, v) {
        ('v', _) => arg.text(false),
        ('s', Value::String(s)) => match spec.prec {
            // A precision cuts a string (`%.3s`).
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        },
        ('s', Value::Array(_) | Value::Object(_)) => to_text(v, false),
        ('q', Value::String(s)) => quote(s),
        ('t', Value::Bool(b)) => b.to_string(),
        ('d', _) if int.is_some() => signed(int.unwrap_or(0).to_string(), spec),
        ('x' | 'X' | 'o' | 'b', _) if int.is_some() => {
            let n = int.unwrap_or(0);
            let (neg, m) = (n < 0, n.unsigned_abs());
            let digits = match verb {
                'x' => format!("{m:x}"),
                'X' => format!("{m:X}"),
                'o' => format!("{m:o}"),
                _ => format!("{m:b}"),
            };
            let prefix = match (spec.sharp, verb) {
                (true, 'x') => "0x",
                (true, 'X') => "0X",
                (true, 'o') => "0",
                _ => "",
            };
            signed(
                format!("{}{prefix}{digits}", if neg { "-" } else { "" }),
                spec,
            )
        }
        ('x', Value::String(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Value::String(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        ('c', _) if int.is_some() => int
            .and_then(|n| u32::try_from(n).ok())
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}')
            .to_string(),
        ('q', _) if int.is_some() => {
            let c = int
                .and_then(|n| u32::try_from(n).ok())
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            format!("'{c}'")
        }
        ('f' | 'F' | 'e' | 'E' | 'g' | 'G', Value::Number(n)) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            let p = spec.prec;
            let s = match verb {
                'f' | 'F' => format!("{f:.*}", p.unwrap_or(6)),
                'e' | 'E' => {
                    let s = go_exp(&format!("{f:.*e}", p.unwrap_or(6)));
                    if verb == 'E' {
                        s.to_uppercase()
                    } else {
                        s
                    }
                }
                _ => match p {
                    None => go_float(f),
                    Some(p) => format!("{f:.*}", p.saturating_sub(1)),
                },
            };
            signed(s, spec)
        }
        _ => return pad(bad(verb, arg), spec),
    };
    pad(body, spec)
}

/// Rust's `1.5e6` as Go's `1.5e+06`.
fn go_exp(s: &str) -> String {
    match s.split_once('e') {
        Some((m, e)) => {
            let n: i32 = e.parse().unwrap_or(0);
            format!("{m}e{}{:02}", if n < 0 { '-' } else { '+' }, n.abs())
        }
        None => s.to_string(),
    }
}

/// A number with `+` or a space before it when asked, zero-padded to the
/// width when asked (after the sign).
fn signed(s: String, spec: &Spec) -> String {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, s),
    };
    let sign = match (neg, spec.plus, spec.space) {
        (true, _, _) => "-",
        (false, true, _) => "+",
        (false, false, true) => " ",
        _ => "",
    };
    match spec.width {
        Some(w) if spec.zero && !spec.minus && w > sign.len() + digits.len() => {
            format!(
                "{sign}{}{digits}",
                "0".repeat(w - sign.len() - digits.len())
            )
        }
        _ => format!("{sign}{digits}"),
    }
}

fn pad(s: String, spec: &Spec) -> String {
    let n = s.chars().count();
    match spec.width {
        Some(w) if w > n && spec.minus => format!("{s}{}", " ".repeat(w - n)),
        Some(w) if w > n => format!("{}{s}", " ".repeat(w - n)),
        _ => s,
    }
}

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
