//! The OCI runtime spec of a container, built the way Docker builds it
//! (moby's `daemon/oci_linux.go` and `oci/defaults.go`): the image config
//! merged with the create request, Docker's default capabilities and seccomp
//! profile, its mounts, masked and read-only paths, and `/etc/hostname`,
//! `/etc/hosts`, `/etc/resolv.conf` bound from the container's own directory.

use std::collections::BTreeMap;
use std::path::Path;

use models::container::{Config, CreateBody};
use oci_spec::runtime::{Capability, Spec};
use serde_json::{json, Value};
use store::config::ImageConfig;

use crate::{EngineError, ErrorKind};

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

/// The default `PATH` when the image sets none (Docker's).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::new(ErrorKind::InvalidArgument, msg)
}

fn cap_name(c: &str) -> String {
    let up = c.to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// Merges the image's config into a create body, as Docker does at create
/// (moby `daemon/create.go` `merge`): what the request leaves empty comes
/// from the image (command, entrypoint, user, working dir, stop signal,
/// healthcheck, volumes, exposed ports), the environment and labels are
/// the image's overlaid by the request's.
pub fn merge(cfg: &ImageConfig, body: &mut CreateBody, id: &str) {
    let ic = &cfg.config;
    let c = &mut body.config;
    if c.entrypoint.is_none() {
        if let Some(e) = &ic.entrypoint {
            c.entrypoint = Some(e.clone());
        }
        if c.cmd.as_ref().is_none_or(|v| v.is_empty()) {
            if let Some(cmd) = &ic.cmd {
                c.cmd = Some(cmd.clone());
            }
        }
    }
    // `--entrypoint ""` clears it.
    if c.entrypoint
        .as_ref()
        .is_some_and(|e| e.len() == 1 && e[0].is_empty())
    {
        c.entrypoint = None;
    }
    for (mine, image) in [
        (&mut c.user, &ic.user),
        (&mut c.working_dir, &ic.working_dir),
        (&mut c.stop_signal, &ic.stop_signal),
    ] {
        if mine.is_empty() && !image.is_empty() {
            *mine = image.clone();
        }
    }
    if c.hostname.is_empty() {
        // On the host's network the host's name, as Docker
        // (moby `daemon/container_operations_unix.go` initializeNetworking).
        let host_name = (body.host_config.network_mode == "host")
            .then(|| nix::unistd::gethostname().ok())
            .flatten()
            .and_then(|h| h.into_string().ok());
        c.hostname = host_name.unwrap_or_else(|| id.chars().take(12).collect::<String>());
    }
    let mut env: Vec<String> = Vec::new();
    for kv in ic.env.iter().chain(c.env.iter().flatten()) {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    c.env = Some(env);
    let mut labels = ic.labels.clone();
    labels.extend(c.labels.take().unwrap_or_default());
    c.labels = Some(labels);
    if c.healthcheck.is_none() {
        c.healthcheck = ic.healthcheck.clone();
    }
    if !ic.volumes.is_empty() {
        let v = c.volumes.get_or_insert_with(Default::default);
        for k in ic.volumes.keys() {
            v.entry(k.clone()).or_default();
        }
    }
    for k in ic.exposed_ports.keys() {
        c.exposed_ports.entry(k.clone()).or_default();
    }
}

/// The process's arguments, Docker's way: a new entrypoint drops the image's
/// `CMD` too.
pub fn args(cfg: &ImageConfig, req: &Config) -> Result<Vec<String>, EngineError> {
    let (entry, cmd) = match &req.entrypoint {
        Some(e) => (e.clone(), req.cmd.clone().unwrap_or_default()),
        None => (
            cfg.config.entrypoint.clone().unwrap_or_default(),
            req.cmd
                .clone()
                .or_else(|| cfg.config.cmd.clone())
                .unwrap_or_default(),
        ),
    };
    let all: Vec<String> = entry.into_iter().chain(cmd).collect();
    if all.is_empty() {
        return Err(bad("no command specified"));
    }
    Ok(all)
}

/// The environment: the image's, then the request's (a key set twice keeps
/// the later value), `PATH` when missing, `HOSTNAME`, `TERM` for a tty.
pub fn env(cfg: &ImageConfig, req: &Config, hostname: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut set = |kv: &str| {
        let key = kv.split('=').next().unwrap_or(kv);
        out.retain(|e| e.split('=').next() != Some(key));
        out.push(kv.to_string());
    };
    set(&format!("HOSTNAME={hostname}"));
    for kv in cfg.config.env.iter().chain(req.env.iter().flatten()) {
        set(kv);
    }
    if req.tty && !out.iter().any(|e| e.starts_with("TERM=")) {
        out.push("TERM=xterm".into());
    }
    if !out.iter().any(|e| e.starts_with("PATH=")) {
        out.insert(0, DEFAULT_PATH.into());
    }
    out
}

/// Resolves `user[:group]` against the container's `/etc/passwd` and
/// `/etc/group`: (uid, gid, additional gids).
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>), EngineError> {
    let read = |f: &str| std::fs::read_to_string(rootfs.join(f)).unwrap_or_default();
    let passwd = read("etc/passwd");
    let group = read("etc/group");
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let u = if u.is_empty() { "0" } else { u };
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == u || f[2] == u));
    let (uid, mut gid, name) = match (u.parse::<u32>(), &entry) {
        (_, Some(f)) => (
            f[2].parse().unwrap_or(0),
            f[3].parse().unwrap_or(0),
            Some(f[0].to_string()),
        ),
        // A uid the image does not know runs with gid 0, as Docker.
        (Ok(n), None) => (n, 0, None),
        (Err(_), None) => {
            return Err(bad(format!(
                "unable to find user {u}: no matching entries in passwd file"
            )))
        }
    };
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 3 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    bad(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        };
    }
    let mut extra = Vec::new();
    if let Some(name) = name {
        for f in group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 4)
        {
            if f[3].split(',').any(|m| m == name) {
                if let Ok(id) = f[2].parse::<u32>() {
                    if id != gid && !extra.contains(&id) {
                        extra.push(id);
                    }
                }
            }
        }
    }
    Ok((uid, gid, extra))
}

/// Builds the spec of container `id` whose root filesystem is mounted at
/// `rootfs`, with its `hostname`, `hosts` and `resolv.conf` files in `etc_dir`
/// and the user's mounts (binds with their host paths, volumes with their
/// `_data`, tmpfs), sorted parents first.
pub fn build(
    id: &str,
    cfg: &ImageConfig,
    req: &CreateBody,
    rootfs: &Path,
    etc_dir: &Path,
    user_mounts: &[crate::mounts::MountPoint],
    netns: &crate::network::NetNs,
) -> Result<Spec, EngineError> {
    let hc = &req.host_config;
    let req = &req.config;
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
    let (uid, gid, extra) = resolve_user(rootfs, &user)?;
    let cwd = [req.working_dir.as_str(), cfg.config.working_dir.as_str()]
        .into_iter()
        .find(|w| !w.is_empty())
        .unwrap_or("/")
        .to_string();
    if !cwd.starts_with('/') {
        return Err(bad(format!(
            "the working directory '{cwd}' is invalid, it needs to be an absolute path"
        )));
    }
    // Capabilities: Docker's set, then --cap-add, then --cap-drop.
    // "All" is what this daemon may hand on: its bounding set (a host may
    // lack some, CAP_SYS_RESOURCE on some VMs, and asking for more fails).
    let bounding = caps::read(None, caps::CapSet::Bounding).unwrap_or_else(|_| caps::all());
    let mut all_caps: Vec<String> = caps::all()
        .iter()
        .filter(|c| bounding.contains(c))
        .map(|c| c.to_string())
        .collect();
    all_caps.sort();
    let mut caps: Vec<String> = if hc.privileged {
        all_caps.clone()
    } else {
        DEFAULT_CAPS.iter().map(|c| c.to_string()).collect()
    };
    for c in hc.cap_add.iter().flatten() {
        if c.eq_ignore_ascii_case("ALL") {
            caps = all_caps.clone();
        } else if !caps.contains(&cap_name(c)) {
            caps.push(cap_name(c));
        }
    }
    for c in hc.cap_drop.iter().flatten() {
        if c.eq_ignore_ascii_case("ALL") {
            caps.clear();
        } else {
            caps.retain(|x| *x != cap_name(c));
        }
    }
    let opts = hc.security_opt.clone().unwrap_or_default();
    let unconfined = hc.privileged
        || opts
            .iter()
            .any(|o| o == "seccomp=unconfined" || o == "seccomp:unconfined");
    let nnp = opts.iter().any(|o| {
        o == "no-new-privileges" || o == "no-new-privileges:true" || o == "no-new-privileges=true"
    });
    let seccomp = if unconfined {
        Value::Null
    } else {
        let parsed: Vec<Capability> = caps
            .iter()
            .filter_map(|c| c.trim_start_matches("CAP_").parse().ok())
            .collect();
        serde_json::to_value(runtime::seccomp::docker_default(&parsed)).unwrap_or(Value::Null)
    };
    let bind = |dest: &str, file: &str| json!({"destination": dest, "type": "bind", "source": etc_dir.join(file), "options": ["rbind", "rprivate"]});
    let sys_opts = if hc.privileged {
        json!(["nosuid", "noexec", "nodev", "rw"])
    } else {
        json!(["nosuid", "noexec", "nodev", "ro"])
    };
    let mounts = json!([
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
        bind("/etc/resolv.conf", "resolv.conf"),
        bind("/etc/hostname", "hostname"),
        bind("/etc/hosts", "hosts"),
    ]);
    let mut mounts = mounts;
    let mut root_propagation = "";
    for m in user_mounts {
        // Docker's rules (moby `daemon/oci_linux.go` WithMounts): a shared
        // bind needs a shared source mount, a slave one a shared or slave
        // source, and the root's propagation follows so that events reach.
        match m.propagation.as_str() {
            "shared" | "rshared" => {
                let (at, tags) = source_mount(Path::new(&m.source));
                if !tags.contains("shared:") {
                    return Err(bad(format!(
                        "path {} is mounted on {at} but it is not a shared mount",
                        m.source
                    )));
                }
                root_propagation = "shared";
            }
            "slave" | "rslave" => {
                let (at, tags) = source_mount(Path::new(&m.source));
                if !tags.contains("shared:") && !tags.contains("master:") {
                    return Err(bad(format!(
                        "path {} is mounted on {at} but it is not a shared or slave mount",
                        m.source
                    )));
                }
                if root_propagation.is_empty() {
                    root_propagation = "rslave";
                }
            }
            _ => {}
        }
        let mount = match m.typ.as_str() {
            // Docker's tmpfs defaults, then the user's options.
            "tmpfs" => {
                let mut options: Vec<String> = ["noexec", "nosuid", "nodev", "rprivate"]
                    .map(String::from)
                    .to_vec();
                options.extend(
                    m.tmpfs
                        .split(',')
                        .filter(|o| !o.is_empty())
                        .map(String::from),
                );
                if !m.rw && !options.iter().any(|o| o == "ro") {
                    options.push("ro".into());
                }
                json!({"destination": m.destination, "type": "tmpfs", "source": "tmpfs", "options": options})
            }
            _ => {
                let propagation = if m.propagation.is_empty() {
                    "rprivate"
                } else {
                    m.propagation.as_str()
                };
                let mut options = vec!["rbind".to_string(), propagation.to_string()];
                if !m.rw {
                    options.push("ro".into());
                }
                json!({"destination": m.destination, "type": "bind", "source": m.source, "options": options})
            }
        };
        if let Some(list) = mounts.as_array_mut() {
            // A mount over one of the defaults replaces it.
            list.retain(|x| x["destination"] != m.destination.as_str());
            list.push(mount);
        }
    }
    let mut resources = serde_json::Map::new();
    if hc.memory > 0 {
        // Docker: no --memory-swap means twice the memory; -1 unlimited.
        let swap = match hc.memory_swap {
            0 => hc.memory * 2,
            s => s,
        };
        resources.insert("memory".into(), json!({"limit": hc.memory, "swap": swap}));
    }
    let mut cpu = serde_json::Map::new();
    if hc.nano_cpus > 0 {
        cpu.insert("period".into(), json!(100_000));
        cpu.insert(
            "quota".into(),
            json!(hc.nano_cpus * 100_000 / 1_000_000_000),
        );
    }
    if hc.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(hc.cpu_shares));
    }
    if !cpu.is_empty() {
        resources.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = hc.pids_limit.filter(|p| *p > 0) {
        resources.insert("pids".into(), json!({"limit": p}));
    }
    if hc.privileged {
        resources.insert("devices".into(), json!([{"allow": true, "access": "rwm"}]));
    }
    let mut namespaces = vec![json!({"type": "pid"})];
    match netns {
        crate::network::NetNs::New => namespaces.push(json!({"type": "network"})),
        crate::network::NetNs::Join(path) => {
            namespaces.push(json!({"type": "network", "path": path}))
        }
        // The host's network: no namespace of its own.
        crate::network::NetNs::Host => {}
    }
    for t in ["ipc", "uts", "mount", "cgroup"] {
        namespaces.push(json!({ "type": t }));
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "resources": Value::Object(resources),
        "cgroupsPath": format!("/berth/{id}"),
        "maskedPaths": if hc.privileged { json!([]) } else { json!(MASKED_PATHS) },
        "readonlyPaths": if hc.privileged { json!([]) } else { json!(READONLY_PATHS) },
    });
    if !seccomp.is_null() {
        linux["seccomp"] = seccomp;
    }
    if !root_propagation.is_empty() {
        linux["rootfsPropagation"] = json!(root_propagation);
    }
    if hc.privileged {
        linux["devices"] = Value::Array(host_devices());
    }
    let mut labels: BTreeMap<String, String> = cfg.config.labels.clone();
    if hc.init == Some(true) {
        labels.insert(runtime::process::INIT_ANNOTATION.to_string(), "true".into());
    }
    let mut spec = json!({
        "ociVersion": "1.2.0",
        "root": {"path": rootfs, "readonly": hc.readonly_rootfs},
        "hostname": hostname,
        "domainname": req.domainname,
        "process": {
            "terminal": req.tty,
            "user": {"uid": uid, "gid": gid, "additionalGids": extra},
            "args": args(cfg, req)?,
            "env": env(cfg, req, &hostname),
            "cwd": cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": nnp,
            "oomScoreAdj": 0,
        },
        "mounts": mounts,
        "linux": linux,
        "annotations": labels,
    });
    if let Some(size) = console_size(req.tty, hc.console_size) {
        spec["process"]["consoleSize"] = size;
    }
    serde_json::from_value(spec).map_err(|e| {
        EngineError::new(
            ErrorKind::System,
            format!("building the container's spec: {e}"),
        )
    })
}

/// The mount point that holds `path` and its mountinfo optional fields
/// (`shared:N`, `master:N`), from `/proc/self/mountinfo`.
fn source_mount(path: &Path) -> (String, String) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut best: (String, String) = ("/".into(), String::new());
    let mut best_len = 0;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(at), Some(dash)) = (fields.get(4), fields.iter().position(|f| *f == "-")) else {
            continue;
        };
        // Later lines are mounted on top: on a tie, the last one wins.
        if path.starts_with(at) && at.len() >= best_len {
            best_len = at.len();
            best = (at.to_string(), fields[6..dash].join(" "));
        }
    }
    best
}

/// A TTY's first size as the spec says it (`[0, 0]` is none).
pub fn console_size(tty: bool, size: [u32; 2]) -> Option<Value> {
    match size {
        [h, w] if tty && h > 0 && w > 0 => Some(json!({"height": h, "width": w})),
        _ => None,
    }
}

/// Every device node of the host's `/dev` (a privileged container gets them
/// all, as Docker's), except the container's own pts, shm and mqueue.
fn host_devices() -> Vec<Value> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::from("/dev")];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            let Ok(md) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let ft = md.file_type();
            if ft.is_dir() {
                if !["/dev/pts", "/dev/shm", "/dev/mqueue"]
                    .iter()
                    .any(|p| path == Path::new(p))
                {
                    stack.push(path);
                }
                continue;
            }
            let typ = if ft.is_char_device() {
                "c"
            } else if ft.is_block_device() {
                "b"
            } else {
                continue;
            };
            // /dev/console and the default devices are made by the runtime.
            if path == Path::new("/dev/console") || path == Path::new("/dev/ptmx") {
                continue;
            }
            let rdev = md.rdev();
            out.push(json!({
                "path": path, "type": typ,
                "major": libc::major(rdev), "minor": libc::minor(rdev),
                "fileMode": md.mode() & 0o7777, "uid": md.uid(), "gid": md.gid(),
            }));
        }
    }
    out.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    out
}

/// Writes the files bound into the container's `/etc`: `hostname`, and
/// `hosts` and `resolv.conf` as its network gives them (Docker's: the
/// container's address and name in `hosts`; the host's resolvers without
/// loopback ones on a bridge; the host's files on the host's network; the
/// other container's files when it joins another's network).
pub fn write_etc_files(
    etc_dir: &Path,
    hostname: &str,
    net: &crate::network::EtcNet,
) -> std::io::Result<()> {
    use crate::network::EtcNet;
    std::fs::create_dir_all(etc_dir)?;
    std::fs::write(etc_dir.join("hostname"), format!("{hostname}\n"))?;
    const BASE: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let (hosts, resolv) = match net {
        EtcNet::Loopback => (format!("{BASE}127.0.1.1\t{hostname}\n"), host_resolv),
        EtcNet::Address(ip) => (
            format!("{BASE}{ip}\t{hostname}\n"),
            crate::network::container_resolv_conf(&host_resolv),
        ),
        EtcNet::Embedded(ip) => (
            format!("{BASE}{ip}\t{hostname}\n"),
            crate::network::embedded_resolv_conf(&host_resolv),
        ),
        EtcNet::Host => (
            std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| BASE.to_string()),
            host_resolv,
        ),
        EtcNet::Shared(other) => (
            std::fs::read_to_string(other.join("hosts")).unwrap_or_else(|_| BASE.to_string()),
            std::fs::read_to_string(other.join("resolv.conf")).unwrap_or(host_resolv),
        ),
    };
    std::fs::write(etc_dir.join("hosts"), hosts)?;
    std::fs::write(etc_dir.join("resolv.conf"), resolv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: Value) -> ImageConfig {
        let mut base = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}});
        base["config"] = v;
        models::de::from_value(base).unwrap()
    }

    #[test]
    fn entrypoint_and_cmd_as_docker() {
        let c = cfg(json!({"Entrypoint": ["/init"], "Cmd": ["serve"]}));
        let r = |v: Value| -> Config { models::de::from_value(v).unwrap() };
        assert_eq!(args(&c, &r(json!({}))).unwrap(), ["/init", "serve"]);
        assert_eq!(args(&c, &r(json!({"Cmd": ["x"]}))).unwrap(), ["/init", "x"]);
        assert_eq!(
            args(&c, &r(json!({"Entrypoint": ["sh"]}))).unwrap(),
            ["sh"],
            "a new entrypoint drops the image's CMD"
        );
        assert!(args(&cfg(json!({})), &r(json!({}))).is_err());
    }

    #[test]
    fn environment_merge() {
        let c = cfg(json!({"Env": ["A=1", "PATH=/bin"]}));
        let r: Config =
            models::de::from_value(json!({"Env": ["A=2", "B=3"], "Tty": true})).unwrap();
        assert_eq!(
            env(&c, &r, "h"),
            ["HOSTNAME=h", "PATH=/bin", "A=2", "B=3", "TERM=xterm"]
        );
        assert_eq!(
            env(&cfg(json!({})), &Config::default(), "h"),
            [DEFAULT_PATH, "HOSTNAME=h"]
        );
    }

    #[test]
    fn users_from_the_containers_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("etc/group"),
            "root:x:0:\napp:x:1000:\nextra:x:2000:app\n",
        )
        .unwrap();
        for (user, want) in [
            ("", (0, 0, vec![])),
            ("app", (1000, 1000, vec![2000])),
            ("app:extra", (1000, 2000, vec![])),
            ("1234:5", (1234, 5, vec![])),
            ("1000", (1000, 1000, vec![2000])),
        ] {
            assert_eq!(resolve_user(d.path(), user).unwrap(), want, "{user}");
        }
        assert!(resolve_user(d.path(), "nobody")
            .unwrap_err()
            .to_string()
            .contains("unable to find user nobody"));
    }
}
