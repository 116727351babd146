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
    /// The log's level: debug, info, warn, error, fatal (`info`).
    #[arg(short, long)]
    pub log_level: Option<String>,
    /// Debug logging (`--log-level debug`), as dockerd's `-D`.
    #[arg(short = 'D', long)]
    pub debug: bool,
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
    /// Resolvers of containers: those the embedded DNS server of
    /// user-defined networks forwards to (default: the host's
    /// `/etc/resolv.conf`), and the nameservers of containers on the
    /// default bridge, as dockerd's `--dns`; `IP` or `IP:PORT`.
    #[arg(long)]
    pub dns: Vec<String>,
    /// Search domains of containers that set none (`--dns-search`).
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// Resolver options of containers that set none (`--dns-opt`).
    #[arg(long = "dns-opt")]
    pub dns_opt: Vec<String>,
    /// IPv6 on the default bridge, with `--fixed-cidr-v6`.
    #[arg(long)]
    pub ipv6: bool,
    /// The default bridge's IPv6 subnet, `fd00:1::/64` (its first address
    /// is the gateway).
    #[arg(long)]
    pub fixed_cidr_v6: Option<String>,
    /// MTU of the default bridge and its containers' interfaces (1500).
    #[arg(long)]
    pub mtu: Option<u32>,
    /// The address `--add-host NAME:host-gateway` stands for (default: the
    /// default bridge's gateway).
    #[arg(long)]
    pub host_gateway_ip: Option<std::net::IpAddr>,
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
    /// A registry's mirror, `DOMAIN=HOST[:PORT]` (repeatable): pulls of
    /// `DOMAIN/…` connect to the mirror and keep their names, as
    /// containerd's `registry.mirrors` (e.g. `registry.k8s.io=10.0.0.5:5000`).
    #[arg(long = "registry-mirror")]
    pub registry_mirror: Vec<String>,
    /// Serve the Kubernetes CRI (runtime.v1, gRPC) on this unix socket,
    /// beside the Docker API (e.g. `/run/berth/cri.sock`); off unless given.
    #[arg(long)]
    pub cri_socket: Option<PathBuf>,
    /// The CRI streaming server's address (exec, attach, port-forward
    /// URLs), `IP:PORT`; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub cri_stream_address: std::net::SocketAddr,
    /// CNI network configs for pods (`/etc/cni/net.d`); without one, a
    /// default bridge network is used.
    #[arg(long, default_value = "/etc/cni/net.d")]
    pub cni_conf_dir: PathBuf,
    /// Where CNI plugins are (repeatable; `/usr/lib/cni` and `/opt/cni/bin`).
    #[arg(long)]
    pub cni_bin_dir: Vec<PathBuf>,
    /// The cgroup under which pods without a cgroup parent go.
    #[arg(long, default_value = "/berth-cri")]
    pub cri_cgroup_parent: String,
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
    dns_search: Option<Vec<String>>,
    dns_opts: Option<Vec<String>>,
    ipv6: Option<bool>,
    fixed_cidr_v6: Option<String>,
    /// Always on in berth (its IPv6 rules are in its own `ip6` table).
    ip6tables: Option<bool>,
    mtu: Option<u32>,
    host_gateway_ip: Option<std::net::IpAddr>,
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
    /// Containers' networking defaults (`dns-search`, `dns-opts`,
    /// `host-gateway-ip`).
    pub net_options: engine::network::NetOptions,
    /// `insecure-registries`: flags and config file together, as dockerd.
    pub insecure_registries: Vec<String>,
    /// Per-registry CA directory.
    pub certs_dir: Option<PathBuf>,
    /// How pushes compress and chunk.
    pub push: engine::push::PushOptions,
    /// The user-mode network stack of a rootless daemon.
    pub rootless_network: crate::rootless::stack::Stack,
    /// The CRI's settings, when it is served.
    pub cri: Option<CriSettings>,
    /// Registry mirrors: (domain, host).
    pub registry_mirrors: Vec<(String, String)>,
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

/// What the CRI server is given from the flags.
#[derive(Debug, Clone)]
pub struct CriSettings {
    /// Its gRPC socket.
    pub socket: PathBuf,
    /// The streaming server's address.
    pub stream_address: std::net::SocketAddr,
    /// CNI configs.
    pub cni_conf_dir: PathBuf,
    /// CNI plugins.
    pub cni_bin_dirs: Vec<PathBuf>,
    /// Pods' default cgroup parent.
    pub cgroup_parent: String,
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
        let file = self.file_config()?;
        let hosts = if !self.host.is_empty() {
            self.host.clone()
        } else {
            file.hosts.clone().unwrap_or_default()
        };
        if hosts.len() > 1 {
            bail!("berthd listens on one socket; got {}", hosts.len());
        }
        let socket = match (hosts.first(), user) {
            (Some(h), _) => socket_path(h)?,
            (None, Some(u)) => u.socket()?,
            (None, None) => PathBuf::from("/run/berth/berth.sock"),
        };
        let exec_root = match (self.exec_root.clone().or(file.exec_root.clone()), user) {
            (Some(p), _) => p,
            (None, Some(u)) => u.exec_root()?,
            (None, None) => PathBuf::from("/run/berth"),
        };
        let bridge = self.bridge_config(&file)?;
        let dns = self.dns_servers(&file)?;
        let pick = |flag: &Vec<String>, file: &Option<Vec<String>>| {
            if flag.is_empty() {
                file.clone().unwrap_or_default()
            } else {
                flag.clone()
            }
        };
        let net_options = engine::network::NetOptions {
            dns_search: pick(&self.dns_search, &file.dns_search),
            dns_options: pick(&self.dns_opt, &file.dns_opts),
            host_gateway_ip: self.host_gateway_ip.or(file.host_gateway_ip),
        };
        // Not a Result: the key is accepted and always on (see its field).
        let _ = file.ip6tables;
        let mut insecure_registries = file.insecure_registries.unwrap_or_default();
        insecure_registries.extend(self.insecure_registry.iter().cloned());
        let cri = self.cri_settings();
        let registry_mirrors = self.registry_mirrors()?;
        Ok(Settings {
            registry_mirrors,
            cri,
            dns,
            net_options,
            bridge,
            insecure_registries,
            certs_dir: self.certs_dir.clone().or(file.certs_dir),
            push: engine::push::PushOptions {
                compression: engine::push::Compression::parse(&self.push_compression)
                    .map_err(|e| anyhow::anyhow!("--push-compression: {e}"))?,
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

    /// `--config-file`'s settings (daemon.json), or none.
    fn file_config(&self) -> Result<FileConfig> {
        Ok(match &self.config_file {
            Some(p) => {
                let text = std::fs::read(p).with_context(|| format!("read {}", p.display()))?;
                serde_json::from_slice(&text).with_context(|| format!("parse {}", p.display()))?
            }
            None => FileConfig::default(),
        })
    }

    /// The default bridge (`None`: `--bridge=none`): its name, `--bip`,
    /// `--mtu`, and IPv6 (`--ipv6` needs `--fixed-cidr-v6`).
    fn bridge_config(&self, file: &FileConfig) -> Result<Option<engine::net::BridgeConfig>> {
        Ok(
            match self.bridge.clone().or(file.bridge.clone()).as_deref() {
                Some("none") => None,
                name => {
                    let name = name.unwrap_or("berth0");
                    // IFNAMSIZ: 15 bytes and a NUL.
                    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
                        bail!("invalid bridge name {name:?}");
                    }
                    let mut cfg = engine::net::BridgeConfig::new(name);
                    if let Some(bip) = self.bip.clone().or(file.bip.clone()) {
                        cfg.bip = Some(engine::net::ipam::parse_cidr(&bip).with_context(|| {
                            format!(
                                "invalid bip {bip:?}: an address and prefix, like 172.17.0.1/16"
                            )
                        })?);
                    }
                    if let Some(mtu) = self.mtu.or(file.mtu) {
                        if !(68..=65535).contains(&mtu) {
                            bail!("invalid mtu {mtu}: between 68 and 65535");
                        }
                        cfg.mtu = mtu;
                    }
                    let ipv6 = self.ipv6 || file.ipv6.unwrap_or(false);
                    let cidr6 = self.fixed_cidr_v6.clone().or(file.fixed_cidr_v6.clone());
                    match (ipv6, cidr6) {
                (true, Some(c)) => {
                    let sub = match engine::net::ipam::parse_any(&c) {
                        Some(engine::net::ipam::AnySubnet::V6(s)) if s.prefix <= 126 => s,
                        _ => bail!("invalid fixed-cidr-v6 {c:?}: an IPv6 subnet, like fd00:1::/64"),
                    };
                    cfg.v6 = Some((sub.first(), sub.prefix));
                }
                // dockerd's words.
                (true, None) => bail!("IPv6 is enabled for the default bridge, but no subnet is configured. Specify an IPv6 subnet using --fixed-cidr-v6"),
                (false, _) => {}
            }
                    Some(cfg)
                }
            },
        )
    }

    /// `--dns`: each an address, port 53 unless given.
    fn dns_servers(&self, file: &FileConfig) -> Result<Vec<std::net::SocketAddr>> {
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
        Ok(dns)
    }

    /// `--cri-socket` and the CRI server's other flags, if it is asked for.
    fn cri_settings(&self) -> Option<CriSettings> {
        self.cri_socket.clone().map(|socket| CriSettings {
            socket,
            stream_address: self.cri_stream_address,
            cni_conf_dir: self.cni_conf_dir.clone(),
            cni_bin_dirs: if self.cni_bin_dir.is_empty() {
                vec!["/usr/lib/cni".into(), "/opt/cni/bin".into()]
            } else {
                self.cni_bin_dir.clone()
            },
            cgroup_parent: self.cri_cgroup_parent.clone(),
        })
    }

    /// `--registry-mirror DOMAIN=HOST[:PORT]`, each.
    fn registry_mirrors(&self) -> Result<Vec<(String, String)>> {
        let mut registry_mirrors = Vec::new();
        for m in &self.registry_mirror {
            match m.split_once('=') {
                Some((d, h)) if !d.is_empty() && !h.is_empty() => {
                    registry_mirrors.push((d.to_string(), h.to_string()))
                }
                _ => bail!("invalid --registry-mirror {m:?}: DOMAIN=HOST[:PORT]"),
            }
        }
        Ok(registry_mirrors)
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
        std::fs::write(
            &file,
            r#"{"ipv6": true, "fixed-cidr-v6": "fd00:7::/64", "mtu": 1400, "dns-search": ["x.test"], "dns-opts": ["ndots:2"], "host-gateway-ip": "192.0.2.1"}"#,
        )
        .unwrap();
        let f = Flags::parse_from(["berthd", "--config-file", file.to_str().unwrap()]);
        let s = f.settings().unwrap();
        let b = s.bridge.unwrap();
        assert_eq!(b.v6, Some(("fd00:7::1".parse().unwrap(), 64)));
        assert_eq!(b.mtu, 1400);
        assert_eq!(s.net_options.dns_search, ["x.test"]);
        assert_eq!(s.net_options.dns_options, ["ndots:2"]);
        assert_eq!(
            s.net_options.host_gateway_ip,
            Some("192.0.2.1".parse().unwrap())
        );
        let f = Flags::parse_from(["berthd", "--ipv6"]);
        assert!(f
            .settings()
            .unwrap_err()
            .to_string()
            .contains("--fixed-cidr-v6"));
    }
}
