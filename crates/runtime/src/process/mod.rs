//! Starting processes in containers.
//!
//! The runtime (the parent) forks twice, as runc's nsexec does:
//!
//! ```text
//! parent ── fork ──> stage 1: joins the namespaces given by path, makes a user
//!    │                namespace (the parent writes its id maps), then unshares
//!    │                the other new namespaces (pid, cgroup included) and forks
//!    │                ── fork ──> init: pid 1 of the new pid namespace, already
//!    │                             in its cgroup; sets up the rootfs, drops
//!    │                             privileges and execs the user process.
//!    └─ waits for stage 1, learns init's pid, waits for "ready" or an error.
//! ```
//!
//! Two forks because a new pid namespace only applies to children, and one made
//! after the user namespace must be owned by it (or the container's root could
//! not mount its `/proc`). The parent becomes a child subreaper first, so init,
//! orphaned when stage 1 exits, is reparented to it (and to the parent's own
//! subreaper once the parent exits, as with runc under conmon).
//!
//! Everything that parses or allocates much (spec, seccomp BPF, capability masks,
//! argv and envp) is prepared in the parent as a [`Plan`]; the children only act.

mod child;
pub use child::INIT_ANNOTATION;
pub mod sync;

use std::ffi::CString;
use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Process, Spec};

use crate::caps::CapSets;
use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use crate::seccomp::Program;
use sync::Msg;

/// What the children do, worked out in the parent.
#[derive(Debug)]
pub struct Plan {
    /// Whether this is a container's init (true) or a process joining a running
    /// container (`exec`, false).
    pub init: bool,
    /// The container's spec (for `exec`: the container's, for its namespaces).
    pub spec: Spec,
    /// The process to run.
    pub process: Process,
    /// Host path of the rootfs.
    pub rootfs: PathBuf,
    /// The cgroup to join before anything else.
    pub cgroup: Cgroup,
    /// Namespaces to join: the flag and an open descriptor of the namespace.
    pub join: Vec<(CloneFlags, OwnedFd)>,
    /// Namespaces to create (without the user namespace).
    pub new: CloneFlags,
    /// Whether to create a user namespace.
    pub new_user: bool,
    /// uid maps for a new user namespace.
    pub uid_maps: Vec<LinuxIdMapping>,
    /// gid maps for a new user namespace.
    pub gid_maps: Vec<LinuxIdMapping>,
    /// Capabilities.
    pub caps: CapSets,
    /// Compiled seccomp filter.
    pub seccomp: Option<Program>,
    /// argv.
    pub args: Vec<CString>,
    /// envp.
    pub env: Vec<CString>,
    /// The exec fifo (`O_PATH`), for an init.
    pub fifo: Option<OwnedFd>,
    /// Descriptors 3.. kept open for the process (runc's `--preserve-fds`).
    pub preserve_fds: i32,
    /// Container id and bundle, for the state given to hooks.
    pub id: String,
    /// Bundle directory.
    pub bundle: PathBuf,
}

impl Plan {
    /// The state handed to hooks while the container is being created.
    fn hook_state(&self, pid: i32) -> crate::state::OciState {
        crate::state::OciState {
            oci_version: "1.2.0".into(),
            id: self.id.clone(),
            status: crate::state::Status::Creating,
            pid,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: String::new(),
            annotations: self.spec.annotations().clone().unwrap_or_default(),
        }
    }
}

/// A started process.
#[derive(Debug)]
pub struct Spawned {
    /// Host pid.
    pub pid: i32,
    /// The pty master, when the process has a terminal.
    pub pty: Option<OwnedFd>,
}

/// The clone flag of a namespace type.
pub fn ns_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// Name of a namespace under `/proc/PID/ns/`.
pub fn ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Turns strings into C strings, refusing interior NULs.
pub fn cstrings(what: &str, items: &[String]) -> Result<Vec<CString>> {
    items
        .iter()
        .map(|s| {
            CString::new(s.as_bytes())
                .map_err(|_| Error::InvalidSpec(format!("{what} {s:?} contains a NUL byte")))
        })
        .collect()
}

/// Capability masks, argv, envp and the compiled seccomp filter.
pub type ProcessParts = (CapSets, Vec<CString>, Vec<CString>, Option<Program>);

/// The parts of a plan that come from the process and the spec alone; the
/// seccomp filter compiled once and kept under `root`, the runtime's state
/// directory (see `seccomp::compile_cached`).
pub fn process_parts(spec: &Spec, process: &Process, root: &Path) -> Result<ProcessParts> {
    let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => Some(crate::seccomp::compile_cached(profile, root)?),
        None => None,
    };
    Ok((
        CapSets::from_spec(process.capabilities().as_ref())?,
        cstrings("argument", process.args().as_deref().unwrap_or(&[]))?,
        cstrings(
            "environment variable",
            process.env().as_deref().unwrap_or(&[]),
        )?,
        seccomp,
    ))
}

/// Forks the children and waits until the process is ready: for an init, set
/// up and blocked on the exec fifo; for an exec, past its `execve`.
pub fn spawn(plan: &Plan) -> Result<Spawned> {
    // SAFETY: integer arguments only. Makes orphans of our children ours.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let (ours, theirs) = sync::pair().map_err(|e| Error::sys("socketpair", e))?;
    // SAFETY: this process is single-threaded (the runtime binary never starts
    // threads), so the child may run any code; it ends with `_exit`.
    match unsafe { fork() }.map_err(|e| Error::sys("fork", e))? {
        ForkResult::Child => {
            drop(ours);
            child::stage1(plan, theirs)
        }
        ForkResult::Parent { child } => {
            drop(theirs);
            let res = parent(plan, &ours, child);
            if res.is_err() {
                let _ = kill(child, Signal::SIGKILL);
            }
            let _ = waitpid(child, None);
            res
        }
    }
}

fn parent(plan: &Plan, ch: &sync::Channel, stage1: Pid) -> Result<Spawned> {
    let recv = || {
        ch.recv()
            .map_err(|e| Error::sys("read from container setup", e))
    };
    crate::trace::mark("stage1 forked");
    plan.cgroup.add_pid(stage1.as_raw())?;
    crate::trace::mark("stage1 in cgroup");
    if plan.new_user {
        match recv()? {
            Msg::UserNs => write_id_maps(stage1.as_raw(), plan)?,
            Msg::Error(e) => return Err(Error::Init(e)),
            other => return Err(Error::Init(format!("unexpected {other:?} from setup"))),
        }
    }
    ch.send(&Msg::Go)
        .map_err(|e| Error::sys("write to container setup", e))?;
    // Stage 1 reports the init's pid while the init itself may already talk
    // (a pty, hooks): two writers on one socket, so their messages can come
    // in either order. Hooks wait for the pid that their state names.
    let mut pid: Option<i32> = None;
    let mut hooks_asked = false;
    let mut ready = false;
    let mut pty = None;
    let fail = |pid: Option<i32>, e: Error| {
        if let Some(p) = pid {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(p), None);
        }
        e
    };
    loop {
        match recv().map_err(|e| fail(pid, e))? {
            Msg::Pid(p) if p > 0 && pid.is_none() => pid = Some(p),
            Msg::Pty(fd) => pty = Some(fd),
            Msg::Hooks => hooks_asked = true,
            // The init may be ready before stage 1's pid message is read.
            Msg::Ready if plan.init => ready = true,
            // An exec's end of the channel is close-on-exec: EOF means it ran.
            Msg::Closed if !plan.init => ready = true,
            Msg::Error(e) => return Err(fail(pid, Error::Init(e))),
            other => {
                return Err(fail(
                    pid,
                    Error::Init(format!("unexpected {other:?} from setup")),
                ))
            }
        }
        if let (true, Some(p)) = (ready, pid) {
            return Ok(Spawned { pid: p, pty });
        }
        if let (true, Some(p)) = (hooks_asked, pid) {
            hooks_asked = false;
            let state = plan.hook_state(p);
            if let Some(h) = plan.spec.hooks() {
                #[allow(deprecated)]
                let prestart = h.prestart().as_deref().unwrap_or(&[]);
                crate::hooks::run("prestart", prestart, &state).map_err(|e| fail(pid, e))?;
                crate::hooks::run(
                    "createRuntime",
                    h.create_runtime().as_deref().unwrap_or(&[]),
                    &state,
                )
                .map_err(|e| fail(pid, e))?;
            }
            let json = serde_json::to_vec(&state).expect("state serialises");
            ch.send(&Msg::State(json))
                .map_err(|e| fail(pid, Error::sys("write to container setup", e)))?;
        }
    }
}

fn write_id_maps(pid: i32, plan: &Plan) -> Result<()> {
    let fmt = |maps: &[LinuxIdMapping]| {
        maps.iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect::<String>()
    };
    for (file, maps) in [("uid_map", &plan.uid_maps), ("gid_map", &plan.gid_maps)] {
        if maps.is_empty() {
            continue;
        }
        let path = format!("/proc/{pid}/{file}");
        fs::write(&path, fmt(maps)).map_err(|e| Error::io("write", path, e))?;
    }
    Ok(())
}

/// Waits for `pid` (a child or an orphan reparented to us) and returns its exit
/// code, or 128 + the signal that killed it, as shells and runc report it.
pub fn wait_exit(pid: i32) -> Result<i32> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys(format!("wait for {pid}"), e)),
        }
    }
}
