//! `/version`, `/info`, `/system/df`, `/auth` and the error body.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::is_default;

/// `GET /version` (`types.Version`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Version {
    /// `{"Name": …}`.
    pub platform: PlatformName,
    /// The engine's parts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentVersion>,
    /// The engine's version.
    pub version: String,
    /// The newest API version.
    #[serde(rename = "ApiVersion")]
    pub api_version: String,
    /// The oldest API version.
    #[serde(rename = "MinAPIVersion", skip_serializing_if = "String::is_empty")]
    pub min_api_version: String,
    /// Its commit.
    pub git_commit: String,
    /// Go's version (dockerd's).
    pub go_version: String,
    /// `linux`.
    pub os: String,
    /// `amd64`.
    pub arch: String,
    /// The kernel's release.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kernel_version: String,
    /// Experimental features on.
    #[serde(skip_serializing_if = "is_default")]
    pub experimental: bool,
    /// When it was built.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub build_time: String,
}

/// `Platform` of `/version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PlatformName {
    /// The product's name.
    pub name: String,
}

/// One component of `/version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ComponentVersion {
    /// `Engine`.
    pub name: String,
    /// Its version.
    pub version: String,
    /// More facts.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

/// `GET /info` (`system.Info`, API 1.47).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct Info {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Containers")]
    pub containers: i64,
    #[serde(rename = "ContainersRunning")]
    pub containers_running: i64,
    #[serde(rename = "ContainersPaused")]
    pub containers_paused: i64,
    #[serde(rename = "ContainersStopped")]
    pub containers_stopped: i64,
    #[serde(rename = "Images")]
    pub images: i64,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "DriverStatus")]
    pub driver_status: Option<Vec<[String; 2]>>,
    #[serde(rename = "Plugins")]
    pub plugins: PluginsInfo,
    #[serde(rename = "MemoryLimit")]
    pub memory_limit: bool,
    #[serde(rename = "SwapLimit")]
    pub swap_limit: bool,
    #[serde(rename = "KernelMemory", skip_serializing_if = "is_default")]
    pub kernel_memory: bool,
    #[serde(rename = "KernelMemoryTCP", skip_serializing_if = "is_default")]
    pub kernel_memory_tcp: bool,
    #[serde(rename = "CpuCfsPeriod")]
    pub cpu_cfs_period: bool,
    #[serde(rename = "CpuCfsQuota")]
    pub cpu_cfs_quota: bool,
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    #[serde(rename = "PidsLimit")]
    pub pids_limit: bool,
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    #[serde(rename = "BridgeNfIptables")]
    pub bridge_nf_iptables: bool,
    #[serde(rename = "BridgeNfIp6tables")]
    pub bridge_nf_ip6tables: bool,
    #[serde(rename = "Debug")]
    pub debug: bool,
    #[serde(rename = "NFd")]
    pub nfd: i64,
    #[serde(rename = "OomKillDisable")]
    pub oom_kill_disable: bool,
    #[serde(rename = "NGoroutines")]
    pub ngoroutines: i64,
    #[serde(rename = "SystemTime")]
    pub system_time: String,
    #[serde(rename = "LoggingDriver")]
    pub logging_driver: String,
    #[serde(rename = "CgroupDriver")]
    pub cgroup_driver: String,
    #[serde(rename = "CgroupVersion", skip_serializing_if = "String::is_empty")]
    pub cgroup_version: String,
    #[serde(rename = "NEventsListener")]
    pub nevents_listener: i64,
    #[serde(rename = "KernelVersion")]
    pub kernel_version: String,
    #[serde(rename = "OperatingSystem")]
    pub operating_system: String,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    #[serde(rename = "Architecture")]
    pub architecture: String,
    #[serde(rename = "IndexServerAddress")]
    pub index_server_address: String,
    #[serde(rename = "RegistryConfig")]
    pub registry_config: Option<RegistryConfig>,
    #[serde(rename = "NCPU")]
    pub ncpu: i64,
    #[serde(rename = "MemTotal")]
    pub mem_total: i64,
    #[serde(rename = "GenericResources")]
    pub generic_resources: Option<Vec<serde_json::Value>>,
    #[serde(rename = "DockerRootDir")]
    pub docker_root_dir: String,
    #[serde(rename = "HttpProxy")]
    pub http_proxy: String,
    #[serde(rename = "HttpsProxy")]
    pub https_proxy: String,
    #[serde(rename = "NoProxy")]
    pub no_proxy: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Labels")]
    pub labels: Vec<String>,
    #[serde(rename = "ExperimentalBuild")]
    pub experimental_build: bool,
    #[serde(rename = "ServerVersion")]
    pub server_version: String,
    #[serde(rename = "Runtimes")]
    pub runtimes: Option<BTreeMap<String, Runtime>>,
    #[serde(rename = "DefaultRuntime")]
    pub default_runtime: String,
    #[serde(rename = "Swarm")]
    pub swarm: SwarmInfo,
    #[serde(rename = "LiveRestoreEnabled")]
    pub live_restore_enabled: bool,
    #[serde(rename = "Isolation")]
    pub isolation: String,
    #[serde(rename = "InitBinary")]
    pub init_binary: String,
    #[serde(rename = "ContainerdCommit")]
    pub containerd_commit: Commit,
    #[serde(rename = "RuncCommit")]
    pub runc_commit: Commit,
    #[serde(rename = "InitCommit")]
    pub init_commit: Commit,
    #[serde(rename = "SecurityOptions")]
    pub security_options: Option<Vec<String>>,
    #[serde(rename = "ProductLicense", skip_serializing_if = "String::is_empty")]
    pub product_license: String,
    #[serde(rename = "CDISpecDirs")]
    pub cdi_spec_dirs: Vec<String>,
    #[serde(rename = "Warnings")]
    pub warnings: Option<Vec<String>>,
}

/// `Plugins` of `/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct PluginsInfo {
    pub volume: Option<Vec<String>>,
    pub network: Option<Vec<String>>,
    pub authorization: Option<Vec<String>>,
    pub log: Option<Vec<String>>,
}

/// A runtime of `/info` (`RuntimeWithStatus`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Runtime {
    /// Its binary.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Its arguments.
    #[serde(rename = "runtimeArgs", skip_serializing_if = "Vec::is_empty")]
    pub runtime_args: Vec<String>,
}

/// `Swarm` of `/info`, for a node in no swarm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct SwarmInfo {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(rename = "NodeAddr")]
    pub node_addr: String,
    /// `inactive`.
    pub local_node_state: String,
    pub control_available: bool,
    pub error: String,
    pub remote_managers: Option<Vec<serde_json::Value>>,
}

/// `RegistryConfig` of `/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct RegistryConfig {
    #[serde(rename = "AllowNondistributableArtifactsCIDRs")]
    pub allow_nondistributable_artifacts_cidrs: Option<Vec<String>>,
    pub allow_nondistributable_artifacts_hostnames: Option<Vec<String>>,
    #[serde(rename = "InsecureRegistryCIDRs")]
    pub insecure_registry_cidrs: Option<Vec<String>>,
    pub index_configs: BTreeMap<String, IndexInfo>,
    pub mirrors: Option<Vec<String>>,
}

/// A registry of `RegistryConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct IndexInfo {
    pub name: String,
    pub mirrors: Vec<String>,
    pub secure: bool,
    pub official: bool,
}

/// A commit of `/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct Commit {
    #[serde(rename = "ID")]
    pub id: String,
    pub expected: String,
}

/// The body of every API error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorResponse {
    /// What went wrong.
    pub message: String,
}

/// `POST /berth/system/check`'s answer (berth's own endpoint, not
/// Docker's): what is damaged, a line each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CheckReport {
    /// One line a damaged blob or image; empty when all is well.
    pub problems: Vec<String>,
}

/// `POST /auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(default)]
#[allow(missing_docs)]
pub struct AuthConfig {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(rename = "serveraddress", skip_serializing_if = "String::is_empty")]
    pub server_address: String,
    #[serde(rename = "identitytoken", skip_serializing_if = "String::is_empty")]
    pub identity_token: String,
    #[serde(rename = "registrytoken", skip_serializing_if = "String::is_empty")]
    pub registry_token: String,
}

/// `POST /auth`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AuthResponse {
    /// `Login Succeeded`.
    pub status: String,
    /// A token for later calls.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub identity_token: String,
}

/// `GET /system/df` (`types.DiskUsage`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DiskUsage {
    /// Bytes of all layers.
    pub layers_size: i64,
    /// Images.
    pub images: Option<Vec<crate::image::Summary>>,
    /// Containers.
    pub containers: Option<Vec<crate::container::Summary>>,
    /// Volumes.
    pub volumes: Option<Vec<crate::volume::Volume>>,
    /// Build cache records.
    pub build_cache: Option<Vec<BuildCache>>,
}

/// `POST /build/prune`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct BuildCachePruneReport {
    /// Ids of the removed records.
    pub caches_deleted: Option<Vec<String>>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

/// One build cache record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct BuildCache {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub parent: String,
    #[serde(rename = "Type")]
    pub typ: String,
    pub description: String,
    pub in_use: bool,
    pub shared: bool,
    pub size: i64,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub usage_count: i64,
}

crate::go_json!(AuthConfig);
