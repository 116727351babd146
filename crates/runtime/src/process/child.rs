//! The children's side of [`super::spawn`]. Every function here runs in a
//! forked copy of the runtime and ends in `execve` or `_exit`; failures are
//! sent to the parent as text before exiting.

use std::ffi::{CStr, CString};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{
    chdir, execve, fork, setgroups, sethostname, setresgid, setresuid, setsid, ForkResult, Gid, Uid,
};

use super::sync::{Channel, Msg};
use super::Plan;
use crate::caps;
use crate::console;
use crate::error::{Error, Result};
use crate::rootfs::{
    self,
    resolve::{open_in_root, Create},
};

/// Ends the process without running Rust's or libc's exit handlers (they belong
/// to the parent's copy of the state).
fn exit(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

fn fail(ch: &Channel, e: Error) -> ! {
    let _ = ch.send(&Msg::Error(e.to_string()));
    exit(1)
}

/// Gives the process the signal state of a fresh one: nothing blocked,
/// nothing ignored. The runtime blocks signals it forwards, and Rust ignores
/// SIGPIPE; both would otherwise survive the exec into the container.
fn reset_signals() {
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
    for sig in nix::sys::signal::Signal::iterator() {
        if sig != nix::sys::signal::Signal::SIGKILL && sig != nix::sys::signal::Signal::SIGSTOP {
            // SAFETY: SIG_DFL installs no handler code of ours.
            let _ = unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl) };
        }
    }
}

/// Stage 1: namespaces, then fork the process proper.
pub(super) fn stage1(plan: &Plan, ch: Channel) -> ! {
    reset_signals();
    // A process joining a running container is non-dumpable until its
    // execve (which resets it), as runc's: once it is in the container's
    // pid namespace, the container's root could otherwise ptrace it or
    // read its /proc/PID/mem, environ and fds (CVE-2016-9962) while it
    // still runs the runtime with the host's descriptors. Not when it joins
    // a user namespace: its own /proc files would then be owned by the
    // host's root, out of its reach.
    if !plan.init && !joins_user_ns(plan) {
        // SAFETY: integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    }
    if let Err(e) = namespaces(plan, &ch) {
        fail(&ch, e);
    }
    crate::trace::mark("stage1 namespaces made");
    // SAFETY: single-threaded (see `spawn`); the child ends in execve or _exit.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let res = if plan.init {
                init(plan, &ch)
            } else {
                join(plan, &ch)
            };
            match res {
                Ok(never) => match never {},
                Err(e) => fail(&ch, e),
            }
        }
        Ok(ForkResult::Parent { child }) => {
            let _ = ch.send(&Msg::Pid(child.as_raw()));
            exit(0)
        }
        Err(e) => fail(&ch, Error::sys("fork init", e)),
    }
}

fn joins_user_ns(plan: &Plan) -> bool {
    plan.join
        .iter()
        .any(|(flag, _)| *flag == CloneFlags::CLONE_NEWUSER)
}

fn namespaces(plan: &Plan, ch: &Channel) -> Result<()> {
    // A user namespace to join comes first: the others are owned by it.
    let (user, rest): (Vec<_>, Vec<_>) = plan
        .join
        .iter()
        .partition(|(f, _)| *f == CloneFlags::CLONE_NEWUSER);
    for (flag, fd) in user.into_iter().chain(rest) {
        setns(fd.as_fd(), *flag).map_err(|e| Error::sys(format!("join namespace {flag:?}"), e))?;
    }
    if plan.new_user {
        unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| Error::sys("unshare user namespace", e))?;
        ch.send(&Msg::UserNs).map_err(|e| Error::sys("sync", e))?;
    }
    // The parent puts us in the cgroup (and writes id maps) before saying go,
    // so a new cgroup namespace is rooted at the container's cgroup.
    match ch.recv() {
        Ok(Msg::Go) => {}
        Ok(other) => return Err(Error::Init(format!("unexpected {other:?} from runtime"))),
        Err(e) => return Err(Error::sys("sync", e)),
    }
    if plan.new_user {
        // Become the namespace's root, if it is mapped.
        let _ = setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0));
        let _ = setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0));
    }
    if !plan.new.is_empty() {
        unshare(plan.new).map_err(|e| Error::sys(format!("unshare {:?}", plan.new), e))?;
    }
    Ok(())
}

/// A container's init: rootfs, identity, then wait for `start` and exec.
fn init(plan: &Plan, ch: &Channel) -> Result<std::convert::Infallible> {
    umask(Mode::empty());
    setsid().map_err(|e| Error::sys("setsid", e))?;
    let spec = &plan.spec;
    if plan.new.contains(CloneFlags::CLONE_NEWUTS) {
        if let Some(h) = spec.hostname() {
            sethostname(h).map_err(|e| Error::sys("sethostname", e))?;
        }
        if let Some(d) = spec.domainname() {
            set_domainname(d)?;
        }
    }
    let mounts_ns = plan.new.contains(CloneFlags::CLONE_NEWNS);
    let terminal = plan.process.terminal().unwrap_or(false);
    let mut pty = None;
    let mut hook_state = None;
    if mounts_ns {
        let root = open(
            &plan.rootfs,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::sys("open rootfs", e))?;
        open_in_root(&root, plan.process.cwd(), Create::Dir)?;
        let setup = rootfs::Setup {
            spec,
            rootfs: &plan.rootfs,
            cgroup: &plan.cgroup,
            userns: plan.new_user
                || crate::userns::in_user_namespace()
                || plan
                    .join
                    .iter()
                    .any(|(f, _)| *f == CloneFlags::CLONE_NEWUSER),
            cgroupns: plan.new.contains(CloneFlags::CLONE_NEWCGROUP),
            terminal,
        };
        crate::trace::mark("init mounting");
        pty = rootfs::prepare(&setup)?;
        hook_state = creation_hooks(plan, ch)?;
        rootfs::pivot(&plan.rootfs)?;
        sysctls(plan)?;
        rootfs::finish(spec, setup.userns)?;
        crate::trace::mark("init rootfs done");
    } else if terminal {
        pty = Some(console::open_pty(Path::new("/dev/ptmx"))?);
    }
    if let Some((master, follower)) = pty {
        console::set_size(&master, plan.process.console_size().as_ref());
        ch.send(&Msg::Pty(master))
            .map_err(|e| Error::sys("send pty", e))?;
        console::make_controlling(&follower)?;
    }
    let path = prepare_identity(plan)?;
    if let Some(fifo) = &plan.fifo {
        // Set up and waiting: `create` may return. We block until `start`
        // opens the fifo for reading.
        ch.send(&Msg::Ready).map_err(|e| Error::sys("sync", e))?;
        let p = format!("/proc/self/fd/{}", fifo.as_raw_fd());
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .map_err(|e| Error::io("open exec fifo", &p, e))?;
        f.write_all(b"0")
            .map_err(|e| Error::io("write exec fifo", &p, e))?;
        crate::trace::mark("init released");
    }
    let start_hooks = plan
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref());
    if let (Some(hooks), Some(state)) = (start_hooks, &hook_state) {
        crate::hooks::run("startContainer", hooks, state)?;
    }
    exec(plan, ch, &path)
}

/// Before `pivot_root`: has the runtime run prestart and createRuntime hooks,
/// then runs createContainer hooks here. Returns the state for startContainer.
fn creation_hooks(plan: &Plan, ch: &Channel) -> Result<Option<crate::state::OciState>> {
    let Some(hooks) = plan.spec.hooks() else {
        return Ok(None);
    };
    #[allow(deprecated)]
    let any = [
        hooks.prestart(),
        hooks.create_runtime(),
        hooks.create_container(),
        hooks.start_container(),
    ]
    .iter()
    .any(|h| h.as_ref().is_some_and(|h| !h.is_empty()));
    if !any {
        return Ok(None);
    }
    ch.send(&Msg::Hooks).map_err(|e| Error::sys("sync", e))?;
    let state: crate::state::OciState = match ch.recv() {
        Ok(Msg::State(json)) => {
            serde_json::from_slice(&json).map_err(|e| Error::Init(format!("hook state: {e}")))?
        }
        Ok(other) => return Err(Error::Init(format!("unexpected {other:?} from runtime"))),
        Err(e) => return Err(Error::sys("sync", e)),
    };
    crate::hooks::run(
        "createContainer",
        hooks.create_container().as_deref().unwrap_or(&[]),
        &state,
    )?;
    Ok(Some(state))
}

/// A process joining a running container (`exec`): the namespaces were joined
/// in stage 1; what remains is the terminal, identity and exec.
fn join(plan: &Plan, ch: &Channel) -> Result<std::convert::Infallible> {
    umask(Mode::empty());
    setsid().map_err(|e| Error::sys("setsid", e))?;
    if plan.process.terminal().unwrap_or(false) {
        let (master, follower) = console::open_pty(Path::new("/dev/ptmx"))?;
        console::set_size(&master, plan.process.console_size().as_ref());
        ch.send(&Msg::Pty(master))
            .map_err(|e| Error::sys("send pty", e))?;
        console::make_controlling(&follower)?;
    }
    let path = prepare_identity(plan)?;
    exec(plan, ch, &path)
}

fn set_domainname(name: &str) -> Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes, alive for the call.
    let r = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    nix::errno::Errno::result(r)
        .map(drop)
        .map_err(|e| Error::sys("setdomainname", e))
}

fn sysctls(plan: &Plan) -> Result<()> {
    let Some(map) = plan.spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for (key, value) in map {
        if key.contains("..") || key.contains('/') && key.contains('.') {
            return Err(Error::InvalidSpec(format!(
                "sysctl {key:?} is not a valid name"
            )));
        }
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value).map_err(|e| Error::io("write sysctl", path, e))?;
    }
    Ok(())
}

/// Everything up to the exec that may fail with a message for the caller: cwd,
/// rlimits, oom score, seccomp (early form), user and capabilities, and the
/// executable's path. Returns that path.
fn prepare_identity(plan: &Plan) -> Result<CString> {
    let p = &plan.process;
    chdir(p.cwd()).map_err(|e| Error::sys(format!("chdir {}", p.cwd().display()), e))?;
    for rl in p.rlimits().iter().flatten() {
        set_rlimit(&format!("{:?}", rl.typ()), rl.soft(), rl.hard())?;
    }
    if let Some(score) = p.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", score.to_string())
            .map_err(|e| Error::io("write", "/proc/self/oom_score_adj", e))?;
    }
    // A pause init execs nothing: its executable is this binary.
    let path = if plan.init && wants_init(plan, "pause") {
        CString::default()
    } else {
        find_executable(plan)?
    };
    let nnp = p.no_new_privileges().unwrap_or(false);
    // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it now,
    // while it is held (runc does the same); with it, as late as possible.
    if !nnp {
        if let Some(prog) = &plan.seccomp {
            crate::seccomp::install(prog)?;
        }
    }
    let last = caps::last_cap();
    caps::drop_bounding(&plan.caps, last)
        .map_err(|e| Error::sys("drop bounding capabilities", e))?;
    caps::keep_caps(true).map_err(|e| Error::sys("keep capabilities", e))?;
    let user = p.user();
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    // setgroups is refused in a user namespace whose setgroups file says deny.
    match setgroups(&groups) {
        Ok(()) | Err(nix::errno::Errno::EPERM) if groups.is_empty() => {}
        Ok(()) => {}
        Err(e) => return Err(Error::sys("setgroups", e)),
    }
    let (uid, gid) = (Uid::from_raw(user.uid()), Gid::from_raw(user.gid()));
    setresgid(gid, gid, gid).map_err(|e| Error::sys(format!("setgid {gid}"), e))?;
    setresuid(uid, uid, uid).map_err(|e| Error::sys(format!("setuid {uid}"), e))?;
    caps::keep_caps(false).map_err(|e| Error::sys("keep capabilities", e))?;
    caps::apply(&plan.caps).map_err(|e| Error::sys("set capabilities", e))?;
    if nnp {
        // SAFETY: integer arguments only.
        let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        nix::errno::Errno::result(r).map_err(|e| Error::sys("set no_new_privs", e))?;
        if let Some(prog) = &plan.seccomp {
            crate::seccomp::install(prog)?;
        }
    }
    Ok(path)
}

fn set_rlimit(name: &str, soft: u64, hard: u64) -> Result<()> {
    let res = match name.trim_start_matches("Rlimit") {
        "Cpu" => libc::RLIMIT_CPU,
        "Fsize" => libc::RLIMIT_FSIZE,
        "Data" => libc::RLIMIT_DATA,
        "Stack" => libc::RLIMIT_STACK,
        "Core" => libc::RLIMIT_CORE,
        "Rss" => libc::RLIMIT_RSS,
        "Nproc" => libc::RLIMIT_NPROC,
        "Nofile" => libc::RLIMIT_NOFILE,
        "Memlock" => libc::RLIMIT_MEMLOCK,
        "As" => libc::RLIMIT_AS,
        "Locks" => libc::RLIMIT_LOCKS,
        "Sigpending" => libc::RLIMIT_SIGPENDING,
        "Msgqueue" => libc::RLIMIT_MSGQUEUE,
        "Nice" => libc::RLIMIT_NICE,
        "Rtprio" => libc::RLIMIT_RTPRIO,
        "Rttime" => libc::RLIMIT_RTTIME,
        other => return Err(Error::InvalidSpec(format!("unknown rlimit {other}"))),
    };
    let rl = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `rl` is a valid rlimit alive for the call.
    let r = unsafe { libc::setrlimit(res, &rl) };
    nix::errno::Errno::result(r)
        .map(drop)
        .map_err(|e| Error::sys(format!("setrlimit {name} {soft}/{hard}"), e))
}

/// The executable for argv[0], looked up in the process's own `PATH` inside the
/// container, as execvp would.
fn find_executable(plan: &Plan) -> Result<CString> {
    let arg0 = plan.args[0].to_bytes();
    let not_found = || {
        Error::Init(format!(
            "exec: {:?}: executable file not found in $PATH",
            String::from_utf8_lossy(arg0)
        ))
    };
    if arg0.contains(&b'/') {
        return Ok(plan.args[0].clone());
    }
    let path_var = plan
        .env
        .iter()
        .find_map(|e| e.to_bytes().strip_prefix(b"PATH="))
        .unwrap_or(b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path_var.split(|b| *b == b':') {
        let mut full = if dir.is_empty() {
            b".".to_vec()
        } else {
            dir.to_vec()
        };
        full.push(b'/');
        full.extend_from_slice(arg0);
        let candidate = Path::new(std::ffi::OsStr::from_bytes(&full));
        if let Ok(meta) = std::fs::metadata(candidate) {
            if meta.is_file()
                && nix::unistd::access(candidate, nix::unistd::AccessFlags::X_OK).is_ok()
            {
                return CString::new(full).map_err(|_| not_found());
            }
        }
    }
    Err(not_found())
}

/// The annotation that asks for an init as pid 1: `true` for `docker run
/// --init` (it runs the process as its child), `pause` for a pod's infra
/// process (it runs nothing: it holds the namespaces until it is stopped).
pub const INIT_ANNOTATION: &str = "org.berth.init";

/// Whether the spec's [`INIT_ANNOTATION`] is `value`.
fn wants_init(plan: &Plan, value: &str) -> bool {
    plan.spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(INIT_ANNOTATION))
        .is_some_and(|v| v == value)
}

/// A pod's infra process, as Kubernetes' `pause`: pid 1 of the pod's
/// namespaces, which reaps whatever is reparented to it and exits 0 on
/// SIGTERM or SIGINT. Nothing of the container's filesystem is executed.
fn pause_init() -> ! {
    let all = nix::sys::signal::SigSet::all();
    let _ = all.thread_block();
    let _ = nix::sys::prctl::set_name(c"pause");
    // SAFETY: closes descriptors only.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        )
    };
    loop {
        match all.wait() {
            Ok(nix::sys::signal::Signal::SIGCHLD) => {
                while let Ok(s) =
                    nix::sys::wait::waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG))
                {
                    if s == nix::sys::wait::WaitStatus::StillAlive {
                        break;
                    }
                }
            }
            Ok(nix::sys::signal::Signal::SIGTERM | nix::sys::signal::Signal::SIGINT) => exit(0),
            _ => {}
        }
    }
}

/// `--init`: this process stays as the container's pid 1 and the user's
/// command runs as its child. It forwards every signal it can catch to the
/// child, reaps orphans, and exits as the child exits (its code, or 128 +
/// the signal). Nothing is injected into the container's filesystem: the
/// code is this (sealed) binary's. Returns only in the child.
fn tiny_init() {
    let all = nix::sys::signal::SigSet::all();
    // Signals stay blocked in both until the child execs (execve keeps the
    // mask, so the child unblocks first).
    let _ = all.thread_block();
    // SAFETY: single-threaded; the child returns to execve.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = all.thread_unblock();
            return;
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(_) => {
            let _ = all.thread_unblock();
            return;
        }
    };
    let _ = nix::sys::prctl::set_name(c"init");
    // Close what we hold of the runtime (the sync channel and the rest):
    // the child has its own copies.
    // SAFETY: closes descriptors only.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        )
    };
    loop {
        match all.wait() {
            Ok(nix::sys::signal::Signal::SIGCHLD) => loop {
                match nix::sys::wait::waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
                    Ok(nix::sys::wait::WaitStatus::Exited(p, code)) if p == child => exit(code),
                    Ok(nix::sys::wait::WaitStatus::Signaled(p, sig, _)) if p == child => {
                        exit(128 + sig as i32)
                    }
                    Ok(nix::sys::wait::WaitStatus::StillAlive) | Err(_) => break,
                    Ok(_) => {}
                }
            },
            Ok(sig) => {
                let _ = nix::sys::signal::kill(child, sig);
            }
            Err(_) => {}
        }
    }
}

/// Closes inherited descriptors beyond stdio and the preserved ones, sets the
/// umask, and execs. A failure is reported to the runtime when it still
/// listens (exec), and on the process's stderr for an init whose `create` has
/// returned; the exit code is 127 for a missing file and 126 otherwise, as a
/// shell's.
fn exec(plan: &Plan, ch: &Channel, path: &CStr) -> Result<std::convert::Infallible> {
    let first = 3 + plan.preserve_fds.max(0);
    // Everything else is close-on-exec from here on (our channel included).
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on fds.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    umask(Mode::from_bits_truncate(
        plan.process.user().umask().unwrap_or(0o022) & 0o777,
    ));
    if plan.init && wants_init(plan, "pause") {
        pause_init();
    }
    if plan.init && wants_init(plan, "true") {
        tiny_init();
    }
    crate::trace::mark("execve");
    let e = execve(path, &plan.args, &plan.env).unwrap_err();
    let msg = format!("exec {}: {e}", path.to_string_lossy());
    let _ = ch.send(&Msg::Error(msg.clone()));
    if plan.init {
        let _ = writeln!(std::io::stderr(), "berth-runtime: {msg}");
    }
    exit(if e == nix::errno::Errno::ENOENT {
        127
    } else {
        126
    })
}
