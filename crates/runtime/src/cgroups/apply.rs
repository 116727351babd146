//! Writing limits into cgroup files, v1 and v2, and reading usage back.
//!
//! The conversions follow runc's (libcontainer/cgroups), so that a spec means
//! the same here as there: CPU shares map onto v2 weights, v2's swap limit is
//! the swap part only, `-1` means no limit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxBlockIo, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use super::{read, write, Cgroup, CgroupError, Stats};

/// `cpu.shares` (2..262144) to `cpu.weight` (1..10000), as runc converts.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// `blkio.weight` (10..1000) to `io.weight` (1..10000), as runc converts.
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    1 + (u64::from(weight).clamp(10, 1000) - 10) * 9999 / 990
}

fn limit_v1(v: i64) -> String {
    if v < 0 {
        "-1".into()
    } else {
        v.to_string()
    }
}

fn limit_v2(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// Writes the files that exist for a controller: a missing controller
/// directory is a host without it, a missing file an older kernel.
fn write_in(
    dir: Option<&PathBuf>,
    controller: &'static str,
    file: &str,
    value: &str,
) -> Result<(), CgroupError> {
    let dir = dir.ok_or(CgroupError::Unsupported(controller))?;
    write(&dir.join(file), value)
}

/// The device rule as the v1 `devices.allow`/`devices.deny` files take it.
pub fn device_rule(d: &LinuxDeviceCgroup) -> String {
    let typ = match d.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::C | LinuxDeviceType::U => "c",
        LinuxDeviceType::B => "b",
        LinuxDeviceType::P => "p",
        LinuxDeviceType::A => "a",
    };
    let num = |n: Option<i64>| {
        n.filter(|n| *n >= 0)
            .map_or("*".to_string(), |n| n.to_string())
    };
    let access = d.access().clone().unwrap_or_else(|| "rwm".into());
    format!("{typ} {}:{} {access}", num(d.major()), num(d.minor()))
}

/// cgroup v1.
pub fn v1(paths: &BTreeMap<String, PathBuf>, r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(m) = r.memory() {
        let dir = paths.get("memory");
        if let Some(limit) = m.limit() {
            let memsw = dir
                .map(|d| d.join("memory.memsw.limit_in_bytes"))
                .filter(|f| f.exists());
            // limit <= memsw must hold at every step: when raising, memsw
            // goes first; try the limit first and retry in the other order.
            if write_in(dir, "memory", "memory.limit_in_bytes", &limit_v1(limit)).is_err() {
                if let (Some(f), Some(swap)) = (&memsw, m.swap()) {
                    write(f, &limit_v1(swap))?;
                }
                write_in(dir, "memory", "memory.limit_in_bytes", &limit_v1(limit))?;
            }
            if let (Some(f), Some(swap)) = (memsw, m.swap()) {
                write(&f, &limit_v1(swap))?;
            }
        }
        if let Some(res) = m.reservation() {
            write_in(dir, "memory", "memory.soft_limit_in_bytes", &limit_v1(res))?;
        }
        if let Some(sw) = m.swappiness() {
            write_in(dir, "memory", "memory.swappiness", &sw.to_string())?;
        }
        if m.disable_oom_killer() == Some(true) {
            write_in(dir, "memory", "memory.oom_control", "1")?;
        }
    }
    if let Some(c) = r.cpu() {
        let dir = paths.get("cpu");
        if let Some(shares) = c.shares().filter(|s| *s > 0) {
            write_in(dir, "cpu", "cpu.shares", &shares.to_string())?;
        }
        if let Some(period) = c.period().filter(|p| *p > 0) {
            write_in(dir, "cpu", "cpu.cfs_period_us", &period.to_string())?;
        }
        if let Some(quota) = c.quota().filter(|q| *q != 0) {
            write_in(dir, "cpu", "cpu.cfs_quota_us", &limit_v1(quota))?;
        }
        // The real-time budget: the period first, so that a runtime that
        // fits the new period is accepted (runc's order).
        if let Some(period) = c.realtime_period().filter(|p| *p > 0) {
            write_in(dir, "cpu", "cpu.rt_period_us", &period.to_string())?;
        }
        if let Some(rt) = c.realtime_runtime().filter(|r| *r != 0) {
            write_in(dir, "cpu", "cpu.rt_runtime_us", &rt.to_string())?;
        }
        cpuset(
            paths.get("cpuset"),
            c.cpus().as_deref(),
            c.mems().as_deref(),
        )?;
    }
    if let Some(p) = r.pids() {
        write_in(paths.get("pids"), "pids", "pids.max", &pids_max(p.limit()))?;
    }
    if let Some(b) = r.block_io() {
        blkio_v1(paths.get("blkio"), b)?;
    }
    if let Some(rules) = r.devices() {
        if let Some(dir) = paths.get("devices") {
            // Deny everything, then the rules in order (the last match wins,
            // which the kernel's list gives for allow-after-deny).
            write(&dir.join("devices.deny"), "a")?;
            for d in rules {
                let file = if d.allow() {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                write(&dir.join(file), &device_rule(d))?;
            }
        }
    }
    Ok(())
}

/// v1 block I/O: the weight (CFQ's `blkio.weight` or BFQ's), per-device
/// weights and the throttle rules, one `MAJ:MIN VALUE` line per write.
fn blkio_v1(dir: Option<&PathBuf>, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let weight_file = |dir: &Path| {
        ["blkio.weight", "blkio.bfq.weight"]
            .into_iter()
            .map(|f| dir.join(f))
            .find(|f| f.exists())
            .ok_or(CgroupError::Unsupported("blkio weight"))
    };
    if let Some(w) = b.weight() {
        let dir = dir.ok_or(CgroupError::Unsupported("blkio"))?;
        write(&weight_file(dir)?, &w.to_string())?;
    }
    for d in b.weight_device().iter().flatten() {
        let dir = dir.ok_or(CgroupError::Unsupported("blkio"))?;
        if let Some(w) = d.weight() {
            let file = ["blkio.weight_device", "blkio.bfq.weight_device"]
                .into_iter()
                .map(|f| dir.join(f))
                .find(|f| f.exists())
                .ok_or(CgroupError::Unsupported("blkio weight_device"))?;
            write(&file, &format!("{}:{} {w}", d.major(), d.minor()))?;
        }
    }
    for (file, list) in [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ] {
        for d in list.iter().flatten() {
            let line = format!("{}:{} {}", d.major(), d.minor(), d.rate());
            write_in(dir, "blkio", file, &line)?;
        }
    }
    Ok(())
}

/// v2 block I/O: `io.weight` (or BFQ's `io.bfq.weight`), per-device weights
/// and `io.max` lines (`MAJ:MIN rbps=… wbps=… riops=… wiops=…`).
fn io_v2(d: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let bfq = d.join("io.bfq.weight").exists();
    if let Some(w) = b.weight() {
        if bfq {
            write(&d.join("io.bfq.weight"), &w.to_string())?;
        } else {
            write(
                &d.join("io.weight"),
                &format!("default {}", blkio_to_io_weight(w)),
            )?;
        }
    }
    for dev in b.weight_device().iter().flatten() {
        if let Some(w) = dev.weight() {
            let (file, value) = if bfq {
                ("io.bfq.weight", u64::from(w))
            } else {
                ("io.weight", blkio_to_io_weight(w))
            };
            write(
                &d.join(file),
                &format!("{}:{} {value}", dev.major(), dev.minor()),
            )?;
        }
    }
    for (key, list) in [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ] {
        for dev in list.iter().flatten() {
            let line = format!("{}:{} {key}={}", dev.major(), dev.minor(), dev.rate());
            write(&d.join("io.max"), &line)?;
        }
    }
    Ok(())
}

fn pids_max(limit: i64) -> String {
    if limit <= 0 {
        "max".into()
    } else {
        limit.to_string()
    }
}

fn cpuset(
    dir: Option<&PathBuf>,
    cpus: Option<&str>,
    mems: Option<&str>,
) -> Result<(), CgroupError> {
    if let Some(cpus) = cpus.filter(|s| !s.is_empty()) {
        write_in(dir, "cpuset", "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = mems.filter(|s| !s.is_empty()) {
        write_in(dir, "cpuset", "cpuset.mems", mems)?;
    }
    Ok(())
}

/// cgroup v2.
pub fn v2(dir: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    let d = dir.to_path_buf();
    let dir = Some(&d);
    if let Some(m) = r.memory() {
        if let Some(limit) = m.limit() {
            write_in(dir, "memory", "memory.max", &limit_v2(limit))?;
            // v1's memsw is memory + swap; v2's swap.max is the swap alone.
            if let Some(swap) = m.swap() {
                let v = if swap < 0 {
                    "max".to_string()
                } else if limit > 0 {
                    (swap - limit).max(0).to_string()
                } else {
                    swap.to_string()
                };
                write_in(dir, "memory", "memory.swap.max", &v)?;
            }
        }
        if let Some(res) = m.reservation() {
            write_in(dir, "memory", "memory.low", &limit_v2(res))?;
        }
        // v2 has neither a swappiness nor a switch for the OOM killer
        // (Docker warns and drops both there, as the engine does).
        if m.swappiness().is_some() {
            return Err(CgroupError::Unsupported("memory swappiness (cgroup v2)"));
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(CgroupError::Unsupported("memory oom_control (cgroup v2)"));
        }
    }
    if let Some(c) = r.cpu() {
        if c.realtime_runtime().is_some_and(|r| r != 0)
            || c.realtime_period().is_some_and(|p| p != 0)
        {
            return Err(CgroupError::Unsupported("cpu real-time (cgroup v2)"));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(shares) = c.shares().filter(|s| *s > 0) {
            write_in(
                dir,
                "cpu",
                "cpu.weight",
                &shares_to_weight(shares).to_string(),
            )?;
        }
        if c.quota().is_some() || c.period().is_some() {
            let quota = c
                .quota()
                .filter(|q| *q > 0)
                .map_or("max".to_string(), |q| q.to_string());
            let period = c.period().filter(|p| *p > 0).unwrap_or(100_000);
            write_in(dir, "cpu", "cpu.max", &format!("{quota} {period}"))?;
        }
        cpuset(dir, c.cpus().as_deref(), c.mems().as_deref())?;
    }
    if let Some(p) = r.pids() {
        write_in(dir, "pids", "pids.max", &pids_max(p.limit()))?;
    }
    if let Some(b) = r.block_io() {
        io_v2(&d, b)?;
    }
    if let Some(rules) = r.devices() {
        super::devices::attach(&d, rules)?;
    }
    for (key, value) in r.unified().iter().flatten() {
        if key.contains('/') || key.starts_with('.') {
            return Err(CgroupError::InvalidPath(key.clone()));
        }
        write(&d.join(key), value)?;
    }
    Ok(())
}

fn number(path: &Path) -> u64 {
    read(path)
        .ok()
        .and_then(|s| {
            let s = s.trim();
            if s == "max" {
                Some(u64::MAX)
            } else {
                s.parse().ok()
            }
        })
        .unwrap_or(0)
}

fn keyed(path: &Path, key: &str) -> u64 {
    read(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The device of `MAJ:MIN`.
fn device(s: &str) -> Option<(u64, u64)> {
    let (maj, min) = s.split_once(':')?;
    Some((maj.parse().ok()?, min.parse().ok()?))
}

/// cgroup v2 `io.stat`: `8:0 rbytes=1 wbytes=2 rios=…` per device.
pub(crate) fn io_stat_v2(text: &str) -> Vec<(u64, u64, u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (maj, min) = device(words.next()?)?;
            let (mut r, mut w) = (0, 0);
            for kv in words {
                match kv.split_once('=') {
                    Some(("rbytes", v)) => r = v.parse().unwrap_or(0),
                    Some(("wbytes", v)) => w = v.parse().unwrap_or(0),
                    _ => {}
                }
            }
            Some((maj, min, r, w))
        })
        .collect()
}

/// cgroup v1 `blkio.throttle.io_service_bytes_recursive`: `8:0 Read 1`
/// lines, a device each op, and a `Total` line.
pub(crate) fn io_service_bytes_v1(text: &str) -> Vec<(u64, u64, u64, u64)> {
    let mut out: Vec<(u64, u64, u64, u64)> = Vec::new();
    for l in text.lines() {
        let mut words = l.split_whitespace();
        let (Some(dev), Some(op), Some(v)) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        let (Some((maj, min)), Ok(v)) = (device(dev), v.parse::<u64>()) else {
            continue;
        };
        let i = match out.iter().position(|e| (e.0, e.1) == (maj, min)) {
            Some(i) => i,
            None => {
                out.push((maj, min, 0, 0));
                out.len() - 1
            }
        };
        match op {
            "Read" => out[i].2 = v,
            "Write" => out[i].3 = v,
            _ => {}
        }
    }
    out
}

/// Block I/O of the processes in a cgroup, summed from `/proc/PID/io`
/// (`read_bytes`, `write_bytes`) as one entry for device 0:0. Recent
/// kernels leave v1's blkio throttle counters at zero unless a throttle
/// rule is set; the tasks' own counters are what is left (I/O of
/// processes that already exited is not in them).
fn tasks_io(procs: &Path) -> Vec<(u64, u64, u64, u64)> {
    let Ok(list) = read(procs) else {
        return Vec::new();
    };
    let (mut r, mut w) = (0, 0);
    for pid in list.lines() {
        let Ok(io) = std::fs::read_to_string(format!("/proc/{pid}/io")) else {
            continue;
        };
        for l in io.lines() {
            match l.split_once(": ") {
                Some(("read_bytes", v)) => r += v.trim().parse::<u64>().unwrap_or(0),
                Some(("write_bytes", v)) => w += v.trim().parse::<u64>().unwrap_or(0),
                _ => {}
            }
        }
    }
    if r == 0 && w == 0 {
        return Vec::new();
    }
    vec![(0, 0, r, w)]
}

/// v1's block I/O: the blkio throttle counters, unless the tasks' own
/// counters saw more (recent kernels leave the throttle counters at zero
/// without a throttle rule, or count only part of a writeback).
fn io_v1(
    blkio: Vec<(u64, u64, u64, u64)>,
    tasks: Vec<(u64, u64, u64, u64)>,
) -> Vec<(u64, u64, u64, u64)> {
    let total = |v: &[(u64, u64, u64, u64)]| v.iter().map(|e| e.2 + e.3).sum::<u64>();
    if total(&tasks) > total(&blkio) {
        tasks
    } else {
        blkio
    }
}

/// Usage read back from whichever files exist.
pub fn stats(cg: &Cgroup) -> Stats {
    match cg {
        Cgroup::V2 { path } => Stats {
            memory_usage: number(&path.join("memory.current")),
            memory_limit: number(&path.join("memory.max")),
            oom_kills: keyed(&path.join("memory.events"), "oom_kill"),
            cpu_usage_ns: keyed(&path.join("cpu.stat"), "usage_usec") * 1000,
            pids_current: number(&path.join("pids.current")),
            pids_limit: number(&path.join("pids.max")),
            inactive_file: keyed(&path.join("memory.stat"), "inactive_file"),
            io_bytes: read(&path.join("io.stat"))
                .map(|s| io_stat_v2(&s))
                .unwrap_or_default(),
        },
        Cgroup::V1 { paths } => {
            let f =
                |ctrl: &str, file: &str| paths.get(ctrl).map(|d| d.join(file)).unwrap_or_default();
            let limit = number(&f("memory", "memory.limit_in_bytes"));
            Stats {
                memory_usage: number(&f("memory", "memory.usage_in_bytes")),
                // v1 reports "no limit" as a page-rounded huge number.
                memory_limit: if limit >= 1 << 62 { u64::MAX } else { limit },
                oom_kills: keyed(&f("memory", "memory.oom_control"), "oom_kill"),
                cpu_usage_ns: number(&f("cpuacct", "cpuacct.usage")),
                pids_current: number(&f("pids", "pids.current")),
                pids_limit: number(&f("pids", "pids.max")),
                inactive_file: keyed(&f("memory", "memory.stat"), "total_inactive_file"),
                io_bytes: io_v1(
                    read(&f("blkio", "blkio.throttle.io_service_bytes_recursive"))
                        .map(|s| io_service_bytes_v1(&s))
                        .unwrap_or_default(),
                    tasks_io(&f("pids", "cgroup.procs")),
                ),
            }
        }
    }
}
