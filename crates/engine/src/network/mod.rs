//! Containers' networks, Docker's way (moby `daemon/container_operations.go`
//! and libnetwork's bridge driver): `HostConfig.NetworkMode` picks one of
//!
//! - `bridge` (also `default` and empty): a namespace of its own made before
//!   the start, a veth on the default bridge, an address from the bridge's
//!   IPAM, published ports (`PortBindings`, `PublishAllPorts`);
//! - `none`: a new namespace with only `lo` (the runtime makes it);
//! - `host`: no namespace, the host's `/etc/hosts` and `resolv.conf`;
//! - `container:<name|id>`: the namespace of that running container.
//!
//! What a running container got is in `<container dir>/network.json` (an
//! [`Attachment`]), written at start and removed at release. Addresses are
//! in the metadata database, in the `bridge` network's record (table
//! `networks`): an address is taken in the same transaction that looks for
//! a free one, so none is handed out twice, and a daemon that starts again
//! after a `kill -9` frees what no running container holds.
//!
//! Namespaces are kept at `<exec-root>/netns/<id>` (the inspect's
//! `SandboxKey`).
//!
//! User-defined networks (`user.rs`) are bridges of their own
//! (`br-<id12>`), with their addresses in their own records of the same
//! table, and the embedded DNS server (`net::dns`) for the containers on
//! them; a container may be on several (`eth0`, `eth1`…).

mod shapes;
mod user;

pub use user::NetworkCreate;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;

use models::container::{CreateBody, PortBinding};
use serde::{Deserialize, Serialize};
use store::meta::Table;

use crate::containers::{random_hex, ContainerRecord, State};
use crate::{Engine, EngineError, ErrorKind};

/// The default bridge once it is set up, and its network's id.
#[derive(Debug)]
pub struct NetContext {
    /// The bridge.
    pub bridge: net::Bridge,
    /// The id of the `bridge` network.
    pub bridge_id: String,
}

/// Published ports in force: the sockets that hold them and their forwards,
/// by container. One lock, so that the nftables table is written in order.
#[derive(Debug, Default)]
pub struct NetState {
    held: HashMap<String, Vec<Box<dyn crate::rootless::Held>>>,
    forwards: BTreeMap<String, Vec<net::Forward>>,
    /// The user-defined networks' bridges, by network id.
    users: BTreeMap<String, UserBridge>,
    /// Whether this daemon has written the nftables table (a daemon without
    /// a default bridge writes it only once it has a user network).
    wrote: bool,
}

/// A user-defined network's bridge, set up.
#[derive(Debug, Clone)]
pub(crate) struct UserBridge {
    bridge: net::Bridge,
    internal: bool,
}

/// A network's record (table `networks`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkRecord {
    /// 64 hex characters.
    pub id: String,
    /// `bridge`, `host`, `none`.
    pub name: String,
    /// `bridge`, `host`, `null`.
    pub driver: String,
    /// Creation time.
    pub created: String,
    /// The subnet (bridge only).
    pub subnet: String,
    /// The gateway (bridge only).
    pub gateway: String,
    /// Addresses handed out: address -> container id.
    pub allocated: BTreeMap<String, String>,
    /// The last address handed out: the next search starts after it.
    pub last: Option<Ipv4Addr>,
    /// A user-defined network's bridge (`br-<id12>`); empty for the
    /// predefined ones.
    pub bridge: String,
    /// `--internal`: no way out.
    pub internal: bool,
    /// `--ip-range`: where dynamic addresses come from (empty: the subnet).
    pub ip_range: String,
    /// Whether the subnet was given (a static `--ip` needs one, as Docker).
    pub user_subnet: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Driver options, as given.
    pub options: BTreeMap<String, String>,
    /// MTU of the bridge and its veths.
    pub mtu: u32,
}

impl NetworkRecord {
    /// Whether it is a user-defined network (not `bridge`, `host`, `none`).
    pub fn is_user(&self) -> bool {
        !self.bridge.is_empty()
    }
}

/// A container's interface on a user-defined network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserEndpoint {
    /// The network's id.
    pub network: String,
    /// The interface.
    pub endpoint: net::Endpoint,
    /// `--network-alias`.
    pub aliases: Vec<String>,
    /// The names the embedded DNS answers for it there.
    pub dns_names: Vec<String>,
    /// The address was asked for (`--ip`).
    pub static_ip: bool,
    /// It holds the default route.
    pub default_route: bool,
}

/// What a running container got (`network.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Attachment {
    /// `bridge`, `none`, `host` or `container:<id>`.
    pub mode: String,
    /// Its interface on the bridge.
    pub endpoint: Option<net::Endpoint>,
    /// Its published ports.
    pub forwards: Vec<net::Forward>,
    /// Its namespace when it has one but no endpoint (`none`, user
    /// networks).
    pub netns: Option<PathBuf>,
    /// Its interfaces on user-defined networks, in order of connection.
    pub networks: Vec<UserEndpoint>,
}

/// The network namespace the spec asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetNs {
    /// A new one (the runtime makes it): `none`.
    New,
    /// Join the one at this path.
    Join(PathBuf),
    /// The host's: no network namespace in the spec.
    Host,
}

/// What goes into the container's `/etc/hosts` and `resolv.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtcNet {
    /// Only loopback: the hostname on 127.0.1.1.
    Loopback,
    /// The container's address on the bridge.
    Address(Ipv4Addr),
    /// Its address on a user-defined network, and the embedded DNS server.
    Embedded(Ipv4Addr),
    /// The host's files.
    Host,
    /// Another container's files (its `etc` directory).
    Shared(PathBuf),
}

/// What a start needs from the network: the namespace and the files.
#[derive(Debug, Clone)]
pub struct NetPlan {
    /// The spec's network namespace.
    pub netns: NetNs,
    /// The `/etc` files.
    pub etc: EtcNet,
    /// The host name when the network dictates it (`container:X`: X's).
    pub hostname: Option<String>,
}

/// The three networks every Docker daemon has.
const PREDEFINED: [(&str, &str); 3] = [("bridge", "bridge"), ("host", "host"), ("none", "null")];

fn sys(e: impl std::fmt::Display) -> EngineError {
    EngineError::new(ErrorKind::System, e.to_string())
}

/// The network mode of a create body, resolved: `bridge`, `none`, `host`,
/// `container:<name>`, or another name (refused: no user-defined networks).
pub fn mode_of(config: &CreateBody) -> String {
    match config.host_config.network_mode.as_str() {
        "" | "default" => "bridge".into(),
        m => m.to_string(),
    }
}

/// A port to publish: container port, protocol, host address (`None`:
/// all), host port spec (empty: any).
type Wanted = (u16, net::Proto, Option<Ipv4Addr>, String);

/// The ports a container publishes: (container port, proto, host ip, host
/// port spec) from `PortBindings`, and every `ExposedPorts` entry with a
/// free port when `PublishAllPorts`.
fn wanted_ports(config: &CreateBody) -> Result<Vec<Wanted>, EngineError> {
    let bad = |m: String| EngineError::new(ErrorKind::InvalidArgument, m);
    let mut out = Vec::new();
    let hc = &config.host_config;
    let bindings = hc.port_bindings.clone().unwrap_or_default();
    for (key, list) in &bindings {
        let (port, proto) = net::ports::parse_key(key)
            .ok_or_else(|| bad(format!("invalid port specification: {key:?}")))?;
        let list = list.clone().unwrap_or_default();
        let list = if list.is_empty() {
            vec![PortBinding::default()]
        } else {
            list
        };
        for b in list {
            let host_ip = match b.host_ip.as_str() {
                "" | "0.0.0.0" => None,
                ip => match ip.parse::<Ipv4Addr>() {
                    Ok(a) => Some(a),
                    // IPv6 bindings (`::`) are left out: the bridge is IPv4.
                    Err(_) if ip.contains(':') => continue,
                    Err(_) => return Err(bad(format!("invalid IP address: {ip}"))),
                },
            };
            out.push((port, proto, host_ip, b.host_port.clone()));
        }
    }
    if hc.publish_all_ports {
        for key in config.config.exposed_ports.keys() {
            if bindings.contains_key(key) {
                continue;
            }
            if let Some((port, proto)) = net::ports::parse_key(key) {
                out.push((port, proto, None, String::new()));
            }
        }
    }
    Ok(out)
}

/// The host ports a spec names: empty is any (0), `8080`, or a range
/// `8000-8010`.
fn host_ports(spec: &str) -> Result<Vec<u16>, EngineError> {
    let bad = || {
        EngineError::new(
            ErrorKind::InvalidArgument,
            format!("invalid hostPort: {spec}"),
        )
    };
    if spec.is_empty() {
        return Ok(vec![0]);
    }
    let (a, b) = spec.split_once('-').unwrap_or((spec, spec));
    let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b {
        return Err(bad());
    }
    Ok((a..=b).collect())
}

/// The host's `resolv.conf` as a container on the bridge gets it, Docker's
/// way: loopback nameservers cannot be reached from the container and go;
/// if none is left, Google's public ones (moby `libnetwork/resolvconf`).
pub fn container_resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut f = line.split_whitespace();
        if f.next() == Some("nameserver") {
            let ip = f.next().unwrap_or("");
            if ip.starts_with("127.") || ip == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// The `resolv.conf` of a container on a user-defined network, as Docker
/// writes it: the embedded server, the host's `search` and `options` kept,
/// `ndots:0` unless the host sets it (moby `libnetwork/internal/resolvconf`).
pub fn embedded_resolv_conf(host: &str) -> String {
    let mut out = format!("nameserver {}\n", net::dns::ADDRESS);
    let mut ndots = false;
    for line in host.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first == "search" || first == "domain" || first == "options" {
            ndots |= first == "options" && line.contains("ndots:");
            out.push_str(line);
            out.push('\n');
        }
    }
    if !ndots {
        out.push_str("options ndots:0\n");
    }
    out
}

impl Engine {
    fn netns_dir(&self) -> PathBuf {
        self.exec_root.join("netns")
    }

    fn attachment_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("network.json")
    }

    /// What container `id` got at its start, if it is attached.
    pub fn attachment(&self, id: &str) -> Option<Attachment> {
        std::fs::read(self.attachment_path(id))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// The predefined networks' records, made the first time.
    fn network_records(&self) -> Result<Vec<NetworkRecord>, EngineError> {
        let mut all: Vec<NetworkRecord> = self.store().meta().list(Table::Networks)?;
        if PREDEFINED
            .iter()
            .all(|(n, _)| all.iter().any(|r| r.name == *n))
        {
            return Ok(all);
        }
        let now = crate::time::now();
        self.store().meta().write(|w| {
            for (name, driver) in PREDEFINED {
                if !all.iter().any(|r| r.name == name) {
                    let r = NetworkRecord {
                        id: random_hex(32),
                        name: name.into(),
                        driver: driver.into(),
                        created: now.clone(),
                        ..Default::default()
                    };
                    w.put(Table::Networks, &r.id, &r)?;
                    all.push(r);
                }
            }
            Ok::<_, store::meta::MetaError>(())
        })?;
        Ok(all)
    }

    /// At daemon start: sets the default bridge up (`None`: no bridge, as
    /// dockerd's `--bridge=none`; containers then default to `none`), and
    /// reconciles with what a crash may have left: namespaces, veths and
    /// addresses of containers that no longer run are let go, the published
    /// ports of those that run are held again, the nftables table rewritten.
    pub fn network_setup(&mut self, config: Option<net::BridgeConfig>) -> Result<(), EngineError> {
        let records = self.network_records()?;
        let upstreams = if self.dns_servers.is_empty() {
            net::dns::upstreams_of(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
        } else {
            self.dns_servers.clone()
        };
        self.dns = Some(
            net::dns::Server::start(Default::default(), upstreams)
                .map_err(|e| sys(format!("start the embedded DNS server: {e}")))?,
        );
        let running: Vec<ContainerRecord> = self
            .container_records()?
            .into_iter()
            .filter(|c| matches!(self.state(c), State::Running(..)))
            .collect();
        let attachments: Vec<(ContainerRecord, Attachment)> = running
            .iter()
            .filter_map(|c| self.attachment(&c.id).map(|a| (c.clone(), a)))
            .collect();
        let Some(config) = config else {
            let keep: Vec<String> = running.iter().map(|c| c.id.clone()).collect();
            net::netns::sweep(&self.netns_dir(), &keep);
            return self.users_setup(&records, &attachments);
        };
        let bridge = net::Bridge::create(config).map_err(sys)?;
        let bridge_id = records
            .iter()
            .find(|r| r.name == "bridge")
            .map(|r| r.id.clone())
            .unwrap_or_default();
        let keep: Vec<String> = attachments
            .iter()
            .filter(|(_, a)| a.endpoint.is_some())
            .map(|(c, _)| c.id.clone())
            .collect();
        let with_netns: Vec<String> = attachments
            .iter()
            .filter(|(_, a)| a.endpoint.is_some() || a.netns.is_some())
            .map(|(c, _)| c.id.clone())
            .collect();
        bridge.sweep(&self.netns_dir(), &with_netns).map_err(sys)?;
        let subnet = bridge.subnet.to_string();
        let gateway = bridge.gateway.to_string();
        self.store().meta().write(|w| {
            if let Some(mut r) = w.get::<NetworkRecord>(Table::Networks, &bridge_id)? {
                r.allocated.retain(|_, cid| keep.contains(cid));
                if r.subnet != subnet {
                    // A new subnet (`bip` changed): old addresses mean nothing.
                    r.allocated.clear();
                    r.last = None;
                }
                r.subnet = subnet.clone();
                r.gateway = gateway.clone();
                w.put(Table::Networks, &bridge_id, &r)?;
            }
            Ok::<_, store::meta::MetaError>(())
        })?;
        self.net = Some(NetContext { bridge, bridge_id });
        self.users_setup(&records, &attachments)
    }

    /// The nftables table's name: the default bridge's, or berth's own.
    fn nft_table(&self) -> String {
        self.net
            .as_ref()
            .map_or_else(|| "berth".to_string(), |c| c.bridge.config.table.clone())
    }

    /// Writes berth's nftables table whole: every bridge, every published
    /// port. Called with the state's lock held, so that writes go in order.
    fn apply_table(&self, st: &mut NetState) -> Result<(), EngineError> {
        let mut rules = Vec::new();
        if let Some(ctx) = &self.net {
            rules.push(ctx.bridge.rule(false));
        }
        rules.extend(st.users.values().map(|u| u.bridge.rule(u.internal)));
        if rules.is_empty() && !st.wrote {
            return Ok(());
        }
        st.wrote = true;
        let all: Vec<net::Forward> = st.forwards.values().flatten().cloned().collect();
        net::nft::apply(&net::nft::ruleset(&self.nft_table(), &rules, &all))
            .map_err(|e| sys(format!("write nftables table {}: {e}", self.nft_table())))
    }

    /// Checks a create body's network mode and ports (Docker's errors).
    pub(crate) fn network_check(&self, config: &CreateBody) -> Result<(), EngineError> {
        let mode = mode_of(config);
        match mode.as_str() {
            "bridge" | "none" | "host" => {}
            m if m.starts_with("container:") => {
                self.find_container(&m["container:".len()..])?;
            }
            _ => {}
        }
        self.user_network_check(config)?;
        for (_, _, _, spec) in wanted_ports(config)? {
            host_ports(&spec)?;
        }
        Ok(())
    }

    /// Before a start: the container's namespace, veth, address and ports
    /// (bridge), or what the other modes need.
    pub(crate) fn network_attach(&self, c: &ContainerRecord) -> Result<NetPlan, EngineError> {
        let mode = mode_of(&c.config);
        let plan = |netns, etc| NetPlan {
            netns,
            etc,
            hostname: None,
        };
        match mode.as_str() {
            "none" => self.attach_none(c, mode),
            "bridge" if self.net.is_none() => self.attach_none(c, "none".into()),
            "host" => {
                self.write_attachment(
                    &c.id,
                    &Attachment {
                        mode,
                        ..Default::default()
                    },
                )?;
                Ok(plan(NetNs::Host, EtcNet::Host))
            }
            "bridge" => {
                let plan = self.attach_bridge(c)?;
                // User networks connected to a container of the default
                // bridge come after its `eth0`.
                if let Err(e) = self.connect_wanted(c) {
                    self.network_detach(&c.id);
                    return Err(e);
                }
                Ok(plan)
            }
            m if m.starts_with("container:") => {
                let other = self.find_container(&m["container:".len()..])?;
                let State::Running(pid, _) = self.state(&other) else {
                    return Err(EngineError::new(
                        ErrorKind::Conflict,
                        format!(
                            "cannot join network of a non running container: {}",
                            &m["container:".len()..]
                        ),
                    ));
                };
                if other.id == c.id {
                    return Err(EngineError::new(
                        ErrorKind::InvalidArgument,
                        "cannot join own network",
                    ));
                }
                let path = match self.attachment(&other.id) {
                    Some(a) if a.mode.starts_with("container:") || a.mode == "host" => {
                        PathBuf::from(format!("/proc/{pid}/ns/net"))
                    }
                    Some(Attachment {
                        endpoint: Some(e), ..
                    }) => e.netns,
                    _ => PathBuf::from(format!("/proc/{pid}/ns/net")),
                };
                self.write_attachment(
                    &c.id,
                    &Attachment {
                        mode: format!("container:{}", other.id),
                        ..Default::default()
                    },
                )?;
                let netns = if self.attachment(&other.id).is_some_and(|a| a.mode == "host") {
                    NetNs::Host
                } else {
                    NetNs::Join(path)
                };
                // X's name too, as Docker gives a container joining X.
                let hostname =
                    std::fs::read_to_string(self.container_dir(&other.id).join("etc/hostname"))
                        .ok()
                        .map(|h| h.trim().to_string())
                        .filter(|h| !h.is_empty());
                Ok(NetPlan {
                    netns,
                    etc: EtcNet::Shared(self.container_dir(&other.id).join("etc")),
                    hostname,
                })
            }
            _ => self.attach_user(c),
        }
    }

    /// A namespace with `lo` up and nothing else.
    fn attach_none(&self, c: &ContainerRecord, mode: String) -> Result<NetPlan, EngineError> {
        let path = self.netns_dir().join(&c.id);
        net::netns::loopback_only(&path)
            .map_err(|e| sys(format!("create {}: {e}", path.display())))?;
        self.write_attachment(
            &c.id,
            &Attachment {
                mode,
                netns: Some(path.clone()),
                ..Default::default()
            },
        )?;
        Ok(NetPlan {
            netns: NetNs::Join(path),
            etc: EtcNet::Loopback,
            hostname: None,
        })
    }

    fn write_attachment(&self, id: &str, a: &Attachment) -> Result<(), EngineError> {
        let path = self.attachment_path(id);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(a).map_err(sys)?)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(sys)
    }

    /// Takes the next free address of the bridge for `id`.
    fn allocate(&self, ctx: &NetContext, id: &str) -> Result<Ipv4Addr, EngineError> {
        let subnet = ctx.bridge.subnet;
        let gateway = ctx.bridge.gateway;
        self.store().meta().write(|w| {
            let mut r: NetworkRecord = w
                .get(Table::Networks, &ctx.bridge_id)?
                .unwrap_or_default();
            let taken = |ip: Ipv4Addr| r.allocated.contains_key(&ip.to_string());
            let Some(ip) = net::ipam::next_free(subnet, gateway, r.last, &taken) else {
                return Ok(Err(EngineError::new(
                    ErrorKind::System,
                    format!("no available IPv4 addresses on this network's address pools: bridge ({subnet})"),
                )));
            };
            r.allocated.insert(ip.to_string(), id.to_string());
            r.last = Some(ip);
            w.put(Table::Networks, &ctx.bridge_id, &r)?;
            Ok::<_, store::meta::MetaError>(Ok(ip))
        })?
    }

    /// Frees the addresses `id` holds.
    fn free(&self, ctx: &NetContext, id: &str) -> Result<(), EngineError> {
        // Most calls find nothing (a second release): no write for them.
        let held = self
            .store()
            .meta()
            .get::<NetworkRecord>(Table::Networks, &ctx.bridge_id)?
            .is_some_and(|r| r.allocated.values().any(|c| c == id));
        if !held {
            return Ok(());
        }
        self.store().meta().write(|w| {
            if let Some(mut r) = w.get::<NetworkRecord>(Table::Networks, &ctx.bridge_id)? {
                let before = r.allocated.len();
                r.allocated.retain(|_, cid| cid != id);
                if r.allocated.len() != before {
                    w.put(Table::Networks, &ctx.bridge_id, &r)?;
                }
            }
            Ok::<_, store::meta::MetaError>(())
        })?;
        Ok(())
    }

    fn attach_bridge(&self, c: &ContainerRecord) -> Result<NetPlan, EngineError> {
        let Some(ctx) = &self.net else {
            return Err(sys("the default bridge is not set up"));
        };
        wanted_ports(&c.config)?;
        let ip = self.allocate(ctx, &c.id)?;
        let netns = self.netns_dir().join(&c.id);
        let endpoint = match ctx.bridge.attach(&c.id, ip, &netns) {
            Ok(e) => e,
            Err(e) => {
                let _ = self.free(ctx, &c.id);
                return Err(sys(e));
            }
        };
        let mut a = Attachment {
            mode: "bridge".into(),
            endpoint: Some(endpoint.clone()),
            ..Default::default()
        };
        // Written before the ports: a release after a failure below finds it.
        self.write_attachment(&c.id, &a)?;
        self.publish(c, &mut a, ip, &endpoint.veth)?;
        Ok(NetPlan {
            netns: NetNs::Join(netns),
            etc: EtcNet::Address(ip),
            hostname: None,
        })
    }

    /// Publishes the ports the container asks for on its address `ip`:
    /// holds the host ports, records the forwards in `a` and writes the
    /// table. On failure the container's network is released.
    fn publish(
        &self,
        c: &ContainerRecord,
        a: &mut Attachment,
        ip: Ipv4Addr,
        veth: &str,
    ) -> Result<(), EngineError> {
        let wanted = wanted_ports(&c.config)?;
        if wanted.is_empty() {
            return Ok(());
        }
        let mut st = self.net_state.lock().unwrap_or_else(|p| p.into_inner());
        let mut held = Vec::new();
        for (port, proto, host_ip, spec) in wanted {
            let mut last_err = String::new();
            let mut got = None;
            for hp in host_ports(&spec)? {
                let f = net::Forward {
                    proto,
                    host_ip,
                    host_port: hp,
                    ip,
                    port,
                };
                match self.hold_port(&f) {
                    Ok(r) => {
                        got = Some(r);
                        break;
                    }
                    Err(e) => last_err = e,
                }
            }
            let Some((fd, host_port)) = got else {
                drop(st);
                self.network_detach(&c.id);
                return Err(EngineError::new(
                    ErrorKind::System,
                    format!(
                        "driver failed programming external connectivity on endpoint {} ({veth}): {last_err}",
                        c.name
                    ),
                ));
            };
            held.push(fd);
            a.forwards.push(net::Forward {
                proto,
                host_ip,
                host_port,
                ip,
                port,
            });
        }
        st.held.insert(c.id.clone(), held);
        st.forwards.insert(c.id.clone(), a.forwards.clone());
        let applied = self.apply_table(&mut st);
        let written = self.write_attachment(&c.id, a);
        drop(st);
        if let Err(e) = applied.and(written) {
            self.network_detach(&c.id);
            return Err(e);
        }
        Ok(())
    }

    /// After a stop (or a failed start): the veth, namespace, address and
    /// ports go. Idempotent.
    pub(crate) fn network_detach(&self, id: &str) {
        let a = self.attachment(id);
        if let Some(path) = a.as_ref().and_then(|a| a.netns.as_ref()) {
            let _ = net::netns::remove(path);
        }
        {
            let mut st = self.net_state.lock().unwrap_or_else(|p| p.into_inner());
            st.held.remove(id);
            if st.forwards.remove(id).is_some_and(|f| !f.is_empty()) {
                let _ = self.apply_table(&mut st);
            }
        }
        if let Some(a) = &a {
            self.release_user(id, a);
        }
        if let Some(ctx) = &self.net {
            let veth = a
                .as_ref()
                .and_then(|a| a.endpoint.as_ref())
                .map(|e| e.veth.clone())
                .unwrap_or_else(|| net::Bridge::veth_name(id));
            if a.as_ref().is_some_and(|a| a.endpoint.is_some()) {
                ctx.bridge.detach(&veth, &self.netns_dir().join(id));
            }
            let _ = self.free(ctx, id);
        }
        let _ = std::fs::remove_file(self.attachment_path(id));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(v: serde_json::Value) -> CreateBody {
        models::de::from_value(v).unwrap()
    }

    #[test]
    fn resolv_conf_as_docker() {
        assert_eq!(
            container_resolv_conf("nameserver 127.0.0.53\noptions edns0\n"),
            "options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(
            container_resolv_conf("search x\nnameserver 10.0.0.2\nnameserver 127.0.0.1\n"),
            "search x\nnameserver 10.0.0.2\n"
        );
    }

    #[test]
    fn ports_wanted() {
        let cfg = body(json!({
            "ExposedPorts": {"80/tcp": {}, "53/udp": {}, "443/tcp": {}},
            "HostConfig": {
                "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}]},
                "PublishAllPorts": true,
            }
        }));
        let w = wanted_ports(&cfg).unwrap();
        assert_eq!(w.len(), 3, "{w:?}");
        assert_eq!(
            w[0],
            (
                80,
                net::Proto::Tcp,
                Some(Ipv4Addr::LOCALHOST),
                "8080".to_string()
            )
        );
        assert!(w.contains(&(53, net::Proto::Udp, None, String::new())));
        assert_eq!(host_ports("").unwrap(), vec![0]);
        assert_eq!(host_ports("8000-8002").unwrap(), vec![8000, 8001, 8002]);
        assert!(host_ports("x").is_err());
    }

    #[test]
    fn modes() {
        assert_eq!(mode_of(&body(json!({}))), "bridge");
        assert_eq!(
            mode_of(&body(json!({"HostConfig": {"NetworkMode": "default"}}))),
            "bridge"
        );
        assert_eq!(
            mode_of(&body(json!({"HostConfig": {"NetworkMode": "host"}}))),
            "host"
        );
    }
}
