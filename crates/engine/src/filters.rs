//! Docker's list filters (`?filters={"label":["a=b"]}`), read and matched
//! as moby's `daemon/internal/filters` does: the JSON is a map of key to a
//! list of values (or the older `{"key": {"value": true}}`), unknown keys
//! are refused with `invalid filter 'KEY'`, values of one key are ORed
//! (but labels, which must all match), keys are ANDed.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{EngineError, ErrorKind};

/// Longest pattern compiled as a regular expression (names and ids are
/// short; a client's pattern is untrusted).
const MAX_PATTERN: usize = 1024;

/// Parsed filters: each key with its values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

/// A filter that does not parse or is not accepted here (400), in Docker's
/// words (`invalid filter 'KEY'`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(String);

impl FilterError {
    /// Always a refusal of what the caller asked.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidArgument
    }
}

impl crate::error::ModuleError for FilterError {
    fn kind(&self) -> crate::ErrorKind {
        FilterError::kind(self)
    }
}

fn invalid(msg: impl Into<String>) -> EngineError {
    FilterError(msg.into()).into()
}

impl Filters {
    /// Reads the `filters` query value; empty or `null` is no filter, JSON
    /// that is neither form is Docker's `invalid filter`.
    pub fn from_json(raw: &str) -> Result<Filters, EngineError> {
        if raw.trim().is_empty() {
            return Ok(Filters::default());
        }
        let v: Value = serde_json::from_str(raw).map_err(|_| invalid("invalid filter"))?;
        let mut out = BTreeMap::new();
        match v {
            Value::Null => {}
            Value::Object(map) => {
                for (key, vals) in map {
                    let list: Vec<String> = match vals {
                        Value::Array(a) => a
                            .into_iter()
                            .map(|x| match x {
                                Value::String(s) => Ok(s),
                                _ => Err(invalid("invalid filter")),
                            })
                            .collect::<Result<_, _>>()?,
                        Value::Object(o) => o.keys().cloned().collect(),
                        Value::Null => Vec::new(),
                        _ => return Err(invalid("invalid filter")),
                    };
                    out.insert(key, list);
                }
            }
            _ => return Err(invalid("invalid filter")),
        }
        Ok(Filters(out))
    }

    /// Filters from pairs (tests, and callers that build them).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Filters {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            out.entry(k.to_string()).or_default().push(v.to_string());
        }
        Filters(out)
    }

    /// Refuses a key outside `accepted`, in Docker's words.
    pub fn validate(&self, accepted: &[&str]) -> Result<(), EngineError> {
        match self.0.keys().find(|k| !accepted.contains(&k.as_str())) {
            Some(k) => Err(invalid(format!("invalid filter '{k}'"))),
            None => Ok(()),
        }
    }

    /// The values of `key` (none when absent).
    pub fn get(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether `key` was given.
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// No filters at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The filters as a map.
    pub fn as_map(&self) -> &BTreeMap<String, Vec<String>> {
        &self.0
    }

    /// Go's `ExactMatch`: true without values for `key`, else when one of
    /// them is `source`.
    pub fn exact(&self, key: &str, source: &str) -> bool {
        let v = self.get(key);
        v.is_empty() || v.iter().any(|x| x == source)
    }

    /// Go's `Match`: true without values for `key`, else when one of them
    /// is `source` or a regular expression found in it.
    pub fn matches(&self, key: &str, source: &str) -> bool {
        let v = self.get(key);
        v.is_empty()
            || v.iter().any(|p| {
                p == source
                    || (p.len() <= MAX_PATTERN
                        && regex::Regex::new(p).is_ok_and(|r| r.is_match(source)))
            })
    }

    /// Go's `MatchKVList`: every `key` or `key=value` of `key` is among
    /// `labels`.
    pub fn match_labels(&self, key: &str, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels_with(key, |k| labels.get(k).map(String::as_str))
    }

    /// [`Filters::match_labels`] over labels looked up by `label`.
    pub fn match_labels_with<'a>(
        &self,
        key: &str,
        label: impl Fn(&str) -> Option<&'a str>,
    ) -> bool {
        self.get(key).iter().all(|want| match want.split_once('=') {
            Some((k, val)) => label(k) == Some(val),
            None => label(want).is_some(),
        })
    }

    /// Go's `GetBoolOrDefault`: `true`/`1` or `false`/`0`, not both.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, EngineError> {
        let Some(v) = self.0.get(key) else {
            return Ok(default);
        };
        let t = v.iter().any(|x| x == "true" || x == "1");
        let f = v.iter().any(|x| x == "false" || x == "0");
        if t == f {
            // Go prints the list as `[a b]`.
            return Err(invalid(format!("invalid filter '{key}=[{}]'", v.join(" "))));
        }
        Ok(t)
    }
}

/// Go's `path.Match` of `name` against `pattern` (`*` and `?` stop at `/`).
pub fn glob(pattern: &str, name: &str) -> bool {
    build::ignore::path_match(pattern, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_matches_as_moby_does() {
        let f = Filters::from_json(r#"{"name":["^we"],"label":["a","b=2"]}"#).unwrap();
        assert!(f.matches("name", "web") && !f.matches("name", "aweb"));
        assert!(f.matches("id", "anything"), "no values: no filter");
        let labels = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(f.match_labels("label", &labels(&[("a", ""), ("b", "2")])));
        assert!(
            !f.match_labels("label", &labels(&[("a", "")])),
            "labels all match"
        );
        let old = Filters::from_json(r#"{"dangling":{"true":true}}"#).unwrap();
        assert!(old.bool_or("dangling", false).unwrap());
        assert!(Filters::from_json("null").unwrap().is_empty());
        assert!(Filters::from_json("").unwrap().is_empty());
        for bad in ["[1]", "{", r#"{"a":[1]}"#, r#"{"a":"x"}"#] {
            assert_eq!(
                Filters::from_json(bad).unwrap_err().to_string(),
                "invalid filter",
                "{bad}"
            );
        }
        let e = f.validate(&["name"]).unwrap_err();
        assert_eq!(e.to_string(), "invalid filter 'label'");
        let both = Filters::from_pairs(&[("dangling", "true"), ("dangling", "0")]);
        assert!(both.bool_or("dangling", false).is_err());
        let bad = Filters::from_pairs(&[("name", "a(")]);
        assert!(bad.matches("name", "a(") && !bad.matches("name", "xa("));
        assert_eq!(
            both.bool_or("dangling", false).unwrap_err().to_string(),
            "invalid filter 'dangling=[true 0]'"
        );
    }
}
