//! Where a reference's registry is, and how to talk to it: Docker's rules.
//!
//! - `docker.io` (what `busybox` normalizes to) is served by
//!   `registry-1.docker.io`, as Docker's `registry/config.go` says.
//! - HTTPS with verified certificates by default; the system's roots plus
//!   `<certs-dir>/<host[:port]>/*.crt` (`/etc/berth/certs.d`, as Docker's
//!   `/etc/docker/certs.d`).
//! - A registry listed in `insecure-registries` (a `host[:port]` or a CIDR)
//!   or on a loopback address (127.0.0.0/8, ::1, `localhost`, which Docker
//!   counts as insecure by default) is tried over HTTPS without verification,
//!   then over plain HTTP, as Docker's `lookupV2Endpoints` does; unless a
//!   CA is configured for it in the certs dir, which makes it verified HTTPS.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use store::reference::{Reference, DEFAULT_DOMAIN};

/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_HOST: &str = "registry-1.docker.io";
/// Default per-registry certificate directory.
pub const DEFAULT_CERTS_DIR: &str = "/etc/berth/certs.d";

/// How to reach a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// HTTPS, certificates verified.
    Https,
    /// HTTPS without verification (an insecure registry's first try).
    HttpsUnverified,
    /// Plain HTTP.
    Http,
}

/// A registry host and the schemes to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The domain as references spell it (`docker.io`, `127.0.0.1:5000`).
    pub domain: String,
    /// `host[:port]` to connect to (`registry-1.docker.io`).
    pub host: String,
    /// Schemes in the order to try them.
    pub schemes: Vec<Scheme>,
    /// CA certificates for this registry (`<certs-dir>/<host>/*.crt`).
    pub ca_files: Vec<PathBuf>,
}

/// The daemon's registry settings.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `insecure-registries`: `host[:port]` names or CIDRs.
    pub insecure: Vec<String>,
    /// Per-registry CA directory (default [`DEFAULT_CERTS_DIR`]).
    pub certs_dir: Option<PathBuf>,
    /// Mirrors: a registry's domain (`registry.k8s.io`) and the `host[:port]`
    /// that serves its repositories instead, as containerd's
    /// `registry.mirrors`. References keep their domain; only the
    /// connection goes to the mirror.
    pub mirrors: Vec<(String, String)>,
}

impl Config {
    /// The endpoint of `reference`'s registry.
    pub fn endpoint(&self, reference: &Reference) -> Endpoint {
        self.endpoint_of(&reference.domain)
    }

    /// The endpoint of a registry named by its domain (`docker.io`,
    /// `host:port`; a URL's scheme and path, as `docker login` may send them,
    /// are dropped).
    pub fn endpoint_of(&self, domain: &str) -> Endpoint {
        let domain = normalize_server(domain);
        let mirror = self
            .mirrors
            .iter()
            .find(|(d, _)| normalize_server(d) == domain)
            .map(|(_, m)| m.clone());
        let host = match mirror {
            Some(m) => m,
            None if domain == DEFAULT_DOMAIN => DOCKER_HUB_HOST.to_string(),
            None => domain.clone(),
        };
        let certs = self
            .certs_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CERTS_DIR));
        let ca_files = ca_files(&certs.join(&host));
        let schemes = if !ca_files.is_empty() || !self.is_insecure(&host) {
            vec![Scheme::Https]
        } else {
            vec![Scheme::HttpsUnverified, Scheme::Http]
        };
        Endpoint {
            domain,
            host,
            schemes,
            ca_files,
        }
    }

    fn is_insecure(&self, host: &str) -> bool {
        let name = host_name(host);
        if name == "localhost" {
            return true;
        }
        let ip: Option<IpAddr> = name.parse().ok();
        if ip.is_some_and(|ip| ip.is_loopback()) {
            return true;
        }
        self.insecure.iter().any(|entry| {
            let entry = entry.trim();
            if entry == host || entry == name {
                return true;
            }
            match (entry.split_once('/'), ip) {
                (Some((net, bits)), Some(ip)) => in_cidr(ip, net, bits),
                _ => false,
            }
        })
    }
}

/// `https://index.docker.io/v1/`, `http://host:5000/`, `host:5000` → the
/// registry's domain as references name it.
pub fn normalize_server(server: &str) -> String {
    let s = server
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let s = s.split('/').next().unwrap_or(s);
    match s {
        "" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DEFAULT_DOMAIN.to_string()
        }
        other => other.to_string(),
    }
}

/// The host without its port (`[::1]:5000` → `::1`).
pub fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn in_cidr(ip: IpAddr, net: &str, bits: &str) -> bool {
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// The CA files of a registry's directory: `*.crt`, as Docker reads them
/// (`ca.crt` first).
fn ca_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(cfg: &Config, r: &str) -> Endpoint {
        cfg.endpoint(&Reference::parse(r).unwrap())
    }

    #[test]
    fn docker_rules() {
        let cfg = Config {
            insecure: vec!["reg.lan:5000".into(), "10.1.0.0/16".into()],
            certs_dir: Some(PathBuf::from("/nonexistent")),
            ..Default::default()
        };
        let unverified = vec![Scheme::HttpsUnverified, Scheme::Http];
        for (r, host, schemes) in [
            ("busybox", DOCKER_HUB_HOST, vec![Scheme::Https]),
            (
                "docker.io/library/busybox:1",
                DOCKER_HUB_HOST,
                vec![Scheme::Https],
            ),
            ("quay.io/a/b", "quay.io", vec![Scheme::Https]),
            ("127.0.0.1:5000/bb", "127.0.0.1:5000", unverified.clone()),
            ("127.1.2.3/bb", "127.1.2.3", unverified.clone()),
            ("localhost:5000/bb", "localhost:5000", unverified.clone()),
            ("[::1]:5000/bb", "[::1]:5000", unverified.clone()),
            ("reg.lan:5000/bb", "reg.lan:5000", unverified.clone()),
            ("reg.lan/bb", "reg.lan", vec![Scheme::Https]),
            ("10.1.2.3:80/bb", "10.1.2.3:80", unverified.clone()),
            ("10.2.2.3/bb", "10.2.2.3", vec![Scheme::Https]),
        ] {
            let e = endpoint(&cfg, r);
            assert_eq!((e.host.as_str(), e.schemes), (host, schemes), "{r}");
        }
    }

    #[test]
    fn a_ca_makes_it_verified() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("127.0.0.1:5000")).unwrap();
        std::fs::write(dir.path().join("127.0.0.1:5000/ca.crt"), "x").unwrap();
        let cfg = Config {
            insecure: vec![],
            certs_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let e = endpoint(&cfg, "127.0.0.1:5000/bb");
        assert_eq!(e.schemes, vec![Scheme::Https]);
        assert_eq!(e.ca_files, vec![dir.path().join("127.0.0.1:5000/ca.crt")]);
    }

    #[test]
    fn mirrors_take_the_connection_not_the_name() {
        let cfg = Config {
            mirrors: vec![("registry.k8s.io".into(), "127.0.0.1:5000".into())],
            ..Default::default()
        };
        let e = endpoint(&cfg, "registry.k8s.io/pause:3.9");
        assert_eq!(e.domain, "registry.k8s.io");
        assert_eq!(e.host, "127.0.0.1:5000");
        assert_eq!(e.schemes, vec![Scheme::HttpsUnverified, Scheme::Http]);
        assert_eq!(endpoint(&cfg, "gcr.io/x/y").host, "gcr.io");
    }

    #[test]
    fn servers() {
        for (s, want) in [
            ("https://index.docker.io/v1/", "docker.io"),
            ("", "docker.io"),
            ("http://127.0.0.1:5000/", "127.0.0.1:5000"),
            ("127.0.0.1:5000", "127.0.0.1:5000"),
        ] {
            assert_eq!(normalize_server(s), want);
        }
    }
}
