//! berth's networking, as Docker's default bridge driver does it: a Linux
//! bridge with the gateway's address, a veth pair per container (its peer
//! `eth0` inside the container's network namespace), IPv4 forwarding, an
//! nftables table of berth's own for outbound NAT and published ports.
//!
//! This crate does the kernel's side (netlink, namespaces, nftables) and
//! the pure parts of address management. It knows nothing of containers'
//! records: the engine decides which address a container gets, persists
//! it, and asks for the endpoint.
//!
//! Needs root (`CAP_NET_ADMIN`, `CAP_SYS_ADMIN` for the namespace mounts)
//! and the `nft` binary.

pub mod dns;
pub mod ipam;
pub mod netlink;
pub mod netns;
pub mod nft;
pub mod ports;
pub mod proxy;

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipam::{Subnet, Subnet6};
use netlink::Netlink;
pub use ports::{Forward, Proto};

/// Errors of the network setup, each with what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A kernel or tool call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The failure.
        source: io::Error,
    },
    /// No subnet of the default pool is clear of the host's routes.
    #[error("could not find a free subnet for the default bridge; set one with `bip`")]
    NoSubnet,
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> NetError {
    let what = what.into();
    move |source| NetError::Io { what, source }
}

/// What the daemon configures (dockerd's `bridge`, `bip`, `mtu`).
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// The bridge's name (`berth0`).
    pub name: String,
    /// The gateway's address and prefix (`bip`); `None` picks a subnet
    /// clear of the host's routes, or keeps the bridge's own.
    pub bip: Option<(Ipv4Addr, u8)>,
    /// The IPv6 gateway's address and prefix (dockerd's `fixed-cidr-v6`,
    /// the gateway being the subnet's first address); `None`: IPv4 only.
    pub v6: Option<(Ipv6Addr, u8)>,
    /// MTU of the bridge and the veths.
    pub mtu: u32,
    /// The nftables tables (families `ip` and `ip6`) berth owns.
    pub table: String,
}

impl BridgeConfig {
    /// Docker's defaults under berth's names: `berth0`, table `berth`.
    pub fn new(name: &str) -> BridgeConfig {
        BridgeConfig {
            name: name.to_string(),
            bip: None,
            v6: None,
            mtu: 1500,
            table: if name == "berth0" {
                "berth".into()
            } else {
                format!("berth_{}", name.replace(['-', '.'], "_"))
            },
        }
    }
}

/// The bridge, set up.
#[derive(Debug, Clone)]
pub struct Bridge {
    /// Its configuration.
    pub config: BridgeConfig,
    /// The gateway's address (the bridge's).
    pub gateway: Ipv4Addr,
    /// The subnet.
    pub subnet: Subnet,
    /// The IPv6 gateway and subnet, when the bridge has IPv6.
    pub v6: Option<(Ipv6Addr, Subnet6)>,
    index: i32,
}

/// What one interface of a container gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    /// Its name inside the namespace (`eth0`, `eth1`…).
    pub ifname: String,
    /// Its IPv4 address.
    pub ip: Ipv4Addr,
    /// Its IPv6 address, on a bridge with IPv6.
    pub ip6: Option<Ipv6Addr>,
    /// Its MAC (`--mac-address`); `None` derives one from `ip`.
    pub mac: Option<[u8; 6]>,
    /// Whether it holds the namespace's default routes.
    pub default_route: bool,
}

impl Iface {
    /// `eth0` at `ip`, the default route's holder.
    pub fn eth0(ip: Ipv4Addr) -> Iface {
        Iface {
            ifname: "eth0".into(),
            ip,
            ip6: None,
            mac: None,
            default_route: true,
        }
    }
}

/// A container's interface on the bridge.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Endpoint {
    /// The host's end of the veth pair.
    pub veth: String,
    /// The container's address.
    pub ip: Ipv4Addr,
    /// The prefix length of the subnet.
    pub prefix: u8,
    /// The gateway.
    pub gateway: Ipv4Addr,
    /// The MAC of its `eth0`.
    pub mac: String,
    /// Where its network namespace is kept.
    pub netns: PathBuf,
    /// Its name inside the namespace (`eth0`, `eth1`…); empty in records
    /// written before user-defined networks, which mean `eth0`.
    #[serde(default)]
    pub ifname: String,
    /// Its IPv6 address, on a bridge with IPv6.
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
    /// The IPv6 prefix length.
    #[serde(default)]
    pub prefix6: u8,
    /// The IPv6 gateway.
    #[serde(default)]
    pub gateway6: Option<Ipv6Addr>,
}

fn sysctl(path: &str, value: &str) -> Result<(), NetError> {
    std::fs::write(path, value).map_err(io_err(format!("write {path}")))
}

impl Bridge {
    /// Makes the bridge (or finds it), gives it the gateway's address, sets
    /// it up, turns IPv4 forwarding on and writes berth's nftables table
    /// with no published ports. Idempotent: a daemon restart calls it again.
    pub fn setup(config: BridgeConfig) -> Result<Bridge, NetError> {
        let b = Bridge::create(config)?;
        b.apply_forwards(&[])?;
        Ok(b)
    }

    /// What [`Bridge::setup`] does but the nftables table, which the caller
    /// writes whole for all its bridges ([`nft::ruleset`]).
    pub fn create(config: BridgeConfig) -> Result<Bridge, NetError> {
        let mut nl = Netlink::open().map_err(io_err("open a netlink socket"))?;
        match nl.add_bridge(&config.name, config.mtu) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(io_err(format!("create bridge {}", config.name))(e)),
        }
        let index = nl
            .index(&config.name)
            .map_err(io_err(format!("find bridge {}", config.name)))?;
        let have = nl
            .addresses(index)
            .map_err(io_err(format!("addresses of {}", config.name)))?;
        let (gateway, prefix) = match (config.bip, have.first()) {
            (Some(bip), _) if have.contains(&bip) => bip,
            (Some(bip), _) => {
                // A changed `bip`: the old addresses go.
                if !have.is_empty() {
                    let _ = nl.del_link(&config.name);
                    nl.add_bridge(&config.name, config.mtu)
                        .map_err(io_err(format!("re-create bridge {}", config.name)))?;
                }
                bip
            }
            (None, Some(own)) => *own,
            (None, None) => {
                let routes = std::fs::read_to_string("/proc/net/route")
                    .map_err(io_err("read /proc/net/route"))?;
                let s = ipam::choose(&ipam::routes_from_proc(&routes)).ok_or(NetError::NoSubnet)?;
                (s.first(), s.prefix)
            }
        };
        let index = nl
            .index(&config.name)
            .map_err(io_err(format!("find bridge {}", config.name)))?;
        if !have.contains(&(gateway, prefix)) || config.bip.is_some_and(|b| !have.contains(&b)) {
            match nl.add_address(index, gateway, prefix) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => {
                    return Err(io_err(format!("add {gateway}/{prefix} to {}", config.name))(e))
                }
            }
        }
        let v6 = match config.v6 {
            Some((gw6, prefix6)) => {
                sysctl(
                    &format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", config.name),
                    "0",
                )?;
                let have6 = nl
                    .addresses6(index)
                    .map_err(io_err(format!("IPv6 addresses of {}", config.name)))?;
                if !have6.contains(&(gw6, prefix6)) {
                    match nl.add_address6(index, gw6, prefix6) {
                        Ok(()) => {}
                        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                        Err(e) => {
                            return Err(io_err(format!("add {gw6}/{prefix6} to {}", config.name))(
                                e,
                            ))
                        }
                    }
                }
                // IPv6 routing between the bridge and the host's
                // interfaces, as Docker turns it on for an IPv6 network.
                sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")?;
                Some((gw6, Subnet6::new(gw6, prefix6)))
            }
            None => None,
        };
        nl.set_up(index)
            .map_err(io_err(format!("set {} up", config.name)))?;
        // Routing between the bridge and the host's interfaces, as Docker.
        sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
        // 127.0.0.1:PORT DNATed into the bridge (see `nft`).
        sysctl(
            &format!("/proc/sys/net/ipv4/conf/{}/route_localnet", config.name),
            "1",
        )?;
        Ok(Bridge {
            subnet: Subnet::new(gateway, prefix),
            gateway,
            v6,
            config,
            index,
        })
    }

    /// Its part of the nftables tables, with Docker's defaults (not
    /// internal, containers talk to each other, outbound masquerade).
    pub fn rule(&self, internal: bool) -> nft::BridgeRule {
        nft::BridgeRule {
            name: self.config.name.clone(),
            subnet: self.subnet,
            subnet6: self.v6.map(|(_, s)| s),
            internal,
            icc: true,
            masquerade: true,
        }
    }

    /// Deletes the bridge (its veths go with it). Gone already is fine.
    pub fn remove(&self) -> Result<(), NetError> {
        let mut nl = Netlink::open().map_err(io_err("open a netlink socket"))?;
        match nl.del_link(&self.config.name) {
            Err(e) if e.raw_os_error() != Some(libc::ENODEV) => {
                Err(io_err(format!("delete bridge {}", self.config.name))(e))
            }
            _ => Ok(()),
        }
    }

    /// Writes berth's table with these published ports (all of them: the
    /// table is replaced whole).
    pub fn apply_forwards(&self, forwards: &[Forward]) -> Result<(), NetError> {
        nft::apply_all(&self.config.table, &[self.rule(false)], forwards).map_err(io_err(format!(
            "write nftables table {}",
            self.config.table
        )))
    }

    /// The host end's name of container `id`'s veth pair.
    pub fn veth_name(id: &str) -> String {
        format!("veth{}", &id[..id.len().min(11)])
    }

    /// Makes a network namespace kept at `netns`, a veth pair from the
    /// bridge into it (`iface`: `eth0`, its addresses, up, MTU as the
    /// bridge's), `lo` up and the default routes through the gateways.
    pub fn attach(&self, id: &str, iface: &Iface, netns: &Path) -> Result<Endpoint, NetError> {
        let veth = Self::veth_name(id);
        let (ns, mut inside) =
            netns::create(netns).map_err(io_err(format!("create {}", netns.display())))?;
        let made = (|| {
            let lo = inside.index("lo").map_err(io_err("find lo"))?;
            inside.set_up(lo).map_err(io_err("set lo up"))?;
            self.plug(&veth, (&ns, netns), &mut inside, iface)
        })();
        if made.is_err() {
            self.detach(&veth, netns);
        }
        made
    }

    /// Adds interface `iface` on this bridge to the namespace kept at
    /// `netns`, which exists (a user-defined network's connect), with the
    /// default routes through this bridge's gateways when it holds them.
    pub fn connect(&self, veth: &str, iface: &Iface, netns: &Path) -> Result<Endpoint, NetError> {
        let ns = std::fs::File::open(netns).map_err(io_err(format!("open {}", netns.display())))?;
        let mut inside =
            netns::netlink_in(netns).map_err(io_err(format!("enter {}", netns.display())))?;
        let made = self.plug(veth, (&ns, netns), &mut inside, iface);
        if made.is_err() {
            self.unplug(veth);
        }
        made
    }

    fn plug(
        &self,
        veth: &str,
        (ns, netns): (&std::fs::File, &Path),
        inside: &mut Netlink,
        iface: &Iface,
    ) -> Result<Endpoint, NetError> {
        let (ifname, ip) = (iface.ifname.as_str(), iface.ip);
        let mac = iface.mac.unwrap_or_else(|| ipam::mac_of(ip));
        let mut nl = Netlink::open().map_err(io_err("open a netlink socket"))?;
        // A veth left by a crash under the same name goes first.
        let _ = nl.del_link(veth);
        nl.add_veth(
            veth,
            self.index,
            ifname,
            std::os::fd::AsRawFd::as_raw_fd(ns),
            mac,
            self.config.mtu,
        )
        .map_err(io_err(format!("create veth {veth}")))?;
        let host_end = nl.index(veth).map_err(io_err(format!("find {veth}")))?;
        nl.set_up(host_end)
            .map_err(io_err(format!("set {veth} up")))?;
        // Hairpin: a container reaching its own published port through
        // a host address gets the DNATed frame back out of the port it
        // came in by (when `br_netfilter` bridges the DNAT), as Docker
        // sets it without its userland proxy.
        nl.set_hairpin(host_end)
            .map_err(io_err(format!("set hairpin mode on {veth}")))?;
        let eth = inside
            .index(ifname)
            .map_err(io_err(format!("find {ifname}")))?;
        inside
            .add_address(eth, ip, self.subnet.prefix)
            .map_err(io_err(format!("add {ip} to {ifname}")))?;
        inside
            .set_up(eth)
            .map_err(io_err(format!("set {ifname} up")))?;
        let v6 = self.v6.zip(iface.ip6);
        if let Some(((_, subnet6), ip6)) = v6 {
            inside
                .add_address6(eth, ip6, subnet6.prefix)
                .map_err(io_err(format!("add {ip6} to {ifname}")))?;
        }
        if iface.default_route {
            inside
                .add_default_route(self.gateway)
                .map_err(io_err("add the default route"))?;
            if let Some(((gw6, _), _)) = v6 {
                inside
                    .add_default_route6(gw6)
                    .map_err(io_err("add the IPv6 default route"))?;
            }
        }
        Ok(Endpoint {
            veth: veth.to_string(),
            ip,
            prefix: self.subnet.prefix,
            gateway: self.gateway,
            mac: ipam::mac_string(mac),
            netns: netns.to_path_buf(),
            ifname: ifname.to_string(),
            ip6: v6.map(|(_, ip6)| ip6),
            prefix6: v6.map_or(0, |((_, s), _)| s.prefix),
            gateway6: v6.map(|((gw6, _), _)| gw6),
        })
    }

    /// Removes one veth pair (a disconnect); its peer in the container goes
    /// with it. Gone already is fine.
    pub fn unplug(&self, veth: &str) {
        if let Ok(mut nl) = Netlink::open() {
            let _ = nl.del_link(veth);
        }
    }

    /// After a crash: deletes the veths on this bridge not named in `keep`.
    pub fn sweep_veths(&self, keep: &[String]) -> Result<usize, NetError> {
        let mut nl = Netlink::open().map_err(io_err("open a netlink socket"))?;
        let mut removed = 0;
        for l in nl.links().map_err(io_err("list links"))? {
            if l.master == self.index && !keep.contains(&l.name) {
                let _ = nl.del_link(&l.name);
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes a container's veth pair and lets go of its namespace. What
    /// is already gone is fine.
    pub fn detach(&self, veth: &str, netns: &Path) {
        let found = Netlink::open().and_then(|mut nl| nl.index(veth).map(|i| (nl, i)));
        let _ = netns::remove(netns);
        // Deleting a veth waits for the kernel's RCU grace periods (10 to
        // 15 ms here), which a stop need not wait for: its address and
        // ports are free already, and the namespace is gone. By index, not
        // name: a restart may have made a new veth of the same name by then.
        if let Ok((mut nl, index)) = found {
            std::thread::spawn(move || {
                let _ = nl.del_index(index);
            });
        }
    }

    /// After a crash: deletes veths on the bridge and namespaces under
    /// `netns_dir` that belong to none of `keep` (container ids).
    pub fn sweep(&self, netns_dir: &Path, keep: &[String]) -> Result<usize, NetError> {
        let mut removed = netns::sweep(netns_dir, keep);
        let mut nl = Netlink::open().map_err(io_err("open a netlink socket"))?;
        let wanted: Vec<String> = keep.iter().map(|id| Self::veth_name(id)).collect();
        for l in nl.links().map_err(io_err("list links"))? {
            if l.master == self.index && l.name.starts_with("veth") && !wanted.contains(&l.name) {
                let _ = nl.del_link(&l.name);
                removed += 1;
            }
        }
        Ok(removed)
    }
}
