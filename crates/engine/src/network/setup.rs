//! At daemon start: the predefined networks, the default bridge, and
//! berth's nftables tables.

use std::sync::Arc;

use store::meta::Table;

use crate::container::record::{ContainerRecord, State};
use crate::ids::random_hex;
use crate::{Engine, EngineError};

use super::*;

impl Engine {
    /// The predefined networks' records, made the first time.
    pub(super) fn network_records(&self) -> Result<Vec<NetworkRecord>, EngineError> {
        let mut all: Vec<NetworkRecord> = self.store().meta().list(Table::Networks)?;
        if PREDEFINED
            .iter()
            .all(|(n, _)| all.iter().any(|r| r.name == *n))
        {
            return Ok(all);
        }
        let now = crate::time::now();
        self.store().meta().write(|w| {
            for (name, driver) in PREDEFINED {
                if !all.iter().any(|r| r.name == name) {
                    let r = NetworkRecord {
                        id: random_hex(32),
                        name: name.into(),
                        driver: driver.into(),
                        created: now.clone(),
                        ..Default::default()
                    };
                    w.put(Table::Networks, &r.id, &r)?;
                    all.push(r);
                }
            }
            Ok::<_, store::meta::MetaError>(())
        })?;
        Ok(all)
    }

    /// At daemon start: sets the default bridge up (`None`: no bridge, as
    /// dockerd's `--bridge=none`; containers then default to `none`), and
    /// reconciles with what a crash may have left: namespaces, veths and
    /// addresses of containers that no longer run are let go, the published
    /// ports of those that run are held again, the nftables table rewritten.
    pub fn network_setup(&mut self, config: Option<net::BridgeConfig>) -> Result<(), EngineError> {
        let records = self.network_records()?;
        let upstreams = if self.dns_servers.is_empty() {
            net::dns::upstreams_of(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
        } else {
            self.dns_servers.clone()
        };
        self.dns = Some(
            net::dns::Server::start(Default::default(), upstreams)
                .map_err(|e| NetworkError::failed("start the embedded DNS server", e))?,
        );
        self.net_state
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .proxy =
            Some(Arc::new(net::proxy::Proxy::start().map_err(|e| {
                NetworkError::failed("start the port relay", e)
            })?));
        let running: Vec<ContainerRecord> = self
            .container_records()?
            .into_iter()
            .filter(|c| matches!(self.state(c), State::Running(..)))
            .collect();
        let attachments: Vec<(ContainerRecord, Attachment)> = running
            .iter()
            .filter_map(|c| self.attachment(&c.id).map(|a| (c.clone(), a)))
            .collect();
        let Some(config) = config else {
            let keep: Vec<String> = running.iter().map(|c| c.id.clone()).collect();
            net::netns::sweep(&self.netns_dir(), &keep);
            return self.users_setup(&records, &attachments);
        };
        let bridge = net::Bridge::create(config).map_err(NetworkError::sys)?;
        let bridge_id = records
            .iter()
            .find(|r| r.name == "bridge")
            .map(|r| r.id.clone())
            .unwrap_or_default();
        let keep: Vec<String> = attachments
            .iter()
            .filter(|(_, a)| a.endpoint.is_some())
            .map(|(c, _)| c.id.clone())
            .collect();
        let with_netns: Vec<String> = attachments
            .iter()
            .filter(|(_, a)| a.endpoint.is_some() || a.netns.is_some())
            .map(|(c, _)| c.id.clone())
            .collect();
        bridge
            .sweep(&self.netns_dir(), &with_netns)
            .map_err(NetworkError::sys)?;
        let subnet = bridge.subnet.to_string();
        let gateway = bridge.gateway.to_string();
        let subnet6 = bridge.v6.map(|(_, s)| s.to_string()).unwrap_or_default();
        let gateway6 = bridge.v6.map(|(g, _)| g.to_string()).unwrap_or_default();
        let mtu = bridge.config.mtu;
        self.store().meta().write(|w| {
            if let Some(mut r) = w.get::<NetworkRecord>(Table::Networks, &bridge_id)? {
                r.allocated.retain(|_, cid| keep.contains(cid));
                r.allocated6.retain(|_, cid| keep.contains(cid));
                if r.subnet != subnet {
                    // A new subnet (`bip` changed): old addresses mean nothing.
                    r.allocated.clear();
                    r.last = None;
                }
                if r.subnet6 != subnet6 {
                    r.allocated6.clear();
                    r.last6 = None;
                }
                r.subnet = subnet.clone();
                r.gateway = gateway.clone();
                r.ipv6 = !subnet6.is_empty();
                r.subnet6 = subnet6.clone();
                r.gateway6 = gateway6.clone();
                r.mtu = mtu;
                w.put(Table::Networks, &bridge_id, &r)?;
            }
            Ok::<_, store::meta::MetaError>(())
        })?;
        self.net = Some(NetContext { bridge, bridge_id });
        self.users_setup(&records, &attachments)
    }

    /// The nftables table's name: the default bridge's, or berth's own.
    pub(super) fn nft_table(&self) -> String {
        self.net
            .as_ref()
            .map_or_else(|| "berth".to_string(), |c| c.bridge.config.table.clone())
    }

    /// Writes berth's nftables tables whole: every bridge, every published
    /// port; the IPv6 table once a bridge has IPv6. Called with the state's
    /// lock held, so that writes go in order.
    pub(super) fn apply_table(&self, st: &mut NetState) -> Result<(), EngineError> {
        let mut rules = Vec::new();
        if let Some(ctx) = &self.net {
            rules.push(ctx.bridge.rule(false));
        }
        rules.extend(st.users.values().map(UserBridge::rule));
        if rules.is_empty() && !st.wrote {
            return Ok(());
        }
        st.wrote = true;
        let all: Vec<net::Forward> = st.forwards.values().flatten().cloned().collect();
        let table = self.nft_table();
        let write = |family| {
            net::nft::apply_family(family, &table, &rules, &all)
                .map_err(|e| NetworkError::failed(format!("write nftables table {table}"), e))
        };
        write(net::nft::Family::V4)?;
        if st.wrote6 || rules.iter().any(|r| r.subnet6.is_some()) {
            st.wrote6 = true;
            write(net::nft::Family::V6)?;
        }
        Ok(())
    }
}
