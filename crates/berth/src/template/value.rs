//! The values a template works on: JSON, plus what Go's reflection would
//! know of them: that a field is missing (`<no value>`) or is a typed nil
//! (`[]`, `map[]`), and its path from the root (to find its type's zero).

use models::zero::Zero;
use serde_json::Value;

use super::Zeros;

/// A value during execution.
#[derive(Debug, Clone)]
pub(super) struct Val {
    pub(super) v: Value,
    /// The zero of the field's type, where the field is `null` or absent.
    pub(super) zero: Option<Zero>,
    /// The dotted path from the root, where the value is a field of it.
    pub(super) path: Option<String>,
    /// A map key or field that is not there: Go's invalid value.
    pub(super) missing: bool,
}

impl From<Value> for Val {
    fn from(v: Value) -> Val {
        Val {
            v,
            zero: None,
            path: None,
            missing: false,
        }
    }
}

impl Val {
    /// The root: its path is empty.
    pub(super) fn root(v: &Value) -> Val {
        Val {
            path: Some(String::new()),
            ..Val::from(v.clone())
        }
    }

    pub(super) fn missing() -> Val {
        Val {
            missing: true,
            ..Val::from(Value::Null)
        }
    }

    /// `.name` of this value: a missing field is `<no value>` unless its
    /// type (from `zeros`) gives it a zero.
    pub(super) fn field(&self, name: &str, zeros: &Zeros) -> Val {
        let path = self.path.as_ref().map(|p| match p.as_str() {
            "" => name.to_string(),
            p => format!("{p}.{name}"),
        });
        let got = match &self.v {
            Value::Object(o) if !self.missing => o.get(name),
            _ => None,
        };
        match got {
            Some(v) if !v.is_null() => Val {
                v: v.clone(),
                zero: None,
                path,
                missing: false,
            },
            _ => match path.as_ref().and_then(|p| zeros.get(p)) {
                Some(z) => Val {
                    v: z.json(),
                    zero: Some(*z),
                    path,
                    missing: false,
                },
                None if got.is_some() => Val {
                    path,
                    ..Val::from(Value::Null)
                },
                None => Val::missing(),
            },
        }
    }

    /// An element of an array or a map's entry, keeping the path.
    pub(super) fn child(&self, key: &str, v: Value) -> Val {
        Val {
            v,
            zero: None,
            path: self.path.as_ref().map(|p| match p.as_str() {
                "" => key.to_string(),
                p => format!("{p}.{key}"),
            }),
            missing: false,
        }
    }

    /// Go's `isTrue`: false, 0, nil, and empty strings, slices and maps
    /// are false.
    pub(super) fn truth(&self) -> bool {
        match &self.v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
        }
    }

    /// How an action prints it (Go's `fmt.Print`); a header prints
    /// nothing for nil and missing values.
    pub(super) fn text(&self, header: bool) -> String {
        match (&self.v, self.zero) {
            _ if self.missing && header => String::new(),
            _ if self.missing => "<no value>".into(),
            (Value::Null, Some(z)) if !header => z.text().into(),
            (v, _) => to_text(v, header),
        }
    }

    /// A string argument: a string, or a scalar printed.
    pub(super) fn string(&self, func: &str) -> Result<String, String> {
        match &self.v {
            Value::String(s) => Ok(s.clone()),
            Value::Bool(_) | Value::Number(_) => Ok(to_text(&self.v, false)),
            _ if self.missing => Err(format!(
                "error calling {func}: invalid value; expected string"
            )),
            v => Err(format!(
                "error calling {func}: wrong type for value; expected string; got {}",
                go_type(v)
            )),
        }
    }

    /// An integer argument.
    pub(super) fn int(&self, func: &str) -> Result<i64, String> {
        match &self.v {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .ok_or_else(|| format!("error calling {func}: expected integer; found {n}")),
            v => Err(format!(
                "error calling {func}: wrong type for value; expected int; got {}",
                go_type(v)
            )),
        }
    }
}

/// The Go type a decoded JSON value has, for error texts.
pub(super) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// A value as Go's `fmt` prints an `interface{}` decoded from JSON: slices
/// as `[a b]`, maps as `map[k:v]` with sorted keys, null as `<nil>`.
pub(super) fn to_text(v: &Value, header: bool) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null if header => String::new(),
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => go_float(f),
            _ => n.to_string(),
        },
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|x| to_text(x, header)).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", to_text(&o[*k], header)))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

/// A float as Go's `%v` prints it: the shortest digits, in `%e` form when
/// the exponent is below -4 or at least 6 (`1e+06`, `123456`).
pub(super) fn go_float(f: f64) -> String {
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_does() {
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(2.0), "2");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(1e-5), "1e-05");
        assert_eq!(go_float(1.5e-7), "1.5e-07");
        assert_eq!(go_float(123456.0), "123456");
    }
}
