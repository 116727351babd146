//! A container's network and the predefined networks in Docker's shapes:
//! `NetworkSettings` of a container's inspect, `Ports` of its list entry,
//! and `GET /networks[/{id}]` (moby `api/types/network`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{endpoint, mode_of, NetworkRecord};
use crate::containers::{ContainerRecord, State};
use crate::{Engine, EngineError};

impl Engine {
    /// `NetworkSettings` of `GET /containers/{id}/json`, Docker's shape.
    pub(crate) fn network_settings(&self, c: &ContainerRecord, running: bool) -> Value {
        let a = if running {
            self.attachment(&c.id)
        } else {
            None
        };
        let mut ports = serde_json::Map::new();
        for key in c.config["ExposedPorts"]
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            ports.insert(key, Value::Null);
        }
        if let Some(a) = &a {
            for f in &a.forwards {
                let key = format!("{}/{}", f.port, f.proto.as_str());
                let entry = ports.entry(key).or_insert(Value::Null);
                if entry.is_null() {
                    *entry = json!([]);
                }
                if let Some(list) = entry.as_array_mut() {
                    for ip in super::publish::listed(f) {
                        list.push(
                            json!({"HostIp": ip.to_string(), "HostPort": f.host_port.to_string()}),
                        );
                    }
                }
            }
        }
        let mode = mode_of(&c.config);
        let mut networks = serde_json::Map::new();
        let ep = a.as_ref().and_then(|a| a.endpoint.clone());
        let records = self.network_records().unwrap_or_default();
        let given: BTreeMap<String, Value> = endpoint::endpoints(&c.config).into_iter().collect();
        let config_of = |name: &str| given.get(name).cloned().unwrap_or(Value::Null);
        let user = a.as_ref().map(|a| a.networks.clone()).unwrap_or_default();
        for n in &user {
            let e = &n.endpoint;
            let name = records
                .iter()
                .find(|r| r.id == n.network)
                .map_or_else(|| n.network.clone(), |r| r.name.clone());
            networks.insert(
                name,
                endpoint_json(
                    &n.config,
                    &n.network,
                    &derived(&format!("{}:{}", c.id, n.network), "endpoint"),
                    Some(e),
                    json!(n.dns_names),
                ),
            );
        }
        if let Some(e) = &ep {
            let id = self
                .net
                .as_ref()
                .map(|x| x.bridge_id.clone())
                .unwrap_or_default();
            networks.insert(
                "bridge".into(),
                endpoint_json(
                    &config_of("bridge"),
                    &id,
                    &endpoint_id(&c.id),
                    Some(e),
                    Value::Null,
                ),
            );
        }
        if !running {
            // A created container: the networks it will join, unaddressed.
            for (name, epc) in endpoint::endpoints(&c.config) {
                let name = if name == "default" {
                    "bridge".to_string()
                } else {
                    name
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
                    .entry(name)
                    .or_insert_with(|| endpoint_json(&epc, &id, "", None, Value::Null));
            }
        } else if networks.is_empty() && !mode.starts_with("container:") {
            // `none`, `host`, or no default bridge.
            let name = if mode == "bridge" {
                "none".to_string()
            } else {
                mode.clone()
            };
            let id = records
                .iter()
                .find(|r| r.name == name)
                .map(|r| r.id.clone())
                .unwrap_or_default();
            networks.insert(
                name,
                endpoint_json(&Value::Null, &id, "", None, Value::Null),
            );
        }
        let (ip, prefix, gw, mac, ip6, prefix6, gw6) = match &ep {
            Some(e) => (
                e.ip.to_string(),
                e.prefix,
                e.gateway.to_string(),
                e.mac.clone(),
                e.ip6.map(|i| i.to_string()).unwrap_or_default(),
                e.prefix6,
                e.gateway6.map(|i| i.to_string()).unwrap_or_default(),
            ),
            None => Default::default(),
        };
        let endpoint_id = if ep.is_some() {
            endpoint_id(&c.id)
        } else {
            String::new()
        };
        json!({
            "Bridge": "", "SandboxID": if running { sandbox_id(&c.id) } else { String::new() },
            "SandboxKey": ep.as_ref().map(|e| e.netns.clone()).or(a.as_ref().and_then(|a| a.netns.clone()))
                .map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(),
            "HairpinMode": false, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Ports": Value::Object(ports),
            "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null,
            "EndpointID": endpoint_id, "Gateway": gw, "GlobalIPv6Address": ip6, "GlobalIPv6PrefixLen": prefix6,
            "IPAddress": ip, "IPPrefixLen": prefix, "IPv6Gateway": gw6, "MacAddress": mac,
            "Networks": Value::Object(networks),
        })
    }

    /// `Ports` of a `GET /containers/json` entry, Docker's shape.
    pub(crate) fn ports_summary(&self, c: &ContainerRecord, running: bool) -> Value {
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
                out.push(json!({
                    "IP": ip.to_string(),
                    "PrivatePort": f.port, "PublicPort": f.host_port, "Type": f.proto.as_str(),
                }));
            }
        }
        for key in c.config["ExposedPorts"]
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            if let Some((port, proto)) = net::ports::parse_key(&key) {
                if !forwards.iter().any(|f| f.port == port && f.proto == proto) {
                    out.push(json!({"PrivatePort": port, "Type": proto.as_str()}));
                }
            }
        }
        Value::Array(out)
    }

    /// `GET /networks`: every network in Docker's shape (without
    /// `Containers`, as Docker lists them).
    pub fn network_list(&self) -> Result<Vec<Value>, EngineError> {
        let mut out = Vec::new();
        for r in self.network_records()? {
            if r.name == "bridge" && self.net.is_none() {
                continue;
            }
            out.push(self.network_json(&r, false)?);
        }
        out.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
        Ok(out)
    }

    /// `GET /networks/{id}`: by name, full id or unique id prefix.
    pub fn network_inspect(&self, name: &str) -> Result<Value, EngineError> {
        let r = self.find_network(name)?;
        self.network_json(&r, true)
    }

    fn network_json(&self, r: &NetworkRecord, containers: bool) -> Result<Value, EngineError> {
        let mut members = serde_json::Map::new();
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
                        json!({
                            "Name": c.name,
                            "EndpointID": derived(&format!("{}:{}", c.id, n.network), "endpoint"),
                            "MacAddress": e.mac,
                            "IPv4Address": format!("{}/{}", e.ip, e.prefix),
                            "IPv6Address": e.ip6.map(|i| format!("{i}/{}", e.prefix6)).unwrap_or_default(),
                        }),
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
                            && !matches!(mode.as_str(), "host")
                            && !mode.starts_with("container:")
                    }
                    "host" => mode == "host",
                    _ => false,
                };
                if !on {
                    continue;
                }
                members.insert(
                    c.id.clone(),
                    json!({
                        "Name": c.name,
                        "EndpointID": if ep.is_some() { endpoint_id(&c.id) } else { String::new() },
                        "MacAddress": ep.as_ref().map(|e| e.mac.clone()).unwrap_or_default(),
                        "IPv4Address": ep.as_ref().map(|e| format!("{}/{}", e.ip, e.prefix)).unwrap_or_default(),
                        "IPv6Address": ep.as_ref().and_then(|e| e.ip6.map(|i| format!("{i}/{}", e.prefix6))).unwrap_or_default(),
                    }),
                );
            }
        }
        let (ipam, options) = match (&self.net, r.name.as_str()) {
            (Some(ctx), "bridge") => {
                let mut config = vec![
                    json!({"Subnet": ctx.bridge.subnet.to_string(), "Gateway": ctx.bridge.gateway.to_string()}),
                ];
                if let Some((gw6, sub6)) = ctx.bridge.v6 {
                    config.push(json!({"Subnet": sub6.to_string(), "Gateway": gw6.to_string()}));
                }
                (
                    json!({"Driver": "default", "Options": null, "Config": config}),
                    json!({
                        "com.docker.network.bridge.default_bridge": "true",
                        "com.docker.network.bridge.enable_icc": "true",
                        "com.docker.network.bridge.enable_ip_masquerade": "true",
                        "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                        "com.docker.network.bridge.name": ctx.bridge.config.name,
                        "com.docker.network.driver.mtu": ctx.bridge.config.mtu.to_string(),
                    }),
                )
            }
            _ if r.is_user() => {
                let pools: Vec<Value> = if r.ipam.is_empty() {
                    // A record from before berth kept the pools.
                    let mut cfg = json!({"Subnet": r.subnet, "Gateway": r.gateway});
                    if !r.ip_range.is_empty() {
                        cfg["IPRange"] = json!(r.ip_range);
                    }
                    vec![cfg]
                } else {
                    r.ipam.iter().map(pool_json).collect()
                };
                (
                    json!({"Driver": "default", "Options": r.ipam_options, "Config": pools}),
                    json!(r.options),
                )
            }
            _ => (
                json!({"Driver": "default", "Options": null, "Config": null}),
                json!({}),
            ),
        };
        Ok(json!({
            "Name": r.name, "Id": r.id, "Created": r.created, "Scope": "local", "Driver": r.driver,
            "EnableIPv4": r.driver == "bridge", "EnableIPv6": r.ipv6, "IPAM": ipam, "Internal": r.internal,
            "Attachable": r.attachable, "Ingress": r.ingress, "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
            "Containers": Value::Object(members), "Options": options, "Labels": r.labels,
        }))
    }
}

/// One pool of `IPAM.Config`, Docker's shape (empty fields left out).
fn pool_json(p: &super::IpamPool) -> Value {
    let mut v = serde_json::Map::new();
    for (k, x) in [
        ("Subnet", &p.subnet),
        ("IPRange", &p.ip_range),
        ("Gateway", &p.gateway),
    ] {
        if !x.is_empty() {
            v.insert(k.into(), json!(x));
        }
    }
    if !p.aux.is_empty() {
        v.insert("AuxiliaryAddresses".into(), json!(p.aux));
    }
    Value::Object(v)
}

/// One entry of `NetworkSettings.Networks`: what was asked for
/// (`IPAMConfig`, `Aliases`, `Links`, `DriverOpts` as given) and what it
/// got.
fn endpoint_json(
    given: &Value,
    network_id: &str,
    endpoint_id: &str,
    e: Option<&net::Endpoint>,
    dns_names: Value,
) -> Value {
    let pick = |k: &str| match &given[k] {
        Value::Null => Value::Null,
        v => v.clone(),
    };
    let mac = e
        .map(|e| e.mac.clone())
        .unwrap_or_else(|| given["MacAddress"].as_str().unwrap_or("").to_string());
    json!({
        "IPAMConfig": pick("IPAMConfig"), "Links": pick("Links"), "Aliases": pick("Aliases"),
        "MacAddress": mac, "DriverOpts": pick("DriverOpts"), "GwPriority": 0,
        "NetworkID": network_id, "EndpointID": endpoint_id,
        "Gateway": e.map(|e| e.gateway.to_string()).unwrap_or_default(),
        "IPAddress": e.map(|e| e.ip.to_string()).unwrap_or_default(),
        "IPPrefixLen": e.map_or(0, |e| e.prefix),
        "IPv6Gateway": e.and_then(|e| e.gateway6.map(|g| g.to_string())).unwrap_or_default(),
        "GlobalIPv6Address": e.and_then(|e| e.ip6.map(|g| g.to_string())).unwrap_or_default(),
        "GlobalIPv6PrefixLen": e.map_or(0, |e| e.prefix6),
        "DNSNames": dns_names,
    })
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
