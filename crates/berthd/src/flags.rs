//! berthd's flags: dockerd's where they mean the same, so that several
//! daemons can run side by side (tests do), and a `daemon.json`-style config.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde::Deserialize;

/// berth's daemon: serves the Docker Engine API.
#[derive(Debug, Parser)]
#[command(name = "berthd", version, about)]
pub struct Flags {
    /// Socket to listen on (`unix:///run/berth/berth.sock`).
    #[arg(short = 'H', long = "host")]
    pub host: Vec<String>,
    /// Root of persistent state.
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// Root of runtime state (sockets, container state).
    #[arg(long)]
    pub exec_root: Option<PathBuf>,
    /// File to write the daemon's pid to.
    #[arg(short, long)]
    pub pidfile: Option<PathBuf>,
    /// debug, info, warn, error.
    #[arg(short, long)]
    pub log_level: Option<String>,
    /// A JSON file with the same settings (`hosts`, `data-root`, `exec-root`,
    /// `pidfile`, `log-level`, `bridge`, `bip`, `dns`, `insecure-registries`,
    /// `certs-dir`), as dockerd's daemon.json.
    #[arg(long)]
    pub config_file: Option<PathBuf>,
    /// The default bridge's name (`berth0`); `none` runs without one, and
    /// containers then default to the `none` network.
    #[arg(short = 'b', long)]
    pub bridge: Option<String>,
    /// The default bridge's address and prefix, `172.17.0.1/16` (default: a
    /// subnet clear of the host's routes, as Docker picks).
    #[arg(long)]
    pub bip: Option<String>,
    /// Resolvers the embedded DNS server of user-defined networks forwards
    /// to (default: the host's `/etc/resolv.conf`), as dockerd's `--dns`;
    /// `IP` or `IP:PORT`.
    #[arg(long)]
    pub dns: Vec<String>,
    /// A registry to reach over plain HTTP or unverified HTTPS
    /// (`host[:port]` or a CIDR), as dockerd's flag; repeatable.
    #[arg(long = "insecure-registry")]
    pub insecure_registry: Vec<String>,
    /// Per-registry CA certificates: `<dir>/<host[:port]>/*.crt`
    /// (`/etc/berth/certs.d`).
    #[arg(long)]
    pub certs_dir: Option<PathBuf>,
    /// How pushed layers are compressed when no compressed blob of them is
    /// stored yet: `gzip` (Docker's schema2 manifest) or `zstd` (an OCI
    /// manifest); a push's `compression=` query overrides it.
    #[arg(long, default_value = "gzip")]
    pub push_compression: String,
    /// Rootless only: the user-mode network stack that gives containers
    /// their way out, `slirp4netns` (the default, as Docker rootless's and
    /// Podman 4's) or `pasta` (Debian's `passt`). See docs/ROOTLESS.md.
    #[arg(long, value_enum, default_value = "slirp4netns")]
    pub rootless_network: crate::rootless::stack::Stack,
    /// Blobs larger than this many bytes are pushed in chunks of this size
    /// (PATCH with `Content-Range`); smaller ones in one PUT.
    #[arg(long, default_value_t = registry::upload::DEFAULT_CHUNK)]
    pub push_chunk_size: u64,
}

/// The config file's keys, as dockerd names them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileConfig {
    hosts: Option<Vec<String>>,
    data_root: Option<PathBuf>,
    exec_root: Option<PathBuf>,
    pidfile: Option<PathBuf>,
    log_level: Option<String>,
    bridge: Option<String>,
    bip: Option<String>,
    dns: Option<Vec<String>>,
    insecure_registries: Option<Vec<String>>,
    certs_dir: Option<PathBuf>,
}

/// Settings after defaults, the config file and the flags (flags win).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The unix socket path.
    pub socket: PathBuf,
    /// Persistent state.
    pub data_root: PathBuf,
    /// Runtime state.
    pub exec_root: PathBuf,
    /// Pid file.
    pub pidfile: PathBuf,
    /// Log level.
    pub log_level: String,
    /// The default bridge, `None` for none.
    pub bridge: Option<engine::net::BridgeConfig>,
    /// Upstream resolvers of the embedded DNS server.
    pub dns: Vec<std::net::SocketAddr>,
    /// `insecure-registries`: flags and config file together, as dockerd.
    pub insecure_registries: Vec<String>,
    /// Per-registry CA directory.
    pub certs_dir: Option<PathBuf>,
    /// How pushes compress and chunk.
    pub push: engine::push::PushOptions,
    /// The user-mode network stack of a rootless daemon.
    pub rootless_network: crate::rootless::stack::Stack,
}

/// `p` made absolute against the working directory: a rootless daemon
/// changes namespaces (and its working directory) before using them.
fn absolute(p: PathBuf) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p);
    }
    Ok(std::env::current_dir()
        .context("working directory")?
        .join(p))
}

fn socket_path(host: &str) -> Result<PathBuf> {
    match host.strip_prefix("unix://") {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => bail!("unsupported host {host:?}: berthd listens on unix:// sockets only"),
    }
}

impl Flags {
    /// Resolves the settings of a daemon run by root.
    #[cfg(test)]
    pub fn settings(&self) -> Result<Settings> {
        self.settings_for(None)
    }

    /// Resolves the settings; a rootless daemon (`user`) gets Docker
    /// rootless's placement by default (see `crate::rootless::UserEnv`).
    pub fn settings_for(&self, user: Option<&crate::rootless::UserEnv>) -> Result<Settings> {
        let file: FileConfig = match &self.config_file {
            Some(p) => {
                let text = std::fs::read(p).with_context(|| format!("read {}", p.display()))?;
                serde_json::from_slice(&text).with_context(|| format!("parse {}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let hosts = if !self.host.is_empty() {
            self.host.clone()
        } else {
            file.hosts.unwrap_or_default()
        };
        if hosts.len() > 1 {
            bail!("berthd listens on one socket; got {}", hosts.len());
        }
        let socket = match (hosts.first(), user) {
            (Some(h), _) => socket_path(h)?,
            (None, Some(u)) => u.socket()?,
            (None, None) => PathBuf::from("/run/berth/berth.sock"),
        };
        let exec_root = match (self.exec_root.clone().or(file.exec_root), user) {
            (Some(p), _) => p,
            (None, Some(u)) => u.exec_root()?,
            (None, None) => PathBuf::from("/run/berth"),
        };
        let bridge = match self.bridge.clone().or(file.bridge).as_deref() {
            Some("none") => None,
            name => {
                let name = name.unwrap_or("berth0");
                // IFNAMSIZ: 15 bytes and a NUL.
                if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
                    bail!("invalid bridge name {name:?}");
                }
                let mut cfg = engine::net::BridgeConfig::new(name);
                if let Some(bip) = self.bip.clone().or(file.bip) {
                    cfg.bip = Some(engine::net::ipam::parse_cidr(&bip).with_context(|| {
                        format!("invalid bip {bip:?}: an address and prefix, like 172.17.0.1/16")
                    })?);
                }
                Some(cfg)
            }
        };
        let dns_flags = if self.dns.is_empty() {
            file.dns.clone().unwrap_or_default()
        } else {
            self.dns.clone()
        };
        let mut dns = Vec::new();
        for d in dns_flags {
            let addr = d
                .parse::<std::net::SocketAddr>()
                .or_else(|_| d.parse::<std::net::IpAddr>().map(|ip| (ip, 53).into()))
                .with_context(|| format!("invalid dns {d:?}: an IP address, or IP:PORT"))?;
            dns.push(addr);
        }
        let mut insecure_registries = file.insecure_registries.unwrap_or_default();
        insecure_registries.extend(self.insecure_registry.iter().cloned());
        Ok(Settings {
            dns,
            bridge,
            insecure_registries,
            certs_dir: self.certs_dir.clone().or(file.certs_dir),
            push: engine::push::PushOptions {
                compression: engine::push::Compression::parse(&self.push_compression)
                    .map_err(|e| anyhow::anyhow!("--push-compression: {}", e.message))?,
                chunk: self.push_chunk_size.max(1),
            },
            socket: absolute(socket)?,
            data_root: absolute(
                self.data_root
                    .clone()
                    .or(file.data_root)
                    .unwrap_or_else(|| {
                        user.map_or_else(|| PathBuf::from("/var/lib/berth"), |u| u.data_root())
                    }),
            )?,
            pidfile: absolute(match (self.pidfile.clone().or(file.pidfile), user) {
                (Some(p), _) => p,
                (None, Some(u)) => u.pidfile()?,
                (None, None) => Path::new(&exec_root).join("berthd.pid"),
            })?,
            rootless_network: self.rootless_network,
            exec_root: absolute(exec_root)?,
            log_level: self
                .log_level
                .clone()
                .or(file.log_level)
                .unwrap_or_else(|| "info".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_settings_from_flags_and_file() {
        let f = Flags::parse_from(["berthd"]);
        let b = f.settings().unwrap().bridge.unwrap();
        assert_eq!(
            (b.name.as_str(), b.table.as_str(), b.bip),
            ("berth0", "berth", None)
        );
        let f = Flags::parse_from(["berthd", "-b", "none"]);
        assert!(f.settings().unwrap().bridge.is_none());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("daemon.json");
        std::fs::write(&file, r#"{"bridge": "br9", "bip": "10.9.0.1/16"}"#).unwrap();
        let f = Flags::parse_from(["berthd", "--config-file", file.to_str().unwrap()]);
        let b = f.settings().unwrap().bridge.unwrap();
        assert_eq!(b.name, "br9");
        assert_eq!(b.bip, Some(("10.9.0.1".parse().unwrap(), 16)));
        let f = Flags::parse_from(["berthd", "--bip", "10.9.0.1"]);
        assert!(f.settings().is_err(), "a bip needs its prefix");
    }
}
