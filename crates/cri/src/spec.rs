//! The OCI spec of a CRI container, built as containerd's CRI plugin builds
//! it (`pkg/cri/server/container_create_linux.go`): the image's config and
//! the container config merged, the pod's namespaces joined by path, its
//! `/etc` files and `/dev/shm` bound in, the security context (user and
//! groups, capabilities, privileged, read-only root, seccomp, no_new_privs,
//! masked and read-only paths), mounts with their propagation, devices and
//! resources.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxResources, Spec};
use serde_json::{json, Value};
use store::config::ImageConfig;

use crate::api::{self, NamespaceMode};
use crate::error::{CriError, Result};

pub use engine::spec::{DEFAULT_CAPS, MASKED_PATHS, READONLY_PATHS};

/// What the spec is built from besides the container's config.
pub struct Inputs<'a> {
    /// The container's id.
    pub id: &'a str,
    /// Its root filesystem (mounted).
    pub rootfs: &'a Path,
    /// The image's config.
    pub image: &'a ImageConfig,
    /// The pod's directory (hostname, hosts, resolv.conf, shm).
    pub sandbox_dir: &'a Path,
    /// The pod's config.
    pub sandbox: &'a api::PodSandboxConfig,
    /// The pod's infra process, whose namespaces are joined.
    pub pause_pid: i32,
    /// The pod's network namespace file (empty: the host's network).
    pub netns: &'a str,
    /// The cgroup under which the container's goes.
    pub cgroup_parent: &'a str,
    /// The init pid of the container a `TARGET` pid namespace names.
    pub target_pid: Option<i32>,
}

fn invalid(msg: impl Into<String>) -> CriError {
    CriError::invalid(msg)
}

/// The process's arguments, Kubernetes' way: `command` replaces the
/// image's entrypoint (and then its cmd too), `args` its cmd.
pub fn args(image: &ImageConfig, c: &api::ContainerConfig) -> Result<Vec<String>> {
    let ic = &image.config;
    let out: Vec<String> = if !c.command.is_empty() {
        c.command.iter().chain(c.args.iter()).cloned().collect()
    } else {
        let entry = ic.entrypoint.clone().unwrap_or_default();
        let cmd = if c.args.is_empty() {
            ic.cmd.clone().unwrap_or_default()
        } else {
            c.args.clone()
        };
        entry.into_iter().chain(cmd).collect()
    };
    if out.is_empty() {
        return Err(invalid("no command specified"));
    }
    Ok(out)
}

/// The process's user: (uid, gid, additional gids). `run_as_user` (and
/// `run_as_group`) win over `run_as_username`, which wins over the image's
/// user; supplemental groups are added.
pub fn user(
    rootfs: &Path,
    image: &ImageConfig,
    sc: &api::LinuxContainerSecurityContext,
) -> Result<(u32, u32, Vec<u32>)> {
    if sc.run_as_group.is_some() && sc.run_as_user.is_none() && sc.run_as_username.is_empty() {
        return Err(invalid("user group is specified without user or username"));
    }
    let spec_user = if let Some(u) = &sc.run_as_user {
        u.value.to_string()
    } else if !sc.run_as_username.is_empty() {
        sc.run_as_username.clone()
    } else {
        image.config.user.clone()
    };
    let spec_user = match &sc.run_as_group {
        Some(g) => format!("{}:{}", spec_user.split(':').next().unwrap_or(""), g.value),
        None => spec_user,
    };
    let (uid, gid, mut extra) =
        engine::spec::resolve_user(rootfs, &spec_user).map_err(|e| invalid(e.to_string()))?;
    for g in &sc.supplemental_groups {
        let g = u32::try_from(*g).map_err(|_| invalid(format!("invalid group {g}")))?;
        if !extra.contains(&g) {
            extra.push(g);
        }
    }
    Ok((uid, gid, extra))
}

/// The capabilities: Docker's default set (containerd's too), then the
/// adds and drops (`ALL` for all); all of the daemon's for privileged.
fn capabilities(sc: &api::LinuxContainerSecurityContext) -> Vec<String> {
    let bounding = caps::read(None, caps::CapSet::Bounding).unwrap_or_else(|_| caps::all());
    let mut all: Vec<String> = caps::all()
        .iter()
        .filter(|c| bounding.contains(c))
        .map(|c| c.to_string())
        .collect();
    all.sort();
    if sc.privileged {
        return all;
    }
    let name = |c: &str| {
        let up = c.to_ascii_uppercase();
        if up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        }
    };
    let mut out: Vec<String> = DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
    let cap = sc.capabilities.clone().unwrap_or_default();
    for c in &cap.add_capabilities {
        if c.eq_ignore_ascii_case("ALL") {
            out = all.clone();
        } else if !out.contains(&name(c)) {
            out.push(name(c));
        }
    }
    for c in &cap.drop_capabilities {
        if c.eq_ignore_ascii_case("ALL") {
            out.clear();
        } else {
            out.retain(|x| *x != name(c));
        }
    }
    out
}

/// The seccomp profile: `runtime/default` (or the older `docker/default`)
/// is Docker's default profile; `unconfined` or nothing is none (the CRI's
/// default); `localhost/<path>` (or a `Localhost` profile's path) is read
/// from the host, in Docker's profile format or the OCI spec's.
fn seccomp(sc: &api::LinuxContainerSecurityContext, caps: &[String]) -> Result<Option<Value>> {
    if sc.privileged {
        return Ok(None);
    }
    let profile = match &sc.seccomp {
        Some(p) => match api::security_profile::ProfileType::try_from(p.profile_type) {
            Ok(api::security_profile::ProfileType::RuntimeDefault) => "runtime/default".to_string(),
            Ok(api::security_profile::ProfileType::Unconfined) => "unconfined".to_string(),
            Ok(api::security_profile::ProfileType::Localhost) => {
                format!("localhost/{}", p.localhost_ref)
            }
            Err(_) => return Err(invalid("unknown seccomp profile type")),
        },
        // The field older kubelets set.
        #[allow(deprecated)]
        None => sc.seccomp_profile_path.clone(),
    };
    match profile.as_str() {
        "" | "unconfined" => Ok(None),
        "runtime/default" | "docker/default" => {
            let parsed: Vec<oci_spec::runtime::Capability> = caps
                .iter()
                .filter_map(|c| c.trim_start_matches("CAP_").parse().ok())
                .collect();
            Ok(Some(
                serde_json::to_value(runtime::seccomp::docker_default(&parsed))
                    .unwrap_or(Value::Null),
            ))
        }
        p => match p.strip_prefix("localhost/") {
            Some(path) => {
                let path = Path::new(path);
                if !path.is_absolute() {
                    return Err(invalid(format!(
                        "seccomp profile path {} must be absolute",
                        path.display()
                    )));
                }
                let mut text = Vec::new();
                std::fs::File::open(path)
                    .and_then(|f| {
                        std::io::Read::read_to_end(
                            &mut std::io::Read::take(f, crate::seccomp::MAX_PROFILE + 1),
                            &mut text,
                        )
                    })
                    .map_err(|e| {
                        invalid(format!(
                            "cannot load seccomp profile {}: {e}",
                            path.display()
                        ))
                    })?;
                if text.len() as u64 > crate::seccomp::MAX_PROFILE {
                    return Err(invalid(format!(
                        "seccomp profile {} is larger than {} bytes",
                        path.display(),
                        crate::seccomp::MAX_PROFILE
                    )));
                }
                let v: Value = serde_json::from_slice(&text)
                    .map_err(|e| invalid(format!("seccomp profile {}: {e}", path.display())))?;
                Ok(Some(crate::seccomp::from_profile(&v, caps)?))
            }
            None => Err(invalid(format!("unknown seccomp profile option: {p:?}"))),
        },
    }
}

/// A bind's propagation, and the root propagation it needs.
fn propagation(m: &api::Mount) -> (&'static str, Option<&'static str>) {
    match api::MountPropagation::try_from(m.propagation) {
        Ok(api::MountPropagation::PropagationBidirectional) => ("rshared", Some("rshared")),
        Ok(api::MountPropagation::PropagationHostToContainer) => ("rslave", Some("rslave")),
        _ => ("rprivate", None),
    }
}

/// A device of the host for the spec (`linux.devices`) and its cgroup rule.
fn device(d: &api::Device) -> Result<(Value, Value)> {
    let md = std::fs::metadata(&d.host_path)
        .map_err(|e| invalid(format!("device {}: {e}", d.host_path)))?;
    let ft = md.file_type();
    let typ = if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        return Err(invalid(format!("{} is not a device", d.host_path)));
    };
    let rdev = md.rdev();
    let (major, minor) = (libc::major(rdev) as i64, libc::minor(rdev) as i64);
    let path = if d.container_path.is_empty() {
        d.host_path.clone()
    } else {
        d.container_path.clone()
    };
    let access = if d.permissions.is_empty() {
        "rwm".to_string()
    } else {
        d.permissions.clone()
    };
    Ok((
        json!({"path": path, "type": typ, "major": major, "minor": minor,
               "fileMode": md.mode() & 0o7777, "uid": md.uid(), "gid": md.gid()}),
        json!({"allow": true, "type": typ, "major": major, "minor": minor, "access": access}),
    ))
}

/// The linux resources of the CRI's `LinuxContainerResources`, as the
/// runtime's spec types (no device rules: the caller adds them).
pub fn resources(r: &api::LinuxContainerResources) -> LinuxResources {
    let mut cpu = LinuxCpu::default();
    if r.cpu_shares > 0 {
        cpu.set_shares(u64::try_from(r.cpu_shares).ok());
    }
    if r.cpu_quota > 0 {
        cpu.set_quota(Some(r.cpu_quota));
    }
    if r.cpu_period > 0 {
        cpu.set_period(u64::try_from(r.cpu_period).ok());
    }
    if !r.cpuset_cpus.is_empty() {
        cpu.set_cpus(Some(r.cpuset_cpus.clone()));
    }
    if !r.cpuset_mems.is_empty() {
        cpu.set_mems(Some(r.cpuset_mems.clone()));
    }
    let mut out = LinuxResources::default();
    if cpu != LinuxCpu::default() {
        out.set_cpu(Some(cpu));
    }
    if r.memory_limit_in_bytes > 0 {
        // No swap beyond the limit unless asked, as containerd.
        let swap = if r.memory_swap_limit_in_bytes > 0 {
            r.memory_swap_limit_in_bytes
        } else {
            r.memory_limit_in_bytes
        };
        let mut memory = LinuxMemory::default();
        memory.set_limit(Some(r.memory_limit_in_bytes));
        memory.set_swap(Some(swap));
        out.set_memory(Some(memory));
    }
    if !r.hugepage_limits.is_empty() {
        let limits = r
            .hugepage_limits
            .iter()
            .map(|h| {
                let mut l = LinuxHugepageLimit::default();
                l.set_page_size(h.page_size.clone());
                l.set_limit(i64::try_from(h.limit).unwrap_or(i64::MAX));
                l
            })
            .collect();
        out.set_hugepage_limits(Some(limits));
    }
    if !r.unified.is_empty() {
        out.set_unified(Some(r.unified.clone().into_iter().collect()));
    }
    out
}

/// The OOM score adjustment a process can get: lowering it below the
/// daemon's own needs CAP_SYS_RESOURCE, which some hosts withhold even from
/// root (this project's machines do); there the daemon's own is the floor.
pub fn oom_score_adj(wanted: i64) -> i64 {
    let can_lower = caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_RESOURCE,
    )
    .unwrap_or(false);
    if can_lower {
        return wanted;
    }
    let own = std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0);
    wanted.max(own)
}

/// Builds the container's spec (its parts assembled as the spec's JSON,
/// the whole checked and handed on as the runtime's type).
pub fn build(c: &api::ContainerConfig, i: &Inputs<'_>) -> Result<Spec> {
    let linux = c.linux.clone().unwrap_or_default();
    let sc = linux.security_context.clone().unwrap_or_default();
    let ns = sc.namespace_options.clone().unwrap_or_default();
    let (uid, gid, extra) = user(i.rootfs, i.image, &sc)?;
    let caps = capabilities(&sc);
    let cwd = working_dir(c, &i.image.config)?;
    let env = environment(c, &i.image.config);
    let host_ipc = ns.ipc == NamespaceMode::Node as i32;
    let privileged = sc.privileged;
    let (mounts, root_propagation) = mounts(c, i, privileged, host_ipc)?;
    let (devices, device_rules) = devices(c, privileged)?;
    let mut res = serde_json::to_value(resources(&linux.resources.clone().unwrap_or_default()))
        .map_err(|e| CriError::internal(format!("resources: {e}")))?;
    res["devices"] = json!(device_rules);
    let namespaces = namespaces(&ns, i, host_ipc)?;
    let (masked, readonly) = masked_and_readonly(&sc);
    let oom = oom_score_adj(
        linux
            .resources
            .as_ref()
            .map(|r| r.oom_score_adj)
            .unwrap_or(0),
    );
    let mut linux_spec = json!({
        "namespaces": namespaces,
        "resources": res,
        "cgroupsPath": format!("{}/{}", i.cgroup_parent.trim_end_matches('/'), i.id),
        "maskedPaths": masked,
        "readonlyPaths": readonly,
        "devices": devices,
    });
    if let Some(p) = seccomp(&sc, &caps)? {
        linux_spec["seccomp"] = p;
    }
    if let Some(r) = root_propagation {
        linux_spec["rootfsPropagation"] = json!(r);
    }
    if privileged {
        linux_spec["devices"] = json!(host_devices(&devices));
    }
    let mut annotations: BTreeMap<String, String> = BTreeMap::new();
    annotations.insert(
        "io.kubernetes.cri.container-type".into(),
        "container".into(),
    );
    let process = json!({
        "terminal": c.tty,
        "user": {"uid": uid, "gid": gid, "additionalGids": extra},
        "args": args(i.image, c)?,
        "env": env,
        "cwd": cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": sc.no_new_privs,
        "oomScoreAdj": oom,
    });
    serde_json::from_value(json!({
        "ociVersion": "1.2.0",
        "root": {"path": i.rootfs, "readonly": sc.readonly_rootfs},
        "process": process,
        "mounts": mounts,
        "linux": linux_spec,
        "annotations": annotations,
    }))
    .map_err(|e| CriError::internal(format!("the spec: {e}")))
}

/// The config's working directory, else the image's, else `/`; absolute.
fn working_dir(c: &api::ContainerConfig, ic: &models::oci::RunConfig) -> Result<String> {
    let cwd = [c.working_dir.as_str(), ic.working_dir.as_str()]
        .into_iter()
        .find(|w| !w.is_empty())
        .unwrap_or("/")
        .to_string();
    if !cwd.starts_with('/') {
        return Err(invalid(format!(
            "working directory {cwd:?} must be absolute"
        )));
    }
    Ok(cwd)
}

/// The image's environment, then the config's (a later key replaces an
/// earlier one); `TERM` for a terminal and a default `PATH` when missing.
fn environment(c: &api::ContainerConfig, ic: &models::oci::RunConfig) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    let mut set = |kv: String| {
        let key = kv.split('=').next().unwrap_or("").to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(kv);
    };
    for kv in &ic.env {
        set(kv.clone());
    }
    for kv in &c.envs {
        set(format!("{}={}", kv.key, kv.value));
    }
    if c.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, engine::spec::DEFAULT_PATH.into());
    }
    env
}

/// The mounts: the kernel filesystems, the pod's files (hostname, hosts,
/// resolv.conf, shm) unless the config mounts its own there, then the
/// config's binds, parents first; with the root propagation they ask for.
fn mounts(
    c: &api::ContainerConfig,
    i: &Inputs<'_>,
    privileged: bool,
    host_ipc: bool,
) -> Result<(Vec<Value>, Option<&'static str>)> {
    let sys_opts = if privileged {
        json!(["nosuid", "noexec", "nodev", "rw"])
    } else {
        json!(["nosuid", "noexec", "nodev", "ro"])
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}),
    ];
    let shm = if host_ipc {
        Path::new("/dev/shm").to_path_buf()
    } else {
        i.sandbox_dir.join("shm")
    };
    let user_has = |dest: &str| c.mounts.iter().any(|m| m.container_path == dest);
    for (dest, src) in [
        ("/etc/hostname", i.sandbox_dir.join("hostname")),
        ("/etc/hosts", i.sandbox_dir.join("hosts")),
        ("/etc/resolv.conf", i.sandbox_dir.join("resolv.conf")),
        ("/dev/shm", shm),
    ] {
        if !user_has(dest) {
            mounts.push(json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate", "rw"]}));
        }
    }
    let mut root_propagation: Option<&'static str> = None;
    let mut sorted = c.mounts.clone();
    // Parents before children.
    sorted.sort_by_key(|m| Path::new(&m.container_path).components().count());
    for m in &sorted {
        if m.container_path.is_empty() || m.host_path.is_empty() {
            return Err(invalid("a mount needs a container path and a host path"));
        }
        // A symlinked host path binds its target.
        let source = std::fs::canonicalize(&m.host_path)
            .map_err(|e| invalid(format!("mount source {}: {e}", m.host_path)))?;
        let (prop, root) = propagation(m);
        match (root, root_propagation) {
            (Some("rshared"), _) => root_propagation = Some("rshared"),
            (Some(r), None) => root_propagation = Some(r),
            _ => {}
        }
        let mut options = vec!["rbind".to_string(), prop.to_string()];
        options.push(if m.readonly { "ro" } else { "rw" }.into());
        mounts.retain(|x| x["destination"] != m.container_path.as_str());
        mounts.push(json!({"destination": m.container_path, "type": "bind", "source": source, "options": options}));
    }
    Ok((mounts, root_propagation))
}

/// The config's devices and the device cgroup rules: all denied but those
/// (all allowed when privileged).
fn devices(c: &api::ContainerConfig, privileged: bool) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut devices = Vec::new();
    let mut device_rules = vec![json!({"allow": false, "access": "rwm"})];
    if privileged {
        device_rules = vec![json!({"allow": true, "access": "rwm"})];
    }
    for d in &c.devices {
        let (dev, rule) = device(d)?;
        devices.push(dev);
        device_rules.push(rule);
    }
    Ok((devices, device_rules))
}

/// Namespaces: the pod's, joined through its infra process; the network
/// through its file; the target container's pid namespace when asked.
fn namespaces(ns: &api::NamespaceOption, i: &Inputs<'_>, host_ipc: bool) -> Result<Vec<Value>> {
    let pause = |t: &str| format!("/proc/{}/ns/{t}", i.pause_pid);
    let mut namespaces = vec![json!({"type": "mount"})];
    match NamespaceMode::try_from(ns.pid) {
        Ok(NamespaceMode::Node) => {}
        Ok(NamespaceMode::Pod) => namespaces.push(json!({"type": "pid", "path": pause("pid")})),
        Ok(NamespaceMode::Target) => match i.target_pid {
            Some(p) => namespaces.push(json!({"type": "pid", "path": format!("/proc/{p}/ns/pid")})),
            None => {
                return Err(invalid(
                    "target container of the pid namespace is not running",
                ))
            }
        },
        _ => namespaces.push(json!({"type": "pid"})),
    }
    if !host_ipc {
        namespaces.push(json!({"type": "ipc", "path": pause("ipc")}));
    }
    if !i.netns.is_empty() {
        namespaces.push(json!({"type": "uts", "path": pause("uts")}));
        namespaces.push(json!({"type": "network", "path": i.netns}));
    }
    Ok(namespaces)
}

/// The masked and read-only paths: the config's, else the defaults; none
/// when privileged.
fn masked_and_readonly(sc: &api::LinuxContainerSecurityContext) -> (Vec<String>, Vec<String>) {
    if sc.privileged {
        return (Vec::new(), Vec::new());
    }
    let or_default = |given: &[String], default: &[&str]| {
        if given.is_empty() {
            default.iter().map(|s| s.to_string()).collect()
        } else {
            given.to_vec()
        }
    };
    (
        or_default(&sc.masked_paths, MASKED_PATHS),
        or_default(&sc.readonly_paths, READONLY_PATHS),
    )
}

/// Every device node of the host's `/dev` (what a privileged container
/// gets, as the engine gives a privileged Docker container), plus the
/// requested ones that are not among them.
fn host_devices(requested: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = requested.to_vec();
    let host = engine::spec::host_devices();
    for d in host.iter().filter_map(|d| serde_json::to_value(d).ok()) {
        if !requested.iter().any(|r| r["path"] == d["path"]) {
            out.push(d);
        }
    }
    out
}
