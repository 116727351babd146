//! Registry authentication: the challenge a registry sends
//! (`WWW-Authenticate: Bearer realm=…,service=…,scope=…` or `Basic
//! realm=…`), the credentials a client gives (Docker's `X-Registry-Auth`),
//! and the token answer of distribution's token spec
//! (<https://distribution.github.io/distribution/spec/auth/token/>).

use base64::Engine as _;
use serde::Deserialize;

use crate::error::RegistryError;

/// Longest `X-Registry-Auth` header we decode (it holds a name, a password
/// or an identity token: a few KiB at most).
pub const MAX_AUTH_HEADER: usize = 64 << 10;
/// Largest token answer we read.
pub const MAX_TOKEN_ANSWER: u64 = 1 << 20;

/// What a client gave to log in with (Docker's `AuthConfig`). Its `Debug`
/// hides the secrets.
///
/// It reads JSON as Go's `encoding/json` reads an `AuthConfig`, since that
/// is what clients are written against: keys match without regard to case,
/// `null` leaves a field empty (bollard sends `"password":null`), unknown
/// keys (`auth`, `email`) are ignored, and `null` for the whole object is
/// no credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// An OAuth refresh token (`docker login` to a registry that issued one).
    pub identity_token: String,
    /// A registry token, used as is (`registrytoken`).
    pub registry_token: String,
    /// The registry these are for.
    pub server_address: String,
}

impl<'de> Deserialize<'de> for Credentials {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let fields: Option<serde_json::Map<String, serde_json::Value>> = Option::deserialize(d)?;
        let mut c = Credentials::default();
        for (key, value) in fields.unwrap_or_default() {
            let slot = match key.to_ascii_lowercase().as_str() {
                "username" => &mut c.username,
                "password" => &mut c.password,
                "identitytoken" => &mut c.identity_token,
                "registrytoken" => &mut c.registry_token,
                "serveraddress" => &mut c.server_address,
                _ => continue,
            };
            match value {
                serde_json::Value::Null => {}
                serde_json::Value::String(s) => *slot = s,
                other => {
                    // Go's words for the same mistake.
                    let kind = match other {
                        serde_json::Value::Bool(_) => "bool",
                        serde_json::Value::Number(_) => "number",
                        serde_json::Value::Array(_) => "array",
                        _ => "object",
                    };
                    return Err(D::Error::custom(format!(
                        "cannot unmarshal {kind} into Go struct field AuthConfig.{key} of type string"
                    )));
                }
            }
        }
        Ok(c)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |s: &str| if s.is_empty() { "" } else { "<hidden>" };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("identity_token", &hidden(&self.identity_token))
            .field("registry_token", &hidden(&self.registry_token))
            .field("server_address", &self.server_address)
            .finish()
    }
}

impl Credentials {
    /// No credentials at all.
    pub fn is_empty(&self) -> bool {
        self.username.is_empty()
            && self.password.is_empty()
            && self.identity_token.is_empty()
            && self.registry_token.is_empty()
    }

    /// Decodes Docker's `X-Registry-Auth` header: base64url (padded or not)
    /// JSON. An empty header, or `{}`, is no credentials.
    pub fn from_header(header: &str) -> Result<Credentials, RegistryError> {
        let header = header.trim();
        if header.is_empty() {
            return Ok(Credentials::default());
        }
        if header.len() > MAX_AUTH_HEADER {
            return Err(RegistryError::Auth("X-Registry-Auth is too long".into()));
        }
        let trimmed = header.trim_end_matches('=');
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
            .map_err(|e| RegistryError::Auth(format!("X-Registry-Auth: invalid base64: {e}")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::Auth(format!("X-Registry-Auth: invalid JSON: {e}")))
    }

    /// `Authorization: Basic …` of the user name and password.
    pub fn basic(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Token auth: ask `realm` for a token for `service` and `scope`.
    Bearer {
        /// The token server's URL.
        realm: String,
        /// The service the token is for.
        service: String,
        /// The scope the registry asked for, if it said.
        scope: String,
    },
    /// Basic auth on every request.
    Basic,
}

/// Parses a `WWW-Authenticate` value (RFC 7235: a scheme, then
/// `key=value` or `key="quoted value"` pairs separated by commas).
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let params = parse_params(rest);
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        let realm = get("realm");
        if realm.is_empty() {
            return None;
        }
        Some(Challenge::Bearer {
            realm,
            service: get("service"),
            scope: get("scope"),
        })
    } else if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic)
    } else {
        None
    }
}

fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b',') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let key = s[start..i].trim().to_string();
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        i += 1;
        let mut value = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                // Push whole UTF-8 characters.
                let ch = s[i..].chars().next().unwrap_or('\0');
                value.push(ch);
                i += ch.len_utf8();
            }
            i += 1;
        } else {
            let start = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            value = s[start..i].trim().to_string();
        }
        out.push((key, value));
    }
    out
}

/// A token server's answer.
#[derive(Debug, Deserialize)]
pub struct TokenAnswer {
    /// The token (distribution's name).
    #[serde(default)]
    pub token: String,
    /// The token (OAuth 2's name).
    #[serde(default)]
    pub access_token: String,
    /// Seconds it stays valid (60 when not said, as the spec says).
    #[serde(default)]
    pub expires_in: u64,
}

impl TokenAnswer {
    /// The token, whichever field carried it.
    pub fn token(&self) -> Option<&str> {
        [&self.token, &self.access_token]
            .into_iter()
            .find(|t| !t.is_empty())
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        for (v, want) in [
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
                Some(Challenge::Bearer {
                    realm: "https://auth.docker.io/token".into(),
                    service: "registry.docker.io".into(),
                    scope: "repository:library/busybox:pull".into(),
                }),
            ),
            (
                r#"bearer realm=http://h/t, service="a \"b\"""#,
                Some(Challenge::Bearer {
                    realm: "http://h/t".into(),
                    service: "a \"b\"".into(),
                    scope: String::new(),
                }),
            ),
            (r#"Basic realm="basic-realm""#, Some(Challenge::Basic)),
            ("Bearer service=x", None),
            ("Negotiate", None),
        ] {
            assert_eq!(parse_challenge(v), want, "{v}");
        }
    }

    #[test]
    fn registry_auth_header() {
        use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
        let json = r#"{"username":"u","password":"p?>","serveraddress":"127.0.0.1:5000"}"#;
        for enc in [URL_SAFE.encode(json), URL_SAFE_NO_PAD.encode(json)] {
            let c = Credentials::from_header(&enc).unwrap();
            assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p?>"));
            assert_eq!(c.server_address, "127.0.0.1:5000");
        }
        assert!(Credentials::from_header("").unwrap().is_empty());
        assert!(Credentials::from_header("e30=").unwrap().is_empty());
        assert!(Credentials::from_header("!!!").is_err());
        let c = Credentials::from_header(&URL_SAFE.encode(r#"{"identitytoken":"t"}"#)).unwrap();
        assert_eq!(c.identity_token, "t");
        assert_eq!(c.basic(), "Basic Og==");
        // As Go reads it: null is empty, keys in any case, unknown keys
        // ignored, a whole null is nothing; a number is refused.
        let c = Credentials::from_header(&URL_SAFE.encode(
            r#"{"username":"bollard","password":null,"auth":null,"email":null,"serveraddress":"h:5000","identitytoken":null,"registrytoken":null}"#,
        ))
        .unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("bollard", ""));
        assert_eq!(c.server_address, "h:5000");
        let c = Credentials::from_header(&URL_SAFE.encode(r#"{"Username":"U","PassWord":"P"}"#))
            .unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("U", "P"));
        assert!(Credentials::from_header(&URL_SAFE.encode("null"))
            .unwrap()
            .is_empty());
        let e = Credentials::from_header(&URL_SAFE.encode(r#"{"password":1}"#)).unwrap_err();
        assert!(e.to_string().contains("cannot unmarshal number"), "{e}");
        let c = Credentials {
            username: "u".into(),
            password: "secret".into(),
            ..Default::default()
        };
        assert!(!format!("{c:?}").contains("secret"));
    }
}
