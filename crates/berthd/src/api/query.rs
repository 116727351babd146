//! Query strings, percent-decoded, and Docker's `filters` JSON.

use std::collections::HashMap;

fn decode(s: &str) -> String {
    percent_decode(s, true)
}

/// A request path as Go's `net/http` hands it to dockerd's router:
/// percent-decoded, `+` left as it is (`/networks/test%2001` names the
/// network `test 01`).
pub fn decode_path(s: &str) -> String {
    percent_decode(s, false)
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed query: every value of every key, in order; and the API
/// version the client asked for in the path (the newest when it named none).
#[derive(Debug, Default)]
pub struct Query(HashMap<String, Vec<String>>, Option<(u32, u32)>);

impl Query {
    /// The same query, for a client of API `version`.
    pub fn with_version(self, version: (u32, u32)) -> Query {
        Query(self.0, Some(version))
    }

    /// The API version the client asked for (`/v1.41/...`), else the newest.
    pub fn version(&self) -> (u32, u32) {
        self.1
            .unwrap_or_else(|| super::version_tuple(super::API_VERSION))
    }

    /// Parses `a=1&b=x%20y&a=2`.
    pub fn parse(q: Option<&str>) -> Query {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            map.entry(decode(k)).or_default().push(decode(v));
        }
        Query(map, None)
    }

    /// The first value of `key`, or "".
    pub fn get(&self, key: &str) -> &str {
        self.0
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A boolean as Docker's clients send them (`1`, `true`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), "1" | "true" | "True")
    }

    /// Docker's `filters`, read as moby reads them: malformed JSON is a 400
    /// (`invalid filter`), where [`Query::filters`] ignores it.
    pub fn go_filters(&self) -> Result<engine::filters::Filters, super::ApiError> {
        engine::filters::Filters::from_json(self.get("filters")).map_err(super::ApiError::from)
    }

    /// Docker's `filters={"dangling":["true"]}` (or the old `{"dangling":{"true":true}}`).
    pub fn filters(&self) -> HashMap<String, Vec<String>> {
        let raw = self.get("filters");
        let Ok(v) = serde_json::from_str::<serde_json::Value>(raw) else {
            return HashMap::new();
        };
        let mut out = HashMap::new();
        for (k, vals) in v.as_object().into_iter().flatten() {
            let list = match vals {
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                serde_json::Value::Object(o) => o.keys().cloned().collect(),
                _ => Vec::new(),
            };
            out.insert(k.clone(), list);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_and_filters() {
        let q = Query::parse(Some("repo=me%2Fapp&tag=v1&changes=CMD+%5B%22sh%22%5D&changes=ENV+A%3D1&filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D&bad=%zz"));
        assert_eq!(q.get("repo"), "me/app");
        assert_eq!(q.all("changes"), ["CMD [\"sh\"]", "ENV A=1"]);
        assert_eq!(q.filters()["dangling"], ["true"]);
        assert_eq!(q.get("bad"), "%zz");
        assert_eq!(q.get("missing"), "");
        assert_eq!(decode_path("/networks/test%2001+x"), "/networks/test 01+x");
        assert_eq!(decode_path("/images/me%2Fapp/json"), "/images/me/app/json");
    }
}
