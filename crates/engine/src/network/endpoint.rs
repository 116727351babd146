//! A container's endpoints as its record keeps them: which networks it is
//! on (Docker's `NetworkSettings.Networks` of a created container, kept in
//! `NetworkingConfig.EndpointsConfig`) and what each endpoint asks for
//! (`IPAMConfig`, `Aliases`, `Links`, `MacAddress`).
//!
//! As Docker's (moby `daemon/container_operations.go`): the networks are
//! the endpoint configs' keys; a create puts the `NetworkMode`'s network
//! among them; `connect` and `disconnect` of a created container add and
//! remove keys and leave `NetworkMode` alone; a container whose every
//! network was disconnected is on its `NetworkMode`'s again at its start.

use std::net::{Ipv4Addr, Ipv6Addr};

use models::container::CreateBody;
use models::network::EndpointSettings;

use super::NetworkError;
use crate::EngineError;

/// Whether `mode` names one of the networks every daemon has, or another
/// container's namespace.
pub fn predefined(mode: &str) -> bool {
    matches!(mode, "bridge" | "host" | "none" | "default") || mode.starts_with("container:")
}

/// The networks a container is on, in the order they are joined: its
/// `NetworkMode`'s first (when it is among them), then the others. A
/// record with none (made before berth kept them, or with all of them
/// disconnected) is on its `NetworkMode`'s.
pub fn endpoints(config: &CreateBody) -> Vec<(String, EndpointSettings)> {
    let mode = super::mode_of(config);
    let eps = config.networking_config.endpoints();
    if eps.is_empty() {
        return vec![(mode, EndpointSettings::default())];
    }
    let mut out = Vec::new();
    if let Some(ep) = eps.get(&mode) {
        out.push((mode.clone(), ep.clone()));
    }
    for (name, ep) in eps {
        if name != mode {
            out.push((name, ep));
        }
    }
    out
}

/// What one endpoint config asks for, read and checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointSpec {
    /// `--ip`.
    pub ip: Option<Ipv4Addr>,
    /// `--ip6`.
    pub ip6: Option<Ipv6Addr>,
    /// `--mac-address`.
    pub mac: Option<[u8; 6]>,
    /// `--network-alias`.
    pub aliases: Vec<String>,
    /// Legacy links on a user network: `(target, alias)`.
    pub links: Vec<(String, String)>,
}

/// Parses `02:42:ac:11:00:02` (Go's `net.ParseMAC` takes `-` too).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(parts) {
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    Some(mac)
}

/// A legacy link, `name:alias` or `name` (its own alias), as Docker reads
/// `--link` (a leading `/` dropped).
pub fn parse_link(s: &str) -> (String, String) {
    let s = s.trim_start_matches('/');
    let (name, alias) = s.split_once(':').unwrap_or((s, s));
    let alias = alias.rsplit('/').next().unwrap_or(alias);
    (name.to_string(), alias.to_string())
}

impl EndpointSpec {
    /// Reads an endpoint config; the errors are Docker's.
    pub fn parse(ep: &EndpointSettings) -> Result<EndpointSpec, EngineError> {
        let text = |v: &str| Some(v.to_string()).filter(|s| !s.is_empty());
        let ipam = ep.ipam_config.clone().unwrap_or_default();
        let ip = text(&ipam.ipv4_address)
            .map(|s| {
                s.parse::<Ipv4Addr>()
                    .map_err(|_| NetworkError::Invalid(format!("invalid IPv4 address: {s}")))
            })
            .transpose()?;
        let ip6 = text(&ipam.ipv6_address)
            .map(|s| {
                s.parse::<Ipv6Addr>()
                    .map_err(|_| NetworkError::Invalid(format!("invalid IPv6 address: {s}")))
            })
            .transpose()?;
        let mac = text(&ep.mac_address)
            .map(|s| {
                parse_mac(&s)
                    .ok_or_else(|| NetworkError::Invalid(format!("invalid MAC address {s}")))
            })
            .transpose()?;
        Ok(EndpointSpec {
            ip,
            ip6,
            mac,
            aliases: ep.aliases.clone().unwrap_or_default(),
            links: ep.links.iter().flatten().map(|l| parse_link(l)).collect(),
        })
    }
}

/// The environment Docker gives a container for its link to `target`
/// known as `alias` (moby `daemon/links/links.go`, `ToEnv`): the target's
/// exposed ports (a run of consecutive ones as a range), its link name
/// and its environment but `HOME` and `PATH`.
pub fn link_env(
    parent: &str,
    alias: &str,
    ip: Ipv4Addr,
    exposed: &[(u16, net::Proto)],
    target_env: &[String],
) -> Vec<String> {
    let a = alias.to_ascii_uppercase().replace('-', "_");
    let mut ports = exposed.to_vec();
    // tcp before udp, then by number, as Docker sorts them.
    ports.sort_by_key(|(p, proto)| (*proto != net::Proto::Tcp, *p));
    let mut env = Vec::new();
    if let Some((p, proto)) = ports.first() {
        env.push(format!("{a}_PORT={}://{ip}:{p}", proto.as_str()));
    }
    let mut i = 0;
    while i < ports.len() {
        let (p, proto) = ports[i];
        let (pr, up) = (proto.as_str(), proto.as_str().to_ascii_uppercase());
        let mut j = i;
        while j + 1 < ports.len() && ports[j + 1].1 == proto && ports[j + 1].0 == ports[j].0 + 1 {
            j += 1;
        }
        if j > i {
            let q = ports[j].0;
            env.push(format!("{a}_PORT_{p}_{up}_START={pr}://{ip}:{p}"));
            env.push(format!("{a}_PORT_{p}_{up}_ADDR={ip}"));
            env.push(format!("{a}_PORT_{p}_{up}_PROTO={pr}"));
            env.push(format!("{a}_PORT_{p}_{up}_PORT_START={p}"));
            env.push(format!("{a}_PORT_{p}_{up}_END={pr}://{ip}:{q}"));
            env.push(format!("{a}_PORT_{p}_{up}_PORT_END={q}"));
            i = j + 1;
            continue;
        }
        env.push(format!("{a}_PORT_{p}_{up}={pr}://{ip}:{p}"));
        env.push(format!("{a}_PORT_{p}_{up}_ADDR={ip}"));
        env.push(format!("{a}_PORT_{p}_{up}_PORT={p}"));
        env.push(format!("{a}_PORT_{p}_{up}_PROTO={pr}"));
        i += 1;
    }
    env.push(format!("{a}_NAME=/{parent}/{alias}"));
    for kv in target_env {
        if let Some((k, v)) = kv.split_once('=') {
            if k != "HOME" && k != "PATH" {
                env.push(format!("{a}_ENV_{k}={v}"));
            }
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: serde_json::Value) -> CreateBody {
        models::de::from_value(v).unwrap()
    }

    fn ep(v: serde_json::Value) -> EndpointSettings {
        models::de::from_value(v).unwrap()
    }

    #[test]
    fn endpoints_in_order_and_by_mode_when_none() {
        let cfg = body(json!({
            "HostConfig": {"NetworkMode": "front"},
            "NetworkingConfig": {"EndpointsConfig": {
                "back": {"Aliases": ["db"]}, "front": {"IPAMConfig": {"IPv4Address": "10.0.0.9"}},
            }},
        }));
        let e = endpoints(&cfg);
        assert_eq!(
            e.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["front", "back"]
        );
        let disconnected = body(json!({"HostConfig": {"NetworkMode": "front"},
            "NetworkingConfig": {"EndpointsConfig": {"back": {}}}}));
        assert_eq!(endpoints(&disconnected)[0].0, "back");
        let legacy = body(json!({"HostConfig": {"NetworkMode": "front"}}));
        assert_eq!(endpoints(&legacy)[0].0, "front");
        assert_eq!(endpoints(&body(json!({})))[0].0, "bridge");
    }

    #[test]
    fn endpoint_specs() {
        let s = EndpointSpec::parse(&ep(json!({
            "IPAMConfig": {"IPv4Address": "10.0.0.9", "IPv6Address": "fd00::9"},
            "MacAddress": "02:42:ac:11:00:99", "Aliases": ["a"], "Links": ["up:bar", "/x"],
        })))
        .unwrap();
        assert_eq!(s.mac, Some([2, 0x42, 0xac, 0x11, 0, 0x99]));
        assert_eq!(s.ip6, Some("fd00::9".parse().unwrap()));
        assert_eq!(
            s.links,
            vec![("up".into(), "bar".into()), ("x".into(), "x".into())]
        );
        let e = EndpointSpec::parse(&ep(json!({"MacAddress": "02:42"}))).unwrap_err();
        assert_eq!(e.to_string(), "invalid MAC address 02:42");
        assert!(EndpointSpec::parse(&ep(json!({"IPAMConfig": {"IPv6Address": "x"}}))).is_err());
        assert_eq!(parse_link("/db:/web/alias"), ("db".into(), "alias".into()));
    }

    #[test]
    fn link_environment_as_docker_writes_it() {
        let ip: Ipv4Addr = "172.17.0.5".parse().unwrap();
        let env = link_env(
            "web",
            "db-1",
            ip,
            &[(5432, net::Proto::Tcp), (53, net::Proto::Udp)],
            &["PGDATA=/d".into(), "PATH=/bin".into()],
        );
        assert_eq!(
            env,
            [
                "DB_1_PORT=tcp://172.17.0.5:5432",
                "DB_1_PORT_5432_TCP=tcp://172.17.0.5:5432",
                "DB_1_PORT_5432_TCP_ADDR=172.17.0.5",
                "DB_1_PORT_5432_TCP_PORT=5432",
                "DB_1_PORT_5432_TCP_PROTO=tcp",
                "DB_1_PORT_53_UDP=udp://172.17.0.5:53",
                "DB_1_PORT_53_UDP_ADDR=172.17.0.5",
                "DB_1_PORT_53_UDP_PORT=53",
                "DB_1_PORT_53_UDP_PROTO=udp",
                "DB_1_NAME=/web/db-1",
                "DB_1_ENV_PGDATA=/d",
            ]
        );
        let range = link_env(
            "w",
            "r",
            ip,
            &[(81, net::Proto::Tcp), (80, net::Proto::Tcp)],
            &[],
        );
        assert!(range.contains(&"R_PORT_80_TCP_START=tcp://172.17.0.5:80".to_string()));
        assert!(range.contains(&"R_PORT_80_TCP_PORT_END=81".to_string()));
    }
}
