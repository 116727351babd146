//! User-defined networks, as Docker's bridge driver makes them (moby
//! `daemon/network.go`, libnetwork's `drivers/bridge`): each a bridge of its
//! own named `br-<id12>`, a subnet given or picked clear of the host's
//! routes and of the other networks, addresses in the network's record,
//! isolation from every other bridge in berth's nftables table, and the
//! embedded DNS server for the containers on it.
//!
//! Order of writes, for a crash at any point: a network's record is written
//! before its bridge is made (a restart makes a recorded bridge again) and
//! its bridge deleted before the record (so no bridge outlives its record).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use models::container::CreateBody;
use models::network::EndpointSettings;
use store::meta::Table;

use super::{sys, Attachment, EtcNet, NetNs, NetPlan, NetworkRecord, UserBridge, UserEndpoint};
use crate::containers::{random_hex, ContainerRecord, State};
use crate::{Engine, EngineError, ErrorKind};

/// A `POST /networks/create` body, read.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    /// The name.
    pub name: String,
    /// `bridge` (the only driver); empty means it.
    pub driver: String,
    /// `--internal`.
    pub internal: bool,
    /// `--subnet`.
    pub subnet: Option<String>,
    /// `--gateway`.
    pub gateway: Option<String>,
    /// `--ip-range`.
    pub ip_range: Option<String>,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
    /// `--opt`.
    pub options: BTreeMap<String, String>,
}

fn err(kind: ErrorKind, m: impl Into<String>) -> EngineError {
    EngineError::new(kind, m)
}

fn parse_subnet(s: &str) -> Result<net::ipam::Subnet, EngineError> {
    let bad = || err(ErrorKind::InvalidArgument, format!("invalid subnet {s}"));
    let (a, p) = s.split_once('/').ok_or_else(bad)?;
    let p: u8 = p
        .parse()
        .ok()
        .filter(|p| (1..=30).contains(p))
        .ok_or_else(bad)?;
    let a: Ipv4Addr = a.parse().map_err(|_| bad())?;
    Ok(net::ipam::Subnet::new(a, p))
}

/// Docker's rule for network names (moby `daemon/names`): a letter or
/// digit, then letters, digits, `_`, `.`, `-`.
fn valid_name(n: &str) -> bool {
    let mut b = n.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
}

/// The user-defined networks a create body asks for, in order: the
/// `NetworkMode`'s first, then the other `EndpointsConfig` entries; each
/// with its endpoint config.
fn wanted_networks(config: &CreateBody) -> Vec<(String, EndpointSettings)> {
    let mode = super::mode_of(config);
    let eps = config.networking_config.endpoints();
    let predefined = |n: &str| {
        matches!(n, "bridge" | "host" | "none" | "default") || n.starts_with("container:")
    };
    let mut out = Vec::new();
    if !predefined(&mode) {
        out.push((mode.clone(), eps.get(&mode).cloned().unwrap_or_default()));
    }
    for (name, ep) in eps {
        if name != mode && !predefined(&name) {
            out.push((name, ep));
        }
    }
    out
}

/// The host end's name of a container's veth on a user network: both ids
/// in 15 bytes (IFNAMSIZ), apart from the default bridge's `veth…`.
fn veth_of(container: &str, network: &str) -> String {
    format!("ve{}{}", &container[..8], &network[..5])
}

impl Engine {
    /// A network by name, full id or unique id prefix.
    pub(crate) fn find_network(&self, name: &str) -> Result<NetworkRecord, EngineError> {
        let all = self.network_records()?;
        let found = all
            .iter()
            .find(|r| r.name == name || r.id == name)
            .or_else(|| {
                let mut p = all
                    .iter()
                    .filter(|r| !name.is_empty() && r.id.starts_with(name));
                match (p.next(), p.next()) {
                    (Some(r), None) => Some(r),
                    _ => None,
                }
            })
            .filter(|r| !(r.name == "bridge" && self.net.is_none()));
        found
            .cloned()
            .ok_or_else(|| err(ErrorKind::NotFound, format!("network {name} not found")))
    }

    /// The full id of a network by name, id or unique id prefix.
    pub fn find_network_id(&self, name: &str) -> Result<String, EngineError> {
        Ok(self.find_network(name)?.id)
    }

    /// `POST /networks/create`: the record, then the bridge, then the table.
    /// Returns the new network's id.
    pub fn network_create(&self, req: NetworkCreate) -> Result<String, EngineError> {
        if !valid_name(&req.name) {
            return Err(err(
                ErrorKind::InvalidArgument,
                format!(
                    "invalid network name {:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                    req.name
                ),
            ));
        }
        if matches!(req.name.as_str(), "bridge" | "host" | "none" | "default") {
            return Err(err(
                ErrorKind::Forbidden,
                format!(
                    "{} is a pre-defined network and cannot be created",
                    req.name
                ),
            ));
        }
        if !matches!(req.driver.as_str(), "" | "bridge") {
            return Err(err(
                ErrorKind::NotFound,
                format!("plugin \"{}\" not found", req.driver),
            ));
        }
        // One network operation at a time: the name and pool checks hold
        // until the record is written.
        let mut st = self.net_state.lock().unwrap_or_else(|p| p.into_inner());
        let all = self.network_records()?;
        if all.iter().any(|r| r.name == req.name) {
            return Err(err(
                ErrorKind::Conflict,
                format!("network with name {} already exists", req.name),
            ));
        }
        let mut taken: Vec<net::ipam::Subnet> = all
            .iter()
            .filter_map(|r| parse_subnet(&r.subnet).ok())
            .collect();
        if let Some(ctx) = &self.net {
            taken.push(ctx.bridge.subnet);
        }
        let (subnet, user_subnet) = match &req.subnet {
            Some(s) => {
                let sub = parse_subnet(s)?;
                if taken.iter().any(|t| t.overlaps(&sub)) {
                    return Err(err(
                        ErrorKind::Forbidden,
                        "invalid pool request: Pool overlaps with other one on this address space",
                    ));
                }
                (sub, true)
            }
            None => {
                let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
                let mut busy = net::ipam::routes_from_proc(&routes);
                busy.retain(|r| r.prefix > 0);
                busy.extend(taken);
                let sub = net::ipam::choose(&busy).ok_or_else(|| {
                    err(
                        ErrorKind::Forbidden,
                        "all predefined address pools have been fully subnetted",
                    )
                })?;
                (sub, false)
            }
        };
        let gateway = match &req.gateway {
            Some(g) => {
                let g: Ipv4Addr = g
                    .parse()
                    .map_err(|_| err(ErrorKind::InvalidArgument, format!("invalid gateway {g}")))?;
                if !subnet.contains(g) {
                    return Err(err(
                        ErrorKind::Forbidden,
                        format!("no matching subnet for gateway {g}"),
                    ));
                }
                g
            }
            None => subnet.first(),
        };
        let ip_range = match &req.ip_range {
            Some(r) => {
                let range = parse_subnet(r)?;
                if !(subnet.contains(range.addr) && range.prefix >= subnet.prefix) {
                    return Err(err(
                        ErrorKind::Forbidden,
                        format!("no matching subnet for range {r}"),
                    ));
                }
                range.to_string()
            }
            None => String::new(),
        };
        let id = random_hex(32);
        let mtu = req
            .options
            .get("com.docker.network.driver.mtu")
            .and_then(|m| m.parse().ok())
            .or(self.net.as_ref().map(|c| c.bridge.config.mtu))
            .unwrap_or(1500);
        let bridge = req
            .options
            .get("com.docker.network.bridge.name")
            .cloned()
            .unwrap_or_else(|| format!("br-{}", &id[..12]));
        let rec = NetworkRecord {
            id: id.clone(),
            name: req.name.clone(),
            driver: "bridge".into(),
            created: crate::time::now(),
            subnet: subnet.to_string(),
            gateway: gateway.to_string(),
            bridge,
            internal: req.internal,
            ip_range,
            user_subnet,
            labels: req.labels,
            options: req.options,
            mtu,
            ..Default::default()
        };
        self.store()
            .meta()
            .write(|w| w.put(Table::Networks, &id, &rec))?;
        let made = self.user_bridge(&rec);
        let made = made.and_then(|b| {
            st.users.insert(id.clone(), b);
            self.apply_table(&mut st)
        });
        if let Err(e) = made {
            if let Some(u) = st.users.remove(&id) {
                let _ = u.bridge.remove();
            }
            let _ = self
                .store()
                .meta()
                .write(|w| w.delete(Table::Networks, &id));
            return Err(e);
        }
        Ok(id)
    }

    /// Makes (or finds) a user network's bridge.
    fn user_bridge(&self, r: &NetworkRecord) -> Result<UserBridge, EngineError> {
        let subnet = parse_subnet(&r.subnet)?;
        let gateway: Ipv4Addr = r.gateway.parse().map_err(sys)?;
        let mut config = net::BridgeConfig::new(&r.bridge);
        config.bip = Some((gateway, subnet.prefix));
        config.mtu = if r.mtu == 0 { 1500 } else { r.mtu };
        config.table = self.nft_table();
        let bridge = net::Bridge::create(config).map_err(sys)?;
        Ok(UserBridge {
            bridge,
            internal: r.internal,
        })
    }

    /// The running containers with an endpoint on network `id`: (id, name).
    fn endpoints_on(&self, id: &str) -> Result<Vec<(String, String)>, EngineError> {
        Ok(self
            .container_records()?
            .into_iter()
            .filter(|c| matches!(self.state(c), State::Running(..)))
            .filter(|c| {
                self.attachment(&c.id)
                    .is_some_and(|a| a.networks.iter().any(|n| n.network == id))
            })
            .map(|c| (c.id, c.name))
            .collect())
    }

    /// `DELETE /networks/{id}`: refused while a container is on it, as
    /// Docker does; the bridge goes, then the record.
    pub fn network_remove(&self, name: &str) -> Result<(), EngineError> {
        let r = self.find_network(name)?;
        if !r.is_user() {
            return Err(err(
                ErrorKind::Forbidden,
                format!("{} is a pre-defined network and cannot be removed", r.name),
            ));
        }
        let mut st = self.net_state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cid, cname)) = self.endpoints_on(&r.id)?.into_iter().next() {
            return Err(err(
                ErrorKind::Forbidden,
                format!(
                    "error while removing network: network {} has active endpoints (name:{cname:?} id:{:?})",
                    r.name,
                    &cid[..12]
                ),
            ));
        }
        if let Some(u) = st.users.remove(&r.id) {
            u.bridge.remove().map_err(sys)?;
        } else {
            let mut nl = net::netlink::Netlink::open().map_err(sys)?;
            let _ = nl.del_link(&r.bridge);
        }
        self.apply_table(&mut st)?;
        self.store()
            .meta()
            .write(|w| w.delete(Table::Networks, &r.id))?;
        Ok(())
    }

    /// `POST /networks/prune`: every user network no running container is
    /// on (and, with `labels`, whose labels match: `key` or `key=value`).
    /// Returns the names removed.
    pub fn network_prune(&self, labels: &[String]) -> Result<Vec<String>, EngineError> {
        let mut out = Vec::new();
        for r in self.network_records()? {
            if !r.is_user() || !self.endpoints_on(&r.id)?.is_empty() {
                continue;
            }
            let matches = labels.iter().all(|l| match l.split_once('=') {
                Some((k, v)) => r.labels.get(k).is_some_and(|x| x == v),
                None => r.labels.contains_key(l),
            });
            if matches && self.network_remove(&r.id).is_ok() {
                out.push(r.name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Checks the user networks a create body names: they exist, and a
    /// static address needs a subnet given by the user, as Docker.
    pub(crate) fn user_network_check(&self, config: &CreateBody) -> Result<(), EngineError> {
        for (name, ep) in wanted_networks(config) {
            let r = self.find_network(&name)?;
            let ip = ep.ipam_config.map(|i| i.ipv4_address).unwrap_or_default();
            let ip = ip.as_str();
            if !ip.is_empty() {
                if !r.user_subnet {
                    return Err(err(
                        ErrorKind::InvalidArgument,
                        "user specified IP address is supported only when connecting to networks with user configured subnets",
                    ));
                }
                ip.parse::<Ipv4Addr>().map_err(|_| {
                    err(
                        ErrorKind::InvalidArgument,
                        format!("invalid IPv4 address: {ip}"),
                    )
                })?;
            }
        }
        Ok(())
    }

    /// Start of a container whose `NetworkMode` is a user network: its own
    /// namespace with `lo`, then an interface on each network it asks for.
    pub(crate) fn attach_user(&self, c: &ContainerRecord) -> Result<NetPlan, EngineError> {
        let mode = super::mode_of(&c.config);
        self.find_network(&mode)?;
        let path = self.netns_dir().join(&c.id);
        net::netns::loopback_only(&path)
            .map_err(|e| sys(format!("create {}: {e}", path.display())))?;
        let mut a = Attachment {
            mode,
            netns: Some(path.clone()),
            ..Default::default()
        };
        self.write_attachment(&c.id, &a)?;
        for (name, ep) in wanted_networks(&c.config) {
            if let Err(e) = self.connect_endpoint(c, &mut a, &name, &ep) {
                self.network_detach(&c.id);
                return Err(e);
            }
        }
        let Some(first) = a.networks.first().map(|n| n.endpoint.clone()) else {
            self.network_detach(&c.id);
            return Err(sys("no network to attach"));
        };
        self.publish(c, &mut a, first.ip, &first.veth)?;
        Ok(NetPlan {
            netns: NetNs::Join(path),
            etc: EtcNet::Embedded(first.ip),
            hostname: None,
        })
    }

    /// A container of the default bridge: the user networks it was
    /// connected to while created.
    pub(crate) fn connect_wanted(&self, c: &ContainerRecord) -> Result<(), EngineError> {
        let wanted = wanted_networks(&c.config);
        if wanted.is_empty() {
            return Ok(());
        }
        let mut a = self.attachment(&c.id).unwrap_or_default();
        for (name, ep) in wanted {
            self.connect_endpoint(c, &mut a, &name, &ep)?;
        }
        Ok(())
    }

    /// One more interface for a container whose namespace exists: an
    /// address, the veth (`ethN`, the first free N), its names in the DNS
    /// and the DNS listener. Records it in `a` and on disk.
    fn connect_endpoint(
        &self,
        c: &ContainerRecord,
        a: &mut Attachment,
        name: &str,
        ep: &EndpointSettings,
    ) -> Result<(), EngineError> {
        let r = self.find_network(name)?;
        if !r.is_user() {
            return Err(err(
                ErrorKind::Forbidden,
                format!("container cannot be connected to network {}", r.name),
            ));
        }
        if a.networks.iter().any(|n| n.network == r.id) {
            return Err(err(
                ErrorKind::Forbidden,
                format!(
                    "endpoint with name {} already exists in network {}",
                    c.name, r.name
                ),
            ));
        }
        let Some(u) = self
            .net_state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .users
            .get(&r.id)
            .cloned()
        else {
            return Err(sys(format!("network {} has no bridge", r.name)));
        };
        let netns = a
            .endpoint
            .as_ref()
            .map(|e| e.netns.clone())
            .or(a.netns.clone())
            .ok_or_else(|| sys("the container has no network namespace"))?;
        let wanted_ip = ep
            .ipam_config
            .as_ref()
            .map(|i| i.ipv4_address.as_str())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<Ipv4Addr>().map_err(|_| {
                    err(
                        ErrorKind::InvalidArgument,
                        format!("invalid IPv4 address: {s}"),
                    )
                })
            })
            .transpose()?;
        let ip = self.allocate_user(&r, &c.id, wanted_ip)?;
        let used: Vec<String> = a
            .endpoint
            .iter()
            .map(|_| "eth0".to_string())
            .chain(a.networks.iter().map(|n| n.endpoint.ifname.clone()))
            .collect();
        let ifname = (0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !used.contains(n))
            .unwrap_or_default();
        let default_route =
            !u.internal && a.endpoint.is_none() && !a.networks.iter().any(|n| n.default_route);
        let veth = veth_of(&c.id, &r.id);
        let endpoint = match u.bridge.connect(&veth, &ifname, ip, &netns, default_route) {
            Ok(e) => e,
            Err(e) => {
                let _ = self.free_in(&r.id, &c.id);
                return Err(sys(e));
            }
        };
        let aliases: Vec<String> = ep.aliases.clone().unwrap_or_default();
        let mut dns_names = vec![c.name.clone(), c.id[..12].to_string()];
        dns_names.extend(aliases.iter().cloned());
        a.networks.push(UserEndpoint {
            network: r.id.clone(),
            endpoint,
            aliases,
            dns_names: dns_names.clone(),
            static_ip: wanted_ip.is_some(),
            default_route,
        });
        self.write_attachment(&c.id, a)?;
        if let Some(dns) = &self.dns {
            dns.names().set(&r.id, &c.id, &dns_names, ip);
            if !dns.listening(&c.id) {
                dns.listen(&c.id, &netns).map_err(|e| {
                    sys(format!("start the DNS server in {}: {e}", netns.display()))
                })?;
            }
        }
        Ok(())
    }

    /// `POST /networks/{id}/connect`: a running container gets the
    /// interface now; a created one at its start. Either way the record
    /// keeps the endpoint config, as Docker's does.
    pub fn network_connect(
        &self,
        network: &str,
        container: &str,
        endpoint: EndpointSettings,
    ) -> Result<(), EngineError> {
        let r = self.find_network(network)?;
        let c = self.find_container(container)?;
        let lock = self.lifecycle(&c.id);
        let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
        let mode = super::mode_of(&c.config);
        if mode == "host" || mode == "none" || mode.starts_with("container:") {
            return Err(err(
                ErrorKind::Forbidden,
                if mode == "host" {
                    "container cannot be disconnected from host network or connected to host network".to_string()
                } else {
                    "container sharing network namespace with another container or host cannot be connected to any other network".to_string()
                },
            ));
        }
        if !r.is_user() {
            return Err(err(
                ErrorKind::Forbidden,
                format!("container cannot be connected to network {}", r.name),
            ));
        }
        let mut config = c.config.clone();
        if wanted_networks(&config)
            .iter()
            .any(|(n, _)| self.find_network(n).is_ok_and(|x| x.id == r.id))
            && !matches!(self.state(&c), State::Running(..))
        {
            return Err(err(
                ErrorKind::Forbidden,
                format!(
                    "endpoint with name {} already exists in network {}",
                    c.name, r.name
                ),
            ));
        }
        let mut probe = config.clone();
        probe.host_config.network_mode = r.name.clone();
        probe.networking_config.endpoints_config =
            Some(BTreeMap::from([(r.name.clone(), Some(endpoint.clone()))]));
        self.user_network_check(&probe)?;
        if let State::Running(..) = self.state(&c) {
            let mut a = self.attachment(&c.id).unwrap_or_default();
            self.connect_endpoint(&c, &mut a, &r.id, &endpoint)?;
        }
        config
            .networking_config
            .endpoints_config
            .get_or_insert_with(Default::default)
            .insert(r.name.clone(), Some(endpoint));
        self.update_config(&c.id, config)
    }

    /// `POST /networks/{id}/disconnect`: the interface goes now (running)
    /// and the endpoint config from the record. A container not on the
    /// network is an error unless `force`.
    pub fn network_disconnect(
        &self,
        network: &str,
        container: &str,
        force: bool,
    ) -> Result<(), EngineError> {
        let r = self.find_network(network)?;
        let c = self.find_container(container)?;
        let lock = self.lifecycle(&c.id);
        let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut config = c.config.clone();
        let mut found = false;
        if let Some(eps) = config.networking_config.endpoints_config.as_mut() {
            let before = eps.len();
            eps.retain(|n, _| n != &r.name && n != &r.id);
            found |= eps.len() != before;
        }
        let mode = super::mode_of(&config);
        if mode == r.name || mode == r.id {
            found = true;
            // The next network it is on becomes its mode; with none left,
            // `none`, as a container of no network is.
            let next = wanted_networks(&config)
                .first()
                .map_or_else(|| "none".to_string(), |(n, _)| n.clone());
            config.host_config.network_mode = next;
        }
        if let State::Running(..) = self.state(&c) {
            if let Some(mut a) = self.attachment(&c.id) {
                if let Some(i) = a.networks.iter().position(|n| n.network == r.id) {
                    found = true;
                    let n = a.networks.remove(i);
                    if let Some(u) = self
                        .net_state
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .users
                        .get(&r.id)
                    {
                        u.bridge.unplug(&n.endpoint.veth);
                    }
                    let _ = self.free_in(&r.id, &c.id);
                    if let Some(dns) = &self.dns {
                        dns.names().remove(Some(&r.id), &c.id);
                    }
                    self.write_attachment(&c.id, &a)?;
                }
            }
        }
        if !found && !force {
            return Err(err(
                ErrorKind::Forbidden,
                format!("container {} is not connected to network {}", c.id, r.name),
            ));
        }
        self.update_config(&c.id, config)
    }

    fn update_config(&self, id: &str, config: CreateBody) -> Result<(), EngineError> {
        self.store().meta().write(|w| {
            if let Some(mut c) = w.get::<ContainerRecord>(Table::Containers, id)? {
                c.config = config;
                w.put(Table::Containers, id, &c)?;
            }
            Ok::<_, store::meta::MetaError>(())
        })?;
        Ok(())
    }

    /// At a release: every user network's veth, address, DNS names and the
    /// DNS listener of container `id`.
    pub(crate) fn release_user(&self, id: &str, a: &Attachment) {
        if let Some(dns) = &self.dns {
            dns.stop(id);
            dns.names().remove(None, id);
        }
        for n in &a.networks {
            let u = self
                .net_state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .users
                .get(&n.network)
                .cloned();
            if let Some(u) = u {
                // Gone with the namespace once the container's last process
                // is; deleted here so that a restart never finds it.
                u.bridge.unplug(&n.endpoint.veth);
            }
            let _ = self.free_in(&n.network, id);
        }
    }

    /// The next free address of user network `r` for `id` (from the
    /// `--ip-range` when set), or `wanted` if it is free.
    fn allocate_user(
        &self,
        r: &NetworkRecord,
        id: &str,
        wanted: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr, EngineError> {
        let subnet = parse_subnet(&r.subnet)?;
        let gateway: Ipv4Addr = r.gateway.parse().map_err(sys)?;
        let range = if r.ip_range.is_empty() {
            subnet
        } else {
            parse_subnet(&r.ip_range)?
        };
        if let Some(ip) = wanted {
            if !subnet.contains(ip) || ip == subnet.addr || ip == subnet.broadcast() {
                return Err(err(
                    ErrorKind::InvalidArgument,
                    format!(
                        "invalid address {ip}: it does not belong to any of this network's subnets"
                    ),
                ));
            }
        }
        let net_id = r.id.clone();
        let name = r.name.clone();
        self.store().meta().write(|w| {
            let Some(mut r) = w.get::<NetworkRecord>(Table::Networks, &net_id)? else {
                return Ok(Err(err(ErrorKind::NotFound, format!("network {name} not found"))));
            };
            let taken = |ip: Ipv4Addr| {
                r.allocated.contains_key(&ip.to_string())
                    || ip == subnet.addr
                    || ip == subnet.broadcast()
            };
            let ip = match wanted {
                Some(ip) if taken(ip) || ip == gateway => {
                    return Ok(Err(err(
                        ErrorKind::Forbidden,
                        "Address already in use",
                    )))
                }
                Some(ip) => ip,
                None => match net::ipam::next_free(range, gateway, r.last, &taken) {
                    Some(ip) => {
                        r.last = Some(ip);
                        ip
                    }
                    None => {
                        return Ok(Err(err(
                            ErrorKind::System,
                            format!("no available IPv4 addresses on this network's address pools: {name} ({subnet})"),
                        )))
                    }
                },
            };
            r.allocated.insert(ip.to_string(), id.to_string());
            w.put(Table::Networks, &net_id, &r)?;
            Ok::<_, store::meta::MetaError>(Ok(ip))
        })?
    }

    /// Frees what `id` holds on network `net_id`.
    fn free_in(&self, net_id: &str, id: &str) -> Result<(), EngineError> {
        self.store().meta().write(|w| {
            if let Some(mut r) = w.get::<NetworkRecord>(Table::Networks, net_id)? {
                let before = r.allocated.len();
                r.allocated.retain(|_, cid| cid != id);
                if r.allocated.len() != before {
                    w.put(Table::Networks, net_id, &r)?;
                }
            }
            Ok::<_, store::meta::MetaError>(())
        })?;
        Ok(())
    }

    /// At daemon start, after the default bridge: every user network's
    /// bridge made again, veths and addresses no running container holds
    /// let go, the published ports of running containers held again, the
    /// table written, and the DNS names and listeners of running
    /// containers restored.
    pub(crate) fn users_setup(
        &self,
        records: &[NetworkRecord],
        attachments: &[(ContainerRecord, Attachment)],
    ) -> Result<(), EngineError> {
        let mut st = self.net_state.lock().unwrap_or_else(|p| p.into_inner());
        for r in records.iter().filter(|r| r.is_user()) {
            let u = match self.user_bridge(r) {
                Ok(u) => u,
                // One network that cannot be made again (its subnet taken
                // by the host meanwhile) leaves the others working.
                Err(_) => continue,
            };
            let on: Vec<&super::UserEndpoint> = attachments
                .iter()
                .flat_map(|(_, a)| a.networks.iter())
                .filter(|n| n.network == r.id)
                .collect();
            let veths: Vec<String> = on.iter().map(|n| n.endpoint.veth.clone()).collect();
            let _ = u.bridge.sweep_veths(&veths);
            let holders: Vec<String> = attachments
                .iter()
                .filter(|(_, a)| a.networks.iter().any(|n| n.network == r.id))
                .map(|(c, _)| c.id.clone())
                .collect();
            self.store().meta().write(|w| {
                if let Some(mut rec) = w.get::<NetworkRecord>(Table::Networks, &r.id)? {
                    let before = rec.allocated.len();
                    rec.allocated.retain(|_, cid| holders.contains(cid));
                    if rec.allocated.len() != before {
                        w.put(Table::Networks, &r.id, &rec)?;
                    }
                }
                Ok::<_, store::meta::MetaError>(())
            })?;
            st.users.insert(r.id.clone(), u);
        }
        for (c, a) in attachments {
            let mut held = Vec::new();
            for f in &a.forwards {
                if let Ok((fd, _)) = self.hold_port(f) {
                    held.push(fd);
                }
            }
            st.held.insert(c.id.clone(), held);
            st.forwards.insert(c.id.clone(), a.forwards.clone());
        }
        self.apply_table(&mut st)?;
        drop(st);
        if let Some(dns) = &self.dns {
            for (c, a) in attachments {
                for n in &a.networks {
                    dns.names()
                        .set(&n.network, &c.id, &n.dns_names, n.endpoint.ip);
                }
                if !a.networks.is_empty() {
                    let netns = a
                        .endpoint
                        .as_ref()
                        .map(|e| e.netns.clone())
                        .or(a.netns.clone());
                    if let Some(p) = netns {
                        let _ = dns.listen(&c.id, &p);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn networks_wanted_in_order() {
        let cfg: CreateBody = models::de::from_value(json!({
            "HostConfig": {"NetworkMode": "front"},
            "NetworkingConfig": {"EndpointsConfig": {
                "back": {"Aliases": ["db"]}, "front": {"IPAMConfig": {"IPv4Address": "10.0.0.9"}},
            }},
        }))
        .unwrap();
        let w = wanted_networks(&cfg);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].0, "front");
        assert_eq!(
            w[0].1.ipam_config.as_ref().unwrap().ipv4_address,
            "10.0.0.9"
        );
        assert_eq!(w[1].0, "back");
        let bridge: CreateBody =
            models::de::from_value(json!({"HostConfig": {"NetworkMode": "bridge"}})).unwrap();
        assert!(wanted_networks(&bridge).is_empty());
    }

    #[test]
    fn names_and_veths() {
        assert!(valid_name("my-net_1.x"));
        assert!(!valid_name("-x"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        let v = veth_of(&"a".repeat(64), &"b".repeat(64));
        assert_eq!(v, "veaaaaaaaabbbbb");
        assert!(v.len() <= 15);
    }
}
