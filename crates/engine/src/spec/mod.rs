//! The OCI runtime spec of a container, built the way Docker builds it
//! (moby's `daemon/oci_linux.go` and `oci/defaults.go`): the image config
//! merged with the create request, Docker's default capabilities and seccomp
//! profile, its mounts, masked and read-only paths, and `/etc/hostname`,
//! `/etc/hosts`, `/etc/resolv.conf` bound from the container's own directory.
//!
//! What each field of the create body becomes is decided in [`fields`];
//! the body is `models::container::CreateBody`; resources, devices,
//! namespaces, security and the process each have their module, with
//! dockerd's checks and words.

pub mod devices;
mod error;
pub mod fields;
mod files;
pub mod namespaces;
pub mod process;
pub mod resources;
pub mod security;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use oci_spec::runtime::{Capability, Spec};
use runtime::cgroups::probe::Support;
use serde_json::{json, Value};
use store::config::ImageConfig;

use crate::EngineError;

pub use error::SpecError;
pub(crate) use files::console_size;
pub use files::host_devices;
pub use models::container::{CreateBody, HostConfig};
pub use process::{args, env, merge, resolve_user, DEFAULT_PATH};

/// Docker's default capabilities (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Paths Docker masks (moby `oci/defaults.go`).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths Docker makes read-only.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The network namespace the spec asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetNs {
    /// A new one (the runtime makes it): `none`.
    New,
    /// Join the one at this path.
    Join(std::path::PathBuf),
    /// The host's: no network namespace in the spec.
    Host,
}

/// Go's text for an errno (`no such file or directory`), as dockerd's
/// messages carry it.
pub(crate) fn go_error(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let desc = nix::errno::Errno::from_raw(n).desc();
            let mut c = desc.chars();
            c.next()
                .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
        None => e.to_string(),
    }
}

/// What this host's cgroups can limit, probed once.
pub fn support() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    if let Some(s) = crate::rootless::support() {
        return s;
    }
    SUPPORT.get_or_init(Support::probe)
}

/// The CPUs of this host, for `--cpus`' bound.
fn ncpu() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The create-time checks of a body's host settings, with dockerd's
/// words; the warnings to answer (limits this host cannot apply, which
/// Docker drops with those words too).
pub fn check_create(body: &CreateBody) -> Result<Vec<String>, EngineError> {
    let hc = &body.host_config;
    let written = serde_json::to_value(hc).map_err(|e| SpecError::failed("HostConfig", e))?;
    fields::check(&json!({ "HostConfig": written }))?;
    if !hc.isolation.is_empty() && !hc.isolation.eq_ignore_ascii_case("default") {
        return Err(SpecError::Invalid(format!(
            "invalid isolation ({}): linux only supports 'default'",
            hc.isolation
        ))
        .into());
    }
    if !RUNTIMES.contains(&hc.runtime.as_str()) {
        return Err(
            SpecError::Invalid(format!("unknown or invalid runtime name: {}", hc.runtime)).into(),
        );
    }
    cgroup_parent(hc)?;
    namespaces::check_modes(hc, &body.config.hostname)?;
    let r = resources::resources(hc, support(), ncpu())?;
    for m in hc.devices.iter().flatten() {
        devices::from_mapping(m)?;
    }
    for rule in hc.device_cgroup_rules.iter().flatten() {
        devices::cgroup_rule(rule)?;
    }
    let sec = security::parse_opts(hc.security_opt.as_deref().unwrap_or(&[]))?;
    if let security::Seccomp::Profile(text) = &sec.seccomp {
        security::profile_to_oci(text, &[])?;
    }
    security::tweak_caps(
        DEFAULT_CAPS,
        &[],
        hc.cap_add.as_deref().unwrap_or(&[]),
        hc.cap_drop.as_deref().unwrap_or(&[]),
    )?;
    security::check_sysctls(&hc.sysctls, own_namespaces(hc))?;
    process::rlimits(hc.ulimits.as_deref().unwrap_or(&[]))?;
    for k in hc.annotations.keys() {
        if k.is_empty() {
            return Err(SpecError::Invalid(
                "invalid Annotations: the empty string is not permitted as an annotation key"
                    .into(),
            )
            .into());
        }
    }
    Ok(crate::rootless::limit_warnings(hc, r.warnings))
}

/// The runtime names a container may ask for: berth's own, and the names
/// Docker's clients send for Docker's default (docker-py sends `runc`).
/// All are `berth-runtime`, which takes runc's command line.
pub const RUNTIMES: &[&str] = &["", "berth-runtime", "runc", "io.containerd.runc.v2"];

/// The runtime a container gets when it names none, by Docker's default
/// name (it is berth-runtime, as every name of [`RUNTIMES`]).
pub const DEFAULT_RUNTIME: &str = "runc";

/// Which namespaces the container owns, for the sysctl rules (before the
/// peers are resolved: a joined namespace is a container's, not the host's).
fn own_namespaces(hc: &HostConfig) -> security::OwnNamespaces {
    security::OwnNamespaces {
        ipc: hc.ipc_mode != "host",
        net: hc.network_mode != "host",
        uts: hc.uts_mode != "host",
    }
}

/// `--cgroup-parent`, checked: the container's cgroup goes under it.
/// Relative parents are taken from the hierarchy's root, as Docker's
/// cgroupfs driver does; `..` is refused.
pub fn cgroup_parent(hc: &HostConfig) -> Result<String, EngineError> {
    let p = hc.cgroup_parent.as_str();
    if p.is_empty() {
        if let Some(crate::rootless::Cgroups::Delegated { parent, .. }) = crate::rootless::cgroups()
        {
            return Ok(parent.clone());
        }
        return Ok("/berth".into());
    }
    if p.len() > 1024 || p.split('/').any(|c| c == ".." || c == ".") || p.contains('\0') {
        return Err(
            SpecError::Invalid(format!("CgroupParent {p:?}: not a plain cgroup path")).into(),
        );
    }
    Ok(format!("/{}", p.trim_matches('/')))
}

/// The `/proc/sys` keys and RLIMITs and the rest are checked at create by
/// [`check_create`]; this builds the spec at start.
///
/// Builds the spec of container `id` whose root filesystem is mounted at
/// `rootfs`, with its `hostname`, `hosts` and `resolv.conf` files in `etc_dir`,
/// the user's mounts (binds with their host paths, volumes with their
/// `_data`, tmpfs), sorted parents first, and its namespaces as resolved.
#[allow(clippy::too_many_arguments)]
pub fn build(
    id: &str,
    cfg: &ImageConfig,
    body: &CreateBody,
    rootfs: &Path,
    etc_dir: &Path,
    user_mounts: &[crate::mounts::MountPoint],
    netns: &NetNs,
    ns: &namespaces::Namespaces,
) -> Result<Spec, EngineError> {
    let hc = &body.host_config;
    let req = &body.config;
    let hostname = if req.hostname.is_empty() {
        id.chars().take(12).collect()
    } else {
        req.hostname.clone()
    };
    let user = if req.user.is_empty() {
        cfg.config.user.clone()
    } else {
        req.user.clone()
    };
    let (uid, gid, groups) = process_ids(rootfs, &user, hc)?;
    let cwd = working_dir(cfg, req)?;
    let caps = capabilities(hc)?;
    let sec = security::parse_opts(hc.security_opt.as_deref().unwrap_or(&[]))?;
    let seccomp = seccomp_of(&sec, hc.privileged, &caps)?;
    let mounts = files::mounts(hc, ns, etc_dir, user_mounts, sec.writable_cgroups)?;
    let res = resources::resources(hc, support(), ncpu())?;
    let mut resources = res.oci;
    let (spec_devices, rules) = device_entries(hc)?;
    if !rules.is_empty() {
        resources.insert("devices".into(), Value::Array(rules));
    }
    let mut namespaces = namespaces::entries(ns);
    match netns {
        NetNs::New => namespaces.push(json!({"type": "network"})),
        NetNs::Join(path) => namespaces.push(json!({"type": "network", "path": path})),
        // The host's network: no namespace of its own.
        NetNs::Host => {}
    }
    let sysctls = hc.sysctls.clone();
    security::check_sysctls(
        &sysctls,
        security::OwnNamespaces {
            ipc: ns.ipc != namespaces::Ns::Host,
            net: !matches!(netns, NetNs::Host),
            uts: ns.uts != namespaces::Ns::Host,
        },
    )?;
    let (masked, readonly) = masked_and_readonly(hc);
    let mut linux = json!({
        "namespaces": namespaces,
        "resources": Value::Object(resources),
        "cgroupsPath": format!("{}/{id}", cgroup_parent(hc)?),
        "maskedPaths": masked,
        "readonlyPaths": readonly,
        "sysctl": sysctls,
    });
    if let Some(s) = seccomp {
        linux["seccomp"] = s;
    }
    if let Some(p) = files::root_propagation(user_mounts)? {
        linux["rootfsPropagation"] = json!(p);
    }
    if !spec_devices.is_empty() {
        linux["devices"] = Value::Array(spec_devices);
    }
    let mut annotations: BTreeMap<String, String> = cfg.config.labels.clone();
    annotations.extend(hc.annotations.clone());
    if hc.init == Some(true) {
        annotations.insert(runtime::process::INIT_ANNOTATION.to_string(), "true".into());
    }
    let mut spec = json!({
        "ociVersion": "1.2.0",
        "root": {"path": rootfs, "readonly": hc.readonly_rootfs},
        "process": {
            "terminal": req.tty,
            "user": {"uid": uid, "gid": gid, "additionalGids": groups},
            "args": args(cfg, req)?,
            "env": env(cfg, req, &hostname),
            "cwd": cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": sec.no_new_privileges,
            "oomScoreAdj": hc.oom_score_adj,
            "rlimits": process::rlimits(hc.ulimits.as_deref().unwrap_or(&[]))?,
        },
        "mounts": mounts,
        "linux": linux,
        "annotations": annotations,
    });
    // With the host's UTS namespace the runtime must not set a name.
    if ns.uts != namespaces::Ns::Host {
        spec["hostname"] = json!(hostname);
        spec["domainname"] = json!(req.domainname);
    }
    if let Some(size) = console_size(req.tty, hc.console_size) {
        spec["process"]["consoleSize"] = size;
    }
    serde_json::from_value(spec)
        .map_err(|e| SpecError::failed("building the container's spec", e))
        .map_err(EngineError::from)
}

/// The process's uid, gid and groups: Docker's list, the primary group,
/// the user's groups, then `--group-add`.
fn process_ids(
    rootfs: &Path,
    user: &str,
    hc: &HostConfig,
) -> Result<(u32, u32, Vec<u32>), EngineError> {
    let (uid, gid, mut groups) = resolve_user(rootfs, user)?;
    groups.insert(0, gid);
    for g in process::group_add(rootfs, hc.group_add.as_deref().unwrap_or(&[]))? {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    Ok((uid, gid, groups))
}

/// The working directory: the request's, else the image's, else `/`;
/// absolute, as Docker requires.
fn working_dir(cfg: &ImageConfig, req: &models::container::Config) -> Result<String, EngineError> {
    let cwd = [req.working_dir.as_str(), cfg.config.working_dir.as_str()]
        .into_iter()
        .find(|w| !w.is_empty())
        .unwrap_or("/")
        .to_string();
    if !cwd.starts_with('/') {
        return Err(SpecError::Invalid(format!(
            "the working directory '{cwd}' is invalid, it needs to be an absolute path"
        ))
        .into());
    }
    Ok(cwd)
}

/// Capabilities: Docker's `TweakCapabilities`. "All" is what this daemon
/// may hand on: its bounding set (a host may lack some, CAP_SYS_RESOURCE
/// on some VMs, and asking for more fails).
fn capabilities(hc: &HostConfig) -> Result<Vec<String>, EngineError> {
    let bounding = caps::read(None, caps::CapSet::Bounding).unwrap_or_else(|_| caps::all());
    let mut all_caps: Vec<String> = caps::all()
        .iter()
        .filter(|c| bounding.contains(c))
        .map(|c| c.to_string())
        .collect();
    all_caps.sort();
    if hc.privileged {
        return Ok(all_caps);
    }
    security::tweak_caps(
        DEFAULT_CAPS,
        &all_caps,
        hc.cap_add.as_deref().unwrap_or(&[]),
        hc.cap_drop.as_deref().unwrap_or(&[]),
    )
}

/// The seccomp profile: a named one, none (`unconfined`), or Docker's
/// default for the capabilities. A privileged container runs unconfined
/// unless a profile is named (moby `WithSeccomp`).
fn seccomp_of(
    sec: &security::SecurityOpts,
    privileged: bool,
    caps: &[String],
) -> Result<Option<Value>, EngineError> {
    Ok(match (&sec.seccomp, privileged) {
        (security::Seccomp::Profile(text), _) => security::profile_to_oci(text, caps)?,
        (security::Seccomp::Unconfined, _) | (_, true) => None,
        (security::Seccomp::Default, false) => {
            let parsed: Vec<Capability> = caps
                .iter()
                .filter_map(|c| c.trim_start_matches("CAP_").parse().ok())
                .collect();
            serde_json::to_value(runtime::seccomp::docker_default(&parsed)).ok()
        }
    })
}

/// The spec's device nodes and the device cgroup's rules: the host's all
/// for a privileged container, `--device` mappings, `--device-cgroup-rule`.
fn device_entries(hc: &HostConfig) -> Result<(Vec<Value>, Vec<Value>), EngineError> {
    let mut spec_devices = Vec::new();
    let mut rules = Vec::new();
    if hc.privileged {
        spec_devices = files::host_devices()
            .iter()
            .filter_map(|d| serde_json::to_value(d).ok())
            .collect();
        rules.push(json!({"allow": true, "access": "rwm"}));
    }
    for m in hc.devices.iter().flatten() {
        // A privileged container has the host's nodes at their own paths.
        if hc.privileged
            && (m.path_in_container.is_empty() || m.path_in_container == m.path_on_host)
        {
            continue;
        }
        let (d, r) = devices::from_mapping(m)?;
        spec_devices.retain(|x| !d.iter().any(|n| n["path"] == x["path"]));
        spec_devices.extend(d);
        if !hc.privileged {
            rules.extend(r);
        }
    }
    if !hc.privileged {
        for rule in hc.device_cgroup_rules.iter().flatten() {
            rules.push(devices::cgroup_rule(rule)?);
        }
    }
    Ok((spec_devices, rules))
}

/// The masked and read-only paths: the request's, else Docker's; none for
/// a privileged container.
fn masked_and_readonly(hc: &HostConfig) -> (Vec<String>, Vec<String>) {
    let masked = match (&hc.masked_paths, hc.privileged) {
        (_, true) => vec![],
        (Some(list), false) => list.clone(),
        (None, false) => MASKED_PATHS.iter().map(|s| s.to_string()).collect(),
    };
    let readonly = match (&hc.readonly_paths, hc.privileged) {
        (_, true) => vec![],
        (Some(list), false) => list.clone(),
        (None, false) => READONLY_PATHS.iter().map(|s| s.to_string()).collect(),
    };
    (masked, readonly)
}
