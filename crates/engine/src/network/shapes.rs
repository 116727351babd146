//! A container's network and the predefined networks in Docker's shapes:
//! `NetworkSettings` of a container's inspect, `Ports` of its list entry,
//! and `GET /networks[/{id}]` (moby `api/types/network`).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use models::container::{Port, PortBinding};
use models::network::{
    EndpointIpamConfig, EndpointResource, EndpointSettings, Ipam, IpamConfig, Network,
    NetworkSettings,
};

use super::{mode_of, NetworkRecord};
use crate::containers::{ContainerRecord, State};
use crate::{Engine, EngineError};

impl Engine {
    /// `NetworkSettings` of `GET /containers/{id}/json`, Docker's shape.
    pub(crate) fn network_settings(&self, c: &ContainerRecord, running: bool) -> NetworkSettings {
        let a = if running {
            self.attachment(&c.id)
        } else {
            None
        };
        // Exposed ports are listed, unpublished (null), as Docker does.
        let mut ports: BTreeMap<String, Option<Vec<PortBinding>>> = c
            .config
            .config
            .exposed_ports
            .keys()
            .map(|k| (k.clone(), None))
            .collect();
        if let Some(a) = &a {
            for f in &a.forwards {
                let key = format!("{}/{}", f.port, f.proto.as_str());
                ports
                    .entry(key)
                    .or_default()
                    .get_or_insert_with(Vec::new)
                    .push(PortBinding {
                        host_ip: f.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
                        host_port: f.host_port.to_string(),
                    });
            }
        }
        let mode = mode_of(&c.config);
        let mut networks = BTreeMap::new();
        let ep = a.as_ref().and_then(|a| a.endpoint.clone());
        let (ip, prefix, gw, mac) = match &ep {
            Some(e) => (
                e.ip.to_string(),
                i64::from(e.prefix),
                e.gateway.to_string(),
                e.mac.clone(),
            ),
            None => (String::new(), 0, String::new(), String::new()),
        };
        let endpoint_id = if ep.is_some() {
            endpoint_id(&c.id)
        } else {
            String::new()
        };
        let net_name = if mode == "bridge" && self.net.is_none() {
            "none".to_string()
        } else {
            mode.clone()
        };
        let user = a.as_ref().map(|a| a.networks.clone()).unwrap_or_default();
        let records = self.network_records().unwrap_or_default();
        for n in &user {
            let e = &n.endpoint;
            let name = records
                .iter()
                .find(|r| r.id == n.network)
                .map_or_else(|| n.network.clone(), |r| r.name.clone());
            networks.insert(
                name,
                EndpointSettings {
                    ipam_config: n.static_ip.then(|| EndpointIpamConfig {
                        ipv4_address: e.ip.to_string(),
                        ..Default::default()
                    }),
                    aliases: (!n.aliases.is_empty()).then(|| n.aliases.clone()),
                    mac_address: e.mac.clone(),
                    network_id: n.network.clone(),
                    endpoint_id: derived(&format!("{}:{}", c.id, n.network), "endpoint"),
                    gateway: e.gateway.to_string(),
                    ip_address: e.ip.to_string(),
                    ip_prefix_len: i64::from(e.prefix),
                    dns_names: Some(n.dns_names.clone()),
                    ..Default::default()
                },
            );
        }
        if !running {
            // A created container: the networks it will join, unaddressed.
            for (name, ep) in c.config.networking_config.endpoints() {
                let id = records
                    .iter()
                    .find(|r| r.name == name)
                    .map(|r| r.id.clone());
                networks.entry(name).or_insert_with(|| EndpointSettings {
                    ipam_config: ep.ipam_config,
                    aliases: ep.aliases,
                    network_id: id.unwrap_or_default(),
                    ..Default::default()
                });
            }
        }
        let on_user = records.iter().any(|r| r.is_user() && r.name == net_name);
        if !net_name.starts_with("container:") && !on_user {
            let net_id = records
                .iter()
                .find(|r| r.name == net_name)
                .map(|r| r.id.clone())
                .unwrap_or_default();
            networks.insert(
                net_name.clone(),
                EndpointSettings {
                    mac_address: mac.clone(),
                    network_id: net_id,
                    endpoint_id: endpoint_id.clone(),
                    gateway: gw.clone(),
                    ip_address: ip.clone(),
                    ip_prefix_len: prefix,
                    ..Default::default()
                },
            );
        }
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
            endpoint_id,
            gateway: gw,
            ip_address: ip,
            ip_prefix_len: prefix,
            mac_address: mac,
            networks: Some(networks),
            ..Default::default()
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
            out.push(Port {
                ip: f.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
                private_port: f.port,
                public_port: f.host_port,
                typ: f.proto.as_str().into(),
            });
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

    fn network_json(&self, r: &NetworkRecord, containers: bool) -> Result<Network, EngineError> {
        let mut members = BTreeMap::new();
        if containers {
            for c in self.container_records()? {
                if !matches!(self.state(&c), State::Running(..)) {
                    continue;
                }
                let a = self.attachment(&c.id);
                if let Some(n) = a
                    .as_ref()
                    .and_then(|a| a.networks.iter().find(|n| n.network == r.id))
                {
                    let e = &n.endpoint;
                    members.insert(
                        c.id.clone(),
                        EndpointResource {
                            name: c.name.clone(),
                            endpoint_id: derived(&format!("{}:{}", c.id, n.network), "endpoint"),
                            mac_address: e.mac.clone(),
                            ipv4_address: format!("{}/{}", e.ip, e.prefix),
                            ipv6_address: String::new(),
                        },
                    );
                    continue;
                }
                if r.is_user() {
                    continue;
                }
                let mode = mode_of(&c.config);
                let mode = if mode == "bridge" && self.net.is_none() {
                    "none".to_string()
                } else {
                    mode
                };
                if mode != r.name {
                    continue;
                }
                let ep = self.attachment(&c.id).and_then(|a| a.endpoint);
                members.insert(
                    c.id.clone(),
                    EndpointResource {
                        name: c.name.clone(),
                        endpoint_id: if ep.is_some() {
                            endpoint_id(&c.id)
                        } else {
                            String::new()
                        },
                        mac_address: ep.as_ref().map(|e| e.mac.clone()).unwrap_or_default(),
                        ipv4_address: ep
                            .as_ref()
                            .map(|e| format!("{}/{}", e.ip, e.prefix))
                            .unwrap_or_default(),
                        ipv6_address: String::new(),
                    },
                );
            }
        }
        let pool = |subnet: String, gateway: String, ip_range: String| IpamConfig {
            subnet,
            gateway,
            ip_range,
            ..Default::default()
        };
        let (ipam, options) = match (&self.net, r.name.as_str()) {
            (Some(ctx), "bridge") => (
                Ipam {
                    driver: "default".into(),
                    options: None,
                    config: Some(vec![pool(
                        ctx.bridge.subnet.to_string(),
                        ctx.bridge.gateway.to_string(),
                        String::new(),
                    )]),
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
            ),
            _ if r.is_user() => (
                Ipam {
                    driver: "default".into(),
                    options: Some(BTreeMap::new()),
                    config: Some(vec![pool(
                        r.subnet.clone(),
                        r.gateway.clone(),
                        r.ip_range.clone(),
                    )]),
                },
                r.options.clone(),
            ),
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
            enable_ipv6: false,
            ipam,
            internal: r.internal,
            containers: Some(members),
            options: Some(options),
            labels: Some(r.labels.clone()),
            ..Default::default()
        })
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
