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
//! them; a container may be on several (`eth0`, `eth1`…). Which networks
//! a container is on, and what each endpoint asks for, is `endpoint.rs`'s;
//! published ports are `publish.rs`'s; legacy links `links.rs`'s; the
//! `/etc` files `etc.rs`'s. A network with IPv6 (`EnableIPv6`, or the
//! daemon's `--ipv6` for the default bridge) gives each container an IPv6
//! address beside its IPv4 one, from the network's record too.

mod connect;
pub mod endpoint;
mod error;
pub mod etc;
pub use error::NetworkError;
pub use etc::{write_etc_files, write_etc_files_with};
mod links;
mod publish;
mod shapes;
mod user;

/// The spec takes its network namespace as a plain input; the plans here make it.
pub use crate::spec::NetNs;
pub use user::{IpamPool, NetworkCreate};

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;

use models::container::CreateBody;
use models::network::EndpointSettings;
use serde::{Deserialize, Serialize};
use store::meta::Table;

use crate::container::record::{ContainerRecord, State};
use crate::ids::random_hex;
use crate::{Engine, EngineError};

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
    /// Whether it has written the IPv6 one.
    wrote6: bool,
    /// The relay of IPv6 connections the DNAT cannot carry.
    pub(crate) proxy: Option<Arc<net::proxy::Proxy>>,
}

/// A user-defined network's bridge, set up.
#[derive(Debug, Clone)]
pub(crate) struct UserBridge {
    bridge: net::Bridge,
    internal: bool,
    /// `com.docker.network.bridge.enable_icc`.
    icc: bool,
    /// `com.docker.network.bridge.enable_ip_masquerade`.
    masquerade: bool,
}

impl UserBridge {
    fn rule(&self) -> net::nft::BridgeRule {
        let mut r = self.bridge.rule(self.internal);
        r.icc = self.icc;
        r.masquerade = self.masquerade;
        r
    }
}

/// Daemon-wide settings of containers' networking (dockerd's `dns-search`,
/// `dns-opts`, `host-gateway-ip`; its `dns` is [`Engine::dns_servers`]).
#[derive(Debug, Clone, Default)]
pub struct NetOptions {
    /// Search domains of containers that set none.
    pub dns_search: Vec<String>,
    /// Resolver options of containers that set none.
    pub dns_options: Vec<String>,
    /// What `--add-host NAME:host-gateway` stands for (default: the
    /// default bridge's gateway).
    pub host_gateway_ip: Option<IpAddr>,
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
    /// Whether the IPv6 subnet was given (a static `--ip6` needs one).
    pub user_subnet6: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Driver options, as given.
    pub options: BTreeMap<String, String>,
    /// MTU of the bridge and its veths.
    pub mtu: u32,
    /// `EnableIPv6`: containers get an IPv6 address too.
    pub ipv6: bool,
    /// The IPv6 subnet (a network with IPv6).
    pub subnet6: String,
    /// The IPv6 gateway.
    pub gateway6: String,
    /// `--ip-range` of the IPv6 subnet (empty: the subnet).
    pub ip_range6: String,
    /// IPv6 addresses handed out: address -> container id.
    pub allocated6: BTreeMap<String, String>,
    /// The last IPv6 address handed out.
    pub last6: Option<Ipv6Addr>,
    /// The IPAM config as inspect shows it (the pools given, or picked).
    pub ipam: Vec<IpamPool>,
    /// `IPAM.Options`, as given (`None`: shown as `null`).
    pub ipam_options: Option<BTreeMap<String, String>>,
    /// `Attachable`.
    pub attachable: bool,
    /// `Ingress`.
    pub ingress: bool,
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
    /// The IPv6 address was asked for (`--ip6`).
    #[serde(default)]
    pub static_ip6: bool,
    /// The endpoint config as given (echoed by inspect: `IPAMConfig`,
    /// `Links`, `MacAddress`).
    #[serde(default)]
    pub config: EndpointSettings,
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
    /// What else goes into the `/etc` files.
    pub extra: etc::EtcExtra,
    /// Legacy links' environment, before the container's own.
    pub env: Vec<String>,
}

impl NetPlan {
    fn new(netns: NetNs, etc: EtcNet) -> NetPlan {
        NetPlan {
            netns,
            etc,
            hostname: None,
            extra: Default::default(),
            env: Vec::new(),
        }
    }
}

/// The three networks every Docker daemon has.
const PREDEFINED: [(&str, &str); 3] = [("bridge", "bridge"), ("host", "host"), ("none", "null")];

/// The network mode of a create body, resolved: `bridge`, `none`, `host`,
/// `container:<name>`, or another name (refused: no user-defined networks).
pub fn mode_of(config: &CreateBody) -> String {
    match config.host_config.network_mode.as_str() {
        "" | "default" => "bridge".into(),
        m => m.to_string(),
    }
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
                .map_err(|e| NetworkError::failed("start the embedded DNS server", e))?,
        );
        self.net_state
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .proxy =
            Some(Arc::new(net::proxy::Proxy::start().map_err(|e| {
                NetworkError::failed("start the port relay", e)
            })?));
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
        let bridge = net::Bridge::create(config).map_err(NetworkError::sys)?;
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
        bridge
            .sweep(&self.netns_dir(), &with_netns)
            .map_err(NetworkError::sys)?;
        let subnet = bridge.subnet.to_string();
        let gateway = bridge.gateway.to_string();
        let subnet6 = bridge.v6.map(|(_, s)| s.to_string()).unwrap_or_default();
        let gateway6 = bridge.v6.map(|(g, _)| g.to_string()).unwrap_or_default();
        let mtu = bridge.config.mtu;
        self.store().meta().write(|w| {
            if let Some(mut r) = w.get::<NetworkRecord>(Table::Networks, &bridge_id)? {
                r.allocated.retain(|_, cid| keep.contains(cid));
                r.allocated6.retain(|_, cid| keep.contains(cid));
                if r.subnet != subnet {
                    // A new subnet (`bip` changed): old addresses mean nothing.
                    r.allocated.clear();
                    r.last = None;
                }
                if r.subnet6 != subnet6 {
                    r.allocated6.clear();
                    r.last6 = None;
                }
                r.subnet = subnet.clone();
                r.gateway = gateway.clone();
                r.ipv6 = !subnet6.is_empty();
                r.subnet6 = subnet6.clone();
                r.gateway6 = gateway6.clone();
                r.mtu = mtu;
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

    /// Writes berth's nftables tables whole: every bridge, every published
    /// port; the IPv6 table once a bridge has IPv6. Called with the state's
    /// lock held, so that writes go in order.
    fn apply_table(&self, st: &mut NetState) -> Result<(), EngineError> {
        let mut rules = Vec::new();
        if let Some(ctx) = &self.net {
            rules.push(ctx.bridge.rule(false));
        }
        rules.extend(st.users.values().map(UserBridge::rule));
        if rules.is_empty() && !st.wrote {
            return Ok(());
        }
        st.wrote = true;
        let all: Vec<net::Forward> = st.forwards.values().flatten().cloned().collect();
        let table = self.nft_table();
        let write = |family| {
            net::nft::apply_family(family, &table, &rules, &all)
                .map_err(|e| NetworkError::failed(format!("write nftables table {table}"), e))
        };
        write(net::nft::Family::V4)?;
        if st.wrote6 || rules.iter().any(|r| r.subnet6.is_some()) {
            st.wrote6 = true;
            write(net::nft::Family::V6)?;
        }
        Ok(())
    }

    /// Checks a create body's network settings (Docker's errors) and puts
    /// its `NetworkMode`'s network among its endpoints, each endpoint keyed
    /// by its network's name, as Docker records them.
    pub(crate) fn network_prepare(&self, config: &mut CreateBody) -> Result<(), EngineError> {
        let mode = mode_of(config);
        if let Some(other) = mode.strip_prefix("container:") {
            self.find_container(other)?;
        }
        let hc = &config.host_config;
        for (_, _, _, spec) in publish::wanted_ports(config)? {
            publish::host_ports(&spec)?;
        }
        let extra: Vec<String> = hc.extra_hosts.clone().unwrap_or_default();
        etc::extra_hosts(&extra, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
            .map_err(|m| NetworkError::Invalid(m.to_string()))?;
        for l in hc.links.iter().flatten() {
            let (target, _) = endpoint::parse_link(l);
            self.find_container(&target).map_err(|_| {
                NetworkError::NotFound(format!("could not get container for {target}"))
            })?;
        }
        let mac = &config.config.mac_address;
        if !mac.is_empty() {
            endpoint::parse_mac(mac)
                .ok_or_else(|| NetworkError::Invalid(format!("invalid MAC address {mac}")))?;
        }
        if matches!(mode.as_str(), "host" | "none") || mode.starts_with("container:") {
            return Ok(());
        }
        // The endpoints, keyed by their networks' names.
        let given = config.networking_config.endpoints();
        let mut eps = std::collections::BTreeMap::new();
        for (name, ep) in given {
            // The docker CLI names the daemon's default network `default`;
            // without a default bridge that is `none` (below).
            if name == "default" && self.net.is_none() {
                continue;
            }
            let r = self.find_network(&name)?;
            if r.name == "host" || r.name == "none" {
                return Err(NetworkError::Invalid("container cannot be connected to multiple networks with one of the networks in private (none) mode".into()).into());
            }
            self.check_endpoint(&r, &ep)?;
            eps.insert(r.name, Some(ep));
        }
        let mode_net = match self.find_network(&mode) {
            Ok(r) => r,
            // No default bridge: such a container is on `none`.
            Err(_) if mode == "bridge" && self.net.is_none() => return Ok(()),
            Err(e) => return Err(e),
        };
        if !eps.contains_key(&mode_net.name) {
            eps.insert(mode_net.name.clone(), Some(EndpointSettings::default()));
        }
        config.networking_config.endpoints_config = Some(eps);
        Ok(())
    }

    /// Checks what an endpoint config asks of network `r` (Docker's rules:
    /// a static address needs a subnet given by the user).
    pub(crate) fn check_endpoint(
        &self,
        r: &NetworkRecord,
        ep: &EndpointSettings,
    ) -> Result<(), EngineError> {
        let spec = endpoint::EndpointSpec::parse(ep)?;
        // As moby's validateEndpointSettings: each family's static address
        // needs a subnet of that family given by the user.
        if (spec.ip.is_some() && !r.user_subnet) || (spec.ip6.is_some() && !r.user_subnet6) {
            return Err(NetworkError::Invalid(if r.is_user() {
                    "user specified IP address is supported only when connecting to networks with user configured subnets"
                } else {
                    "user specified IP address is supported on user defined networks only"
                }.to_string()).into());
        }
        if !spec.aliases.is_empty() && !r.is_user() {
            return Err(NetworkError::Invalid(
                "network-scoped alias is supported only for containers in user defined networks"
                    .into(),
            )
            .into());
        }
        Ok(())
    }

    /// Before a start: the container's namespace, veth, address and ports
    /// (bridge), or what the other modes need, and the `/etc` extras.
    pub(crate) fn network_attach(&self, c: &ContainerRecord) -> Result<NetPlan, EngineError> {
        let mut plan = self.attach_mode(c)?;
        if let Err(e) = self.plan_extras(c, &mut plan) {
            self.network_detach(&c.id);
            return Err(e);
        }
        Ok(plan)
    }

    fn attach_mode(&self, c: &ContainerRecord) -> Result<NetPlan, EngineError> {
        let mode = mode_of(&c.config);
        match mode.as_str() {
            "none" => self.attach_none(c, mode),
            "host" => {
                self.write_attachment(
                    &c.id,
                    &Attachment {
                        mode,
                        ..Default::default()
                    },
                )?;
                Ok(NetPlan::new(NetNs::Host, EtcNet::Host))
            }
            m if m.starts_with("container:") => self.attach_container(c, m),
            _ => {
                let eps = endpoint::endpoints(&c.config);
                let on_bridge = eps.iter().any(|(n, _)| n == "bridge" || n == "default");
                if on_bridge && self.net.is_some() {
                    let plan = self.attach_bridge(c, &eps)?;
                    // User networks come after its `eth0`.
                    if let Err(e) = self.connect_wanted(c) {
                        self.network_detach(&c.id);
                        return Err(e);
                    }
                    Ok(plan)
                } else if eps.iter().all(|(n, _)| endpoint::predefined(n)) {
                    self.attach_none(c, "none".into())
                } else {
                    self.attach_user(c)
                }
            }
        }
    }

    /// `container:<name|id>`: that running container's namespace.
    fn attach_container(&self, c: &ContainerRecord, m: &str) -> Result<NetPlan, EngineError> {
        let other = self.find_container(&m["container:".len()..])?;
        let State::Running(pid, _) = self.state(&other) else {
            return Err(NetworkError::Conflict(format!(
                "cannot join network of a non running container: {}",
                &m["container:".len()..]
            ))
            .into());
        };
        if other.id == c.id {
            return Err(NetworkError::Invalid("cannot join own network".into()).into());
        }
        let path = match self.attachment(&other.id) {
            Some(a) if a.mode.starts_with("container:") || a.mode == "host" => {
                PathBuf::from(format!("/proc/{pid}/ns/net"))
            }
            Some(Attachment {
                endpoint: Some(e), ..
            }) => e.netns,
            Some(Attachment { netns: Some(p), .. }) => p,
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
        let hostname = std::fs::read_to_string(self.container_dir(&other.id).join("etc/hostname"))
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty());
        let mut plan = NetPlan::new(
            netns,
            EtcNet::Shared(self.container_dir(&other.id).join("etc")),
        );
        plan.hostname = hostname;
        Ok(plan)
    }

    /// A namespace with `lo` up and nothing else.
    fn attach_none(&self, c: &ContainerRecord, mode: String) -> Result<NetPlan, EngineError> {
        let path = self.netns_dir().join(&c.id);
        net::netns::loopback_only(&path)
            .map_err(|e| NetworkError::failed(format!("create {}", path.display()), e))?;
        self.write_attachment(
            &c.id,
            &Attachment {
                mode,
                netns: Some(path.clone()),
                ..Default::default()
            },
        )?;
        Ok(NetPlan::new(NetNs::Join(path), EtcNet::Loopback))
    }

    fn write_attachment(&self, id: &str, a: &Attachment) -> Result<(), EngineError> {
        let path = self.attachment_path(id);
        let tmp = path.with_extension("tmp");
        crate::perms::write_private(&tmp, serde_json::to_vec(a).map_err(NetworkError::sys)?)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(NetworkError::sys)
            .map_err(EngineError::from)
    }

    /// Takes the next free address of the bridge for `id` (and an IPv6
    /// one when the bridge has IPv6).
    fn allocate(
        &self,
        ctx: &NetContext,
        id: &str,
    ) -> Result<(Ipv4Addr, Option<Ipv6Addr>), EngineError> {
        let subnet = ctx.bridge.subnet;
        let gateway = ctx.bridge.gateway;
        let v6 = ctx.bridge.v6;
        self.store().meta().write(|w| {
            let mut r: NetworkRecord = w
                .get(Table::Networks, &ctx.bridge_id)?
                .unwrap_or_default();
            let taken = |ip: Ipv4Addr| r.allocated.contains_key(&ip.to_string());
            let Some(ip) = net::ipam::next_free(subnet, gateway, r.last, &taken) else {
                return Ok(Err(NetworkError::sys(format!("no available IPv4 addresses on this network's address pools: bridge ({subnet})")).into()));
            };
            let ip6 = match v6 {
                Some((gw6, sub6)) => {
                    let taken6 = |ip: Ipv6Addr| r.allocated6.contains_key(&ip.to_string());
                    let Some(ip6) = net::ipam::next_free6(sub6, gw6, r.last6, &taken6) else {
                        return Ok(Err(NetworkError::sys(format!("no available IPv6 addresses on this network's address pools: bridge ({sub6})")).into()));
                    };
                    r.allocated6.insert(ip6.to_string(), id.to_string());
                    r.last6 = Some(ip6);
                    Some(ip6)
                }
                None => None,
            };
            r.allocated.insert(ip.to_string(), id.to_string());
            r.last = Some(ip);
            w.put(Table::Networks, &ctx.bridge_id, &r)?;
            Ok::<_, store::meta::MetaError>(Ok((ip, ip6)))
        })?
    }

    /// Frees the addresses `id` holds.
    fn free(&self, ctx: &NetContext, id: &str) -> Result<(), EngineError> {
        // Most calls find nothing (a second release): no write for them.
        let held = self
            .store()
            .meta()
            .get::<NetworkRecord>(Table::Networks, &ctx.bridge_id)?
            .is_some_and(|r| {
                r.allocated.values().any(|c| c == id) || r.allocated6.values().any(|c| c == id)
            });
        if !held {
            return Ok(());
        }
        self.free_in(&ctx.bridge_id, id)
    }

    fn attach_bridge(
        &self,
        c: &ContainerRecord,
        eps: &[(String, EndpointSettings)],
    ) -> Result<NetPlan, EngineError> {
        let Some(ctx) = &self.net else {
            return Err(NetworkError::sys("the default bridge is not set up").into());
        };
        publish::wanted_ports(&c.config)?;
        let ep = eps
            .iter()
            .find(|(n, _)| n == "bridge" || n == "default")
            .map(|(_, e)| e.clone())
            .unwrap_or_default();
        let spec = endpoint::EndpointSpec::parse(&ep)?;
        // `Config.MacAddress` (API < 1.44) is the default network's.
        let mac = spec
            .mac
            .or_else(|| endpoint::parse_mac(&c.config.config.mac_address));
        let (ip, ip6) = self.allocate(ctx, &c.id)?;
        runtime::trace::mark("address allocated");
        let netns = self.netns_dir().join(&c.id);
        let iface = net::Iface {
            ip6,
            mac,
            ..net::Iface::eth0(ip)
        };
        let endpoint = match ctx.bridge.attach(&c.id, &iface, &netns) {
            Ok(e) => e,
            Err(e) => {
                crate::error::ignore(
                    format_args!("release the address of {}", c.id),
                    self.free(ctx, &c.id),
                );
                return Err(NetworkError::sys(e).into());
            }
        };
        let mut a = Attachment {
            mode: "bridge".into(),
            endpoint: Some(endpoint.clone()),
            ..Default::default()
        };
        runtime::trace::mark("netns and veth made");
        // Written before the ports: a release after a failure below finds it.
        self.write_attachment(&c.id, &a)?;
        self.publish(c, &mut a, (ip, endpoint.ip6), &endpoint.veth)?;
        let mut plan = NetPlan::new(NetNs::Join(netns), EtcNet::Address(ip));
        plan.extra.ip6 = endpoint.ip6;
        Ok(plan)
    }

    /// After a stop (or a failed start): the veth, namespace, address and
    /// ports go. Idempotent.
    pub(crate) fn network_detach(&self, id: &str) {
        let _t = runtime::trace::span("network detach");
        let a = self.attachment(id);
        if let Some(path) = a.as_ref().and_then(|a| a.netns.as_ref()) {
            crate::error::ignore(
                format_args!("remove network namespace {}", path.display()),
                net::netns::remove(path),
            );
        }
        {
            let mut st = self.net_state.lock().unwrap_or_else(|p| p.into_inner());
            st.held.remove(id);
            if let Some(p) = &st.proxy {
                p.stop(id);
            }
            if st.forwards.remove(id).is_some_and(|f| !f.is_empty()) {
                if let Err(e) = self.apply_table(&mut st) {
                    tracing::warn!("removing the port forwards of {id}: {e}");
                }
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
            runtime::trace::mark("veth detached");
            crate::error::ignore(
                format_args!("release the address of {id}"),
                self.free(ctx, id),
            );
        }
        crate::error::ignore(
            format_args!("remove the network attachment of {id}"),
            std::fs::remove_file(self.attachment_path(id)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
