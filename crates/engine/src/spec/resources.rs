//! `HostConfig`'s resource fields as the OCI spec's `linux.resources`,
//! checked as dockerd checks them (moby `runconfig/hostconfig_unix.go` and
//! `daemon/daemon_unix.go` `verifyPlatformContainerResources`, word for
//! word), and converted as `daemon/oci_linux.go` `WithResources` does.
//!
//! Where the host's cgroups cannot apply a limit, Docker drops it with a
//! warning that the docker CLI prints; so do we (the create answer's
//! `Warnings`). Nothing is dropped without one.

use std::os::unix::fs::MetadataExt;

use runtime::cgroups::probe::Support;
use serde_json::{json, Map, Value};

use super::SpecError;
use crate::EngineError;
use models::container::{HostConfig, ThrottleDevice};

/// moby's `linuxMinMemory`: 6 MiB.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// Docker's default `/dev/shm`: 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// The resources after Docker's checks: the OCI `linux.resources` (without
/// devices, which [`super::devices`] adds) and the warnings of what the
/// host cannot apply.
#[derive(Debug, Default)]
pub struct Resources {
    /// `linux.resources` of the spec.
    pub oci: Map<String, Value>,
    /// Docker's words for each limit dropped.
    pub warnings: Vec<String>,
}

/// What dockerd keeps of the memory limits it was given (its create's
/// `adaptContainerSettings` and the platform checks change the host config
/// it stores): swap twice the memory when none was given, and -1 for what
/// this host cannot limit. Inspect shows these, and an update's check
/// ("Memory limit should be smaller than already set memoryswap limit")
/// compares with them. Called after [`resources`] (whose warnings come from
/// the values given).
pub fn adapt(hc: &mut HostConfig, s: &Support) {
    if hc.memory > 0 && hc.memory_swap == 0 {
        hc.memory_swap = hc.memory * 2;
    }
    if hc.memory > 0 && !s.memory_limit {
        hc.memory = 0;
        hc.memory_swap = -1;
    }
    if hc.memory > 0 && hc.memory_swap != -1 && !s.swap_limit {
        hc.memory_swap = -1;
    }
}

/// Checks and converts; `ncpu` is the number of CPUs this host has.
pub fn resources(hc: &HostConfig, s: &Support, ncpu: usize) -> Result<Resources, EngineError> {
    let mut warnings = Vec::new();
    let mut r = hc.clone();
    check_runconfig(&r, s)?;
    check_memory(&mut r, s, &mut warnings)?;
    check_pids(&mut r, s, &mut warnings);
    check_cpu(&mut r, s, ncpu, &mut warnings)?;
    check_blkio(&mut r, s, &mut warnings)?;
    if hc.shm_size < 0 {
        return Err(SpecError::Invalid("SHM size can not be less than 0".into()).into());
    }
    if !(-1000..=1000).contains(&hc.oom_score_adj) {
        return Err(SpecError::Invalid(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            hc.oom_score_adj
        ))
        .into());
    }
    Ok(Resources {
        oci: convert(&r)?,
        warnings,
    })
}

/// runconfig's checks: real-time scheduling and CPU shares.
fn check_runconfig(r: &HostConfig, s: &Support) -> Result<(), EngineError> {
    // runconfig's checks, made when the body is decoded (its QoS ones are
    // `fields`' refusals).
    if (r.cpu_realtime_period != 0 || r.cpu_realtime_runtime != 0) && !s.cpu_realtime {
        return Err(
            SpecError::Invalid("kernel does not support CPU real-time scheduler".into()).into(),
        );
    }
    if r.cpu_realtime_period != 0
        && r.cpu_realtime_runtime != 0
        && r.cpu_realtime_runtime > r.cpu_realtime_period
    {
        return Err(SpecError::Invalid(
            "cpu real-time runtime cannot be higher than cpu real-time period".into(),
        )
        .into());
    }
    if s.cpu_shares && r.cpu_shares < 0 {
        return Err(SpecError::Invalid(format!(
            "invalid CPU shares ({}): value must be a positive integer",
            r.cpu_shares
        ))
        .into());
    }
    Ok(())
}

/// Memory, swap, swappiness, reservation and the OOM killer: dropped
/// (with Docker's warning) where the host cannot limit them, else checked.
fn check_memory(
    r: &mut HostConfig,
    s: &Support,
    warnings: &mut Vec<String>,
) -> Result<(), EngineError> {
    // The daemon's: adaptContainerSettings, then the checks.
    if r.memory > 0 && r.memory_swap == 0 {
        r.memory_swap = r.memory * 2;
    }
    if r.memory_swappiness == Some(-1) {
        r.memory_swappiness = None;
    }
    if r.memory != 0 && r.memory < MIN_MEMORY {
        return Err(SpecError::Invalid("Minimum memory limit allowed is 6MB".into()).into());
    }
    if r.memory > 0 && !s.memory_limit {
        warnings.push("Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.".into());
        r.memory = 0;
        r.memory_swap = -1;
    }
    if r.memory > 0 && r.memory_swap != -1 && !s.swap_limit {
        warnings.push("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.".into());
        r.memory_swap = -1;
    }
    if r.memory > 0 && r.memory_swap > 0 && r.memory_swap < r.memory {
        return Err(SpecError::Invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        )
        .into());
    }
    if r.memory == 0 && r.memory_swap > 0 {
        return Err(SpecError::Invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        )
        .into());
    }
    if r.memory_swappiness.is_some() && !s.memory_swappiness {
        warnings.push("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.".into());
        r.memory_swappiness = None;
    }
    if let Some(sw) = r.memory_swappiness {
        if !(0..=100).contains(&sw) {
            return Err(SpecError::Invalid(format!(
                "Invalid value: {sw}, valid memory swappiness range is 0-100"
            ))
            .into());
        }
    }
    if r.memory_reservation > 0 && !s.memory_reservation {
        warnings.push("Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.".into());
        r.memory_reservation = 0;
    }
    if r.memory_reservation > 0 && r.memory_reservation < MIN_MEMORY {
        return Err(SpecError::Invalid("Minimum memory reservation allowed is 6MB".into()).into());
    }
    if r.memory > 0 && r.memory_reservation > 0 && r.memory < r.memory_reservation {
        return Err(SpecError::Invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage".into(),
        )
        .into());
    }
    if r.oom_kill_disable.is_some() && !s.oom_kill_disable {
        if r.oom_kill_disable == Some(true) {
            warnings.push(
                "Your kernel does not support OomKillDisable. OomKillDisable discarded.".into(),
            );
        }
        r.oom_kill_disable = None;
    }
    if r.oom_kill_disable == Some(true) && r.memory == 0 {
        warnings.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".into());
    }
    Ok(())
}

/// The PIDs limit, dropped where the host cannot apply it.
fn check_pids(r: &mut HostConfig, s: &Support, warnings: &mut Vec<String>) {
    if r.pids_limit.is_some() && !s.pids {
        if r.pids_limit.is_some_and(|p| p > 0) {
            warnings.push("Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.".into());
        }
        r.pids_limit = None;
    }
}

/// CPUs: nano CPUs, shares, the CFS period and quota, cpusets (checked
/// against the `ncpu` CPUs and the nodes this host has).
fn check_cpu(
    r: &mut HostConfig,
    s: &Support,
    ncpu: usize,
    warnings: &mut Vec<String>,
) -> Result<(), EngineError> {
    if r.nano_cpus > 0 && r.cpu_period > 0 {
        return Err(SpecError::Invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set".into(),
        )
        .into());
    }
    if r.nano_cpus > 0 && r.cpu_quota > 0 {
        return Err(SpecError::Invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set".into(),
        )
        .into());
    }
    if r.nano_cpus > 0 && !s.cpu_cfs {
        return Err(SpecError::Invalid("NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted".into()).into());
    }
    if r.nano_cpus != 0 && (r.nano_cpus < 0 || r.nano_cpus > ncpu as i64 * 1_000_000_000) {
        return Err(SpecError::Invalid(format!(
            "range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        ))
        .into());
    }
    if r.cpu_shares > 0 && !s.cpu_shares {
        warnings.push(
            "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded."
                .into(),
        );
        r.cpu_shares = 0;
    }
    if (r.cpu_period != 0 || r.cpu_quota != 0) && !s.cpu_cfs {
        warnings.push(
            "Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.".into(),
        );
        r.cpu_period = 0;
        r.cpu_quota = 0;
    }
    if r.cpu_period != 0 && !(1000..=1_000_000).contains(&r.cpu_period) {
        return Err(SpecError::Invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .into(),
        )
        .into());
    }
    if r.cpu_quota > 0 && r.cpu_quota < 1000 {
        return Err(SpecError::Invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)".into(),
        )
        .into());
    }
    if (!r.cpuset_cpus.is_empty() || !r.cpuset_mems.is_empty()) && !s.cpuset {
        warnings.push(
            "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded."
                .into(),
        );
        r.cpuset_cpus.clear();
        r.cpuset_mems.clear();
    }
    if !r.cpuset_cpus.is_empty() || !r.cpuset_mems.is_empty() {
        let (cpus, mems) = runtime::cgroups::probe::cpuset_available();
        check_cpuset(&r.cpuset_cpus, &cpus, "cpus", "CPUs")?;
        check_cpuset(&r.cpuset_mems, &mems, "mems", "memory nodes")?;
    }
    Ok(())
}

/// Block I/O: the weight, per-device weights and throttles.
fn check_blkio(
    r: &mut HostConfig,
    s: &Support,
    warnings: &mut Vec<String>,
) -> Result<(), EngineError> {
    if r.blkio_weight > 0 && !s.blkio_weight {
        warnings.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".into());
        r.blkio_weight = 0;
    }
    if r.blkio_weight > 0 && !(10..=1000).contains(&r.blkio_weight) {
        return Err(SpecError::Invalid("Range of blkio weight is from 10 to 1000".into()).into());
    }
    if r.blkio_weight_device
        .as_ref()
        .is_some_and(|l| !l.is_empty())
        && !s.blkio_weight_device
    {
        warnings.push("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.".into());
        r.blkio_weight_device = None;
    }
    for (list, what) in [
        (&mut r.blkio_device_read_bps, "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded."),
        (&mut r.blkio_device_write_bps, "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded."),
        (&mut r.blkio_device_read_iops, "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded."),
        (&mut r.blkio_device_write_iops, "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded."),
    ] {
        if list.as_ref().is_some_and(|l| !l.is_empty()) && !s.blkio_throttle {
            warnings.push(what.into());
            *list = None;
        }
    }
    Ok(())
}

/// Docker's check of a cpuset list against what the host offers.
fn check_cpuset(want: &str, have: &str, what: &str, long: &str) -> Result<(), EngineError> {
    if want.is_empty() {
        return Ok(());
    }
    let parsed = parse_list(want).ok_or_else(|| {
        SpecError::Invalid(format!(
            "Invalid value {want} for cpuset {what}: invalid format: {want}"
        ))
    })?;
    let available = parse_list(have).unwrap_or_default();
    if parsed.iter().any(|c| !available.contains(c)) {
        return Err(SpecError::Invalid(format!(
            "Requested {long} are not available - requested {want}, available: {have}"
        ))
        .into());
    }
    Ok(())
}

/// Bound on a cpuset list's numbers: no host has more CPUs or nodes.
const MAX_CPUSET_INDEX: u32 = 1 << 16;

/// `0-2,4` → [0, 1, 2, 4] (None when malformed).
fn parse_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.trim().split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let n = part.parse::<u32>().ok()?;
                (n, n)
            }
        };
        if a > b || b > MAX_CPUSET_INDEX {
            return None;
        }
        out.extend(a..=b);
    }
    Some(out)
}

/// The device numbers of a block device's host path (moby stats it).
fn major_minor(path: &str) -> Result<(u64, u64), EngineError> {
    let md = std::fs::metadata(path)
        .map_err(|e| SpecError::Invalid(format!("stat {path}: {}", super::go_error(&e))))?;
    let rdev = md.rdev();
    Ok((u64::from(libc::major(rdev)), u64::from(libc::minor(rdev))))
}

fn throttle(list: &Option<Vec<ThrottleDevice>>) -> Result<Vec<Value>, EngineError> {
    let mut out = Vec::new();
    for d in list.iter().flatten() {
        let (major, minor) = major_minor(&d.path)?;
        out.push(json!({"major": major, "minor": minor, "rate": d.rate}));
    }
    Ok(out)
}

/// moby's `getMemoryResources`, `getCPUResources`, blkio and pids.
fn convert(r: &HostConfig) -> Result<Map<String, Value>, EngineError> {
    let mut out = Map::new();
    let mut memory = Map::new();
    if r.memory > 0 {
        memory.insert("limit".into(), json!(r.memory));
    }
    if r.memory_reservation > 0 {
        memory.insert("reservation".into(), json!(r.memory_reservation));
    }
    if r.memory_swap != 0 && r.memory > 0 {
        memory.insert("swap".into(), json!(r.memory_swap));
    }
    if let Some(sw) = r.memory_swappiness.filter(|s| *s >= 0) {
        memory.insert("swappiness".into(), json!(sw));
    }
    if let Some(d) = r.oom_kill_disable {
        memory.insert("disableOOMKiller".into(), json!(d));
    }
    if !memory.is_empty() {
        out.insert("memory".into(), Value::Object(memory));
    }
    let mut cpu = Map::new();
    if !r.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(r.cpuset_cpus));
    }
    if !r.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(r.cpuset_mems));
    }
    if r.nano_cpus > 0 {
        // Docker: a period of 100 ms and the quota that gives the CPUs.
        let period: i64 = 100_000;
        cpu.insert("period".into(), json!(period));
        cpu.insert("quota".into(), json!(r.nano_cpus * period / 1_000_000_000));
    }
    if r.cpu_period != 0 {
        cpu.insert("period".into(), json!(r.cpu_period));
    }
    if r.cpu_quota != 0 {
        cpu.insert("quota".into(), json!(r.cpu_quota));
    }
    if r.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(r.cpu_shares));
    }
    if r.cpu_realtime_period != 0 {
        cpu.insert("realtimePeriod".into(), json!(r.cpu_realtime_period));
    }
    if r.cpu_realtime_runtime != 0 {
        cpu.insert("realtimeRuntime".into(), json!(r.cpu_realtime_runtime));
    }
    if !cpu.is_empty() {
        out.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = r.pids_limit {
        // 0 and -1 both mean no limit (`max`).
        if p != 0 {
            out.insert("pids".into(), json!({"limit": p.max(0)}));
        }
    }
    let mut blkio = Map::new();
    if r.blkio_weight > 0 {
        blkio.insert("weight".into(), json!(r.blkio_weight));
    }
    let mut weights = Vec::new();
    for d in r.blkio_weight_device.iter().flatten() {
        let (major, minor) = major_minor(&d.path)?;
        weights.push(json!({"major": major, "minor": minor, "weight": d.weight}));
    }
    for (key, list) in [
        ("weightDevice", weights),
        ("throttleReadBpsDevice", throttle(&r.blkio_device_read_bps)?),
        (
            "throttleWriteBpsDevice",
            throttle(&r.blkio_device_write_bps)?,
        ),
        (
            "throttleReadIOPSDevice",
            throttle(&r.blkio_device_read_iops)?,
        ),
        (
            "throttleWriteIOPSDevice",
            throttle(&r.blkio_device_write_iops)?,
        ),
    ] {
        if !list.is_empty() {
            blkio.insert(key.into(), Value::Array(list));
        }
    }
    if !blkio.is_empty() {
        out.insert("blockIO".into(), Value::Object(blkio));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(v: Value) -> HostConfig {
        models::de::from_value(v).unwrap()
    }

    fn all() -> Support {
        Support {
            memory_limit: true,
            swap_limit: true,
            memory_reservation: true,
            memory_swappiness: true,
            oom_kill_disable: true,
            cpu_shares: true,
            cpu_cfs: true,
            cpu_realtime: true,
            cpuset: true,
            pids: true,
            blkio_weight: true,
            blkio_weight_device: true,
            blkio_throttle: true,
            ..Support::default()
        }
    }

    #[test]
    fn converted_as_docker_converts() {
        let r = resources(
            &hc(json!({"Memory": 67108864, "MemoryReservation": 33554432, "MemorySwappiness": 10,
                "OomKillDisable": true, "NanoCpus": 1500000000, "CpuShares": 512, "CpusetCpus": "0",
                "PidsLimit": -1, "BlkioWeight": 300, "BlkioDeviceReadBps": [{"Path": "/dev/null", "Rate": 1024}]})),
            &all(),
            2,
        )
        .unwrap();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert_eq!(
            Value::Object(r.oci),
            json!({
                "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728, "swappiness": 10, "disableOOMKiller": true},
                "cpu": {"cpus": "0", "period": 100000, "quota": 150000, "shares": 512},
                "pids": {"limit": 0},
                "blockIO": {"weight": 300, "throttleReadBpsDevice": [{"major": 1, "minor": 3, "rate": 1024}]}
            })
        );
    }

    #[test]
    fn refused_with_dockers_words() {
        for (body, want) in [
            (json!({"Memory": 1024}), "Minimum memory limit allowed is 6MB"),
            (json!({"Memory": 67108864, "MemorySwap": 1048576}), "Minimum memoryswap limit should be larger than memory limit, see usage"),
            (json!({"MemorySwap": 67108864}), "You should always set the Memory limit when using Memoryswap limit, see usage"),
            (json!({"MemorySwappiness": 101}), "Invalid value: 101, valid memory swappiness range is 0-100"),
            (json!({"NanoCpus": 1000000000, "CpuPeriod": 1000}), "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
            (json!({"NanoCpus": 3000000000u64}), "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"),
            (json!({"CpuPeriod": 10}), "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
            (json!({"CpuQuota": 10}), "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
            (json!({"CpuRealtimePeriod": 1000, "CpuRealtimeRuntime": 2000}), "cpu real-time runtime cannot be higher than cpu real-time period"),
            (json!({"CpusetCpus": "0-999"}), "Requested CPUs are not available - requested 0-999"),
            (json!({"CpusetCpus": "x"}), "Invalid value x for cpuset cpus: invalid format: x"),
            (json!({"BlkioWeight": 5}), "Range of blkio weight is from 10 to 1000"),
            (json!({"OomScoreAdj": 1001}), "Invalid value 1001, range for oom score adj is [-1000, 1000]"),
            (json!({"ShmSize": -1}), "SHM size can not be less than 0"),
            (json!({"BlkioDeviceReadBps": [{"Path": "/no/such/dev", "Rate": 1}]}), "stat /no/such/dev: no such file or directory"),
        ] {
            let e = resources(&hc(body.clone()), &all(), 2).unwrap_err();
            assert!(e.to_string().starts_with(want), "{body}: {e}");
        }
    }

    #[test]
    fn what_the_host_lacks_is_dropped_with_dockers_warning() {
        let r = resources(
            &hc(json!({"BlkioWeight": 300, "MemorySwappiness": 10, "Memory": 67108864})),
            &Support {
                memory_limit: true,
                ..Support::default()
            },
            2,
        )
        .unwrap();
        assert_eq!(r.warnings.len(), 3, "{:?}", r.warnings);
        assert!(r.warnings[2].starts_with("Your kernel does not support Block I/O weight"));
        assert_eq!(
            Value::Object(r.oci),
            json!({"memory": {"limit": 67108864, "swap": -1}})
        );
    }
}
