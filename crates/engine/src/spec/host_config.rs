//! The parts of Docker's create body (`Config` and `HostConfig`) that the
//! spec is built from, typed. Read leniently, as Go reads them: a `null` is
//! the zero value, a missing key too. What each field of the body becomes
//! is decided in [`super::fields`].

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// `null` read as the type's zero value (Go's decoding of `null`).
fn nd<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `{"Path": "/dev/sda", "Weight": 100}` (`--blkio-weight-device`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    /// Host path of the block device.
    #[serde(deserialize_with = "nd")]
    pub path: String,
    /// Relative weight, 10 to 1000.
    #[serde(deserialize_with = "nd")]
    pub weight: u16,
}

/// `{"Path": "/dev/sda", "Rate": 1048576}` (`--device-read-bps` …).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    /// Host path of the block device.
    #[serde(deserialize_with = "nd")]
    pub path: String,
    /// Bytes or operations per second.
    #[serde(deserialize_with = "nd")]
    pub rate: u64,
}

/// `{"Name": "nofile", "Soft": 1024, "Hard": 2048}` (`--ulimit`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    /// `nofile`, `nproc`, … (`RLIMIT_` + upper case).
    #[serde(deserialize_with = "nd")]
    pub name: String,
    /// Soft limit.
    #[serde(deserialize_with = "nd")]
    pub soft: i64,
    /// Hard limit.
    #[serde(deserialize_with = "nd")]
    pub hard: i64,
}

/// `{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse",
/// "CgroupPermissions": "rwm"}` (`--device`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    /// The device (or a directory of devices) on the host.
    #[serde(deserialize_with = "nd")]
    pub path_on_host: String,
    /// Where it appears in the container (the host path when empty).
    #[serde(deserialize_with = "nd")]
    pub path_in_container: String,
    /// Any of `r`, `w`, `m` (all when empty).
    #[serde(deserialize_with = "nd")]
    pub cgroup_permissions: String,
}

/// The part of Docker's `HostConfig` the spec depends on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// All capabilities and devices, no seccomp, no masked paths.
    #[serde(deserialize_with = "nd")]
    pub privileged: bool,
    /// A TTY's first size, `[height, width]` (the docker CLI sends its own).
    pub console_size: Option<[u32; 2]>,
    /// Read-only root filesystem.
    #[serde(deserialize_with = "nd")]
    pub readonly_rootfs: bool,
    /// Capabilities to add (`NET_ADMIN` or `CAP_NET_ADMIN`, or `ALL`).
    pub cap_add: Option<Vec<String>>,
    /// Capabilities to drop.
    pub cap_drop: Option<Vec<String>>,
    /// Memory limit in bytes (0: none).
    #[serde(deserialize_with = "nd")]
    pub memory: i64,
    /// Memory + swap in bytes (-1: unlimited; 0: twice the memory, as Docker).
    #[serde(deserialize_with = "nd")]
    pub memory_swap: i64,
    /// Soft limit in bytes.
    #[serde(deserialize_with = "nd")]
    pub memory_reservation: i64,
    /// 0 to 100; -1 or absent: the host's.
    pub memory_swappiness: Option<i64>,
    /// Kernel memory limit (refused: gone from the kernel).
    #[serde(deserialize_with = "nd")]
    pub kernel_memory: i64,
    /// Kernel TCP buffer limit (refused likewise).
    #[serde(rename = "KernelMemoryTCP", deserialize_with = "nd")]
    pub kernel_memory_tcp: i64,
    /// No OOM killer for the container's cgroup.
    pub oom_kill_disable: Option<bool>,
    /// CPUs × 10⁹ (`--cpus`).
    #[serde(deserialize_with = "nd")]
    pub nano_cpus: i64,
    /// Relative CPU weight.
    #[serde(deserialize_with = "nd")]
    pub cpu_shares: i64,
    /// CFS period, µs.
    #[serde(deserialize_with = "nd")]
    pub cpu_period: i64,
    /// CFS quota, µs.
    #[serde(deserialize_with = "nd")]
    pub cpu_quota: i64,
    /// Real-time period, µs.
    #[serde(deserialize_with = "nd")]
    pub cpu_realtime_period: i64,
    /// Real-time runtime, µs.
    #[serde(deserialize_with = "nd")]
    pub cpu_realtime_runtime: i64,
    /// CPUs allowed (`0-1`, `0,1`).
    #[serde(deserialize_with = "nd")]
    pub cpuset_cpus: String,
    /// Memory nodes allowed.
    #[serde(deserialize_with = "nd")]
    pub cpuset_mems: String,
    /// Windows only.
    #[serde(deserialize_with = "nd")]
    pub cpu_count: i64,
    /// Windows only.
    #[serde(deserialize_with = "nd")]
    pub cpu_percent: i64,
    /// Windows only.
    #[serde(rename = "IOMaximumIOps", deserialize_with = "nd")]
    pub io_maximum_iops: u64,
    /// Windows only.
    #[serde(rename = "IOMaximumBandwidth", deserialize_with = "nd")]
    pub io_maximum_bandwidth: u64,
    /// Process limit (0 or -1: none).
    pub pids_limit: Option<i64>,
    /// Block I/O weight, 10 to 1000.
    #[serde(deserialize_with = "nd")]
    pub blkio_weight: u16,
    /// Block I/O weight per device.
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    /// Read bytes per second per device.
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    /// Write bytes per second per device.
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    /// Read operations per second per device.
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    /// Write operations per second per device.
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    /// Resource limits of the process.
    pub ulimits: Option<Vec<Ulimit>>,
    /// Host devices to add.
    pub devices: Option<Vec<DeviceMapping>>,
    /// Device cgroup rules (`c 10:229 rwm`).
    pub device_cgroup_rules: Option<Vec<String>>,
    /// Driver requests (`--gpus`): refused.
    pub device_requests: Option<Vec<serde_json::Value>>,
    /// The container's `oom_score_adj`.
    #[serde(deserialize_with = "nd")]
    pub oom_score_adj: i64,
    /// Supplementary groups, names or numbers.
    pub group_add: Option<Vec<String>>,
    /// Size of `/dev/shm` in bytes (0: 64 MiB).
    #[serde(deserialize_with = "nd")]
    pub shm_size: i64,
    /// Namespaced kernel parameters.
    pub sysctls: Option<BTreeMap<String, String>>,
    /// `host` or `container:<name|id>`.
    #[serde(deserialize_with = "nd")]
    pub pid_mode: String,
    /// `private`, `shareable`, `none`, `host` or `container:<name|id>`.
    #[serde(deserialize_with = "nd")]
    pub ipc_mode: String,
    /// `host`.
    #[serde(rename = "UTSMode", deserialize_with = "nd")]
    pub uts_mode: String,
    /// `host` (no remapping here: the same as empty).
    #[serde(deserialize_with = "nd")]
    pub userns_mode: String,
    /// `host` or `private`.
    #[serde(deserialize_with = "nd")]
    pub cgroupns_mode: String,
    /// Another container's cgroup (refused).
    #[serde(deserialize_with = "nd")]
    pub cgroup: String,
    /// The cgroup the container's own goes under.
    #[serde(deserialize_with = "nd")]
    pub cgroup_parent: String,
    /// `seccomp=…`, `no-new-privileges[=bool]`, `apparmor=…`, `label=…`, …
    pub security_opt: Option<Vec<String>>,
    /// Paths masked instead of Docker's (`systempaths=unconfined`: none).
    pub masked_paths: Option<Vec<String>>,
    /// Paths read-only instead of Docker's.
    pub readonly_paths: Option<Vec<String>>,
    /// OCI annotations.
    pub annotations: Option<BTreeMap<String, String>>,
    /// `--init`: an init as pid 1 that forwards signals and reaps.
    pub init: Option<bool>,
    /// The runtime's name.
    #[serde(deserialize_with = "nd")]
    pub runtime: String,
    /// `default` (anything else is Windows').
    #[serde(deserialize_with = "nd")]
    pub isolation: String,
    /// Per-container storage driver options (refused).
    pub storage_opt: Option<BTreeMap<String, String>>,
    /// The volume driver of `-v` volumes.
    #[serde(deserialize_with = "nd")]
    pub volume_driver: String,
    /// `bridge`, `host`, `none`, `container:<x>` or a network.
    #[serde(deserialize_with = "nd")]
    pub network_mode: String,
}

/// The part of Docker's `ContainerCreate` body the spec depends on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateRequest {
    /// Overrides the image's `CMD`.
    pub cmd: Option<Vec<String>>,
    /// Overrides the image's `ENTRYPOINT` (and then its `CMD` too).
    pub entrypoint: Option<Vec<String>>,
    /// Added to (and overriding) the image's environment.
    pub env: Option<Vec<String>>,
    /// Working directory.
    #[serde(deserialize_with = "nd")]
    pub working_dir: String,
    /// `user[:group]`, names or numbers.
    #[serde(deserialize_with = "nd")]
    pub user: String,
    /// Host name (default: the id's first 12 characters).
    #[serde(deserialize_with = "nd")]
    pub hostname: String,
    /// Domain name.
    #[serde(deserialize_with = "nd")]
    pub domainname: String,
    /// A terminal.
    #[serde(deserialize_with = "nd")]
    pub tty: bool,
    /// Host settings.
    #[serde(deserialize_with = "nd")]
    pub host_config: HostConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_and_odd_names_read_as_docker_sends_them() {
        let r: CreateRequest = serde_json::from_value(serde_json::json!({
            "User": null, "Tty": null,
            "HostConfig": {"Memory": null, "UTSMode": "host", "KernelMemoryTCP": 5,
                "BlkioDeviceReadIOps": [{"Path": "/dev/sda", "Rate": 3}],
                "IOMaximumIOps": 7, "Ulimits": null, "MemorySwappiness": -1}
        }))
        .unwrap();
        let hc = &r.host_config;
        assert_eq!((hc.memory, hc.uts_mode.as_str()), (0, "host"));
        assert_eq!((hc.kernel_memory_tcp, hc.io_maximum_iops), (5, 7));
        assert_eq!(hc.blkio_device_read_iops.as_ref().unwrap()[0].rate, 3);
        assert_eq!(hc.memory_swappiness, Some(-1));
        assert!(hc.ulimits.is_none());
    }
}
