//! At create: a body's network settings checked, its endpoints recorded.

use std::net::{IpAddr, Ipv4Addr};

use models::container::CreateBody;
use models::network::EndpointSettings;

use crate::{Engine, EngineError};

use super::*;

impl Engine {
    /// Checks a create body's network settings (Docker's errors) and puts
    /// its `NetworkMode`'s network among its endpoints, each endpoint keyed
    /// by its network's name, as Docker records them.
    pub(crate) fn network_prepare(&self, config: &mut CreateBody) -> Result<(), EngineError> {
        let mode = mode_of(config);
        if let Some(other) = mode.strip_prefix("container:") {
            self.find_container(other)?;
        }
        let hc = &config.host_config;
        for (_, _, _, spec) in publish::wanted_ports(config)? {
            publish::host_ports(&spec)?;
        }
        let extra: Vec<String> = hc.extra_hosts.clone().unwrap_or_default();
        etc::extra_hosts(&extra, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
            .map_err(|m| NetworkError::Invalid(m.to_string()))?;
        for l in hc.links.iter().flatten() {
            let (target, _) = endpoint::parse_link(l);
            self.find_container(&target).map_err(|_| {
                NetworkError::NotFound(format!("could not get container for {target}"))
            })?;
        }
        let mac = &config.config.mac_address;
        if !mac.is_empty() {
            endpoint::parse_mac(mac)
                .ok_or_else(|| NetworkError::Invalid(format!("invalid MAC address {mac}")))?;
        }
        if matches!(mode.as_str(), "host" | "none") || mode.starts_with("container:") {
            return Ok(());
        }
        // The endpoints, keyed by their networks' names.
        let given = config.networking_config.endpoints();
        let mut eps = std::collections::BTreeMap::new();
        for (name, ep) in given {
            // The docker CLI names the daemon's default network `default`;
            // without a default bridge that is `none` (below).
            if name == "default" && self.net.is_none() {
                continue;
            }
            let r = self.find_network(&name)?;
            if r.name == "host" || r.name == "none" {
                return Err(NetworkError::Invalid("container cannot be connected to multiple networks with one of the networks in private (none) mode".into()).into());
            }
            self.check_endpoint(&r, &ep)?;
            eps.insert(r.name, Some(ep));
        }
        let mode_net = match self.find_network(&mode) {
            Ok(r) => r,
            // No default bridge: such a container is on `none`.
            Err(_) if mode == "bridge" && self.net.is_none() => return Ok(()),
            Err(e) => return Err(e),
        };
        if !eps.contains_key(&mode_net.name) {
            eps.insert(mode_net.name.clone(), Some(EndpointSettings::default()));
        }
        config.networking_config.endpoints_config = Some(eps);
        Ok(())
    }

    /// Checks what an endpoint config asks of network `r` (Docker's rules:
    /// a static address needs a subnet given by the user).
    pub(crate) fn check_endpoint(
        &self,
        r: &NetworkRecord,
        ep: &EndpointSettings,
    ) -> Result<(), EngineError> {
        let spec = endpoint::EndpointSpec::parse(ep)?;
        // As moby's validateEndpointSettings: each family's static address
        // needs a subnet of that family given by the user.
        if (spec.ip.is_some() && !r.user_subnet) || (spec.ip6.is_some() && !r.user_subnet6) {
            return Err(NetworkError::Invalid(if r.is_user() {
                    "user specified IP address is supported only when connecting to networks with user configured subnets"
                } else {
                    "user specified IP address is supported on user defined networks only"
                }.to_string()).into());
        }
        if !spec.aliases.is_empty() && !r.is_user() {
            return Err(NetworkError::Invalid(
                "network-scoped alias is supported only for containers in user defined networks"
                    .into(),
            )
            .into());
        }
        Ok(())
    }
}
