//! Containers joining and leaving user-defined networks: at their start
//! (an interface per network, `eth0`, `eth1`…), and by `network connect`
//! and `network disconnect`, on created containers (only their record
//! changes, as Docker's: Compose disconnects and reconnects a created
//! container to set its aliases) and on running ones (the interface comes
//! and goes now).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use models::container::CreateBody;
use models::network::EndpointSettings;
use store::meta::Table;

use super::endpoint::{self, EndpointSpec};
use super::user::{parse_subnet, parse_subnet6, veth_of};
use super::{Attachment, EtcNet, NetNs, NetPlan, NetworkError, NetworkRecord, UserEndpoint};
use crate::container::record::{ContainerRecord, State};
use crate::{Engine, EngineError};

/// The user networks among a container's endpoints, in order.
pub(crate) fn wanted_networks(config: &CreateBody) -> Vec<(String, EndpointSettings)> {
    endpoint::endpoints(config)
        .into_iter()
        .filter(|(n, _)| !endpoint::predefined(n))
        .collect()
}

impl Engine {
    /// Start of a container on user networks (or on none, every one of
    /// them disconnected): its own namespace with `lo`, then an interface
    /// on each network it is on.
    pub(crate) fn attach_user(&self, c: &ContainerRecord) -> Result<NetPlan, EngineError> {
        let mode = super::mode_of(&c.config);
        let path = self.netns_dir().join(&c.id);
        net::netns::loopback_only(&path)
            .map_err(|e| NetworkError::failed(format!("create {}", path.display()), e))?;
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
            return Ok(NetPlan::new(NetNs::Join(path), EtcNet::Loopback));
        };
        self.publish(c, &mut a, (first.ip, first.ip6), &first.veth)?;
        let mut plan = NetPlan::new(NetNs::Join(path), EtcNet::Embedded(first.ip));
        plan.extra.ip6 = first.ip6;
        Ok(plan)
    }

    /// A container of the default bridge: the user networks it is on too.
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

    /// The names the embedded DNS answers for container `c` with
    /// `aliases` (moby `buildEndpointDNSNames`: its name, the aliases, its
    /// short id, its host name, and `host.domain`).
    fn dns_names(c: &ContainerRecord, aliases: &[String]) -> Vec<String> {
        let mut names = vec![c.name.clone()];
        names.extend(aliases.iter().cloned());
        names.push(c.id[..12].to_string());
        let (h, d) = (&c.config.config.hostname, &c.config.config.domainname);
        if !h.is_empty() {
            names.push(h.clone());
            if !d.is_empty() {
                names.push(format!("{h}.{d}"));
            }
        }
        let mut seen = Vec::new();
        names.retain(|n| {
            let new = !seen.contains(n);
            seen.push(n.clone());
            new
        });
        names
    }

    /// Tells the embedded DNS about container `c`'s endpoints in `a`: its
    /// names and addresses on each network, its links, whether anything is
    /// forwarded for it, its own resolvers (`--dns`); and listens in its
    /// namespace.
    pub(crate) fn dns_register(
        &self,
        c: &ContainerRecord,
        a: &Attachment,
        records: &[NetworkRecord],
    ) -> Result<(), EngineError> {
        let Some(dns) = &self.dns else {
            return Ok(());
        };
        let names = dns.names();
        let mut links = Vec::new();
        let mut all_internal = true;
        for n in &a.networks {
            let r = records.iter().find(|r| r.id == n.network);
            all_internal &= r.is_some_and(|r| r.internal);
            names.set_endpoint(
                &c.id,
                &net::dns::Endpoint {
                    network: &n.network,
                    network_name: r.map_or(n.network.as_str(), |r| r.name.as_str()),
                    names: &n.dns_names,
                    ip: n.endpoint.ip,
                    ip6: n.endpoint.ip6,
                },
            );
            let spec = EndpointSpec::parse(&n.config).unwrap_or_default();
            links.extend(spec.links.into_iter().map(|(t, a)| (a, t)));
            if n.network == a.networks[0].network {
                // `--link` given on a user network is its first network's.
                links.extend(
                    c.config
                        .host_config
                        .links
                        .iter()
                        .flatten()
                        .map(|l| endpoint::parse_link(l))
                        .map(|(t, a)| (a, t)),
                );
            }
        }
        names.set_links(&c.id, links);
        names.set_internal(&c.id, all_internal);
        let own: Vec<SocketAddr> = c
            .config
            .host_config
            .dns
            .iter()
            .flatten()
            .filter_map(|d| d.parse::<std::net::IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
            .collect();
        let netns = a
            .endpoint
            .as_ref()
            .map(|e| e.netns.clone())
            .or(a.netns.clone())
            .ok_or_else(|| NetworkError::sys("the container has no network namespace"))?;
        if !dns.listening(&c.id) {
            dns.listen_with(&c.id, &netns, own).map_err(|e| {
                NetworkError::failed(format!("start the DNS server in {}", netns.display()), e)
            })?;
        }
        Ok(())
    }

    /// One more interface for a container whose namespace exists: its
    /// addresses, the veth (`ethN`, the first free N), its names in the
    /// DNS and the DNS listener. Records it in `a` and on disk.
    fn connect_endpoint(
        &self,
        c: &ContainerRecord,
        a: &mut Attachment,
        name: &str,
        ep: &EndpointSettings,
    ) -> Result<(), EngineError> {
        let r = self.find_network(name)?;
        if !r.is_user() {
            return Err(NetworkError::Forbidden(format!(
                "container cannot be connected to network {}",
                r.name
            ))
            .into());
        }
        if a.networks.iter().any(|n| n.network == r.id) {
            return Err(NetworkError::Forbidden(format!(
                "endpoint with name {} already exists in network {}",
                c.name, r.name
            ))
            .into());
        }
        let Some(u) = self
            .net_state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .users
            .get(&r.id)
            .cloned()
        else {
            return Err(NetworkError::sys(format!("network {} has no bridge", r.name)).into());
        };
        let netns = a
            .endpoint
            .as_ref()
            .map(|e| e.netns.clone())
            .or(a.netns.clone())
            .ok_or_else(|| NetworkError::sys("the container has no network namespace"))?;
        let spec = EndpointSpec::parse(ep)?;
        // `Config.MacAddress` (API < 1.44) is the first network's.
        let mac = spec.mac.or_else(|| {
            (a.endpoint.is_none() && a.networks.is_empty())
                .then(|| endpoint::parse_mac(&c.config.config.mac_address))
                .flatten()
        });
        let (ip, ip6) = self.allocate_user(&r, &c.id, spec.ip, spec.ip6)?;
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
        let iface = net::Iface {
            ifname,
            ip,
            ip6,
            mac,
            default_route,
        };
        let endpoint = match u.bridge.connect(&veth, &iface, &netns) {
            Ok(e) => e,
            Err(e) => {
                crate::error::ignore(
                    format_args!("release the address of {} in network {}", c.id, r.id),
                    self.free_in(&r.id, &c.id),
                );
                return Err(NetworkError::sys(e).into());
            }
        };
        let dns_names = Self::dns_names(c, &spec.aliases);
        a.networks.push(UserEndpoint {
            network: r.id.clone(),
            endpoint,
            aliases: spec.aliases.clone(),
            dns_names,
            static_ip: spec.ip.is_some(),
            default_route,
            static_ip6: spec.ip6.is_some(),
            config: ep.clone(),
        });
        self.write_attachment(&c.id, a)?;
        let records = self.network_records()?;
        self.dns_register(c, a, &records)
    }

    /// `POST /networks/{id}/connect`, as Docker: a created container's
    /// record gains the endpoint (nothing changes if it is on the network
    /// already); a running one gets the interface now, and its record the
    /// endpoint too.
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
        if mode == "host" || r.name == "host" {
            return Err(NetworkError::Forbidden(
                "container cannot be disconnected from host network or connected to host network"
                    .into(),
            )
            .into());
        }
        if mode.starts_with("container:") {
            return Err(NetworkError::Forbidden("container sharing network namespace with another container or host cannot be connected to any other network".into()).into());
        }
        if mode == "none" || r.name == "none" {
            return Err(NetworkError::Forbidden("container cannot be connected to multiple networks with one of the networks in private (none) mode".into()).into());
        }
        self.check_endpoint(&r, &endpoint)?;
        let running = matches!(self.state(&c), State::Running(..));
        let on = self.recorded_on(&c.config, &r).is_some();
        let mut config = c.config.clone();
        if running {
            if !r.is_user() {
                return Err(NetworkError::Forbidden(format!(
                        "berth connects a running container to user-defined networks only, not to {}; connect it while it is created",
                        r.name
                    )).into());
            }
            let mut a = self.attachment(&c.id).unwrap_or_default();
            self.connect_endpoint(&c, &mut a, &r.id, &endpoint)?;
        } else if on {
            // Docker's `updateNetworkSettings`: no duplicate config.
            return Ok(());
        }
        let eps = config
            .networking_config
            .endpoints_config
            .get_or_insert_with(|| {
                // A record from before berth kept its endpoints: its mode's.
                let mut m = std::collections::BTreeMap::new();
                if let Ok(mode_net) = self.find_network(&mode) {
                    m.insert(mode_net.name, Some(EndpointSettings::default()));
                }
                m
            });
        eps.insert(r.name.clone(), Some(endpoint));
        self.update_config(&c.id, config)
    }

    /// `POST /networks/{id}/disconnect`, as Docker: a created container's
    /// record loses the endpoint (its `NetworkMode` stays); a running one
    /// loses the interface now. Not being on the network is an error, with
    /// `force` too (Docker's words; a forced one asks for the endpoint by
    /// name, which is gone).
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
        let mode = super::mode_of(&c.config);
        if mode == "host" && r.name == "host" {
            return Err(NetworkError::Forbidden(
                "container cannot be disconnected from host network or connected to host network"
                    .into(),
            )
            .into());
        }
        let running = matches!(self.state(&c), State::Running(..));
        let mut config = c.config.clone();
        let recorded: Vec<String> = self.recorded_on(&config, &r).into_iter().collect();
        if running {
            let mut a = self.attachment(&c.id).unwrap_or_default();
            let Some(i) = a.networks.iter().position(|n| n.network == r.id) else {
                return Err(if force {
                    NetworkError::NotFound(format!("No such endpoint: {}", c.name)).into()
                } else {
                    NetworkError::sys(format!(
                        "container {} is not connected to network {}",
                        c.id, r.name
                    ))
                    .into()
                });
            };
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
            crate::error::ignore(
                format_args!("release the address of {} in network {}", c.id, r.id),
                self.free_in(&r.id, &c.id),
            );
            if let Some(dns) = &self.dns {
                dns.names().remove(Some(&r.id), &c.id);
            }
            self.write_attachment(&c.id, &a)?;
        } else if recorded.is_empty() {
            return Err(NetworkError::sys(format!(
                "container {} is not connected to the network {}",
                c.id, r.name
            ))
            .into());
        }
        config
            .networking_config
            .endpoints_config
            .get_or_insert_with(Default::default)
            .retain(|n, _| !recorded.contains(n) && n != &r.name && n != &r.id);
        self.update_config(&c.id, config)
    }

    /// The key under which a container's record has it on network `r`:
    /// its endpoint configs' (even none left, after disconnects), or, in a
    /// record from before berth kept them, its `NetworkMode`'s.
    fn recorded_on(&self, config: &CreateBody, r: &NetworkRecord) -> Option<String> {
        let is = |n: &String| self.find_network(n).is_ok_and(|x| x.id == r.id);
        match &config.networking_config.endpoints_config {
            Some(m) => m.keys().find(|n| is(n)).cloned(),
            None => Some(super::mode_of(config)).filter(is),
        }
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
            crate::error::ignore(
                format_args!("release the address of {id} in network {}", n.network),
                self.free_in(&n.network, id),
            );
        }
    }

    /// The next free addresses of user network `r` for `id` (from the
    /// `--ip-range`s when set), or the `wanted` ones if they are free; an
    /// IPv6 one only on a network with IPv6 (a `--ip6` elsewhere is kept in
    /// the endpoint's config and unused, as Docker).
    fn allocate_user(
        &self,
        r: &NetworkRecord,
        id: &str,
        wanted: Option<Ipv4Addr>,
        wanted6: Option<Ipv6Addr>,
    ) -> Result<(Ipv4Addr, Option<Ipv6Addr>), EngineError> {
        let subnet = parse_subnet(&r.subnet)?;
        let gateway: Ipv4Addr = r.gateway.parse().map_err(NetworkError::sys)?;
        let range = if r.ip_range.is_empty() {
            subnet
        } else {
            parse_subnet(&r.ip_range)?
        };
        let v6 = if r.ipv6 {
            let sub6 = parse_subnet6(&r.subnet6)?;
            let gw6: Ipv6Addr = r.gateway6.parse().map_err(NetworkError::sys)?;
            let range6 = if r.ip_range6.is_empty() {
                sub6
            } else {
                parse_subnet6(&r.ip_range6)?
            };
            Some((sub6, gw6, range6))
        } else {
            None
        };
        let outside = |ip: String| {
            NetworkError::Invalid(format!(
                "invalid address {ip}: it does not belong to any of this network's subnets"
            ))
        };
        if let Some(ip) = wanted {
            if !subnet.contains(ip) || ip == subnet.addr || ip == subnet.broadcast() {
                return Err(outside(ip.to_string()).into());
            }
        }
        if let (Some(ip6), Some((sub6, _, _))) = (wanted6, v6) {
            if !sub6.contains(ip6) || ip6 == sub6.addr {
                return Err(outside(ip6.to_string()).into());
            }
        }
        let net_id = r.id.clone();
        let name = r.name.clone();
        self.store().meta().write(|w| {
            let Some(mut r) = w.get::<NetworkRecord>(Table::Networks, &net_id)? else {
                return Ok(Err(NetworkError::NoSuchNetwork(name.clone()).into()));
            };
            let taken = |ip: Ipv4Addr| {
                r.allocated.contains_key(&ip.to_string())
                    || ip == subnet.addr
                    || ip == subnet.broadcast()
            };
            let in_use = || EngineError::from(NetworkError::Forbidden("Address already in use".into()));
            let ip = match wanted {
                Some(ip) if taken(ip) || ip == gateway => return Ok(Err(in_use())),
                Some(ip) => ip,
                None => match net::ipam::next_free(range, gateway, r.last, &taken) {
                    Some(ip) => {
                        r.last = Some(ip);
                        ip
                    }
                    None => {
                        return Ok(Err(NetworkError::sys(format!("no available IPv4 addresses on this network's address pools: {name} ({subnet})")).into()))
                    }
                },
            };
            let ip6 = match v6 {
                None => None,
                Some((sub6, gw6, range6)) => {
                    let taken6 = |ip: Ipv6Addr| r.allocated6.contains_key(&ip.to_string());
                    match wanted6 {
                        Some(ip6) if taken6(ip6) || ip6 == gw6 => return Ok(Err(in_use())),
                        Some(ip6) => Some(ip6),
                        None => match net::ipam::next_free6(range6, gw6, r.last6, &taken6) {
                            Some(ip6) => {
                                r.last6 = Some(ip6);
                                Some(ip6)
                            }
                            None => {
                                return Ok(Err(NetworkError::sys(format!("no available IPv6 addresses on this network's address pools: {name} ({sub6})")).into()))
                            }
                        },
                    }
                }
            };
            r.allocated.insert(ip.to_string(), id.to_string());
            if let Some(ip6) = ip6 {
                r.allocated6.insert(ip6.to_string(), id.to_string());
            }
            w.put(Table::Networks, &net_id, &r)?;
            Ok::<_, store::meta::MetaError>(Ok((ip, ip6)))
        })?
    }

    /// Frees what `id` holds on network `net_id`.
    pub(crate) fn free_in(&self, net_id: &str, id: &str) -> Result<(), EngineError> {
        self.store().meta().write(|w| {
            if let Some(mut r) = w.get::<NetworkRecord>(Table::Networks, net_id)? {
                let before = (r.allocated.len(), r.allocated6.len());
                r.allocated.retain(|_, cid| cid != id);
                r.allocated6.retain(|_, cid| cid != id);
                if (r.allocated.len(), r.allocated6.len()) != before {
                    w.put(Table::Networks, net_id, &r)?;
                }
            }
            Ok::<_, store::meta::MetaError>(())
        })?;
        Ok(())
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
    fn networks_wanted_in_order() {
        let cfg = body(json!({
            "HostConfig": {"NetworkMode": "front"},
            "NetworkingConfig": {"EndpointsConfig": {
                "back": {"Aliases": ["db"]}, "front": {"IPAMConfig": {"IPv4Address": "10.0.0.9"}},
                "bridge": {},
            }},
        }));
        let w = wanted_networks(&cfg);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].0, "front");
        assert_eq!(w[0].1.ipam_config.clone().unwrap().ipv4_address, "10.0.0.9");
        assert_eq!(w[1].0, "back");
        assert!(
            wanted_networks(&body(json!({"HostConfig": {"NetworkMode": "bridge"}}))).is_empty()
        );
    }

    #[test]
    fn dns_names_as_docker_builds_them() {
        let c = ContainerRecord {
            id: "0123456789abcdef".repeat(4),
            name: "web".into(),
            config: body(json!({"Hostname": "h", "Domainname": "example.com"})),
            ..Default::default()
        };
        assert_eq!(
            Engine::dns_names(&c, &["www".into(), "web".into()]),
            ["web", "www", "0123456789ab", "h", "h.example.com"]
        );
    }
}
