//! The functions a template may call: Go's builtins (`and`, `or`, `not`,
//! `len`, `index`, `slice`, `print`, `printf`, `println`, `eq`, `ne`, `lt`,
//! `le`, `gt`, `ge`, `html`, `js`, `urlquery`) and docker's
//! (`cli/templates`: `json`, `join`, `split`, `title`, `lower`, `upper`,
//! `pad`, `truncate`).

use std::cmp::Ordering;

use serde_json::Value;

use super::printf;
use super::value::{go_type, to_text, Val};

/// docker's functions: in a table's header each passes its first argument
/// through (docker's `HeaderFunctions`).
pub(super) const DOCKER: [&str; 8] = [
    "json", "join", "split", "title", "lower", "upper", "pad", "truncate",
];

/// Every function a template may name.
pub(super) const ALL: [&str; 26] = [
    "json", "join", "split", "title", "lower", "upper", "pad", "truncate", "and", "or", "not",
    "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt", "le", "gt", "ge",
    "html", "js", "urlquery",
];

fn want(f: &str, args: &[Val], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {f}: want {n} got {}",
            args.len()
        ))
    }
}

fn string(s: String) -> Val {
    Val::from(Value::String(s))
}

/// Calls `f` (not `and`/`or`, which the executor runs lazily); `typed`
/// when the data stands for docker's typed structs.
pub(super) fn call(f: &str, args: Vec<Val>, typed: bool) -> Result<Val, String> {
    Ok(match f {
        "json" => {
            want(f, &args, 1)?;
            // docker's encoder, without HTML escaping and its newline.
            string(serde_json::to_string(&args[0].v).unwrap_or_default())
        }
        "join" => {
            want(f, &args, 2)?;
            let items: Vec<String> = match &args[0].v {
                Value::Array(a) => a.iter().map(|x| to_text(x, false)).collect(),
                Value::Null => Vec::new(),
                _ => vec![args[0].string(f)?],
            };
            string(items.join(&args[1].string(f)?))
        }
        "split" => {
            want(f, &args, 2)?;
            let (s, sep) = (args[0].string(f)?, args[1].string(f)?);
            // Go's strings.Split: an empty separator splits into characters.
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(&sep).map(|p| Value::String(p.into())).collect()
            };
            Val::from(Value::Array(parts))
        }
        "upper" => {
            want(f, &args, 1)?;
            string(args[0].string(f)?.to_uppercase())
        }
        "lower" => {
            want(f, &args, 1)?;
            string(args[0].string(f)?.to_lowercase())
        }
        "title" => {
            want(f, &args, 1)?;
            string(title(&args[0].string(f)?))
        }
        "truncate" => {
            want(f, &args, 2)?;
            // docker's truncateWithLength counts characters.
            let n = usize::try_from(args[1].int(f)?).unwrap_or(0);
            string(args[0].string(f)?.chars().take(n).collect())
        }
        "pad" => {
            want(f, &args, 3)?;
            let s = args[0].string(f)?;
            if s.is_empty() {
                string(s)
            } else {
                let n =
                    |v: &Val| usize::try_from(v.int(f)?).map_err(|_| "negative count".to_string());
                string(format!(
                    "{}{s}{}",
                    " ".repeat(n(&args[1])?),
                    " ".repeat(n(&args[2])?)
                ))
            }
        }
        "not" => {
            want(f, &args, 1)?;
            Val::from(Value::Bool(!args[0].truth()))
        }
        "len" => {
            want(f, &args, 1)?;
            Val::from(Value::from(match &args[0].v {
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::String(s) => s.len(),
                Value::Null if args[0].zero.is_some() => 0,
                v => return Err(format!("error calling len: len of type {}", go_type(v))),
            }))
        }
        "index" => index(args, typed)?,
        "slice" => slice(args)?,
        "print" => string(print(&args)),
        "println" => {
            let parts: Vec<String> = args.iter().map(|a| a.text(false)).collect();
            string(format!("{}\n", parts.join(" ")))
        }
        "printf" => {
            let Some((format, rest)) = args.split_first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".into());
            };
            string(printf::sprintf(&format.string(f)?, rest))
        }
        "eq" => {
            if args.len() < 2 {
                return Err("wrong number of args for eq: want at least 2 got 1".into());
            }
            let mut any = false;
            for b in &args[1..] {
                any |= compare(&args[0], b, f)? == Some(Ordering::Equal);
            }
            Val::from(Value::Bool(any))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            want(f, &args, 2)?;
            let ord = compare(&args[0], &args[1], f)?;
            if f != "ne" && ord.is_none() {
                return Err(format!("error calling {f}: invalid type for comparison"));
            }
            Val::from(Value::Bool(match f {
                "ne" => ord != Some(Ordering::Equal),
                "lt" => ord == Some(Ordering::Less),
                "le" => ord != Some(Ordering::Greater),
                "gt" => ord == Some(Ordering::Greater),
                _ => ord != Some(Ordering::Less),
            }))
        }
        "html" => string(html(&print(&args))),
        "js" => string(js(&print(&args))),
        "urlquery" => string(urlquery(&print(&args))),
        _ => return Err(format!("function \"{f}\" not defined")),
    })
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
fn print(args: &[Val]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Val| matches!(v.v, Value::String(_));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&a.text(false));
    }
    out
}

/// `strings.Title`: the first letter of each word upper-cased.
fn title(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut start = true;
    for c in t.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric() && c != '_' && c != '\'';
    }
    out
}

fn index(mut args: Vec<Val>, typed: bool) -> Result<Val, String> {
    if args.is_empty() {
        return Err("wrong number of args for index: want at least 1 got 0".into());
    }
    let keys = args.split_off(1);
    let mut item = args.remove(0);
    for k in keys {
        item = match (&item.v, &k.v) {
            (Value::Object(o), Value::String(key)) => match o.get(key) {
                Some(v) => item.child(key, v.clone()),
                // The zero of the map's values: docker's maps (labels,
                // options) hold strings; a decoded `interface{}` map's zero
                // prints `<no value>`.
                None if typed => string(String::new()),
                None => Val::missing(),
            },
            (Value::Array(a), Value::Number(n)) => {
                let i = n
                    .as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    .filter(|&i| i < a.len())
                    .ok_or_else(|| format!("error calling index: index out of range: {n}"))?;
                item.child(&i.to_string(), a[i].clone())
            }
            (Value::String(s), Value::Number(n)) => {
                let i = n
                    .as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    .filter(|&i| i < s.len())
                    .ok_or_else(|| format!("error calling index: index out of range: {n}"))?;
                Val::from(Value::from(s.as_bytes()[i]))
            }
            (Value::Null, _) if item.zero.is_some() => Val::from(Value::Null),
            (Value::Null, _) => return Err("error calling index: index of untyped nil".into()),
            (v, _) => {
                return Err(format!(
                    "error calling index: cannot index slice/array with type {}",
                    go_type(&k.v)
                )
                .replace(
                    "slice/array",
                    if v.is_object() { "map" } else { "slice/array" },
                ))
            }
        };
    }
    Ok(item)
}

fn slice(args: Vec<Val>) -> Result<Val, String> {
    let Some((item, idx)) = args.split_first() else {
        return Err("wrong number of args for slice: want at least 1 got 0".into());
    };
    if idx.len() > 2 {
        return Err(format!(
            "error calling slice: too many slice indexes: {}",
            idx.len()
        ));
    }
    let len = match &item.v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.len(),
        v => {
            return Err(format!(
                "error calling slice: can't slice item of type {}",
                go_type(v)
            ))
        }
    };
    let mut bounds = [0, len];
    for (b, v) in bounds.iter_mut().zip(idx) {
        *b = usize::try_from(v.int("slice")?)
            .ok()
            .filter(|&i| i <= len)
            .ok_or_else(|| "error calling slice: index out of range".to_string())?;
    }
    if bounds[0] > bounds[1] {
        return Err(format!(
            "error calling slice: invalid slice index: {} > {}",
            bounds[0], bounds[1]
        ));
    }
    Ok(match &item.v {
        Value::String(s) => string(
            s.get(bounds[0]..bounds[1])
                .ok_or("error calling slice: not at a character boundary")?
                .to_string(),
        ),
        Value::Array(a) => Val::from(Value::Array(a[bounds[0]..bounds[1]].to_vec())),
        _ => unreachable!("checked above"),
    })
}

/// Orders two basic values as Go's `eq`/`lt` do; `None` where they are
/// not ordered (bools, nil).
fn compare(a: &Val, b: &Val, f: &str) -> Result<Option<Ordering>, String> {
    Ok(match (&a.v, &b.v) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x
                .as_f64()
                .zip(y.as_f64())
                .and_then(|(x, y)| x.partial_cmp(&y)),
        },
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) if x == y => Some(Ordering::Equal),
        (Value::Bool(_), Value::Bool(_)) => None,
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
            return Err(format!("error calling {f}: non-comparable type"))
        }
        _ => {
            return Err(format!(
                "error calling {f}: incompatible types for comparison"
            ))
        }
    })
}

/// Go's `template.HTMLEscapeString`.
fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
fn urlquery(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
