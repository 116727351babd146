//! Published ports (`PortBindings`, `PublishAllPorts`), Docker's way: each
//! binding holds its host port by a bound socket (so no port is published
//! twice, and a host program's port is refused with Docker's words), and
//! becomes a forward in berth's nftables tables. A binding on every
//! address (`-p 8080:80`) holds `0.0.0.0:8080` and `[::]:8080`, as Docker
//! 27 does; IPv6 connections the DNAT cannot carry (to `[::1]`, or to a
//! container with no IPv6 address) go through berth's relay
//! (`net::proxy`), as Docker's go through its `docker-proxy`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use models::container::{CreateBody, PortBinding};

use super::NetworkError;
use super::{Attachment, NetState};
use crate::container::record::ContainerRecord;
use crate::rootless::{Held, Hold};
use crate::{Engine, EngineError};

/// A port to publish: container port, protocol, host address (`None`:
/// both families' every address), host port spec (empty: any).
pub(crate) type Wanted = (u16, net::Proto, Option<IpAddr>, String);

/// The ports a container publishes: (container port, proto, host ip, host
/// port spec) from `PortBindings`, and every `ExposedPorts` entry with a
/// free port when `PublishAllPorts`.
pub(crate) fn wanted_ports(config: &CreateBody) -> Result<Vec<Wanted>, EngineError> {
    let mut out = Vec::new();
    let hc = &config.host_config;
    let bindings = hc.port_bindings.clone().unwrap_or_default();
    for (key, list) in &bindings {
        let (port, proto) = net::ports::parse_key(key)
            .ok_or_else(|| NetworkError::Invalid(format!("invalid port specification: {key:?}")))?;
        let list = list.clone().unwrap_or_default();
        let list = if list.is_empty() {
            vec![PortBinding::default()]
        } else {
            list
        };
        for b in list {
            let ip = b.host_ip.as_str();
            let host_ip = match ip.trim_start_matches('[').trim_end_matches(']') {
                "" => None,
                ip => Some(
                    ip.parse::<IpAddr>()
                        .map_err(|_| NetworkError::Invalid(format!("invalid IP address: {ip}")))?,
                ),
            };
            out.push((port, proto, host_ip, b.host_port.clone()));
        }
    }
    if hc.publish_all_ports {
        for key in config.config.exposed_ports.keys() {
            if bindings.contains_key(key) {
                continue;
            }
            if let Some((port, proto)) = net::ports::parse_key(key) {
                out.push((port, proto, None, String::new()));
            }
        }
    }
    Ok(out)
}

/// The host ports a spec names: empty is any (0: the kernel's ephemeral
/// range, as Docker's allocator takes it from `ip_local_port_range`),
/// `8080`, or a range `8000-8010`.
pub(crate) fn host_ports(spec: &str) -> Result<Vec<u16>, EngineError> {
    let bad = || NetworkError::Invalid(format!("invalid hostPort: {spec}"));
    if spec.is_empty() {
        return Ok(vec![0]);
    }
    let (a, b) = spec.split_once('-').unwrap_or((spec, spec));
    let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b {
        return Err(bad().into());
    }
    Ok((a..=b).collect())
}

/// How a forward is listed (`Ports` of inspect and of the list): a
/// wildcard binding twice, `0.0.0.0` and `::`, as Docker 27 lists it.
pub(crate) fn listed(f: &net::Forward) -> Vec<IpAddr> {
    match f.host_ip {
        Some(ip) => vec![ip],
        None => vec![Ipv4Addr::UNSPECIFIED.into(), Ipv6Addr::UNSPECIFIED.into()],
    }
}

impl Engine {
    /// Publishes the ports the container asks for on its addresses `ip`
    /// and `ip6`: holds the host ports, records the forwards in `a`, starts
    /// the relay where the DNAT cannot go, and writes the tables. On
    /// failure the container's network is released.
    pub(crate) fn publish(
        &self,
        c: &ContainerRecord,
        a: &mut Attachment,
        (ip, ip6): (Ipv4Addr, Option<Ipv6Addr>),
        veth: &str,
    ) -> Result<(), EngineError> {
        let wanted = wanted_ports(&c.config)?;
        if wanted.is_empty() {
            return Ok(());
        }
        let mut st = self.net_state.lock().unwrap_or_else(|p| p.into_inner());
        let mut held: Vec<Box<dyn Held>> = Vec::new();
        let mut relays = Vec::new();
        for (port, proto, host_ip, spec) in wanted {
            let mut last_err = String::new();
            let mut got = None;
            for hp in host_ports(&spec)? {
                let f = net::Forward {
                    proto,
                    host_ip,
                    host_port: hp,
                    ip,
                    port,
                    ip6,
                };
                match self.hold_port(&f) {
                    Ok(r) => {
                        got = Some(r);
                        break;
                    }
                    Err(e) => last_err = e,
                }
            }
            let Some((fd, host_port)) = got else {
                drop(st);
                self.network_detach(&c.id);
                return Err(NetworkError::failed(
                    format!(
                        "driver failed programming external connectivity on endpoint {} ({veth})",
                        c.name
                    ),
                    last_err,
                )
                .into());
            };
            let f = net::Forward {
                proto,
                host_ip,
                host_port,
                ip,
                port,
                ip6,
            };
            let fd = match fd {
                Hold::Socket(fd) => fd,
                // Rootless: the port driver carries both families.
                Hold::Driver(h) => {
                    held.push(h);
                    a.forwards.push(f);
                    continue;
                }
            };
            // The IPv6 side: the socket itself for an IPv6 binding, a
            // socket of its own for a wildcard one (a host without IPv6
            // has none, and loses nothing).
            let v6_socket = match host_ip {
                Some(IpAddr::V6(_)) => Some(fd),
                Some(IpAddr::V4(_)) => {
                    held.push(Box::new(fd));
                    None
                }
                None => {
                    held.push(Box::new(fd));
                    net::ports::reserve(proto, Some(Ipv6Addr::UNSPECIFIED.into()), host_port)
                        .ok()
                        .map(|(fd6, _)| fd6)
                }
            };
            if let Some(fd6) = v6_socket {
                if proto == net::Proto::Tcp {
                    relays.push((fd6, relay_target(&f)));
                } else {
                    held.push(Box::new(fd6));
                }
            }
            a.forwards.push(f);
        }
        self.start_relays(&mut st, &c.id, relays, &mut held);
        st.held.insert(c.id.clone(), held);
        st.forwards.insert(c.id.clone(), a.forwards.clone());
        let applied = self.apply_table(&mut st);
        let written = self.write_attachment(&c.id, a);
        drop(st);
        if let Err(e) = applied.and(written) {
            self.network_detach(&c.id);
            return Err(e);
        }
        Ok(())
    }

    /// Hands IPv6 listening sockets to the relay (a copy of each stays
    /// held, so that the port stays berth's even if the relay cannot run).
    pub(crate) fn start_relays(
        &self,
        st: &mut NetState,
        id: &str,
        relays: Vec<(std::os::fd::OwnedFd, SocketAddr)>,
        held: &mut Vec<Box<dyn Held>>,
    ) {
        let Some(proxy) = st.proxy.clone() else {
            held.extend(
                relays
                    .into_iter()
                    .map(|(fd, _)| Box::new(fd) as Box<dyn Held>),
            );
            return;
        };
        for (fd, to) in relays {
            match fd.try_clone() {
                Ok(copy) => {
                    // Not relayed (it failed to listen): held all the same.
                    if let Err(e) = proxy.serve(id, copy, to) {
                        tracing::warn!("relaying published port of {id} to {to}: {e}");
                    }
                    held.push(Box::new(fd));
                }
                Err(_) => held.push(Box::new(fd)),
            }
        }
    }

    /// Holds the ports of a running container again after a daemon
    /// restart, and starts its relays.
    pub(crate) fn hold_again(&self, st: &mut NetState, id: &str, forwards: &[net::Forward]) {
        let mut held: Vec<Box<dyn Held>> = Vec::new();
        let mut relays = Vec::new();
        for f in forwards {
            if self.port_driver.is_some() {
                // Rootless: the port driver exposes it again.
                if let Ok((h, _)) = self.hold_port(f) {
                    held.push(h.into_held());
                }
                continue;
            }
            if let Ok((fd, _)) = net::ports::reserve(f.proto, f.host_ip, f.host_port) {
                match f.host_ip {
                    Some(IpAddr::V6(_)) if f.proto == net::Proto::Tcp => {
                        relays.push((fd, relay_target(f)))
                    }
                    _ => held.push(Box::new(fd)),
                }
            }
            if f.host_ip.is_none() {
                if let Ok((fd6, _)) =
                    net::ports::reserve(f.proto, Some(Ipv6Addr::UNSPECIFIED.into()), f.host_port)
                {
                    if f.proto == net::Proto::Tcp {
                        relays.push((fd6, relay_target(f)));
                    } else {
                        held.push(Box::new(fd6));
                    }
                }
            }
        }
        self.start_relays(st, id, relays, &mut held);
        st.held.insert(id.to_string(), held);
        st.forwards.insert(id.to_string(), forwards.to_vec());
    }
}

/// Where the relay sends an IPv6 connection: the container's IPv6
/// address, else its IPv4 one.
fn relay_target(f: &net::Forward) -> SocketAddr {
    match f.ip6 {
        Some(ip6) => (ip6, f.port).into(),
        None => (f.ip, f.port).into(),
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
    fn ports_wanted() {
        let cfg = body(json!({
            "ExposedPorts": {"80/tcp": {}, "53/udp": {}, "443/tcp": {}},
            "HostConfig": {
                "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}]},
                "PublishAllPorts": true,
            }
        }));
        let w = wanted_ports(&cfg).unwrap();
        assert_eq!(w.len(), 4, "{w:?}");
        assert_eq!(
            w[0],
            (
                80,
                net::Proto::Tcp,
                Some(Ipv4Addr::LOCALHOST.into()),
                "8080".to_string()
            )
        );
        assert_eq!(w[1].2, Some(Ipv6Addr::UNSPECIFIED.into()));
        assert!(w.contains(&(53, net::Proto::Udp, None, String::new())));
        assert_eq!(host_ports("").unwrap(), vec![0]);
        assert_eq!(host_ports("8000-8002").unwrap(), vec![8000, 8001, 8002]);
        assert!(host_ports("x").is_err());
        let bad = body(json!({"HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "nope"}]}}}));
        assert!(wanted_ports(&bad).is_err());
    }
}
