//! `--pid`, `--ipc`, `--uts`, `--userns` and `--cgroupns` as the spec's
//! namespaces, the way moby's `daemon/oci_linux.go` `WithNamespaces` sets
//! them: a new namespace, none (the host's), or another container's by
//! its init's `/proc/PID/ns/…`. The network namespace is the network
//! code's (`crate::network`).

use std::path::PathBuf;

use serde_json::{json, Value};

use super::SpecError;
use crate::EngineError;
use models::container::HostConfig;

/// One namespace's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ns {
    /// A new one.
    Private,
    /// The host's (no entry in the spec).
    Host,
    /// Another container's, through its init's pid.
    Join(i32),
}

/// The namespaces a container's start resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    /// pid.
    pub pid: Ns,
    /// ipc.
    pub ipc: Ns,
    /// `--ipc none`: an IPC namespace of its own and no `/dev/shm`.
    pub ipc_none: bool,
    /// The host directory bound on `/dev/shm`: the host's own (`--ipc
    /// host`), a tmpfs the engine mounted for a `shareable` container, or
    /// the donor's (`container:X`). None: a tmpfs of the container's own.
    pub shm_source: Option<PathBuf>,
    /// uts (Private or Host).
    pub uts: Ns,
    /// cgroup (Private or Host).
    pub cgroup: Ns,
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces {
            pid: Ns::Private,
            ipc: Ns::Private,
            ipc_none: false,
            shm_source: None,
            uts: Ns::Private,
            cgroup: Ns::Private,
        }
    }
}

/// The container named in `container:<name|id>`.
pub fn container_of(mode: &str) -> Option<&str> {
    mode.strip_prefix("container:")
}

/// The create-time checks (moby's `Valid()` of each mode, and runconfig's
/// hostname rule), with dockerd's words.
pub fn check_modes(hc: &HostConfig, hostname: &str) -> Result<(), EngineError> {
    let ipc = hc.ipc_mode.as_str();
    if !(["", "none", "private", "host", "shareable"].contains(&ipc)
        || container_of(ipc).is_some_and(|c| !c.is_empty()))
    {
        return Err(SpecError::Invalid(format!("invalid IPC mode: {ipc}")).into());
    }
    let pid = hc.pid_mode.as_str();
    if !(["", "host"].contains(&pid) || container_of(pid).is_some_and(|c| !c.is_empty())) {
        return Err(SpecError::Invalid(format!("invalid PID mode: {pid}")).into());
    }
    if !["", "host"].contains(&hc.uts_mode.as_str()) {
        return Err(SpecError::Invalid(format!("invalid UTS mode: {}", hc.uts_mode)).into());
    }
    if !["", "host", "private"].contains(&hc.cgroupns_mode.as_str()) {
        return Err(SpecError::Invalid(format!(
            "invalid cgroup namespace mode: {}",
            hc.cgroupns_mode
        ))
        .into());
    }
    // Without user namespace remapping (berth has none), "host" is what
    // every container gets.
    if !["", "host"].contains(&hc.userns_mode.as_str()) {
        return Err(SpecError::Invalid(format!(
            "invalid USER mode: {} (berth does no user namespace remapping: \"\" or \"host\")",
            hc.userns_mode
        ))
        .into());
    }
    if hc.uts_mode == "host" && !hostname.is_empty() {
        return Err(
            SpecError::Invalid("conflicting options: hostname and the UTS mode".into()).into(),
        );
    }
    Ok(())
}

/// What a start needs to know of a container whose namespace is joined.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Its init's pid (0: not running).
    pub pid: i32,
    /// The host directory on its `/dev/shm`, when it shares one
    /// (`shareable`, `host`, or itself joined to one); None: non-shareable.
    pub shm: Option<PathBuf>,
}

/// Resolves the modes at start; `peer` finds a container by name or id.
/// Errors as dockerd's (`getIPCContainer`, `getPIDContainer`).
pub fn resolve(
    hc: &HostConfig,
    peer: impl Fn(&str) -> Result<Peer, EngineError>,
) -> Result<Namespaces, EngineError> {
    let mut ns = Namespaces::default();
    let running = |name: &str, what: &str| -> Result<Peer, EngineError> {
        let p = peer(name)
            .map_err(|e| SpecError::Invalid(format!("failed to join {what} namespace: {e}")))?;
        if p.pid <= 0 {
            return Err(SpecError::Conflict(format!(
                "failed to join {what} namespace: container {name} is not running"
            ))
            .into());
        }
        Ok(p)
    };
    match hc.ipc_mode.as_str() {
        "host" => {
            ns.ipc = Ns::Host;
            ns.shm_source = Some(PathBuf::from("/dev/shm"));
        }
        "none" => ns.ipc_none = true,
        m => {
            if let Some(name) = container_of(m) {
                let p = running(name, "IPC")?;
                let Some(shm) = p.shm else {
                    return Err(SpecError::Invalid(format!("failed to join IPC namespace: container {name}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)")).into());
                };
                ns.ipc = Ns::Join(p.pid);
                ns.shm_source = Some(shm);
            }
        }
    }
    match hc.pid_mode.as_str() {
        "host" => ns.pid = Ns::Host,
        m => {
            if let Some(name) = container_of(m) {
                ns.pid = Ns::Join(running(name, "PID")?.pid);
            }
        }
    }
    if hc.uts_mode == "host" {
        ns.uts = Ns::Host;
    }
    if hc.cgroupns_mode == "host" {
        ns.cgroup = Ns::Host;
    }
    Ok(ns)
}

/// The spec's namespace entries but the network's.
pub(crate) fn entries(ns: &Namespaces) -> Vec<Value> {
    let mut out = Vec::new();
    for (typ, n, file) in [("pid", &ns.pid, "pid"), ("ipc", &ns.ipc, "ipc")] {
        match n {
            Ns::Private => out.push(json!({ "type": typ })),
            Ns::Join(pid) => {
                out.push(json!({"type": typ, "path": format!("/proc/{pid}/ns/{file}")}))
            }
            Ns::Host => {}
        }
    }
    if ns.uts != Ns::Host {
        out.push(json!({"type": "uts"}));
    }
    out.push(json!({"type": "mount"}));
    if ns.cgroup != Ns::Host {
        out.push(json!({"type": "cgroup"}));
    }
    out
}

/// `/dev/shm` as the IPC mode gives it: a host directory bound (the
/// host's, a shareable one's), none, or a tmpfs of `size` bytes.
pub(crate) fn shm_mount(ns: &Namespaces, size: i64) -> Option<Value> {
    if ns.ipc_none {
        return None;
    }
    Some(match &ns.shm_source {
        Some(src) => {
            json!({"destination": "/dev/shm", "type": "bind", "source": src, "options": ["rbind", "rprivate"]})
        }
        None => json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={size}")]}),
    })
}

/// The options of the tmpfs a `shareable` container's `/dev/shm` is, as
/// Docker mounts it under the container's directory.
pub fn shm_options(size: i64) -> String {
    format!("mode=1777,size={size}")
}

/// Mounts a `shareable` IPC namespace's `/dev/shm` (a tmpfs of `size`
/// bytes, nosuid, nodev, noexec, as Docker's) on `dir` on the host.
pub fn mount_shm(dir: &std::path::Path, size: i64) -> nix::Result<()> {
    nix::mount::mount(
        Some("shm"),
        dir,
        Some("tmpfs"),
        nix::mount::MsFlags::MS_NOSUID
            | nix::mount::MsFlags::MS_NODEV
            | nix::mount::MsFlags::MS_NOEXEC,
        Some(shm_options(size).as_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(v: Value) -> HostConfig {
        models::de::from_value(v).unwrap()
    }

    #[test]
    fn modes_checked_with_dockers_words() {
        for (v, want) in [
            (json!({"IpcMode": "bogus"}), "invalid IPC mode: bogus"),
            (
                json!({"PidMode": "container:"}),
                "invalid PID mode: container:",
            ),
            (json!({"UTSMode": "private"}), "invalid UTS mode: private"),
            (
                json!({"CgroupnsMode": "x"}),
                "invalid cgroup namespace mode: x",
            ),
        ] {
            assert_eq!(check_modes(&hc(v), "").unwrap_err().to_string(), want);
        }
        assert_eq!(
            check_modes(&hc(json!({"UTSMode": "host"})), "box")
                .unwrap_err()
                .to_string(),
            "conflicting options: hostname and the UTS mode"
        );
        check_modes(
            &hc(json!({"IpcMode": "container:db", "PidMode": "host", "UsernsMode": "host"})),
            "",
        )
        .unwrap();
    }

    #[test]
    fn joined_namespaces_need_a_running_shareable_peer() {
        let peer = |shm: Option<&'static str>, pid: i32| {
            move |_: &str| {
                Ok(Peer {
                    pid,
                    shm: shm.map(PathBuf::from),
                })
            }
        };
        let h = hc(json!({"IpcMode": "container:a", "PidMode": "container:a"}));
        let ns = resolve(&h, peer(Some("/c/a/shm"), 42)).unwrap();
        assert_eq!(
            (ns.ipc.clone(), ns.pid.clone()),
            (Ns::Join(42), Ns::Join(42))
        );
        assert_eq!(
            entries(&ns)[..2],
            [
                json!({"type": "pid", "path": "/proc/42/ns/pid"}),
                json!({"type": "ipc", "path": "/proc/42/ns/ipc"})
            ]
        );
        assert_eq!(shm_mount(&ns, 1).unwrap()["source"], "/c/a/shm");
        let e = resolve(&h, peer(None, 42)).unwrap_err();
        assert!(
            e.to_string().contains("non-shareable IPC"),
            "{}",
            e.to_string()
        );
        let e = resolve(&h, peer(Some("/c/a/shm"), 0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to join IPC namespace: container a is not running"
        );
        let host = resolve(&hc(json!({"PidMode": "host", "IpcMode": "host", "UTSMode": "host", "CgroupnsMode": "host"})), peer(None, 0)).unwrap();
        assert_eq!(entries(&host), [json!({"type": "mount"})]);
        let none = resolve(&hc(json!({"IpcMode": "none"})), peer(None, 0)).unwrap();
        assert!(shm_mount(&none, 1).is_none());
    }
}
