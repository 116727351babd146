//! User-defined networks, as Docker's bridge driver makes them (moby
//! `daemon/network.go`, libnetwork's `drivers/bridge`): each a bridge of its
//! own named `br-<id12>` (or `com.docker.network.bridge.name`), an IPv4
//! subnet given or picked clear of the host's routes and of the other
//! networks, with `EnableIPv6` an IPv6 subnet given or picked (a ULA /64),
//! addresses in the network's record, isolation from every other bridge in
//! berth's nftables tables, and the embedded DNS server for the containers
//! on it. They are made in `create.rs`; containers join and leave them in
//! `connect.rs`.
//!
//! Order of writes, for a crash at any point: a network's record is written
//! before its bridge is made (a restart makes a recorded bridge again) and
//! its bridge deleted before the record (so no bridge outlives its record).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use store::meta::Table;

use super::NetworkError;
use super::{Attachment, NetworkRecord, UserBridge};
use crate::container::record::{ContainerRecord, State};
use crate::{Engine, EngineError};

/// One pool of a network's IPAM config, as Docker's API names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpamPool {
    /// `Subnet`.
    pub subnet: String,
    /// `IPRange`.
    pub ip_range: String,
    /// `Gateway`.
    pub gateway: String,
    /// `AuxiliaryAddresses`: name -> address, never handed out.
    pub aux: BTreeMap<String, String>,
}

/// A `POST /networks/create` body, read.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    /// The name.
    pub name: String,
    /// `bridge` (the only driver); empty means it.
    pub driver: String,
    /// `--internal`.
    pub internal: bool,
    /// `--ipv6` (`EnableIPv6`).
    pub ipv6: bool,
    /// `IPAM.Config`: at most one pool of each family.
    pub pools: Vec<IpamPool>,
    /// `IPAM.Options`.
    pub ipam_options: Option<BTreeMap<String, String>>,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
    /// `--opt`.
    pub options: BTreeMap<String, String>,
    /// `Attachable`.
    pub attachable: bool,
    /// `Ingress`.
    pub ingress: bool,
    /// Refuse a name already taken (always from API 1.44; before, only
    /// when `CheckDuplicate` asked, as dockerd 20.10).
    pub check_duplicate: bool,
}

pub(crate) fn parse_subnet(s: &str) -> Result<net::ipam::Subnet, EngineError> {
    match net::ipam::parse_any(s) {
        Some(net::ipam::AnySubnet::V4(sub)) if sub.prefix <= 30 => Ok(sub),
        _ => Err(
            NetworkError::Invalid(format!("invalid subnet {s}: invalid CIDR block notation"))
                .into(),
        ),
    }
}

pub(crate) fn parse_subnet6(s: &str) -> Result<net::ipam::Subnet6, EngineError> {
    match net::ipam::parse_any(s) {
        Some(net::ipam::AnySubnet::V6(sub)) if sub.prefix <= 126 => Ok(sub),
        _ => Err(
            NetworkError::Invalid(format!("invalid subnet {s}: invalid CIDR block notation"))
                .into(),
        ),
    }
}

/// Docker's rule for network names (libnetwork's `IsValidName`): anything
/// but blank. Container names' stricter rule (`daemon/names`) is not a
/// network's: dockerd creates `test 01` (docker-py's
/// test_create_remove_network_with_space_in_name).
pub(super) fn valid_name(n: &str) -> bool {
    !n.trim().is_empty()
}

/// A driver option that is a boolean, Docker's way (`strconv.ParseBool`).
pub(super) fn bool_opt(
    options: &BTreeMap<String, String>,
    key: &str,
    default: bool,
) -> Result<bool, EngineError> {
    match options.get(key).map(String::as_str) {
        None => Ok(default),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(v) => Err(NetworkError::Invalid(format!(
            "failed to parse {key} value {v:?}: invalid syntax"
        ))
        .into()),
    }
}

/// A unique-local IPv6 /64 for a network given none (Docker 27 takes one
/// from its default pool of `fd00::/8`): from the network's id, so that
/// it is stable and unlikely to meet another.
pub(super) fn ula_for(id: &str) -> net::ipam::Subnet6 {
    let hex = |i: usize| u16::from_str_radix(&id[i..i + 4], 16).unwrap_or(0);
    let a = Ipv6Addr::new(0xfd00 | (hex(0) & 0xff), hex(4), hex(8), 0, 0, 0, 0, 0);
    net::ipam::Subnet6::new(a, 64)
}

/// The host end's name of a container's veth on a user network: both ids
/// in 15 bytes (IFNAMSIZ), apart from the default bridge's `veth…`.
pub(crate) fn veth_of(container: &str, network: &str) -> String {
    format!("ve{}{}", &container[..8], &network[..5])
}

/// Checks an address of a pool against its subnet: the error texts are
/// Docker's (moby `api/types/network/ipam.go`).
pub(super) fn in_pool<A: std::str::FromStr>(
    what: &str,
    value: &str,
    contains: impl Fn(&A) -> bool,
    subnet: &str,
) -> Result<Option<A>, EngineError> {
    if value.is_empty() {
        return Ok(None);
    }
    let a: A = value.parse().map_err(|_| {
        NetworkError::Invalid(format!(
            "invalid network config:\ninvalid {what} {value}: invalid address"
        ))
    })?;
    if !contains(&a) {
        return Err(NetworkError::Invalid(format!(
                "invalid network config:\ninvalid {what} {value}: parent subnet {subnet} doesn't contain this address"
            )).into());
    }
    Ok(Some(a))
}

impl Engine {
    /// A network by full id, name, or unique id prefix, as Docker finds
    /// it (two networks of one name, made with API < 1.44, are ambiguous).
    pub(crate) fn find_network(&self, name: &str) -> Result<NetworkRecord, EngineError> {
        // The docker CLI's name of the daemon's default network.
        let name = if name == "default" { "bridge" } else { name };
        let all: Vec<NetworkRecord> = self
            .network_records()?
            .into_iter()
            .filter(|r| !(r.name == "bridge" && self.net.is_none()))
            .collect();
        if let Some(r) = all.iter().find(|r| r.id == name) {
            return Ok(r.clone());
        }
        let named: Vec<&NetworkRecord> = all.iter().filter(|r| r.name == name).collect();
        match named.len() {
            1 => return Ok(named[0].clone()),
            n if n > 1 => {
                return Err(NetworkError::Invalid(format!(
                    "network {name} is ambiguous ({n} matches found on name)"
                ))
                .into())
            }
            _ => {}
        }
        let by_id: Vec<&NetworkRecord> = all
            .iter()
            .filter(|r| !name.is_empty() && r.id.starts_with(name))
            .collect();
        match by_id.len() {
            1 => Ok(by_id[0].clone()),
            0 => Err(NetworkError::NoSuchNetwork(name.to_string()).into()),
            n => Err(NetworkError::Invalid(format!(
                "network {name} is ambiguous ({n} matches found based on ID prefix)"
            ))
            .into()),
        }
    }

    /// The full id of a network by name, id or unique id prefix.
    pub fn find_network_id(&self, name: &str) -> Result<String, EngineError> {
        Ok(self.find_network(name)?.id)
    }

    /// Makes (or finds) a user network's bridge.
    pub(super) fn user_bridge(&self, r: &NetworkRecord) -> Result<UserBridge, EngineError> {
        let subnet = parse_subnet(&r.subnet)?;
        let gateway: Ipv4Addr = r.gateway.parse().map_err(NetworkError::sys)?;
        let mut config = net::BridgeConfig::new(&r.bridge);
        config.bip = Some((gateway, subnet.prefix));
        if r.ipv6 {
            let sub6 = parse_subnet6(&r.subnet6)?;
            let gw6: Ipv6Addr = r.gateway6.parse().map_err(NetworkError::sys)?;
            config.v6 = Some((gw6, sub6.prefix));
        }
        config.mtu = if r.mtu == 0 { 1500 } else { r.mtu };
        config.table = self.nft_table();
        let bridge = net::Bridge::create(config).map_err(NetworkError::sys)?;
        Ok(UserBridge {
            bridge,
            internal: r.internal,
            icc: bool_opt(&r.options, "com.docker.network.bridge.enable_icc", true).unwrap_or(true),
            masquerade: bool_opt(
                &r.options,
                "com.docker.network.bridge.enable_ip_masquerade",
                true,
            )
            .unwrap_or(true),
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
            return Err(NetworkError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                r.name
            ))
            .into());
        }
        let mut st = self.net_state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cid, cname)) = self.endpoints_on(&r.id)?.into_iter().next() {
            return Err(NetworkError::Forbidden(format!(
                    "error while removing network: network {} has active endpoints (name:{cname:?} id:{:?})",
                    r.name,
                    &cid[..12]
                )).into());
        }
        if let Some(u) = st.users.remove(&r.id) {
            u.bridge.remove().map_err(NetworkError::sys)?;
        } else {
            let mut nl = net::netlink::Netlink::open().map_err(NetworkError::sys)?;
            crate::error::ignore(
                format_args!("delete bridge {} of network {}", r.bridge, r.id),
                nl.del_link(&r.bridge),
            );
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
            crate::error::ignore(
                format_args!("sweep stale veths of network {}", r.id),
                u.bridge.sweep_veths(&veths),
            );
            let holders: Vec<String> = attachments
                .iter()
                .filter(|(_, a)| a.networks.iter().any(|n| n.network == r.id))
                .map(|(c, _)| c.id.clone())
                .collect();
            let kept = |cid: &String| cid.starts_with(AUX) || holders.contains(cid);
            self.store().meta().write(|w| {
                if let Some(mut rec) = w.get::<NetworkRecord>(Table::Networks, &r.id)? {
                    let before = (rec.allocated.len(), rec.allocated6.len());
                    rec.allocated.retain(|_, cid| kept(cid));
                    rec.allocated6.retain(|_, cid| kept(cid));
                    if (rec.allocated.len(), rec.allocated6.len()) != before {
                        w.put(Table::Networks, &r.id, &rec)?;
                    }
                }
                Ok::<_, store::meta::MetaError>(())
            })?;
            st.users.insert(r.id.clone(), u);
        }
        for (c, a) in attachments {
            self.hold_again(&mut st, &c.id, &a.forwards);
        }
        self.apply_table(&mut st)?;
        drop(st);
        for (c, a) in attachments {
            if !a.networks.is_empty() {
                if let Err(e) = self.dns_register(c, a, records) {
                    tracing::warn!("registering container {} in the embedded DNS: {e}", c.id);
                }
            }
        }
        Ok(())
    }
}

/// The owner recorded for an auxiliary address (never a container id).
pub(crate) const AUX: &str = "aux:";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_veths_and_options() {
        assert!(valid_name("my-net_1.x"));
        assert!(valid_name("a b"));
        assert!(!valid_name(""));
        assert!(!valid_name(" \t"));
        let v = veth_of(&"a".repeat(64), &"b".repeat(64));
        assert_eq!(v, "veaaaaaaaabbbbb");
        assert!(v.len() <= 15);
        let o = BTreeMap::from([("k".to_string(), "false".to_string())]);
        assert!(!bool_opt(&o, "k", true).unwrap());
        assert!(bool_opt(&o, "other", true).unwrap());
        let o = BTreeMap::from([("k".to_string(), "maybe".to_string())]);
        assert!(bool_opt(&o, "k", true).is_err());
        let u = ula_for(&"ab".repeat(32));
        assert_eq!(u.prefix, 64);
        assert_eq!(u.addr.segments()[0] & 0xff00, 0xfd00);
    }
}
