//! What the host's cgroups can limit, read from the hierarchy roots (as
//! moby's `pkg/sysinfo` does), so that an engine can warn about a limit the
//! host cannot apply instead of failing a start or dropping it silently.

use std::path::Path;

use super::Cgroup;

/// The limits this host's cgroups offer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Support {
    /// cgroup v2 (unified) rather than v1 hierarchies.
    pub v2: bool,
    /// `memory.limit_in_bytes` / `memory.max`.
    pub memory_limit: bool,
    /// Swap accounting (`memory.memsw.limit_in_bytes` / `memory.swap.max`).
    pub swap_limit: bool,
    /// `memory.soft_limit_in_bytes` / `memory.low`.
    pub memory_reservation: bool,
    /// `memory.swappiness` (v1 only).
    pub memory_swappiness: bool,
    /// `memory.oom_control` (v1 only).
    pub oom_kill_disable: bool,
    /// `cpu.shares` / `cpu.weight`.
    pub cpu_shares: bool,
    /// CFS quota and period.
    pub cpu_cfs: bool,
    /// `cpu.rt_runtime_us` (v1 with `CONFIG_RT_GROUP_SCHED`).
    pub cpu_realtime: bool,
    /// The cpuset controller.
    pub cpuset: bool,
    /// The pids controller.
    pub pids: bool,
    /// A block I/O weight (CFQ's or BFQ's).
    pub blkio_weight: bool,
    /// A block I/O weight per device.
    pub blkio_weight_device: bool,
    /// Throttling per device (bps and iops, read and write).
    pub blkio_throttle: bool,
}

impl Support {
    /// Probes the host's hierarchies; a host without cgroups supports nothing.
    pub fn probe() -> Support {
        match Cgroup::open(Some(Path::new("/")), "") {
            Ok(root) => Self::of(&root),
            Err(_) => Support::default(),
        }
    }

    /// What the hierarchy roots of `root` offer (paths as parameters, so a
    /// test can point them at a fake tree).
    pub fn of(root: &Cgroup) -> Support {
        match root {
            Cgroup::V2 { path } => {
                let controllers =
                    std::fs::read_to_string(path.join("cgroup.controllers")).unwrap_or_default();
                let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
                Support {
                    v2: true,
                    memory_limit: has("memory"),
                    swap_limit: has("memory"),
                    memory_reservation: has("memory"),
                    cpu_shares: has("cpu"),
                    cpu_cfs: has("cpu"),
                    cpuset: has("cpuset"),
                    pids: has("pids"),
                    blkio_weight: has("io"),
                    blkio_weight_device: has("io"),
                    blkio_throttle: has("io"),
                    ..Support::default()
                }
            }
            Cgroup::V1 { paths } => {
                let file =
                    |ctrl: &str, f: &str| paths.get(ctrl).is_some_and(|d| d.join(f).exists());
                let any = |ctrl: &str, fs: &[&str]| fs.iter().any(|f| file(ctrl, f));
                Support {
                    v2: false,
                    memory_limit: file("memory", "memory.limit_in_bytes"),
                    swap_limit: file("memory", "memory.memsw.limit_in_bytes"),
                    memory_reservation: file("memory", "memory.soft_limit_in_bytes"),
                    memory_swappiness: file("memory", "memory.swappiness"),
                    oom_kill_disable: file("memory", "memory.oom_control"),
                    cpu_shares: file("cpu", "cpu.shares"),
                    cpu_cfs: file("cpu", "cpu.cfs_quota_us"),
                    cpu_realtime: file("cpu", "cpu.rt_runtime_us"),
                    cpuset: file("cpuset", "cpuset.cpus"),
                    pids: paths.contains_key("pids"),
                    blkio_weight: any("blkio", &["blkio.weight", "blkio.bfq.weight"]),
                    blkio_weight_device: any(
                        "blkio",
                        &["blkio.weight_device", "blkio.bfq.weight_device"],
                    ),
                    blkio_throttle: file("blkio", "blkio.throttle.read_bps_device"),
                }
            }
        }
    }
}

/// The CPUs and memory nodes this host's cpuset root offers (`0-1`, `0`),
/// or the online ones when there is no cpuset controller.
pub fn cpuset_available() -> (String, String) {
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let root = Cgroup::open(Some(Path::new("/")), "").ok();
    let (cpus, mems) = match &root {
        Some(Cgroup::V1 { paths }) => paths
            .get("cpuset")
            .map(|d| (read(&d.join("cpuset.cpus")), read(&d.join("cpuset.mems"))))
            .unwrap_or_default(),
        Some(Cgroup::V2 { path }) => (
            read(&path.join("cpuset.cpus.effective")),
            read(&path.join("cpuset.mems.effective")),
        ),
        None => Default::default(),
    };
    let or = |v: String, p: &str| if v.is_empty() { read(Path::new(p)) } else { v };
    (
        or(cpus, "/sys/devices/system/cpu/online"),
        or(mems, "/sys/devices/system/node/online"),
    )
}

/// Gives every ancestor of the cgroup `cgroups_path` (absolute, as the
/// spec's `cgroupsPath`) a real-time budget of `runtime` µs per `period`
/// µs, where it has less: a child may only take what its parent holds.
/// moby does the same from the daemon's `--cpu-rt-runtime`
/// (`initCPURtController`). v1 only; a host without it is left alone.
pub fn init_realtime(
    cgroups_path: &Path,
    period: i64,
    runtime: i64,
) -> Result<(), super::CgroupError> {
    let Ok(Cgroup::V1 { paths }) = Cgroup::open(Some(Path::new("/")), "") else {
        return Ok(());
    };
    let Some(root) = paths.get("cpu") else {
        return Ok(());
    };
    let rel: std::path::PathBuf = cgroups_path
        .parent()
        .unwrap_or(Path::new("/"))
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect();
    let mut dir = root.clone();
    for part in rel.components() {
        dir.push(part);
        std::fs::create_dir_all(&dir).map_err(|source| super::CgroupError::Io {
            path: dir.clone(),
            source,
        })?;
        let current = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .unwrap_or(0)
        };
        if period > 0 && current("cpu.rt_period_us") != period {
            super::write(&dir.join("cpu.rt_period_us"), &period.to_string())?;
        }
        if current("cpu.rt_runtime_us") < runtime {
            super::write(&dir.join("cpu.rt_runtime_us"), &runtime.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_files_say_what_is_there() {
        let d = tempfile::tempdir().unwrap();
        let mut paths = std::collections::BTreeMap::new();
        for (ctrl, files) in [
            (
                "memory",
                &["memory.limit_in_bytes", "memory.swappiness"][..],
            ),
            ("cpu", &["cpu.shares", "cpu.cfs_quota_us"][..]),
            ("blkio", &["blkio.throttle.read_bps_device"][..]),
        ] {
            let dir = d.path().join(ctrl);
            std::fs::create_dir_all(&dir).unwrap();
            for f in files {
                std::fs::write(dir.join(f), "").unwrap();
            }
            paths.insert(ctrl.to_string(), dir);
        }
        let s = Support::of(&Cgroup::V1 { paths });
        assert!(s.memory_limit && s.memory_swappiness && s.cpu_shares && s.cpu_cfs);
        assert!(s.blkio_throttle && !s.blkio_weight && !s.blkio_weight_device);
        assert!(!s.swap_limit && !s.cpu_realtime && !s.pids && !s.cpuset);
    }

    #[test]
    fn v2_controllers_say_what_is_there() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        let s = Support::of(&Cgroup::V2 {
            path: d.path().to_path_buf(),
        });
        assert!(s.v2 && s.memory_limit && s.cpu_cfs && s.pids);
        assert!(
            !s.memory_swappiness && !s.oom_kill_disable && !s.cpu_realtime && !s.blkio_throttle
        );
    }

    #[test]
    fn the_real_host_answers() {
        // Whatever the layout, a root test host has a memory controller.
        assert!(Support::probe().memory_limit);
        let (cpus, _) = cpuset_available();
        assert!(!cpus.is_empty());
    }
}
