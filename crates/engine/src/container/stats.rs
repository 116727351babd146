//! `stats`: a running container's resource usage.

use std::collections::BTreeMap;

use models::stats::{
    BlkioStatEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, NetworkStats, PidsStats,
    StatsResponse,
};

use super::*;
use crate::{Engine, EngineError};

impl Engine {
    /// One sample of `GET /containers/{id}/stats` in Docker's shape (the
    /// caller fills `precpu_stats` from the previous sample). Zeros for a
    /// container that is not running, as Docker's.
    pub fn container_stats(&self, name: &str) -> Result<StatsResponse, EngineError> {
        let c = self.find_container(name)?;
        let pid = match self.state(&c) {
            State::Running(pid, _) => Some(pid),
            _ => None,
        };
        let running = pid.is_some();
        let st = if running {
            self.runtime().stats(&c.id).ok()
        } else {
            None
        };
        let io: Vec<BlkioStatEntry> = st
            .iter()
            .flat_map(|s| &s.io_bytes)
            .flat_map(|&(major, minor, r, w)| {
                [("read", r), ("write", w)].map(|(op, value)| BlkioStatEntry {
                    major,
                    minor,
                    op: op.into(),
                    value,
                })
            })
            .collect();
        let inactive = st.as_ref().map_or(0, |s| s.inactive_file);
        let networks = pid.filter(|&p| p > 0).and_then(net_dev);
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let (mem, limit, cpu, pids, pids_limit, ooms) = match &st {
            Some(s) => (
                s.memory_usage,
                s.memory_limit.min(host_memory()),
                s.cpu_usage_ns,
                s.pids_current,
                s.pids_limit,
                s.oom_kills,
            ),
            None => (0, 0, 0, 0, 0, 0),
        };
        Ok(StatsResponse {
            id: c.id.clone(),
            name: format!("/{}", c.name),
            read: crate::time::now(),
            preread: "0001-01-01T00:00:00Z".into(),
            pids_stats: PidsStats {
                current: pids,
                // No limit is `max`; Docker leaves it out.
                limit: if pids_limit == u64::MAX {
                    0
                } else {
                    pids_limit
                },
            },
            memory_stats: if running {
                MemoryStats {
                    usage: mem,
                    limit,
                    failcnt: ooms,
                    stats: Some([("inactive_file".to_string(), inactive)].into()),
                    ..Default::default()
                }
            } else {
                MemoryStats::default()
            },
            cpu_stats: CpuStats {
                cpu_usage: CpuUsage {
                    total_usage: cpu,
                    ..Default::default()
                },
                system_cpu_usage: system_cpu_ns(),
                online_cpus: u32::try_from(cpus).unwrap_or(u32::MAX),
                throttling_data: Default::default(),
            },
            blkio_stats: BlkioStats {
                io_service_bytes_recursive: (!io.is_empty()).then_some(io),
                ..Default::default()
            },
            networks,
            ..Default::default()
        })
    }
}

/// The host's memory in bytes (a cgroup without a limit reports the host's).
pub(super) fn host_memory() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .map_or(u64::MAX, |k| k * 1024)
}

/// The host's CPU time of all CPUs in nanoseconds, from `/proc/stat`, as
/// The interfaces of a process's network namespace but `lo`, from
/// `/proc/PID/net/dev`, in the shape of Docker's `networks` stats; `None`
/// when there are none (Docker leaves the key out).
pub(super) fn net_dev(pid: i32) -> Option<BTreeMap<String, NetworkStats>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    let mut nets = BTreeMap::new();
    // Two header lines, then `  eth0: rx_bytes rx_packets rx_errs rx_drop
    // fifo frame compressed multicast tx_bytes tx_packets tx_errs tx_drop …`.
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        if f.len() < 12 {
            continue;
        }
        nets.insert(
            name.to_string(),
            NetworkStats {
                rx_bytes: f[0],
                rx_packets: f[1],
                rx_errors: f[2],
                rx_dropped: f[3],
                tx_bytes: f[8],
                tx_packets: f[9],
                tx_errors: f[10],
                tx_dropped: f[11],
            },
        );
    }
    (!nets.is_empty()).then_some(nets)
}

/// Docker's `system_cpu_usage`.
pub(super) fn system_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = text
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .take(7)
        .filter_map(|x| x.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf takes an integer and returns one.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ticks * (1_000_000_000 / hz)
}
