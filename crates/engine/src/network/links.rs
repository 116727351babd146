//! What a start adds to a container's `/etc` files and environment beyond
//! its addresses: `--add-host` (with `host-gateway`), `--dns`,
//! `--dns-search`, `--dns-option` (the container's, else the daemon's),
//! `--domainname`, and legacy links (`--link name:alias`): on the default
//! bridge a hosts entry and Docker's environment variables for each link
//! (moby `daemon/links`), on a user network an alias that the embedded DNS
//! answers for the linking container alone. Also `DELETE
//! /containers/{parent}/{alias}?link=1`, which removes a link.

use std::net::IpAddr;

use store::meta::Table;

use super::NetworkError;
use super::{endpoint, EtcNet, NetPlan};
use crate::container::record::{ContainerRecord, State};
use crate::{Engine, EngineError};

impl Engine {
    /// What `host-gateway` stands for: the daemon's `host-gateway-ip`,
    /// else the default bridge's gateway, as dockerd.
    fn host_gateway(&self) -> Option<IpAddr> {
        self.net_options
            .host_gateway_ip
            .or_else(|| self.net.as_ref().map(|c| IpAddr::V4(c.bridge.gateway)))
    }

    /// Fills `plan`'s `/etc` extras and link environment for container `c`.
    pub(crate) fn plan_extras(
        &self,
        c: &ContainerRecord,
        plan: &mut NetPlan,
    ) -> Result<(), EngineError> {
        let hc = &c.config.host_config;
        let list = |l: &Option<Vec<String>>| l.clone().unwrap_or_default();
        let bad = NetworkError::Invalid;
        plan.extra.hosts =
            super::etc::extra_hosts(&list(&hc.extra_hosts), self.host_gateway()).map_err(bad)?;
        plan.extra.domainname = c.config.config.domainname.clone();
        plan.extra.dns = list(&hc.dns);
        if plan.extra.dns.is_empty() {
            // The daemon's `dns`, as far as a container can use them (a
            // loopback resolver is the host's, and a port is no
            // resolv.conf's).
            plan.extra.dns = self
                .dns_servers
                .iter()
                .filter(|a| a.port() == 53 && !a.ip().is_loopback())
                .map(|a| a.ip().to_string())
                .collect();
        }
        plan.extra.dns_search = list(&hc.dns_search);
        if plan.extra.dns_search.is_empty() {
            plan.extra.dns_search = self.net_options.dns_search.clone();
        }
        plan.extra.dns_options = list(&hc.dns_options);
        if plan.extra.dns_options.is_empty() {
            plan.extra.dns_options = self.net_options.dns_options.clone();
        }
        let links = list(&hc.links);
        if links.is_empty() {
            return Ok(());
        }
        if matches!(plan.etc, EtcNet::Address(_)) {
            // The default bridge: hosts entries and environment variables.
            for l in links {
                let (target, alias) = endpoint::parse_link(&l);
                let t = self.find_container(&target).map_err(|_| {
                    NetworkError::NotFound(format!("could not get container for {target}"))
                })?;
                let ep = match (self.state(&t), self.attachment(&t.id)) {
                    (State::Running(..), Some(a)) => a.endpoint,
                    _ => None,
                };
                let Some(ep) = ep else {
                    return Err(NetworkError::Conflict(format!(
                        "Cannot link to a non running container: /{} AS /{}/{alias}",
                        t.name, c.name
                    ))
                    .into());
                };
                let ip = ep.ip;
                // The alias, the target's host name, and its name unless
                // that is the alias (moby `container_operations_unix.go`).
                let hostname = Some(t.config.config.hostname.clone())
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| t.id[..12].to_string());
                let mut names = format!("{alias} {hostname}");
                if alias != t.name {
                    names.push_str(&format!(" {}", t.name));
                }
                plan.extra.hosts.push((IpAddr::V4(ip), names.clone()));
                if let Some(ip6) = ep.ip6 {
                    plan.extra.hosts.push((IpAddr::V6(ip6), names));
                }
                let exposed: Vec<(u16, net::Proto)> = t
                    .config
                    .config
                    .exposed_ports
                    .keys()
                    .filter_map(|k| net::ports::parse_key(k))
                    .collect();
                plan.env.extend(endpoint::link_env(
                    &c.name,
                    &alias,
                    ip,
                    &exposed,
                    &list(&t.config.config.env),
                ));
            }
        }
        Ok(())
    }

    /// `DELETE /containers/{parent}/{alias}?link=1`: container `parent`'s
    /// link named `alias` goes (Docker's `docker rm --link`).
    pub fn container_remove_link(&self, parent: &str, alias: &str) -> Result<(), EngineError> {
        let p = self.find_container(parent.trim_start_matches('/'))?;
        let mut config = p.config.clone();
        let links = config.host_config.links.clone().unwrap_or_default();
        let kept: Vec<String> = links
            .iter()
            .filter(|l| endpoint::parse_link(l).1 != alias)
            .cloned()
            .collect();
        if kept.len() == links.len() {
            return Err(
                NetworkError::NotFound(format!("No such link: /{}/{alias}", p.name)).into(),
            );
        }
        config.host_config.links = (!kept.is_empty()).then_some(kept);
        self.store().meta().write(|w| {
            if let Some(mut c) = w.get::<ContainerRecord>(Table::Containers, &p.id)? {
                c.config = config;
                w.put(Table::Containers, &p.id, &c)?;
            }
            Ok::<_, store::meta::MetaError>(())
        })?;
        Ok(())
    }

    /// The link names other containers know container `c` by
    /// (`/parent/alias`, listed among its `Names` as Docker lists them).
    pub fn link_names(&self, c: &ContainerRecord, all: &[ContainerRecord]) -> Vec<String> {
        let mut out = Vec::new();
        for p in all {
            for l in p.config.host_config.links.iter().flatten() {
                let (target, alias) = endpoint::parse_link(l);
                if target == c.name || c.id.starts_with(&target) {
                    out.push(format!("/{}/{alias}", p.name));
                }
            }
        }
        out
    }
}
