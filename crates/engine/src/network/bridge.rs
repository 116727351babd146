//! The default bridge: an address from its record, a veth, the ports.

use std::net::{Ipv4Addr, Ipv6Addr};

use models::network::EndpointSettings;
use store::meta::Table;

use crate::container::record::ContainerRecord;
use crate::{Engine, EngineError};

use super::*;

impl Engine {
    /// Takes the next free address of the bridge for `id` (and an IPv6
    /// one when the bridge has IPv6).
    pub(super) fn allocate(
        &self,
        ctx: &NetContext,
        id: &str,
    ) -> Result<(Ipv4Addr, Option<Ipv6Addr>), EngineError> {
        let subnet = ctx.bridge.subnet;
        let gateway = ctx.bridge.gateway;
        let v6 = ctx.bridge.v6;
        self.store().meta().write(|w| {
            let mut r: NetworkRecord = w
                .get(Table::Networks, &ctx.bridge_id)?
                .unwrap_or_default();
            let taken = |ip: Ipv4Addr| r.allocated.contains_key(&ip.to_string());
            let Some(ip) = net::ipam::next_free(subnet, gateway, r.last, &taken) else {
                return Ok(Err(NetworkError::sys(format!("no available IPv4 addresses on this network's address pools: bridge ({subnet})")).into()));
            };
            let ip6 = match v6 {
                Some((gw6, sub6)) => {
                    let taken6 = |ip: Ipv6Addr| r.allocated6.contains_key(&ip.to_string());
                    let Some(ip6) = net::ipam::next_free6(sub6, gw6, r.last6, &taken6) else {
                        return Ok(Err(NetworkError::sys(format!("no available IPv6 addresses on this network's address pools: bridge ({sub6})")).into()));
                    };
                    r.allocated6.insert(ip6.to_string(), id.to_string());
                    r.last6 = Some(ip6);
                    Some(ip6)
                }
                None => None,
            };
            r.allocated.insert(ip.to_string(), id.to_string());
            r.last = Some(ip);
            w.put(Table::Networks, &ctx.bridge_id, &r)?;
            Ok::<_, store::meta::MetaError>(Ok((ip, ip6)))
        })?
    }

    /// Frees the addresses `id` holds.
    pub(super) fn free(&self, ctx: &NetContext, id: &str) -> Result<(), EngineError> {
        // Most calls find nothing (a second release): no write for them.
        let held = self
            .store()
            .meta()
            .get::<NetworkRecord>(Table::Networks, &ctx.bridge_id)?
            .is_some_and(|r| {
                r.allocated.values().any(|c| c == id) || r.allocated6.values().any(|c| c == id)
            });
        if !held {
            return Ok(());
        }
        self.free_in(&ctx.bridge_id, id)
    }

    pub(super) fn attach_bridge(
        &self,
        c: &ContainerRecord,
        eps: &[(String, EndpointSettings)],
    ) -> Result<NetPlan, EngineError> {
        let Some(ctx) = &self.net else {
            return Err(NetworkError::sys("the default bridge is not set up").into());
        };
        publish::wanted_ports(&c.config)?;
        let ep = eps
            .iter()
            .find(|(n, _)| n == "bridge" || n == "default")
            .map(|(_, e)| e.clone())
            .unwrap_or_default();
        let spec = endpoint::EndpointSpec::parse(&ep)?;
        // `Config.MacAddress` (API < 1.44) is the default network's.
        let mac = spec
            .mac
            .or_else(|| endpoint::parse_mac(&c.config.config.mac_address));
        let (ip, ip6) = self.allocate(ctx, &c.id)?;
        runtime::trace::mark("address allocated");
        let netns = self.netns_dir().join(&c.id);
        let iface = net::Iface {
            ip6,
            mac,
            ..net::Iface::eth0(ip)
        };
        let endpoint = match ctx.bridge.attach(&c.id, &iface, &netns) {
            Ok(e) => e,
            Err(e) => {
                crate::error::ignore(
                    format_args!("release the address of {}", c.id),
                    self.free(ctx, &c.id),
                );
                return Err(NetworkError::sys(e).into());
            }
        };
        let mut a = Attachment {
            mode: "bridge".into(),
            endpoint: Some(endpoint.clone()),
            ..Default::default()
        };
        runtime::trace::mark("netns and veth made");
        // Written before the ports: a release after a failure below finds it.
        self.write_attachment(&c.id, &a)?;
        self.publish(c, &mut a, (ip, endpoint.ip6), &endpoint.veth)?;
        let mut plan = NetPlan::new(NetNs::Join(netns), EtcNet::Address(ip));
        plan.extra.ip6 = endpoint.ip6;
        Ok(plan)
    }
}
