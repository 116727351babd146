//! A container's network and the predefined networks in Docker's shapes:
//! `NetworkSettings` of a container's inspect, `Ports` of its list entry,
//! and `GET /networks[/{id}]` (moby `api/types/network`), both families.

use std::collections::BTreeMap;

use models::container::{Port, PortBinding};
use models::network::{
    EndpointResource, EndpointSettings, Ipam, IpamConfig, Network, NetworkSettings,
};

use super::{endpoint, mode_of, Attachment, NetContext, NetworkRecord};
use crate::container::record::{ContainerRecord, State};
use crate::{Engine, EngineError};

impl Engine {
    /// `NetworkSettings` of `GET /containers/{id}/json`, Docker's shape.
    pub(crate) fn network_settings(&self, c: &ContainerRecord, running: bool) -> NetworkSettings {
        let a = if running {
            self.attachment(&c.id)
        } else {
            None
        };
        let ports = port_map(c, a.as_ref());
        let mode = mode_of(&c.config);
        let ep = a.as_ref().and_then(|a| a.endpoint.clone());
        let records = self.network_records().unwrap_or_default();
        let given: BTreeMap<String, EndpointSettings> =
            endpoint::endpoints(&c.config).into_iter().collect();
        let mut networks = self.joined_endpoints(c, a.as_ref(), &records, &given);
        self.add_idle_endpoints(&mut networks, &records, &given, running, &mode);
        let top = ep
            .as_ref()
            .map(|e| {
                endpoint_settings(
                    &EndpointSettings::default(),
                    "",
                    &endpoint_id(&c.id),
                    Some(e),
                    None,
                )
            })
            .unwrap_or_default();
        NetworkSettings {
            sandbox_id: if running {
                sandbox_id(&c.id)
            } else {
                String::new()
            },
            sandbox_key: ep
                .as_ref()
                .map(|e| e.netns.clone())
                .or(a.as_ref().and_then(|a| a.netns.clone()))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            ports: Some(ports),
            endpoint_id: top.endpoint_id,
            gateway: top.gateway,
            ip_address: top.ip_address,
            ip_prefix_len: top.ip_prefix_len,
            ipv6_gateway: top.ipv6_gateway,
            global_ipv6_address: top.global_ipv6_address,
            global_ipv6_prefix_len: top.global_ipv6_prefix_len,
            mac_address: top.mac_address,
            networks: Some(networks),
            ..Default::default()
        }
    }

    /// The endpoints a running container holds: on user networks (keyed
    /// by the network's name), and on the default bridge.
    fn joined_endpoints(
        &self,
        c: &ContainerRecord,
        a: Option<&Attachment>,
        records: &[NetworkRecord],
        given: &BTreeMap<String, EndpointSettings>,
    ) -> BTreeMap<String, EndpointSettings> {
        let mut networks = BTreeMap::new();
        let ep = a.and_then(|a| a.endpoint.clone());
        let user = a.map(|a| a.networks.clone()).unwrap_or_default();
        for n in &user {
            let name = records
                .iter()
                .find(|r| r.id == n.network)
                .map_or_else(|| n.network.clone(), |r| r.name.clone());
            networks.insert(
                name,
                endpoint_settings(
                    &n.config,
                    &n.network,
                    &derived(&format!("{}:{}", c.id, n.network), "endpoint"),
                    Some(&n.endpoint),
                    Some(n.dns_names.clone()),
                ),
            );
        }
        if let Some(e) = &ep {
            let id = self
                .net
                .as_ref()
                .map(|x| x.bridge_id.clone())
                .unwrap_or_default();
            let asked = given.get("bridge").cloned().unwrap_or_default();
            networks.insert(
                "bridge".into(),
                endpoint_settings(&asked, &id, &endpoint_id(&c.id), Some(e), None),
            );
        }
        networks
    }

    /// The networks shown without an address: for a created container,
    /// those it will join; for a running one on none of them, its mode's
    /// (`none`, `host`, or `none` without a default bridge).
    fn add_idle_endpoints(
        &self,
        networks: &mut BTreeMap<String, EndpointSettings>,
        records: &[NetworkRecord],
        given: &BTreeMap<String, EndpointSettings>,
        running: bool,
        mode: &str,
    ) {
        if !running {
            // A created container: the networks it will join, unaddressed.
            for (name, epc) in given {
                let name = if name == "default" {
                    "bridge"
                } else {
                    name.as_str()
                };
                if name == "bridge" && self.net.is_none() {
                    continue;
                }
                let id = records
                    .iter()
                    .find(|r| r.name == name || r.id == name)
                    .map(|r| r.id.clone())
                    .unwrap_or_default();
                networks
                    .entry(name.to_string())
                    .or_insert_with(|| endpoint_settings(epc, &id, "", None, None));
            }
        } else if networks.is_empty() && !mode.starts_with("container:") {
            // `none`, `host`, or no default bridge.
            let name = if mode == "bridge" {
                "none".to_string()
            } else {
                mode.to_string()
            };
            let id = records
                .iter()
                .find(|r| r.name == name)
                .map(|r| r.id.clone())
                .unwrap_or_default();
            networks.insert(
                name,
                endpoint_settings(&EndpointSettings::default(), &id, "", None, None),
            );
        }
    }

    /// `Ports` of a `GET /containers/json` entry, Docker's shape.
    pub(crate) fn ports_summary(&self, c: &ContainerRecord, running: bool) -> Vec<Port> {
        let mut out = Vec::new();
        let forwards = if running {
            self.attachment(&c.id)
                .map(|a| a.forwards)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        for f in &forwards {
            for ip in super::publish::listed(f) {
                out.push(Port {
                    ip: ip.to_string(),
                    private_port: f.port,
                    public_port: f.host_port,
                    typ: f.proto.as_str().into(),
                });
            }
        }
        for key in c.config.config.exposed_ports.keys() {
            if let Some((port, proto)) = net::ports::parse_key(key) {
                if !forwards.iter().any(|f| f.port == port && f.proto == proto) {
                    out.push(Port {
                        private_port: port,
                        typ: proto.as_str().into(),
                        ..Default::default()
                    });
                }
            }
        }
        out
    }

    /// `GET /networks`: every network in Docker's shape (without
    /// `Containers`, as Docker lists them).
    pub fn network_list(&self) -> Result<Vec<Network>, EngineError> {
        let mut out = Vec::new();
        for r in self.network_records()? {
            if r.name == "bridge" && self.net.is_none() {
                continue;
            }
            out.push(self.network_json(&r, false)?);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `GET /networks/{id}`: by name, full id or unique id prefix.
    pub fn network_inspect(&self, name: &str) -> Result<Network, EngineError> {
        let r = self.find_network(name)?;
        self.network_json(&r, true)
    }

    /// One network in Docker's shape, with its running containers when
    /// `containers` (its inspect; the list leaves them out).
    fn network_json(&self, r: &NetworkRecord, containers: bool) -> Result<Network, EngineError> {
        let members = if containers {
            self.network_members(r)?
        } else {
            BTreeMap::new()
        };
        let (ipam, options) = match (&self.net, r.name.as_str()) {
            (Some(ctx), "bridge") => default_bridge_ipam(ctx),
            _ if r.is_user() => user_ipam(r),
            _ => (
                Ipam {
                    driver: "default".into(),
                    options: None,
                    config: None,
                },
                BTreeMap::new(),
            ),
        };
        Ok(Network {
            name: r.name.clone(),
            id: r.id.clone(),
            created: r.created.clone(),
            scope: "local".into(),
            driver: r.driver.clone(),
            enable_ipv4: r.driver == "bridge",
            enable_ipv6: r.ipv6,
            ipam,
            internal: r.internal,
            attachable: r.attachable,
            ingress: r.ingress,
            containers: Some(members),
            options: Some(options),
            labels: Some(r.labels.clone()),
            ..Default::default()
        })
    }

    /// `Containers` of a network's inspect: the running containers on it,
    /// keyed by id (on `none` and `host`: those in that mode).
    fn network_members(
        &self,
        r: &NetworkRecord,
    ) -> Result<BTreeMap<String, EndpointResource>, EngineError> {
        let mut members = BTreeMap::new();
        for c in self.container_records()? {
            if !matches!(self.state(&c), State::Running(..)) {
                continue;
            }
            let a = self.attachment(&c.id);
            if let Some(n) = a
                .as_ref()
                .and_then(|a| a.networks.iter().find(|n| n.network == r.id))
            {
                let id = derived(&format!("{}:{}", c.id, n.network), "endpoint");
                members.insert(
                    c.id.clone(),
                    endpoint_resource(&c.name, id, Some(&n.endpoint)),
                );
                continue;
            }
            if r.is_user() {
                continue;
            }
            let ep = a.as_ref().and_then(|a| a.endpoint.clone());
            let mode = mode_of(&c.config);
            let on = match r.name.as_str() {
                "bridge" => ep.is_some(),
                "none" => {
                    ep.is_none()
                        && a.as_ref().is_some_and(|a| a.networks.is_empty())
                        && mode != "host"
                        && !mode.starts_with("container:")
                }
                "host" => mode == "host",
                _ => false,
            };
            if !on {
                continue;
            }
            let id = if ep.is_some() {
                endpoint_id(&c.id)
            } else {
                String::new()
            };
            members.insert(c.id.clone(), endpoint_resource(&c.name, id, ep.as_ref()));
        }
        Ok(members)
    }
}

/// Exposed ports are listed, unpublished (null), as Docker does; the
/// published ones with their host addresses.
fn port_map(
    c: &ContainerRecord,
    a: Option<&Attachment>,
) -> BTreeMap<String, Option<Vec<PortBinding>>> {
    let mut ports: BTreeMap<String, Option<Vec<PortBinding>>> = c
        .config
        .config
        .exposed_ports
        .keys()
        .map(|k| (k.clone(), None))
        .collect();
    if let Some(a) = a {
        for f in &a.forwards {
            let key = format!("{}/{}", f.port, f.proto.as_str());
            let list = ports.entry(key).or_default().get_or_insert_with(Vec::new);
            for ip in super::publish::listed(f) {
                list.push(PortBinding {
                    host_ip: ip.to_string(),
                    host_port: f.host_port.to_string(),
                });
            }
        }
    }
    ports
}

/// One entry of a network's `Containers`.
fn endpoint_resource(name: &str, id: String, e: Option<&net::Endpoint>) -> EndpointResource {
    EndpointResource {
        name: name.to_string(),
        endpoint_id: id,
        mac_address: e.map(|e| e.mac.clone()).unwrap_or_default(),
        ipv4_address: e
            .map(|e| format!("{}/{}", e.ip, e.prefix))
            .unwrap_or_default(),
        ipv6_address: e
            .and_then(|e| e.ip6.map(|i| format!("{i}/{}", e.prefix6)))
            .unwrap_or_default(),
    }
}

/// One pool of an `IPAM.Config`.
fn ipam_pool(subnet: String, gateway: String, ip_range: String) -> IpamConfig {
    IpamConfig {
        subnet,
        gateway,
        ip_range,
        ..Default::default()
    }
}

/// The default bridge's `IPAM` and `Options`, as dockerd shows them.
fn default_bridge_ipam(ctx: &NetContext) -> (Ipam, BTreeMap<String, String>) {
    let mut config = vec![ipam_pool(
        ctx.bridge.subnet.to_string(),
        ctx.bridge.gateway.to_string(),
        String::new(),
    )];
    if let Some((gw6, sub6)) = ctx.bridge.v6 {
        config.push(ipam_pool(sub6.to_string(), gw6.to_string(), String::new()));
    }
    (
        Ipam {
            driver: "default".into(),
            options: None,
            config: Some(config),
        },
        BTreeMap::from(
            [
                (
                    "com.docker.network.bridge.default_bridge",
                    "true".to_string(),
                ),
                ("com.docker.network.bridge.enable_icc", "true".into()),
                (
                    "com.docker.network.bridge.enable_ip_masquerade",
                    "true".into(),
                ),
                (
                    "com.docker.network.bridge.host_binding_ipv4",
                    "0.0.0.0".into(),
                ),
                (
                    "com.docker.network.bridge.name",
                    ctx.bridge.config.name.clone(),
                ),
                (
                    "com.docker.network.driver.mtu",
                    ctx.bridge.config.mtu.to_string(),
                ),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        ),
    )
}

/// A user network's `IPAM` (its pools as created) and `Options`.
fn user_ipam(r: &NetworkRecord) -> (Ipam, BTreeMap<String, String>) {
    let config = if r.ipam.is_empty() {
        // A record from before berth kept the pools.
        vec![ipam_pool(
            r.subnet.clone(),
            r.gateway.clone(),
            r.ip_range.clone(),
        )]
    } else {
        r.ipam
            .iter()
            .map(|p| IpamConfig {
                subnet: p.subnet.clone(),
                ip_range: p.ip_range.clone(),
                gateway: p.gateway.clone(),
                aux_address: p.aux.clone(),
            })
            .collect()
    };
    (
        Ipam {
            driver: "default".into(),
            options: r.ipam_options.clone(),
            config: Some(config),
        },
        r.options.clone(),
    )
}

/// One entry of `NetworkSettings.Networks`: what was asked for
/// (`IPAMConfig`, `Aliases`, `Links`, `DriverOpts` as given) and what it
/// got.
fn endpoint_settings(
    given: &EndpointSettings,
    network_id: &str,
    endpoint_id: &str,
    e: Option<&net::Endpoint>,
    dns_names: Option<Vec<String>>,
) -> EndpointSettings {
    EndpointSettings {
        ipam_config: given.ipam_config.clone(),
        links: given.links.clone(),
        aliases: given.aliases.clone(),
        mac_address: e.map_or_else(|| given.mac_address.clone(), |e| e.mac.clone()),
        driver_opts: given.driver_opts.clone(),
        network_id: network_id.to_string(),
        endpoint_id: endpoint_id.to_string(),
        gateway: e.map(|e| e.gateway.to_string()).unwrap_or_default(),
        ip_address: e.map(|e| e.ip.to_string()).unwrap_or_default(),
        ip_prefix_len: e.map_or(0, |e| i64::from(e.prefix)),
        ipv6_gateway: e
            .and_then(|e| e.gateway6.map(|g| g.to_string()))
            .unwrap_or_default(),
        global_ipv6_address: e
            .and_then(|e| e.ip6.map(|g| g.to_string()))
            .unwrap_or_default(),
        global_ipv6_prefix_len: e.map_or(0, |e| i64::from(e.prefix6)),
        dns_names,
    }
}

/// A stable id for the container's endpoint (Docker's is random; berth
/// derives it, so that it needs no record).
fn endpoint_id(id: &str) -> String {
    derived(id, "endpoint")
}

fn sandbox_id(id: &str) -> String {
    derived(id, "sandbox")
}

fn derived(id: &str, what: &str) -> String {
    use sha2_lite::digest;
    digest(&format!("{what}:{id}"))
}

/// A small hash for derived ids (not for security).
mod sha2_lite {
    /// 64 hex characters from `s` (FNV-1a, four rounds of different seeds).
    pub fn digest(s: &str) -> String {
        (0u64..4)
            .map(|seed| {
                let mut h: u64 = 0xcbf29ce484222325 ^ seed.wrapping_mul(0x9e3779b97f4a7c15);
                for b in s.bytes() {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x100000001b3);
                }
                format!("{h:016x}")
            })
            .collect()
    }
}
