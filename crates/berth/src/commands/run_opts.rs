//! The rest of `docker run`'s and `docker create`'s flags (issue 24):
//! resources, namespaces, devices, security, healthchecks, logging and
//! storage, each turned into the create body's field as the docker CLI 28
//! turns it (`cli/command/container/opts.go` `parse`), and the client-side
//! ones (`--cidfile`, `--pull`, `--platform`, `--label-file`, `-q`) that
//! `run.rs` acts on. The networking flags are the network code's.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use models::container::{
    Config, CreateBody, DeviceMapping, DeviceRequest, HealthConfig, HostConfig, ThrottleDevice,
    Ulimit, WeightDevice,
};

use crate::units;

/// Flags of `run` and `create` beyond the common ones of `run.rs`.
#[derive(Debug, Args, Default)]
pub struct HostOptions {
    /// Add an annotation to the container (passed through to the OCI runtime)
    #[arg(long = "annotation", value_name = "map")]
    pub annotation: Vec<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long = "blkio-weight", value_name = "uint16")]
    pub blkio_weight: Option<u16>,
    /// Block IO weight (relative device weight)
    #[arg(long = "blkio-weight-device", value_name = "list")]
    pub blkio_weight_device: Vec<String>,
    /// Optional parent cgroup for the container
    #[arg(long = "cgroup-parent", value_name = "string")]
    pub cgroup_parent: Option<String>,
    /// Cgroup namespace to use (host|private)
    #[arg(long = "cgroupns", value_name = "string")]
    pub cgroupns: Option<String>,
    /// Write the container ID to the file
    #[arg(long = "cidfile", value_name = "string")]
    pub cidfile: Option<PathBuf>,
    /// CPU count (Windows only)
    #[arg(long = "cpu-count", value_name = "int")]
    pub cpu_count: Option<i64>,
    /// CPU percent (Windows only)
    #[arg(long = "cpu-percent", value_name = "int")]
    pub cpu_percent: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// Limit CPU real-time period in microseconds
    #[arg(long = "cpu-rt-period", value_name = "int")]
    pub cpu_rt_period: Option<i64>,
    /// Limit CPU real-time runtime in microseconds
    #[arg(long = "cpu-rt-runtime", value_name = "int")]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "string")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "string")]
    pub cpuset_mems: Option<String>,
    /// Add a host device to the container (host[:container][:permissions])
    #[arg(long = "device", value_name = "list")]
    pub device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list
    #[arg(long = "device-cgroup-rule", value_name = "list")]
    pub device_cgroup_rule: Vec<String>,
    /// Limit read rate (bytes per second) from a device
    #[arg(long = "device-read-bps", value_name = "list")]
    pub device_read_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device
    #[arg(long = "device-read-iops", value_name = "list")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long = "device-write-bps", value_name = "list")]
    pub device_write_bps: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long = "device-write-iops", value_name = "list")]
    pub device_write_iops: Vec<String>,
    /// Skip image verification (berth verifies no signatures: only true is accepted)
    #[arg(long = "disable-content-trust", value_name = "bool", num_args = 0..=1, default_missing_value = "true")]
    pub disable_content_trust: Option<bool>,
    /// Container NIS domain name
    #[arg(long = "domainname", value_name = "string")]
    pub domainname: Option<String>,
    /// GPU devices to add to the container ('all' to pass all GPUs)
    #[arg(long = "gpus", value_name = "gpu-request")]
    pub gpus: Option<String>,
    /// Add additional groups to join
    #[arg(long = "group-add", value_name = "list")]
    pub group_add: Vec<String>,
    /// Command to run to check health
    #[arg(long = "health-cmd", value_name = "string")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long = "health-interval", value_name = "duration")]
    pub health_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries", value_name = "int")]
    pub health_retries: Option<i64>,
    /// Time between running the check during the start period (ms|s|m|h)
    #[arg(long = "health-start-interval", value_name = "duration")]
    pub health_start_interval: Option<String>,
    /// Start period for the container to initialize before starting
    /// health-retries countdown (ms|s|m|h)
    #[arg(long = "health-start-period", value_name = "duration")]
    pub health_start_period: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long = "health-timeout", value_name = "duration")]
    pub health_timeout: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Maximum IO bandwidth limit for the system drive (Windows only)
    #[arg(long = "io-maxbandwidth", value_name = "bytes", value_parser = units::ram_in_bytes)]
    pub io_maxbandwidth: Option<i64>,
    /// Maximum IOps limit for the system drive (Windows only)
    #[arg(long = "io-maxiops", value_name = "uint")]
    pub io_maxiops: Option<u64>,
    /// IPC mode to use
    #[arg(long = "ipc", value_name = "string")]
    pub ipc: Option<String>,
    /// Container isolation technology
    #[arg(long = "isolation", value_name = "string")]
    pub isolation: Option<String>,
    /// Kernel memory limit
    #[arg(long = "kernel-memory", value_name = "bytes", value_parser = units::ram_in_bytes)]
    pub kernel_memory: Option<i64>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file", value_name = "list")]
    pub label_file: Vec<PathBuf>,
    /// Logging driver for the container
    #[arg(long = "log-driver", value_name = "string")]
    pub log_driver: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes", value_parser = units::ram_in_bytes)]
    pub memory_reservation: Option<i64>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long = "memory-swappiness", value_name = "int", default_value_t = -1, allow_negative_numbers = true)]
    pub memory_swappiness: i64,
    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(
        long = "oom-score-adj",
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub oom_score_adj: Option<i64>,
    /// PID namespace to use
    #[arg(long = "pid", value_name = "string")]
    pub pid: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long = "platform", value_name = "string")]
    pub platform: Option<String>,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long = "pull", value_name = "string", default_value = "missing", value_parser = ["always", "missing", "never"])]
    pub pull: String,
    /// Suppress the pull output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Runtime to use for this container
    #[arg(long = "runtime", value_name = "string")]
    pub runtime: Option<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size", value_name = "bytes", value_parser = units::ram_in_bytes)]
    pub shm_size: Option<i64>,
    /// Storage driver options for the container
    #[arg(long = "storage-opt", value_name = "list")]
    pub storage_opt: Vec<String>,
    /// Sysctl options
    #[arg(long = "sysctl", value_name = "map")]
    pub sysctl: Vec<String>,
    /// Ulimit options (name=soft[:hard])
    #[arg(long = "ulimit", value_name = "ulimit")]
    pub ulimit: Vec<String>,
    /// User namespace to use
    #[arg(long = "userns", value_name = "string")]
    pub userns: Option<String>,
    /// UTS namespace to use
    #[arg(long = "uts", value_name = "string")]
    pub uts: Option<String>,
    /// Optional volume driver for the container
    #[arg(long = "volume-driver", value_name = "string")]
    pub volume_driver: Option<String>,
}

/// `KEY=value` lists (`--sysctl`, `--storage-opt`, `--annotation`) as a map.
fn map(list: &[String], what: &str) -> Result<BTreeMap<String, String>, String> {
    list.iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("invalid {what}: {kv:?}: KEY=VALUE"))
        })
        .collect()
}

/// docker's `ValidateSysctl`: what some namespace of a container holds.
fn check_sysctl(kv: &str) -> Result<(), String> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let k = kv.split_once('=').map_or("", |(k, _)| k);
    if !k.is_empty() && (IPC.contains(&k) || k.starts_with("net.") || k.starts_with("fs.mqueue.")) {
        return Ok(());
    }
    Err(format!(
        "invalid argument {kv:?} for \"--sysctl\" flag: sysctl '{kv}' is not allowed"
    ))
}

/// `nofile=1024[:2048]` (go-units' `ParseUlimit`; -1 is unlimited).
fn ulimit(s: &str) -> Result<Ulimit, String> {
    let bad = || format!("invalid ulimit argument: {s}");
    let (name, limits) = s.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = match limits.split_once(':') {
        Some((a, b)) => (a, b),
        None => (limits, limits),
    };
    let n = |x: &str| x.parse::<i64>().map_err(|_| bad());
    let (soft, hard) = (n(soft)?, n(hard)?);
    if soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.into(),
        soft,
        hard,
    })
}

/// `/dev/sda:VALUE` lists of the blkio flags: each path and its value.
fn per_device<T>(
    list: &[String],
    value: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<(String, T)>, String> {
    list.iter()
        .map(|d| {
            let (path, v) = d
                .rsplit_once(':')
                .filter(|(p, _)| p.starts_with("/dev/"))
                .ok_or_else(|| format!("bad format: {d}"))?;
            Ok((path.to_string(), value(v)?))
        })
        .collect()
}

/// The throttles of one blkio flag.
fn throttles(
    list: &[String],
    value: impl Fn(&str) -> Result<i64, String>,
) -> Result<Option<Vec<ThrottleDevice>>, String> {
    if list.is_empty() {
        return Ok(None);
    }
    let rate = |v: &str| {
        let n = value(v)?;
        u64::try_from(n).map_err(|_| format!("invalid rate for device: {v}"))
    };
    Ok(Some(
        per_device(list, rate)?
            .into_iter()
            .map(|(path, rate)| ThrottleDevice { path, rate })
            .collect(),
    ))
}

/// `host[:container][:rwm]` (docker's `parseDevice`).
fn device(s: &str) -> Result<DeviceMapping, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let mode = |p: &str| !p.is_empty() && p.len() <= 3 && p.chars().all(|c| "rwm".contains(c));
    let (src, mut dst, mut perms) = (parts[0], "", "rwm");
    match parts.as_slice() {
        [_] => {}
        [_, b] if mode(b) => perms = b,
        [_, b] => dst = b,
        [_, b, c] => {
            dst = b;
            perms = c;
        }
        _ => return Err(format!("invalid device specification: {s}")),
    }
    if !mode(perms) {
        return Err(format!("bad mode specified: {perms}"));
    }
    if dst.is_empty() {
        dst = src;
    }
    Ok(DeviceMapping {
        path_on_host: src.into(),
        path_in_container: dst.into(),
        cgroup_permissions: perms.into(),
    })
}

/// `--gpus all|N|device=ID,…|capabilities=…` as a device request.
fn gpus(s: &str) -> DeviceRequest {
    let mut r = DeviceRequest {
        capabilities: Some(vec![vec!["gpu".into()]]),
        options: Some(BTreeMap::new()),
        ..Default::default()
    };
    for part in s.split(',') {
        match part.split_once('=') {
            Some(("device", ids)) => {
                r.device_ids = Some(ids.split(',').map(String::from).collect())
            }
            Some(("driver", d)) => r.driver = d.into(),
            _ if part == "all" => r.count = -1,
            _ => {
                if let Ok(n) = part.parse::<i64>() {
                    r.count = n;
                }
            }
        }
    }
    r
}

/// A Go duration in nanoseconds.
fn nanos(flag: &str, s: &str) -> Result<i64, String> {
    let secs = units::go_duration(s).ok_or_else(|| {
        format!("invalid argument {s:?} for \"--{flag}\" flag: time: invalid duration {s:?}")
    })?;
    if secs < 0.0 {
        return Err(format!("--{flag} cannot be negative"));
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok((secs * 1e9).round() as i64)
}

/// docker's `parseSecurityOpts` and `parseSystemPaths`: a seccomp profile
/// named by file is sent as its text; `systempaths=unconfined` empties
/// the masked and read-only paths.
fn security_opts(list: &[String], host: &mut HostConfig) -> Result<(), String> {
    let mut out = Vec::new();
    for opt in list {
        let (k, v) = opt
            .split_once('=')
            .or_else(|| opt.split_once(':'))
            .unwrap_or((opt.as_str(), ""));
        if k == "seccomp" && !["unconfined", "builtin", ""].contains(&v) {
            let text = std::fs::read(v)
                .map_err(|e| format!("opening seccomp profile ({v}) failed: {e}"))?;
            let parsed: serde_json::Value = serde_json::from_slice(&text)
                .map_err(|e| format!("compacting json for seccomp profile ({v}) failed: {e}"))?;
            out.push(format!("seccomp={parsed}"));
        } else if k == "systempaths" && v == "unconfined" {
            host.masked_paths = Some(Vec::new());
            host.readonly_paths = Some(Vec::new());
        } else if k == "systempaths" {
            return Err(format!("invalid --security-opt: {opt:?}"));
        } else if !opt.contains(['=', ':'])
            && opt != "no-new-privileges"
            && opt != "writable-cgroups"
            && opt != "disable"
        {
            return Err(format!("Invalid --security-opt: {opt:?}"));
        } else {
            out.push(opt.clone());
        }
    }
    host.security_opt = (!out.is_empty()).then_some(out);
    Ok(())
}

/// Lines of `--label-file`s (blank lines and `#` comments left out).
pub fn label_file_lines(files: &[PathBuf]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("open {}: {e}", f.display()))?;
        out.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    Ok(out)
}

/// Puts the flags' fields into the create body (its `HostConfig` made).
pub fn apply(h: &HostOptions, body: &mut CreateBody) -> Result<(), String> {
    check(h)?;
    let host = &mut body.host_config;
    limits(h, host)?;
    modes(h, host);
    devices(h, host)?;
    kernel(h, host)?;
    if let Some(d) = &h.log_driver {
        host.log_config.typ = d.clone();
        host.log_config.config.get_or_insert_with(BTreeMap::new);
    }
    let opts = host.security_opt.clone().unwrap_or_default();
    security_opts(&opts, host)?;
    // The container's own settings.
    let config = &mut body.config;
    if let Some(d) = &h.domainname {
        config.domainname = d.clone();
    }
    healthcheck(h, config)
}

/// The flags refused before anything is made of them.
fn check(h: &HostOptions) -> Result<(), String> {
    if h.disable_content_trust == Some(false) {
        return Err("content trust is not supported by berth: images are not verified against signatures (--disable-content-trust=false)".into());
    }
    if h.memory_swappiness != -1 && !(0..=100).contains(&h.memory_swappiness) {
        return Err(format!(
            "invalid value: {}. Valid memory swappiness range is 0-100",
            h.memory_swappiness
        ));
    }
    Ok(())
}

/// The numeric limits: CPU, memory, block IO weights and rates, OOM.
fn limits(h: &HostOptions, host: &mut HostConfig) -> Result<(), String> {
    for (field, v) in [
        (&mut host.cpu_period, h.cpu_period),
        (&mut host.cpu_quota, h.cpu_quota),
        (&mut host.cpu_realtime_period, h.cpu_rt_period),
        (&mut host.cpu_realtime_runtime, h.cpu_rt_runtime),
        (&mut host.cpu_count, h.cpu_count),
        (&mut host.cpu_percent, h.cpu_percent),
        (&mut host.memory_reservation, h.memory_reservation),
        (&mut host.kernel_memory, h.kernel_memory),
        (&mut host.shm_size, h.shm_size),
        (&mut host.oom_score_adj, h.oom_score_adj),
    ] {
        if let Some(v) = v {
            *field = v;
        }
    }
    if let Some(b) = h.io_maxbandwidth {
        host.io_maximum_bandwidth =
            u64::try_from(b).map_err(|_| format!("invalid --io-maxbandwidth: {b}"))?;
    }
    if let Some(w) = h.blkio_weight {
        host.blkio_weight = w;
    }
    if let Some(n) = h.io_maxiops {
        host.io_maximum_iops = n;
    }
    host.memory_swappiness = Some(h.memory_swappiness);
    if h.oom_kill_disable {
        host.oom_kill_disable = Some(true);
    }
    Ok(())
}

/// The modes and names taken as given: cgroup parent, cpusets,
/// namespaces, isolation, runtime, volume driver.
fn modes(h: &HostOptions, host: &mut HostConfig) {
    for (field, v) in [
        (&mut host.cgroup_parent, &h.cgroup_parent),
        (&mut host.cgroupns_mode, &h.cgroupns),
        (&mut host.cpuset_cpus, &h.cpuset_cpus),
        (&mut host.cpuset_mems, &h.cpuset_mems),
        (&mut host.ipc_mode, &h.ipc),
        (&mut host.pid_mode, &h.pid),
        (&mut host.uts_mode, &h.uts),
        (&mut host.userns_mode, &h.userns),
        (&mut host.isolation, &h.isolation),
        (&mut host.runtime, &h.runtime),
        (&mut host.volume_driver, &h.volume_driver),
    ] {
        if let Some(v) = v {
            *field = v.clone();
        }
    }
}

/// Devices: per-device block IO weights and throttles, `--device`, device
/// cgroup rules, `--gpus`.
fn devices(h: &HostOptions, host: &mut HostConfig) -> Result<(), String> {
    if !h.blkio_weight_device.is_empty() {
        let weight = |v: &str| {
            v.parse::<u16>()
                .map_err(|_| format!("invalid weight for device: {v}"))
        };
        host.blkio_weight_device = Some(
            per_device(&h.blkio_weight_device, weight)?
                .into_iter()
                .map(|(path, weight)| WeightDevice { path, weight })
                .collect(),
        );
    }
    let bps = |v: &str| units::ram_in_bytes(v);
    let iops = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| format!("invalid rate for device: {v}"))
    };
    host.blkio_device_read_bps = throttles(&h.device_read_bps, bps)?;
    host.blkio_device_write_bps = throttles(&h.device_write_bps, bps)?;
    host.blkio_device_read_iops = throttles(&h.device_read_iops, iops)?;
    host.blkio_device_write_iops = throttles(&h.device_write_iops, iops)?;
    if !h.device.is_empty() {
        host.devices = Some(
            h.device
                .iter()
                .map(|d| device(d))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    if !h.device_cgroup_rule.is_empty() {
        host.device_cgroup_rules = Some(h.device_cgroup_rule.clone());
    }
    if let Some(g) = &h.gpus {
        host.device_requests = Some(vec![gpus(g)]);
    }
    Ok(())
}

/// What the kernel is told for the process: groups, sysctls, storage
/// options, annotations, ulimits.
fn kernel(h: &HostOptions, host: &mut HostConfig) -> Result<(), String> {
    if !h.group_add.is_empty() {
        host.group_add = Some(h.group_add.clone());
    }
    for kv in &h.sysctl {
        check_sysctl(kv)?;
    }
    host.sysctls = map(&h.sysctl, "sysctl")?;
    host.storage_opt = map(&h.storage_opt, "storage-opt")?;
    host.annotations = map(&h.annotation, "annotation")?;
    if !h.ulimit.is_empty() {
        host.ulimits = Some(
            h.ulimit
                .iter()
                .map(|u| ulimit(u))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    Ok(())
}

/// `--health-*` and `--no-healthcheck` as the config's healthcheck.
fn healthcheck(h: &HostOptions, config: &mut Config) -> Result<(), String> {
    let any_health = h.health_cmd.is_some()
        || h.health_retries.is_some()
        || [
            &h.health_interval,
            &h.health_timeout,
            &h.health_start_period,
            &h.health_start_interval,
        ]
        .iter()
        .any(|v| v.is_some());
    if h.no_healthcheck {
        if any_health {
            return Err("--no-healthcheck conflicts with --health-* options".into());
        }
        config.healthcheck = Some(HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        });
    } else if any_health {
        let mut hc = HealthConfig::default();
        if let Some(c) = &h.health_cmd {
            hc.test = vec!["CMD-SHELL".into(), c.clone()];
        }
        for (field, flag, v) in [
            (&mut hc.interval, "health-interval", &h.health_interval),
            (&mut hc.timeout, "health-timeout", &h.health_timeout),
            (
                &mut hc.start_period,
                "health-start-period",
                &h.health_start_period,
            ),
            (
                &mut hc.start_interval,
                "health-start-interval",
                &h.health_start_interval,
            ),
        ] {
            if let Some(v) = v {
                *field = nanos(flag, v)?;
            }
        }
        if let Some(r) = h.health_retries {
            if r < 0 {
                return Err("--health-retries cannot be negative".into());
            }
            hc.retries = r;
        }
        config.healthcheck = Some(hc);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_as_the_docker_cli_makes_them() {
        assert_eq!(
            serde_json::to_value(device("/dev/fuse").unwrap()).unwrap(),
            json!({"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"})
        );
        assert_eq!(device("/dev/null:r").unwrap().cgroup_permissions, "r");
        assert_eq!(
            device("/dev/null:/dev/n:rw").unwrap().path_in_container,
            "/dev/n"
        );
        assert!(device("/dev/null:/x:q").is_err());
        assert_eq!(
            serde_json::to_value(ulimit("nofile=1024:2048").unwrap()).unwrap(),
            json!({"Name": "nofile", "Soft": 1024, "Hard": 2048})
        );
        assert_eq!(ulimit("nproc=10").unwrap().hard, 10);
        assert!(ulimit("nofile=2:1").is_err());
        assert_eq!(
            serde_json::to_value(throttles(&["/dev/sda:1mb".into()], units::ram_in_bytes).unwrap())
                .unwrap(),
            json!([{"Path": "/dev/sda", "Rate": 1048576}])
        );
        assert_eq!(gpus("all").count, -1);
        assert!(check_sysctl("net.ipv4.ip_forward=1").is_ok());
        assert!(check_sysctl("vm.swappiness=1").is_err());
        assert_eq!(nanos("health-interval", "1m30s").unwrap(), 90_000_000_000);
    }

    #[test]
    fn health_and_security_options() {
        let mut body: CreateBody = models::de::from_value(
            json!({"HostConfig": {"SecurityOpt": ["systempaths=unconfined", "no-new-privileges"]}}),
        )
        .unwrap();
        let h = HostOptions {
            health_cmd: Some("true".into()),
            health_interval: Some("2s".into()),
            memory_swappiness: -1,
            pull: "missing".into(),
            ..Default::default()
        };
        apply(&h, &mut body).unwrap();
        let body = serde_json::to_value(&body).unwrap();
        assert_eq!(
            body["Healthcheck"],
            json!({"Test": ["CMD-SHELL", "true"], "Interval": 2_000_000_000i64})
        );
        assert_eq!(body["HostConfig"]["MaskedPaths"], json!([]));
        assert_eq!(
            body["HostConfig"]["SecurityOpt"],
            json!(["no-new-privileges"])
        );
        let h = HostOptions {
            no_healthcheck: true,
            health_retries: Some(1),
            memory_swappiness: -1,
            ..Default::default()
        };
        assert!(apply(&h, &mut CreateBody::default()).is_err());
    }
}
