//! moby's `network` types (API 1.47): a container's endpoints, its
//! `NetworkSettings`, and networks as `GET /networks` shows them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::PortBinding;

/// `NetworkingConfig` of a create body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NetworkingConfig {
    /// Network name → how the container joins it.
    pub endpoints_config: Option<BTreeMap<String, Option<EndpointSettings>>>,
}

impl NetworkingConfig {
    /// Network name → endpoint settings (a `null` entry is the defaults).
    pub fn endpoints(&self) -> BTreeMap<String, EndpointSettings> {
        self.endpoints_config
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
            .collect()
    }
}

/// `network.EndpointSettings`: a container on one network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointSettings {
    /// Static addresses asked for.
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    /// Legacy links.
    #[serde(rename = "Links")]
    pub links: Option<Vec<String>>,
    /// Extra DNS names.
    #[serde(rename = "Aliases")]
    pub aliases: Option<Vec<String>>,
    /// The interface's MAC address.
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
    /// Driver options.
    #[serde(rename = "DriverOpts")]
    pub driver_opts: Option<BTreeMap<String, String>>,
    /// The network's id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// The endpoint's id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// IPv4 gateway.
    #[serde(rename = "Gateway")]
    pub gateway: String,
    /// IPv4 address.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// IPv4 prefix length.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    /// IPv6 gateway.
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    /// IPv6 address.
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    /// IPv6 prefix length.
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    /// Every DNS name of the container on this network (API 1.44).
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
}

/// `network.EndpointIPAMConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointIpamConfig {
    /// A static IPv4 address.
    #[serde(rename = "IPv4Address", skip_serializing_if = "String::is_empty")]
    pub ipv4_address: String,
    /// A static IPv6 address.
    #[serde(rename = "IPv6Address", skip_serializing_if = "String::is_empty")]
    pub ipv6_address: String,
    /// Link-local addresses.
    #[serde(rename = "LinkLocalIPs", skip_serializing_if = "Vec::is_empty")]
    pub link_local_ips: Vec<String>,
}

/// `NetworkSettings` of a container's inspect (API 1.47, with the fields
/// deprecated since 1.44 that Docker 27 still writes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NetworkSettings {
    /// Deprecated.
    pub bridge: String,
    /// The sandbox's id.
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    /// The network namespace's path.
    pub sandbox_key: String,
    /// Deprecated.
    pub hairpin_mode: bool,
    /// Deprecated.
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: String,
    /// Deprecated.
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: i64,
    /// Container port → host bindings (null: exposed, not published).
    pub ports: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    /// Deprecated.
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<Address>>,
    /// Deprecated.
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<Address>>,
    /// Deprecated: the default bridge's endpoint.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// Deprecated.
    pub gateway: String,
    /// Deprecated.
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    /// Deprecated.
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    /// Deprecated.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// Deprecated.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    /// Deprecated.
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    /// Deprecated.
    pub mac_address: String,
    /// Network name → endpoint.
    pub networks: Option<BTreeMap<String, EndpointSettings>>,
}

/// An address and its prefix length.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Address {
    /// The address.
    pub addr: String,
    /// Its prefix length.
    pub prefix_len: i64,
}

/// `NetworkSettings` of a container list entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SummaryNetworkSettings {
    /// Network name → endpoint.
    pub networks: Option<BTreeMap<String, EndpointSettings>>,
}

/// `POST /networks/create` (API 1.47; `CreateOptions` inline).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(default, rename_all = "PascalCase")]
pub struct CreateRequest {
    /// The name.
    pub name: String,
    /// Deprecated: Docker always checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_duplicate: Option<bool>,
    /// `bridge` (default), …
    pub driver: String,
    /// `local`, `swarm`, `global`.
    pub scope: String,
    /// IPv4 (API 1.47).
    #[serde(rename = "EnableIPv4", skip_serializing_if = "Option::is_none")]
    pub enable_ipv4: Option<bool>,
    /// IPv6.
    #[serde(rename = "EnableIPv6", skip_serializing_if = "Option::is_none")]
    pub enable_ipv6: Option<bool>,
    /// Address management.
    #[serde(rename = "IPAM")]
    pub ipam: Option<Ipam>,
    /// No outside access.
    pub internal: bool,
    /// Swarm: attachable by plain containers.
    pub attachable: bool,
    /// Swarm routing mesh.
    pub ingress: bool,
    /// A configuration for other networks only.
    pub config_only: bool,
    /// The config-only network this one takes its configuration from.
    pub config_from: Option<ConfigReference>,
    /// Driver options.
    pub options: Option<BTreeMap<String, String>>,
    /// Labels.
    pub labels: Option<BTreeMap<String, String>>,
}

/// `network.IPAM`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Ipam {
    /// `default`.
    pub driver: String,
    /// Driver options.
    pub options: Option<BTreeMap<String, String>>,
    /// Pools.
    pub config: Option<Vec<IpamConfig>>,
}

/// One pool of an `IPAM`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct IpamConfig {
    /// `172.18.0.0/16`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    /// The part of the subnet addresses are given from.
    #[serde(rename = "IPRange", skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    /// The gateway.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// Reserved addresses by name.
    #[serde(
        rename = "AuxiliaryAddresses",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub aux_address: BTreeMap<String, String>,
}

/// `network.ConfigReference`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ConfigReference {
    /// The config-only network.
    pub network: String,
}

/// `POST /networks/create`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateResponse {
    /// The new network's id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Warnings.
    #[serde(rename = "Warning")]
    pub warning: String,
}

/// `GET /networks/{id}` (`network.Inspect`; `GET /networks` lists the same
/// without `Containers`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Network {
    /// The name.
    pub name: String,
    /// The id.
    #[serde(rename = "Id")]
    pub id: String,
    /// When it was made (RFC 3339).
    pub created: String,
    /// `local`.
    pub scope: String,
    /// `bridge`, `host`, `null`.
    pub driver: String,
    /// IPv4 (API 1.47).
    #[serde(rename = "EnableIPv4")]
    pub enable_ipv4: bool,
    /// IPv6.
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// Address management.
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    /// No outside access.
    pub internal: bool,
    /// Swarm: attachable.
    pub attachable: bool,
    /// Swarm: routing mesh.
    pub ingress: bool,
    /// Where its configuration comes from.
    pub config_from: ConfigReference,
    /// Only a configuration.
    pub config_only: bool,
    /// Container id → its endpoint.
    pub containers: Option<BTreeMap<String, EndpointResource>>,
    /// Driver options.
    pub options: Option<BTreeMap<String, String>>,
    /// Labels.
    pub labels: Option<BTreeMap<String, String>>,
}

/// A container's endpoint as a network's inspect lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointResource {
    /// The container's name.
    #[serde(rename = "Name")]
    pub name: String,
    /// The endpoint's id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// MAC address.
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
    /// `172.17.0.2/16`.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// IPv6, with its prefix.
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// `POST /networks/{id}/connect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(default, rename_all = "PascalCase")]
pub struct ConnectRequest {
    /// The container.
    pub container: String,
    /// How it joins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_config: Option<EndpointSettings>,
}

/// `POST /networks/{id}/disconnect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(default, rename_all = "PascalCase")]
pub struct DisconnectRequest {
    /// The container.
    pub container: String,
    /// Even when it is not running.
    pub force: bool,
}

/// `POST /networks/prune`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PruneReport {
    /// Names of the removed networks.
    pub networks_deleted: Option<Vec<String>>,
}

crate::go_json!(CreateRequest, ConnectRequest, DisconnectRequest);
