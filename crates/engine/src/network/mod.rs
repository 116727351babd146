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
//!
//! By verb: `setup.rs` at daemon start, `prepare.rs` at create,
//! `attach.rs` before a start and after a stop (`bridge.rs` for the
//! default bridge), `connect.rs` for `network connect`/`disconnect`,
//! `shapes.rs` for the inspect's JSON.

mod attach;
mod bridge;
mod connect;
mod create;
pub mod endpoint;
mod error;
pub mod etc;
pub use error::NetworkError;
pub use etc::{write_etc_files, write_etc_files_with};
mod links;
mod prepare;
mod publish;
mod setup;
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

use crate::Engine;

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
