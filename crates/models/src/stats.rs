//! `GET /containers/{id}/stats`: moby's `container.StatsResponse` (API
//! 1.47, `api/types/container/stats.go`), with Go's `omitempty` where
//! moby has it, so that a sample reads as dockerd's does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::is_default;

/// One sample of a container's resource use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatsResponse {
    /// `/name`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The container's id.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// When this sample was read (RFC 3339).
    pub read: String,
    /// When the previous one was (`0001-01-01T00:00:00Z` for none).
    pub preread: String,
    /// Processes.
    pub pids_stats: PidsStats,
    /// Block I/O.
    pub blkio_stats: BlkioStats,
    /// Windows only: 0.
    pub num_procs: u32,
    /// Windows only: empty.
    pub storage_stats: StorageStats,
    /// CPU, now.
    pub cpu_stats: CpuStats,
    /// CPU at the previous sample (for the share between the two).
    pub precpu_stats: CpuStats,
    /// Memory.
    pub memory_stats: MemoryStats,
    /// Interface name → counters (left out when there are none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<BTreeMap<String, NetworkStats>>,
}

/// `PidsStats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PidsStats {
    /// Processes now.
    #[serde(skip_serializing_if = "is_default")]
    pub current: u64,
    /// The limit (0: none).
    #[serde(skip_serializing_if = "is_default")]
    pub limit: u64,
}

/// `BlkioStats`: cgroup v1's lists (cgroup v2 fills the first only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioStats {
    /// Bytes read and written per device.
    pub io_service_bytes_recursive: Option<Vec<BlkioStatEntry>>,
    /// Requests per device.
    pub io_serviced_recursive: Option<Vec<BlkioStatEntry>>,
    /// cgroup v1 only.
    pub io_queue_recursive: Option<Vec<BlkioStatEntry>>,
    /// cgroup v1 only.
    pub io_service_time_recursive: Option<Vec<BlkioStatEntry>>,
    /// cgroup v1 only.
    pub io_wait_time_recursive: Option<Vec<BlkioStatEntry>>,
    /// cgroup v1 only.
    pub io_merged_recursive: Option<Vec<BlkioStatEntry>>,
    /// cgroup v1 only.
    pub io_time_recursive: Option<Vec<BlkioStatEntry>>,
    /// cgroup v1 only.
    pub sectors_recursive: Option<Vec<BlkioStatEntry>>,
}

/// One device's counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioStatEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// `read`, `write`, …
    pub op: String,
    /// The count.
    pub value: u64,
}

/// `StorageStats` (Windows only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageStats {
    /// Reads.
    #[serde(skip_serializing_if = "is_default")]
    pub read_count_normalized: u64,
    /// Bytes read.
    #[serde(skip_serializing_if = "is_default")]
    pub read_size_bytes: u64,
    /// Writes.
    #[serde(skip_serializing_if = "is_default")]
    pub write_count_normalized: u64,
    /// Bytes written.
    #[serde(skip_serializing_if = "is_default")]
    pub write_size_bytes: u64,
}

/// `CPUStats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuStats {
    /// The container's CPU time.
    pub cpu_usage: CpuUsage,
    /// The host's CPU time (all CPUs, nanoseconds).
    #[serde(skip_serializing_if = "is_default")]
    pub system_cpu_usage: u64,
    /// CPUs online.
    #[serde(skip_serializing_if = "is_default")]
    pub online_cpus: u32,
    /// CFS throttling.
    pub throttling_data: ThrottlingData,
}

/// `CPUUsage` (nanoseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    /// All of it.
    pub total_usage: u64,
    /// Per CPU (cgroup v1 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percpu_usage: Option<Vec<u64>>,
    /// In the kernel.
    pub usage_in_kernelmode: u64,
    /// In user space.
    pub usage_in_usermode: u64,
}

/// `ThrottlingData`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottlingData {
    /// Enforcement periods.
    pub periods: u64,
    /// Periods that were throttled.
    pub throttled_periods: u64,
    /// Nanoseconds throttled.
    pub throttled_time: u64,
}

/// `MemoryStats` (Linux fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryStats {
    /// Bytes in use.
    #[serde(skip_serializing_if = "is_default")]
    pub usage: u64,
    /// The most ever in use (cgroup v1).
    #[serde(skip_serializing_if = "is_default")]
    pub max_usage: u64,
    /// The cgroup's `memory.stat`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<BTreeMap<String, u64>>,
    /// Times the limit was hit.
    #[serde(skip_serializing_if = "is_default")]
    pub failcnt: u64,
    /// The limit.
    #[serde(skip_serializing_if = "is_default")]
    pub limit: u64,
}

/// `NetworkStats`: one interface's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStats {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Packets dropped on the way out.
    pub tx_dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A running container's sample as dockerd 20.10 writes one on cgroup
    /// v1 (every key of moby's `stats.go` with its `omitempty`; the
    /// numbers are made up, `memory_stats.stats` cut to two keys): read
    /// and written back the same.
    const DOCKERD: &str = r#"{"read":"2026-12-07T16:43:10.118296044Z","preread":"2026-12-07T16:43:09.113931262Z","pids_stats":{"current":1},"blkio_stats":{"io_service_bytes_recursive":[],"io_serviced_recursive":[],"io_queue_recursive":[],"io_service_time_recursive":[],"io_wait_time_recursive":[],"io_merged_recursive":[],"io_time_recursive":[],"sectors_recursive":[]},"num_procs":0,"storage_stats":{},"cpu_stats":{"cpu_usage":{"total_usage":12811690,"percpu_usage":[3047318,9764372],"usage_in_kernelmode":0,"usage_in_usermode":10000000},"system_cpu_usage":2089120000000,"online_cpus":2,"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},"precpu_stats":{"cpu_usage":{"total_usage":12811690,"percpu_usage":[3047318,9764372],"usage_in_kernelmode":0,"usage_in_usermode":10000000},"system_cpu_usage":2087130000000,"online_cpus":2,"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},"memory_stats":{"usage":143360,"max_usage":1740800,"stats":{"cache":0,"inactive_file":0},"limit":4124618752},"name":"/runs","id":"e52d602e560199ee64b1be542478157010bac46b14f12ea1e90fb7c27fc03d2e","networks":{"eth0":{"rx_bytes":1086,"rx_packets":13,"rx_errors":0,"rx_dropped":0,"tx_bytes":0,"tx_packets":0,"tx_errors":0,"tx_dropped":0}}}"#;

    #[test]
    fn a_sample_reads_and_writes_as_dockerd_s() {
        let s: StatsResponse = crate::de::from_slice(DOCKERD.as_bytes()).unwrap();
        assert_eq!(s.memory_stats.limit, 4_124_618_752);
        assert_eq!(s.networks.as_ref().unwrap()["eth0"].rx_bytes, 1086);
        let back = serde_json::to_value(&s).unwrap();
        let want: serde_json::Value = serde_json::from_str(DOCKERD).unwrap();
        assert_eq!(back, want);
    }

    #[test]
    fn a_stopped_container_s_sample_has_dockerd_s_nulls_and_empties() {
        let v = serde_json::to_value(StatsResponse::default()).unwrap();
        assert_eq!(v["memory_stats"], serde_json::json!({}));
        assert_eq!(v["pids_stats"], serde_json::json!({}));
        assert_eq!(
            v["blkio_stats"]["io_service_bytes_recursive"],
            serde_json::Value::Null
        );
        assert_eq!(v["cpu_stats"]["cpu_usage"]["total_usage"], 0);
        assert!(v.get("networks").is_none() && v.get("name").is_none());
    }
}
