//! A container's network and the predefined networks in Docker's shapes:
//! `NetworkSettings` of a container's inspect, `Ports` of its list entry,
//! and `GET /networks[/{id}]` (moby `api/types/network`).

use std::net::Ipv4Addr;

use serde_json::{json, Value};

use super::{mode_of, NetworkRecord};
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
                    list.push(json!({
                        "HostIp": f.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
                        "HostPort": f.host_port.to_string(),
                    }));
                }
            }
        }
        let mode = mode_of(&c.config);
        let mut networks = serde_json::Map::new();
        let ep = a.as_ref().and_then(|a| a.endpoint.clone());
        let (ip, prefix, gw, mac) = match &ep {
            Some(e) => (
                e.ip.to_string(),
                e.prefix,
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
                json!({
                    "IPAMConfig": if n.static_ip { json!({"IPv4Address": e.ip.to_string()}) } else { Value::Null },
                    "Links": null, "Aliases": if n.aliases.is_empty() { Value::Null } else { json!(n.aliases) },
                    "MacAddress": e.mac, "DriverOpts": null, "GwPriority": 0, "NetworkID": n.network,
                    "EndpointID": derived(&format!("{}:{}", c.id, n.network), "endpoint"),
                    "Gateway": e.gateway.to_string(), "IPAddress": e.ip.to_string(), "IPPrefixLen": e.prefix,
                    "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                    "DNSNames": n.dns_names,
                }),
            );
        }
        if !running {
            // A created container: the networks it will join, unaddressed.
            for (name, ep) in c.config["NetworkingConfig"]["EndpointsConfig"]
                .as_object()
                .cloned()
                .unwrap_or_default()
            {
                let id = records
                    .iter()
                    .find(|r| r.name == name)
                    .map(|r| r.id.clone());
                networks.entry(name).or_insert_with(|| json!({
                    "IPAMConfig": ep.get("IPAMConfig").cloned().unwrap_or(Value::Null), "Links": null,
                    "Aliases": ep.get("Aliases").cloned().unwrap_or(Value::Null), "MacAddress": "",
                    "DriverOpts": null, "GwPriority": 0, "NetworkID": id.unwrap_or_default(), "EndpointID": "",
                    "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
                    "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null,
                }));
            }
        }
        let on_user = records.iter().any(|r| r.is_user() && r.name == net_name);
        if !net_name.starts_with("container:") && !on_user {
            let net_id = self
                .network_records()
                .ok()
                .and_then(|r| r.into_iter().find(|r| r.name == net_name))
                .map(|r| r.id)
                .unwrap_or_default();
            networks.insert(
                net_name.clone(),
                json!({
                    "IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": mac,
                    "DriverOpts": null, "GwPriority": 0, "NetworkID": net_id, "EndpointID": endpoint_id,
                    "Gateway": gw, "IPAddress": ip, "IPPrefixLen": prefix, "IPv6Gateway": "",
                    "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": null,
                }),
            );
        }
        json!({
            "Bridge": "", "SandboxID": if running { sandbox_id(&c.id) } else { String::new() },
            "SandboxKey": ep.as_ref().map(|e| e.netns.clone()).or(a.as_ref().and_then(|a| a.netns.clone()))
                .map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(),
            "HairpinMode": false, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Ports": Value::Object(ports),
            "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null,
            "EndpointID": endpoint_id, "Gateway": gw, "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "IPAddress": ip, "IPPrefixLen": prefix, "IPv6Gateway": "", "MacAddress": mac,
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
            out.push(json!({
                "IP": f.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
                "PrivatePort": f.port, "PublicPort": f.host_port, "Type": f.proto.as_str(),
            }));
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
                            "IPv6Address": "",
                        }),
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
                    json!({
                        "Name": c.name,
                        "EndpointID": if ep.is_some() { endpoint_id(&c.id) } else { String::new() },
                        "MacAddress": ep.as_ref().map(|e| e.mac.clone()).unwrap_or_default(),
                        "IPv4Address": ep.as_ref().map(|e| format!("{}/{}", e.ip, e.prefix)).unwrap_or_default(),
                        "IPv6Address": "",
                    }),
                );
            }
        }
        let (ipam, options) = match (&self.net, r.name.as_str()) {
            (Some(ctx), "bridge") => (
                json!({"Driver": "default", "Options": null, "Config": [{"Subnet": ctx.bridge.subnet.to_string(), "Gateway": ctx.bridge.gateway.to_string()}]}),
                json!({
                    "com.docker.network.bridge.default_bridge": "true",
                    "com.docker.network.bridge.enable_icc": "true",
                    "com.docker.network.bridge.enable_ip_masquerade": "true",
                    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                    "com.docker.network.bridge.name": ctx.bridge.config.name,
                    "com.docker.network.driver.mtu": ctx.bridge.config.mtu.to_string(),
                }),
            ),
            _ if r.is_user() => {
                let mut cfg = json!({"Subnet": r.subnet, "Gateway": r.gateway});
                if !r.ip_range.is_empty() {
                    cfg["IPRange"] = json!(r.ip_range);
                }
                (
                    json!({"Driver": "default", "Options": {}, "Config": [cfg]}),
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
            "EnableIPv4": r.driver == "bridge", "EnableIPv6": false, "IPAM": ipam, "Internal": r.internal,
            "Attachable": false, "Ingress": false, "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
            "Containers": Value::Object(members), "Options": options, "Labels": r.labels,
        }))
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
