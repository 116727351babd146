//! Image references as Docker writes and normalizes them:
//! `busybox` means `docker.io/library/busybox:latest`, `me/app` means
//! `docker.io/me/app`, `host:5000/a/b:tag` names another registry, and
//! `name@sha256:…` pins a digest. The grammar is distribution's
//! (`reference/regexp.go`): lower-case path components separated by `.`, `_`,
//! `__` or dashes; a first component is a registry domain when it has a `.` or
//! a `:` or is `localhost`.
//!
//! References come from users and registries: untrusted. Every rejection names
//! the reference and the rule it broke, in Docker's words where Docker has them.

use std::fmt;

/// The registry of unqualified names.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The namespace of single-component names on the default registry.
pub const OFFICIAL_NAMESPACE: &str = "library";
/// The tag a reference without tag or digest gets.
pub const DEFAULT_TAG: &str = "latest";
/// Longest name distribution accepts (domain and path).
pub const NAME_MAX: usize = 255;
/// Longest tag.
pub const TAG_MAX: usize = 128;

/// Why a reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Nothing given.
    #[error("invalid reference format: empty")]
    Empty,
    /// Upper-case letters in the repository path.
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    /// A 64-hex name, which would be confused with an image ID.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    /// Longer than [`NAME_MAX`].
    #[error(
        "invalid reference format: repository name ({0}) must not be more than 255 characters"
    )]
    TooLong(String),
    /// Anything else the grammar refuses.
    #[error("invalid reference format: {0}")]
    Invalid(String),
}

/// A parsed, normalized reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Registry host (and port): `docker.io`, `localhost:5000`.
    pub domain: String,
    /// Repository path inside the registry: `library/busybox`.
    pub path: String,
    /// Tag, if any.
    pub tag: Option<String>,
    /// Digest (`sha256:…`), if any.
    pub digest: Option<String>,
}

fn is_component(s: &str) -> bool {
    // [a-z0-9]+ ( ( [._] | __ | -+ ) [a-z0-9]+ )*
    let b = s.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_domain(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || s.starts_with('[') => (h, Some(p)),
        _ => (s, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') {
        return host.ends_with(']')
            && host[1..host.len() - 1]
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || c == b':');
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= TAG_MAX
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

fn is_digest(s: &str) -> bool {
    match s.split_once(':') {
        Some(("sha256", hex)) => {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        }
        Some(("sha512", hex)) => {
            hex.len() == 128
                && hex
                    .bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        }
        _ => false,
    }
}

impl Reference {
    /// Parses and normalizes `s` (Docker's `ParseNormalizedNamed`); a
    /// reference without tag or digest stays without (see
    /// [`Reference::with_default_tag`]).
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let invalid = || ReferenceError::Invalid(s.to_string());
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) if is_digest(d) => (r, Some(d.to_string())),
            Some(_) => return Err(invalid()),
            None => (s, None),
        };
        // A tag follows the last ':' after the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                if !is_tag(tag) {
                    return Err(invalid());
                }
                (&rest[..last_slash + i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        if name.len() == 64 && name.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(ReferenceError::HexName(name.to_string()));
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.bytes().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        };
        // Docker's familiar alias for the default registry.
        let domain = if domain == "index.docker.io" {
            DEFAULT_DOMAIN.to_string()
        } else {
            domain
        };
        if !is_domain(&domain) {
            return Err(invalid());
        }
        if path.bytes().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(path));
        }
        if path.is_empty() || !path.split('/').all(is_component) {
            return Err(invalid());
        }
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("{OFFICIAL_NAMESPACE}/{path}")
        } else {
            path
        };
        if domain.len() + 1 + path.len() > NAME_MAX {
            return Err(ReferenceError::TooLong(name.to_string()));
        }
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// Adds `latest` when neither tag nor digest is given (Docker's `TagNameOnly`).
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// The repository: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as Docker shows it: `busybox`, `me/app`, `host:5000/a`.
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        self.path
            .strip_prefix("library/")
            .filter(|p| !p.contains('/'))
            .unwrap_or(&self.path)
            .to_string()
    }

    /// The whole reference as Docker shows it: `busybox:latest`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        self.push_suffix(&mut s);
        s
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        Reference::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn normalizes_like_docker() {
        let cases = [
            ("busybox", "docker.io/library/busybox", "busybox"),
            (
                "busybox:1.36",
                "docker.io/library/busybox:1.36",
                "busybox:1.36",
            ),
            ("library/busybox", "docker.io/library/busybox", "busybox"),
            ("docker.io/busybox", "docker.io/library/busybox", "busybox"),
            (
                "index.docker.io/me/app:v1",
                "docker.io/me/app:v1",
                "me/app:v1",
            ),
            ("me/app", "docker.io/me/app", "me/app"),
            ("localhost/app", "localhost/app", "localhost/app"),
            (
                "localhost:5000/a/b:tag",
                "localhost:5000/a/b:tag",
                "localhost:5000/a/b:tag",
            ),
            ("127.0.0.1:5000/x", "127.0.0.1:5000/x", "127.0.0.1:5000/x"),
            (
                "ghcr.io/o/r/deep/path:1",
                "ghcr.io/o/r/deep/path:1",
                "ghcr.io/o/r/deep/path:1",
            ),
            (
                "a_b__c-d---e/x.y",
                "docker.io/a_b__c-d---e/x.y",
                "a_b__c-d---e/x.y",
            ),
            ("[::1]:5000/app", "[::1]:5000/app", "[::1]:5000/app"),
        ];
        for (input, full, familiar) in cases {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), full, "{input}");
            assert_eq!(r.familiar(), familiar, "{input}");
        }
        let r = Reference::parse(&format!("busybox@{D}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(D));
        assert_eq!(
            r.clone().with_default_tag().tag,
            None,
            "a digest needs no tag"
        );
        let r = Reference::parse(&format!("busybox:1@{D}")).unwrap();
        assert_eq!(r.familiar(), format!("busybox:1@{D}"));
        assert_eq!(
            Reference::parse("busybox")
                .unwrap()
                .with_default_tag()
                .to_string(),
            "docker.io/library/busybox:latest"
        );
    }

    #[test]
    fn refuses_what_docker_refuses() {
        let long = format!("a/{}", "b".repeat(260));
        type Case<'a> = (&'a str, fn(&ReferenceError) -> bool);
        let cases: Vec<Case> = vec![
            ("", |e| matches!(e, ReferenceError::Empty)),
            ("Busybox", |e| matches!(e, ReferenceError::Uppercase(_))),
            ("me/App", |e| matches!(e, ReferenceError::Uppercase(_))),
            (
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                |e| matches!(e, ReferenceError::HexName(_)),
            ),
            (&long, |e| matches!(e, ReferenceError::TooLong(_))),
            ("busybox:", |e| matches!(e, ReferenceError::Invalid(_))),
            ("busybox:-x", |e| matches!(e, ReferenceError::Invalid(_))),
            ("busybox@sha256:abc", |e| {
                matches!(e, ReferenceError::Invalid(_))
            }),
            ("a//b", |e| matches!(e, ReferenceError::Invalid(_))),
            ("a/../b", |e| matches!(e, ReferenceError::Invalid(_))),
            ("/abs", |e| matches!(e, ReferenceError::Invalid(_))),
            ("a/b/", |e| matches!(e, ReferenceError::Invalid(_))),
            ("-a", |e| matches!(e, ReferenceError::Invalid(_))),
            ("a..b", |e| matches!(e, ReferenceError::Invalid(_))),
            ("host:port/x", |e| matches!(e, ReferenceError::Invalid(_))),
        ];
        for (input, check) in cases {
            let e = Reference::parse(input).expect_err(input);
            assert!(check(&e), "{input}: {e:?}");
        }
        assert_eq!(
            Reference::parse("Busybox").unwrap_err().to_string(),
            "invalid reference format: repository name (Busybox) must be lowercase"
        );
    }
}
