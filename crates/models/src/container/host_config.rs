//! moby's `container.HostConfig` (API 1.47) with its `Resources` written
//! inline (Go embeds the struct; its fields are HostConfig's in the JSON).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::is_default;
use crate::mount::Mount;

/// `container.HostConfig`: what the host gives the container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(default, rename_all = "PascalCase")]
pub struct HostConfig {
    /// `-v src:dst[:opts]`.
    pub binds: Option<Vec<String>>,
    /// Where the CLI writes the id (`--cidfile`).
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: String,
    /// The log driver.
    pub log_config: LogConfig,
    /// `bridge`, `host`, `none`, `container:<id>`, a network's name.
    pub network_mode: String,
    /// `"80/tcp": [{"HostIp": "", "HostPort": "8080"}]`.
    pub port_bindings: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    /// When to restart.
    pub restart_policy: RestartPolicy,
    /// `--rm`.
    pub auto_remove: bool,
    /// `--volume-driver`.
    pub volume_driver: String,
    /// `--volumes-from`.
    pub volumes_from: Option<Vec<String>>,
    /// A TTY's first size, `[height, width]`.
    pub console_size: [u32; 2],
    /// Passed to the runtime.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Capabilities to add (`NET_ADMIN`, `CAP_NET_ADMIN`, `ALL`).
    #[serde(deserialize_with = "crate::de::str_slice")]
    pub cap_add: Option<Vec<String>>,
    /// Capabilities to drop.
    #[serde(deserialize_with = "crate::de::str_slice")]
    pub cap_drop: Option<Vec<String>>,
    /// `host` or `private`.
    pub cgroupns_mode: String,
    /// `--dns`.
    #[serde(rename = "Dns")]
    pub dns: Option<Vec<String>>,
    /// `--dns-option`.
    #[serde(rename = "DnsOptions")]
    pub dns_options: Option<Vec<String>>,
    /// `--dns-search`.
    #[serde(rename = "DnsSearch")]
    pub dns_search: Option<Vec<String>>,
    /// `--add-host name:ip`.
    pub extra_hosts: Option<Vec<String>>,
    /// `--group-add`.
    pub group_add: Option<Vec<String>>,
    /// `--ipc`.
    pub ipc_mode: String,
    /// `--cgroup`.
    pub cgroup: String,
    /// `--link name:alias`.
    pub links: Option<Vec<String>>,
    /// `--oom-score-adj`.
    pub oom_score_adj: i64,
    /// `--pid`.
    pub pid_mode: String,
    /// `--privileged`.
    pub privileged: bool,
    /// `-P`.
    pub publish_all_ports: bool,
    /// `--read-only`.
    pub readonly_rootfs: bool,
    /// `seccomp=unconfined`, `no-new-privileges[:true]`, …
    pub security_opt: Option<Vec<String>>,
    /// Storage driver options.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub storage_opt: BTreeMap<String, String>,
    /// `--tmpfs /path:opts`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tmpfs: BTreeMap<String, String>,
    /// `--uts`.
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    /// `--userns`.
    pub userns_mode: String,
    /// `/dev/shm`'s size in bytes.
    pub shm_size: i64,
    /// `--sysctl`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// `--runtime`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    /// Windows only.
    pub isolation: String,
    /// Relative CPU weight.
    pub cpu_shares: i64,
    /// Memory limit in bytes (0: none).
    pub memory: i64,
    /// CPUs × 10⁹ (`--cpus`).
    pub nano_cpus: i64,
    /// `--cgroup-parent`.
    pub cgroup_parent: String,
    /// `--blkio-weight`.
    pub blkio_weight: u16,
    /// `--blkio-weight-device`.
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    /// `--device-read-bps`.
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    /// `--device-write-bps`.
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    /// `--device-read-iops`.
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    /// `--device-write-iops`.
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    /// CFS period (µs).
    pub cpu_period: i64,
    /// CFS quota (µs).
    pub cpu_quota: i64,
    /// Real-time period (µs).
    pub cpu_realtime_period: i64,
    /// Real-time runtime (µs).
    pub cpu_realtime_runtime: i64,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: String,
    /// `--cpuset-mems`.
    pub cpuset_mems: String,
    /// `--device`.
    pub devices: Option<Vec<DeviceMapping>>,
    /// `--device-cgroup-rule`.
    pub device_cgroup_rules: Option<Vec<String>>,
    /// `--gpus`.
    pub device_requests: Option<Vec<DeviceRequest>>,
    /// Deprecated (cgroup v1 kernel memory).
    #[serde(skip_serializing_if = "is_default")]
    pub kernel_memory: i64,
    /// Deprecated (cgroup v1 kernel TCP memory).
    #[serde(rename = "KernelMemoryTCP", skip_serializing_if = "is_default")]
    pub kernel_memory_tcp: i64,
    /// Soft limit in bytes.
    pub memory_reservation: i64,
    /// Memory + swap in bytes (-1: unlimited; 0: twice the memory).
    pub memory_swap: i64,
    /// 0 to 100.
    pub memory_swappiness: Option<i64>,
    /// `--oom-kill-disable`.
    pub oom_kill_disable: Option<bool>,
    /// Process limit (0 or -1: none; null: unchanged).
    pub pids_limit: Option<i64>,
    /// `--ulimit`.
    pub ulimits: Option<Vec<Ulimit>>,
    /// Windows only.
    pub cpu_count: i64,
    /// Windows only.
    pub cpu_percent: i64,
    /// Windows only.
    #[serde(rename = "IOMaximumIOps")]
    pub io_maximum_iops: u64,
    /// Windows only.
    #[serde(rename = "IOMaximumBandwidth")]
    pub io_maximum_bandwidth: u64,
    /// `--mount`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// Paths masked in the container (nil: Docker's defaults).
    pub masked_paths: Option<Vec<String>>,
    /// Paths made read-only (nil: Docker's defaults).
    pub readonly_paths: Option<Vec<String>>,
    /// `--init`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
}

/// `LogConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct LogConfig {
    /// The driver (`json-file`).
    #[serde(rename = "Type")]
    pub typ: String,
    /// Its options (`max-size`, `max-file`).
    pub config: Option<BTreeMap<String, String>>,
}

/// One host binding of a container port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortBinding {
    /// The host address (empty: all).
    #[serde(rename = "HostIp")]
    pub host_ip: String,
    /// The host port, or a range (empty: any free one).
    #[serde(rename = "HostPort")]
    pub host_port: String,
}

/// `RestartPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RestartPolicy {
    /// `""`, `no`, `always`, `unless-stopped`, `on-failure`.
    pub name: String,
    /// For `on-failure`: at most this many restarts (0: no bound).
    pub maximum_retry_count: i64,
}

/// `blkiodev.WeightDevice`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct WeightDevice {
    /// The device.
    pub path: String,
    /// Its weight.
    pub weight: u16,
}

/// `blkiodev.ThrottleDevice`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ThrottleDevice {
    /// The device.
    pub path: String,
    /// Bytes or operations per second.
    pub rate: u64,
}

/// `--device host:container:rwm`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeviceMapping {
    /// The host's device.
    pub path_on_host: String,
    /// Where it appears.
    pub path_in_container: String,
    /// `rwm`.
    pub cgroup_permissions: String,
}

/// `--gpus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeviceRequest {
    /// Device driver.
    pub driver: String,
    /// How many (-1: all).
    pub count: i64,
    /// Which.
    #[serde(rename = "DeviceIDs")]
    pub device_ids: Option<Vec<String>>,
    /// An OR list of AND lists (`[["gpu"]]`).
    pub capabilities: Option<Vec<Vec<String>>>,
    /// Driver options.
    pub options: Option<BTreeMap<String, String>>,
}

/// `--ulimit name=soft:hard`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Ulimit {
    /// `nofile`, `nproc`, …
    pub name: String,
    /// Hard limit.
    pub hard: i64,
    /// Soft limit.
    pub soft: i64,
}

impl HostConfig {
    /// The binds, empty when nil.
    pub fn binds(&self) -> &[String] {
        self.binds.as_deref().unwrap_or_default()
    }
}

crate::go_json!(HostConfig);
