//! `exec`: start another process in a running container, in all of its
//! namespaces and its cgroup, with the container's seccomp filter.

use nix::fcntl::{open, OFlag};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use oci_spec::runtime::Process;

use super::Runtime;
use crate::error::{Error, Result};
use crate::process::{self, ns_flag, ns_name, Plan, Spawned};
use crate::spec::Bundle;
use crate::state::Status;

/// Options of `exec` beyond the process.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Descriptors 3..3+N passed to the process.
    pub preserve_fds: i32,
}

impl Runtime {
    /// Starts `process` in container `id`; returns once it has exec'd.
    pub fn exec(&self, id: &str, process: Process, opts: &ExecOptions) -> Result<Spawned> {
        let (dir, record) = self.open(id)?;
        self.require(&dir, &record, &[Status::Created, Status::Running], "exec")?;
        crate::spec::validate_process(&process)?;
        let bundle = Bundle::load(&record.bundle)?;
        let spec = bundle.spec;
        let linux = spec.linux().as_ref();
        let mut join = Vec::new();
        for ns in linux
            .and_then(|l| l.namespaces().as_ref())
            .into_iter()
            .flatten()
        {
            let path = format!("/proc/{}/ns/{}", record.pid, ns_name(ns.typ()));
            let fd = open(
                path.as_str(),
                OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| Error::sys(format!("open {path}"), e))?;
            join.push((ns_flag(ns.typ()), fd));
        }
        let (caps, args, env, seccomp) = process::process_parts(&spec, &process, self.root())?;
        let plan = Plan {
            init: false,
            caps,
            args,
            env,
            process,
            rootfs: record.rootfs.clone(),
            cgroup: record.cgroup.clone(),
            join,
            new: CloneFlags::empty(),
            new_user: false,
            uid_maps: Vec::new(),
            gid_maps: Vec::new(),
            seccomp,
            fifo: None,
            preserve_fds: opts.preserve_fds,
            spec,
            id: id.to_string(),
            bundle: record.bundle.clone(),
        };
        process::spawn(&plan)
    }
}
