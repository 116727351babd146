//! `create`: set a container up from a bundle and leave its init waiting on
//! the exec fifo until `start`.

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::unistd::mkfifo;
use oci_spec::runtime::{LinuxNamespaceType, LinuxResources, Spec};

use super::Runtime;
use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use crate::process::{self, ns_flag, Plan, Spawned};
use crate::spec::Bundle;
use crate::state::{pid_start_time, Record, StateDir};

/// Options of `create` beyond the bundle.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Descriptors 3..3+N passed to the process (runc's `--preserve-fds`).
    pub preserve_fds: i32,
}

impl Runtime {
    /// Creates container `id` from the bundle at `bundle`. On success the init
    /// runs, set up, and waits for [`Runtime::start`]; the returned pty master
    /// (for a terminal) is the caller's to hand on.
    pub fn create(&self, id: &str, bundle: &Path, opts: &CreateOptions) -> Result<Spawned> {
        let bundle = Bundle::load(bundle)?;
        let dir = StateDir::create(&self.root, id)?;
        let mut cgroup = None;
        let res = self.create_in(&dir, id, &bundle, opts, &mut cgroup);
        if res.is_err() {
            if let Some(cg) = cgroup {
                let _ = cg.destroy();
            }
            let _ = dir.remove();
        }
        res
    }

    fn create_in(
        &self,
        dir: &StateDir,
        id: &str,
        bundle: &Bundle,
        opts: &CreateOptions,
        cgroup_out: &mut Option<Cgroup>,
    ) -> Result<Spawned> {
        let spec = &bundle.spec;
        let linux = spec.linux().as_ref();
        crate::trace::mark("bundle loaded");
        let cgroup = Cgroup::open(linux.and_then(|l| l.cgroups_path().as_deref()), id)?;
        let resources = with_device_rules(linux);
        let cgroup = match cgroup.create() {
            Ok(()) => cgroup,
            Err(e) if e.is_permission() && crate::userns::rootless() => {
                let _ = cgroup.destroy();
                rootless_without_cgroup(&resources, e)?
            }
            Err(e) => return Err(e.into()),
        };
        *cgroup_out = Some(cgroup.clone());
        crate::trace::mark("cgroup made");
        cgroup.apply(&resources)?;
        crate::trace::mark("cgroup limits applied");
        let fifo_path = dir.fifo();
        mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
            .map_err(|e| Error::sys(format!("mkfifo {}", fifo_path.display()), e))?;
        // Writable by the container's user, whoever that is (mkfifo applied our umask).
        std::fs::set_permissions(
            &fifo_path,
            std::os::unix::fs::PermissionsExt::from_mode(0o622),
        )
        .map_err(|e| Error::io("chmod", &fifo_path, e))?;
        let fifo = open(&fifo_path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| Error::sys(format!("open {}", fifo_path.display()), e))?;
        let plan = plan_init(
            &self.root,
            id,
            &bundle.dir,
            spec,
            &bundle.rootfs,
            cgroup.clone(),
            fifo,
            opts.preserve_fds,
        )?;
        crate::trace::mark("plan made");
        let spawned = process::spawn(&plan)?;
        crate::trace::mark("init ready");
        let record = Record {
            id: id.to_string(),
            pid: spawned.pid,
            pid_start: pid_start_time(spawned.pid).unwrap_or(0),
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            cgroup,
            created: now_rfc3339(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            own_pid_ns: plan.new.contains(CloneFlags::CLONE_NEWPID),
        };
        if let Err(e) = dir.save(&record) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(spawned.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            return Err(e);
        }
        Ok(spawned)
    }
}

/// A rootless container where the cgroup hierarchy is not the user's: it
/// runs without a cgroup (as runc and crun do rootless on cgroup v1) unless
/// it asks for limits, which are then refused by name rather than dropped.
fn rootless_without_cgroup(
    resources: &LinuxResources,
    cause: crate::cgroups::CgroupError,
) -> Result<Cgroup> {
    let asked = crate::cgroups::limits_asked(resources);
    if asked.is_empty() {
        return Ok(Cgroup::none());
    }
    Err(Error::InvalidSpec(format!(
        "rootless: {} limits need a cgroup delegated to this user, and this host has none \
         ({cause}); run without the limits, or on a cgroup v2 host with the controllers delegated",
        asked.join(", ")
    )))
}

/// The spec's resources with the device rules every container gets, as runc
/// does: deny all, then the spec's rules, then the spec's own devices and the
/// default ones (null, zero, full, random, urandom, tty, console, ptmx, pts).
/// A spec without rules is no open door to the host's disks.
fn with_device_rules(linux: Option<&oci_spec::runtime::Linux>) -> LinuxResources {
    let mut res = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let mut rules: Vec<serde_json::Value> =
        vec![serde_json::json!({"allow": false, "access": "rwm"})];
    for r in res.devices().iter().flatten() {
        rules.push(serde_json::to_value(r).unwrap_or_default());
    }
    for d in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        rules.push(serde_json::json!({"allow": true, "type": d.typ(), "major": d.major(), "minor": d.minor(), "access": "rwm"}));
    }
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ] {
        rules.push(serde_json::json!({"allow": true, "type": "c", "major": major, "minor": minor, "access": "rwm"}));
    }
    rules.push(serde_json::json!({"allow": true, "type": "c", "major": 136, "access": "rwm"}));
    res.set_devices(serde_json::from_value(serde_json::Value::Array(rules)).ok());
    res
}

/// Works out what the children will do for a container's init.
#[allow(clippy::too_many_arguments)]
fn plan_init(
    root: &Path,
    id: &str,
    bundle: &Path,
    spec: &Spec,
    rootfs: &Path,
    cgroup: Cgroup,
    fifo: OwnedFd,
    preserve_fds: i32,
) -> Result<Plan> {
    let linux = spec.linux().as_ref();
    let mut new = CloneFlags::empty();
    let mut new_user = false;
    let mut join = Vec::new();
    for ns in linux
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
    {
        let flag = ns_flag(ns.typ());
        match ns.path() {
            Some(path) => {
                let fd = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                    .map_err(|e| Error::sys(format!("open namespace {}", path.display()), e))?;
                join.push((flag, fd));
            }
            None if ns.typ() == LinuxNamespaceType::User => new_user = true,
            None => new |= flag,
        }
    }
    let process = spec
        .process()
        .clone()
        .ok_or_else(|| Error::InvalidSpec("process is missing".into()))?;
    let (caps, args, env, seccomp) = process::process_parts(spec, &process, root)?;
    Ok(Plan {
        init: true,
        spec: spec.clone(),
        caps,
        args,
        env,
        process,
        rootfs: rootfs.to_path_buf(),
        cgroup,
        join,
        new,
        new_user,
        uid_maps: linux
            .and_then(|l| l.uid_mappings().clone())
            .unwrap_or_default(),
        gid_maps: linux
            .and_then(|l| l.gid_mappings().clone())
            .unwrap_or_default(),
        seccomp,
        fifo: Some(fifo),
        preserve_fds,
        id: id.to_string(),
        bundle: bundle.to_path_buf(),
    })
}

/// The current time in RFC 3339 with nanoseconds, UTC, as runc records it.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    crate::time::rfc3339(now.as_secs() as i64, Some(now.subsec_nanos()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_format() {
        let t = super::now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
