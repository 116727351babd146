//! `POST /networks/create`: a request checked with Docker's words, its
//! subnets chosen, its record written, then its bridge made.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use store::meta::Table;

use super::user::{bool_opt, in_pool, parse_subnet, parse_subnet6, ula_for, valid_name, AUX};
use super::NetworkError;
use super::{IpamPool, NetState, NetworkCreate, NetworkRecord};
use crate::ids::random_hex;
use crate::{Engine, EngineError};

/// Pools of a create request, by family, with their IPAM settings.
type Pools<S> = Vec<(S, IpamPool)>;

/// The IPv6 side of a new network (all empty without `EnableIPv6`).
#[derive(Default)]
struct V6Plan {
    subnet6: String,
    gateway6: String,
    ip_range6: String,
    allocated6: BTreeMap<String, String>,
    user_subnet6: bool,
}

/// Docker's refusal of a pool that overlaps another network's.
fn overlap() -> EngineError {
    NetworkError::Forbidden(
        "invalid pool request: Pool overlaps with other one on this address space".into(),
    )
    .into()
}

impl Engine {
    /// `POST /networks/create`: the record, then the bridge, then the table.
    /// Returns the new network's id.
    pub fn network_create(&self, req: NetworkCreate) -> Result<String, EngineError> {
        let (mut v4, v6) = check_create(&req)?;
        let mtu = self.check_bridge_options(&req)?;
        // One network operation at a time: the name and pool checks hold
        // until the record is written.
        let mut st = self.net_state.lock().unwrap_or_else(|p| p.into_inner());
        let all = self.network_records()?;
        if req.check_duplicate && all.iter().any(|r| r.name == req.name) {
            return Err(NetworkError::Conflict(format!(
                "network with name {} already exists",
                req.name
            ))
            .into());
        }
        let id = random_hex(32);
        let bridge = self.new_bridge_name(&req, &id, &all)?;
        let (subnet, user_subnet, pool) = self.choose_subnet(v4.pop(), &all)?;
        let sub_s = subnet.to_string();
        let gateway =
            in_pool::<Ipv4Addr>("gateway", &pool.gateway, |g| subnet.contains(*g), &sub_s)?
                .unwrap_or_else(|| subnet.first());
        let (ip_range, allocated) = v4_range_and_aux(&subnet, &pool)?;
        let mut pools = Vec::new();
        let mut shown = pool.clone();
        shown.subnet = sub_s.clone();
        shown.gateway = gateway.to_string();
        pools.push(shown);
        // IPv6: the pool given or a ULA /64, only with `EnableIPv6` (a v6
        // pool without it is kept in the config and unused, as Docker).
        let v6 = if req.ipv6 {
            self.plan_v6(v6, &id, &all, &mut pools)?
        } else {
            pools.extend(v6.into_iter().map(|(_, p)| p));
            V6Plan::default()
        };
        let rec = NetworkRecord {
            id: id.clone(),
            name: req.name.clone(),
            driver: "bridge".into(),
            created: crate::time::now(),
            subnet: sub_s,
            gateway: gateway.to_string(),
            allocated,
            bridge,
            internal: req.internal,
            ip_range,
            user_subnet,
            user_subnet6: v6.user_subnet6,
            labels: req.labels,
            options: req.options,
            mtu,
            ipv6: req.ipv6,
            subnet6: v6.subnet6,
            gateway6: v6.gateway6,
            ip_range6: v6.ip_range6,
            allocated6: v6.allocated6,
            ipam: pools,
            ipam_options: req.ipam_options,
            attachable: req.attachable,
            ingress: req.ingress,
            ..Default::default()
        };
        self.install_network(&mut st, &rec)?;
        Ok(id)
    }

    /// The bridge driver's options checked (`enable_icc`,
    /// `enable_ip_masquerade` must be booleans); returns the MTU
    /// (`com.docker.network.driver.mtu`, else the default bridge's).
    fn check_bridge_options(&self, req: &NetworkCreate) -> Result<u32, EngineError> {
        let icc = bool_opt(&req.options, "com.docker.network.bridge.enable_icc", true)?;
        let masquerade = bool_opt(
            &req.options,
            "com.docker.network.bridge.enable_ip_masquerade",
            true,
        )?;
        let mtu = match req.options.get("com.docker.network.driver.mtu") {
            Some(m) => m.parse::<u32>().ok().filter(|m| *m >= 68).ok_or_else(|| {
                NetworkError::Invalid(format!(
                    "invalid MTU value {m:?}: an integer of at least 68"
                ))
            })?,
            None => self.net.as_ref().map_or(1500, |c| c.bridge.config.mtu),
        };
        // Accepted and recorded as Docker does, without effect here yet.
        let _ = (icc, masquerade);
        Ok(mtu)
    }

    /// The new network's bridge name (`com.docker.network.bridge.name`, or
    /// `br-<id12>`), refused when invalid or another network's.
    fn new_bridge_name(
        &self,
        req: &NetworkCreate,
        id: &str,
        all: &[NetworkRecord],
    ) -> Result<String, EngineError> {
        let bridge = req
            .options
            .get("com.docker.network.bridge.name")
            .cloned()
            .unwrap_or_else(|| format!("br-{}", &id[..12]));
        if bridge.is_empty() || bridge.len() > 15 || bridge.contains(['/', ' ']) {
            return Err(NetworkError::Invalid(format!("invalid bridge name {bridge:?}")).into());
        }
        if all.iter().any(|r| r.bridge == bridge)
            || self
                .net
                .as_ref()
                .is_some_and(|c| c.bridge.config.name == bridge)
        {
            return Err(NetworkError::Forbidden(format!(
                "bridge name {bridge} is in use by another network"
            ))
            .into());
        }
        Ok(bridge)
    }

    /// The IPv4 subnet: the one given (clear of every other network's), or
    /// one picked clear of them and of the host's routes. Returns it,
    /// whether the user gave it, and its pool.
    fn choose_subnet(
        &self,
        given: Option<(net::ipam::Subnet, IpamPool)>,
        all: &[NetworkRecord],
    ) -> Result<(net::ipam::Subnet, bool, IpamPool), EngineError> {
        let mut taken: Vec<net::ipam::Subnet> = all
            .iter()
            .filter_map(|r| parse_subnet(&r.subnet).ok())
            .collect();
        if let Some(ctx) = &self.net {
            taken.push(ctx.bridge.subnet);
        }
        Ok(match given {
            Some((sub, pool)) => {
                if taken.iter().any(|t| t.overlaps(&sub)) {
                    return Err(overlap());
                }
                (sub, true, pool)
            }
            None => {
                let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
                let mut busy = net::ipam::routes_from_proc(&routes);
                busy.retain(|r| r.prefix > 0);
                busy.extend(taken);
                let sub = net::ipam::choose(&busy).ok_or_else(|| {
                    NetworkError::Forbidden(
                        "all predefined address pools have been fully subnetted".into(),
                    )
                })?;
                (sub, false, IpamPool::default())
            }
        })
    }

    /// The IPv6 side with `EnableIPv6`: the pool given (clear of the other
    /// networks') or a ULA /64 from the id; its pool is added to `pools`.
    fn plan_v6(
        &self,
        mut v6: Pools<net::ipam::Subnet6>,
        id: &str,
        all: &[NetworkRecord],
        pools: &mut Vec<IpamPool>,
    ) -> Result<V6Plan, EngineError> {
        let mut plan = V6Plan::default();
        let taken6: Vec<net::ipam::Subnet6> = all
            .iter()
            .filter_map(|r| parse_subnet6(&r.subnet6).ok())
            .chain(self.net.as_ref().and_then(|c| c.bridge.v6.map(|(_, s)| s)))
            .collect();
        let (sub6, pool6) = match v6.pop() {
            Some((s, p)) => {
                if taken6.iter().any(|t| t.overlaps(&s)) {
                    return Err(overlap());
                }
                plan.user_subnet6 = true;
                (s, p)
            }
            None => (ula_for(id), IpamPool::default()),
        };
        let s6 = sub6.to_string();
        let gw6 = in_pool::<Ipv6Addr>("gateway", &pool6.gateway, |g| sub6.contains(*g), &s6)?
            .unwrap_or_else(|| sub6.first());
        (plan.ip_range6, plan.allocated6) = v6_range_and_aux(&sub6, &pool6)?;
        let mut shown6 = pool6.clone();
        shown6.subnet = s6.clone();
        shown6.gateway = gw6.to_string();
        pools.push(shown6);
        plan.subnet6 = s6;
        plan.gateway6 = gw6.to_string();
        Ok(plan)
    }

    /// Writes the record, then makes the bridge and rewrites the table;
    /// a failure there undoes both (the bridge, then the record).
    fn install_network(&self, st: &mut NetState, rec: &NetworkRecord) -> Result<(), EngineError> {
        let id = &rec.id;
        self.store()
            .meta()
            .write(|w| w.put(Table::Networks, id, rec))?;
        let made = self.user_bridge(rec);
        let made = made.and_then(|b| {
            st.users.insert(id.clone(), b);
            self.apply_table(st)
        });
        if let Err(e) = made {
            if let Some(u) = st.users.remove(id) {
                if let Err(e) = u.bridge.remove() {
                    tracing::warn!(
                        "removing the bridge of network {id} after a failed create: {e}"
                    );
                }
            }
            if let Err(e) = self.store().meta().write(|w| w.delete(Table::Networks, id)) {
                tracing::warn!("removing the record of network {id} after a failed create: {e}");
            }
            return Err(e);
        }
        Ok(())
    }
}

/// The checks of a create request that need no state, with Docker's words:
/// the name, the driver (only `bridge`), the pools (at most one of each
/// family). Returns the pools by family.
fn check_create(
    req: &NetworkCreate,
) -> Result<(Pools<net::ipam::Subnet>, Pools<net::ipam::Subnet6>), EngineError> {
    if !valid_name(&req.name) {
        return Err(NetworkError::Invalid(format!("invalid name: {}", req.name)).into());
    }
    if matches!(req.name.as_str(), "bridge" | "host" | "none" | "default") {
        return Err(NetworkError::Forbidden(format!(
            "operation is not permitted on predefined {} network ",
            req.name
        ))
        .into());
    }
    match req.driver.as_str() {
        "" | "bridge" => {}
        // libnetwork's host and null drivers: one network each.
        d @ ("host" | "null") => {
            return Err(NetworkError::Forbidden(format!("only one instance of \"{d}\" network is allowed")).into())
        }
        "overlay" => {
            return Err(NetworkError::Forbidden("This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.".into()).into())
        }
        d => {
            return Err(NetworkError::NotFound(format!("plugin \"{d}\" not found")).into())
        }
    }
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for p in &req.pools {
        match net::ipam::parse_any(&p.subnet) {
            Some(net::ipam::AnySubnet::V4(s)) => v4.push((s, p.clone())),
            Some(net::ipam::AnySubnet::V6(s)) => v6.push((s, p.clone())),
            None if p.subnet.is_empty() => {
                return Err(NetworkError::Invalid(
                    "invalid network config:\ninvalid subnet : invalid CIDR block notation".into(),
                )
                .into())
            }
            None => {
                return Err(NetworkError::Invalid(format!(
                    "invalid network config:\ninvalid subnet {}: invalid CIDR block notation",
                    p.subnet
                ))
                .into())
            }
        }
    }
    if v4.len() > 1 || (req.ipv6 && v6.len() > 1) {
        return Err(NetworkError::Forbidden(
            "bridge driver doesn't support multiple subnets".into(),
        )
        .into());
    }
    Ok((v4, v6))
}

/// An IPv4 pool's `ip-range` (inside the subnet) and auxiliary addresses
/// (reserved), with Docker's words for what is outside it.
fn v4_range_and_aux(
    subnet: &net::ipam::Subnet,
    pool: &IpamPool,
) -> Result<(String, BTreeMap<String, String>), EngineError> {
    let sub_s = subnet.to_string();
    let ip_range = if pool.ip_range.is_empty() {
        String::new()
    } else {
        let range = parse_subnet(&pool.ip_range).map_err(|_| {
            NetworkError::Invalid(format!(
                "invalid network config:\ninvalid ip-range {}: invalid CIDR block notation",
                pool.ip_range
            ))
        })?;
        if !(subnet.contains(range.addr) && range.prefix >= subnet.prefix) {
            return Err(NetworkError::Invalid(format!(
                    "invalid network config:\ninvalid ip-range {}: parent subnet {sub_s} doesn't contain ip-range",
                    pool.ip_range
                )).into());
        }
        range.to_string()
    };
    let mut allocated = BTreeMap::new();
    for (name, a) in &pool.aux {
        let a = in_pool::<Ipv4Addr>("auxiliary address", a, |x| subnet.contains(*x), &sub_s)
            .map_err(|_| {
                NetworkError::Invalid(format!("invalid network config:\ninvalid auxiliary address {name}: parent subnet {sub_s} doesn't contain this address"))
            })?;
        if let Some(a) = a {
            allocated.insert(a.to_string(), format!("{AUX}{name}"));
        }
    }
    Ok((ip_range, allocated))
}

/// An IPv6 pool's `ip-range` (inside the subnet) and auxiliary addresses.
fn v6_range_and_aux(
    sub6: &net::ipam::Subnet6,
    pool6: &IpamPool,
) -> Result<(String, BTreeMap<String, String>), EngineError> {
    let s6 = sub6.to_string();
    let mut ip_range6 = String::new();
    let mut allocated6 = BTreeMap::new();
    if !pool6.ip_range.is_empty() {
        match net::ipam::parse_any(&pool6.ip_range) {
            Some(net::ipam::AnySubnet::V6(r))
                if sub6.contains(r.addr) && r.prefix >= sub6.prefix =>
            {
                ip_range6 = r.to_string()
            }
            _ => {
                return Err(NetworkError::Invalid(format!(
                        "invalid network config:\ninvalid ip-range {}: parent subnet {s6} doesn't contain ip-range",
                        pool6.ip_range
                    )).into())
            }
        }
    }
    for (name, a) in &pool6.aux {
        if let Ok(a) = a.parse::<Ipv6Addr>() {
            allocated6.insert(a.to_string(), format!("{AUX}{name}"));
        }
    }
    Ok((ip_range6, allocated6))
}
