//! `berth-shim CTRDIR ID RUNTIME_ROOT`: runs one container and stays with it.
//!
//! berthd starts one shim per container. The shim detaches (new session,
//! reparented away from the daemon, so a daemon restart or crash leaves the
//! container running), makes itself the child subreaper, creates the
//! container from the bundle in `CTRDIR` with its stdout and stderr on pipes,
//! starts it, and reports `started <pid>` (or `error <why>`) on its own stdout
//! to the daemon, which then returns. From then on it copies the container's
//! output (pipes, or the pty master of a TTY container) into `CTRDIR/ctr.log`
//! (Docker's json-file lines), answers on `CTRDIR/ctl.sock` (state, stdin,
//! resize; see `control`), reaps, and when the init exits records
//! `CTRDIR/exit.json` atomically, deletes the runtime state and exits. It
//! uses no async runtime and allocates little: it is paid for per container.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, fork, pipe2, setsid, ForkResult, Pid};

mod control;
mod log;

use log::Log;
use shim_proto::{env, files, Report, Stream};

fn main() {
    runtime::abort_on_panic();
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        let _ = writeln!(
            std::io::stderr(),
            "usage: berth-shim CTRDIR ID RUNTIME_ROOT"
        );
        std::process::exit(2);
    }
    runtime::trace::mark("shim main");
    // What the shim makes (ctl.sock, ctr.log, exit.json, the runtime's
    // state) is root's alone; the container's processes set their own umask.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    // The container's init is a fork of this process: run from a sealed copy.
    if let Err(e) = runtime::sealed::ensure("berth-shim") {
        let _ = write!(std::io::stdout(), "{}", Report::Error(e.to_string()));
        std::process::exit(1);
    }
    let (dir, id, root) = (
        PathBuf::from(&args[1]),
        args[2].clone(),
        PathBuf::from(&args[3]),
    );
    let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).expect("pipe");
    // SAFETY: single-threaded; the child goes on as the shim, the parent only
    // relays the report and exits.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Parent { .. } => {
            drop(report_w);
            let mut msg = String::new();
            let _ = File::from(report_r).read_to_string(&mut msg);
            let ok = matches!(Report::parse(&msg), Report::Started(_));
            let _ = write!(std::io::stdout(), "{msg}");
            std::process::exit(if ok { 0 } else { 1 });
        }
        ForkResult::Child => {
            drop(report_r);
            let code = shim(&dir, &id, &root, File::from(report_w));
            std::process::exit(code);
        }
    }
}

fn shim(dir: &Path, id: &str, root: &Path, mut report: File) -> i32 {
    let _ = setsid();
    // Its name in ps and top (exec'd from a memfd it would be a number).
    let _ = nix::sys::prctl::set_name(c"berth-shim");
    // SAFETY: integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).expect("pipe");
    let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC).expect("pipe");
    let null = File::open("/dev/null").expect("/dev/null");
    // The container inherits our 0, 1 and 2. Its stdin, when it was opened
    // (`-i`), is a pipe whose write end this shim keeps for the control
    // socket; else nothing.
    let stdin_w = if std::env::var_os(env::OPEN_STDIN).is_some() {
        let (r, w) = pipe2(OFlag::O_CLOEXEC).expect("pipe");
        let _ = dup2_stdin(r.as_fd());
        Some(w)
    } else {
        let _ = dup2_stdin(null.as_fd());
        None
    };
    let _ = dup2_stdout(out_w.as_fd());
    let _ = dup2_stderr(err_w.as_fd());
    let rt = runtime::Runtime::new(root);
    let created = {
        let _t = runtime::trace::span("runtime create");
        rt.create(id, dir, &runtime::CreateOptions::default())
    };
    // Our own copies of the write ends go, so EOF comes when the container's
    // do; and our stdin, so that the container alone holds its read end.
    let _ = dup2_stdin(null.as_fd());
    let _ = dup2_stdout(null.as_fd());
    let _ = dup2_stderr(null.as_fd());
    drop(out_w);
    drop(err_w);
    let (pid, pty) = match created {
        Ok(s) => (s.pid, s.pty),
        Err(e) => {
            let _ = rt.delete(id, true);
            let _ = write!(report, "{}", Report::Error(e.to_string()));
            return 1;
        }
    };
    // With a terminal, the container's output is the pty's: its master is
    // read as stdout (raw bytes, as Docker logs a TTY), the pipes stay idle.
    let master = pty.as_ref().and_then(|m| m.try_clone().ok());
    let out = match pty {
        Some(master) => {
            drop(out_r);
            master
        }
        None => out_r,
    };
    // The control socket is up before the start: clients that attached
    // before it (`run`, `start -a`) join first and miss no output.
    let output = std::sync::Arc::new(control::Output::default());
    let log = std::sync::Arc::new(std::sync::Mutex::new(Log::open(dir)));
    control::serve(dir, pid, stdin_w, master, output.clone(), log.clone());
    let waiting = std::env::var(env::ATTACH_WAIT)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    output.wait_for(waiting, std::time::Duration::from_secs(5));
    runtime::trace::mark("attached readers joined");
    let start = runtime::trace::span("runtime start");
    if let Err(e) = rt.start(id) {
        let _ = rt.delete(id, true);
        let _ = write!(report, "{}", Report::Error(e.to_string()));
        return 1;
    }
    let tmp = dir.join(files::SHIM_PID_TMP);
    // With the start time and boot id: after a reboot, a pid in this file
    // may be another process's.
    if std::fs::write(&tmp, runtime::state::PidFile::of_self()).is_ok() {
        let _ = std::fs::rename(&tmp, dir.join(files::SHIM_PID));
    }
    drop(start);
    let _ = write!(report, "{}", Report::Started(pid));
    drop(report);
    // Creating the container (spec, seccomp) used heap it no longer needs:
    // hand it back, since a shim lives as long as its container.
    // SAFETY: no arguments that could be invalid.
    unsafe { libc::malloc_trim(0) };
    let code = supervise(pid, out, err_r, &output, &log);
    runtime::trace::mark("init reaped");
    let finished = runtime::now_rfc3339();
    // Whether the kernel's OOM killer struck in the container's cgroup, read
    // before the cgroup goes with the runtime state.
    let oom = rt.stats(id).is_ok_and(|s| s.oom_kills > 0);
    let body =
        serde_json::json!({"ExitCode": code, "FinishedAt": finished, "OOMKilled": oom}).to_string();
    // The exit first, then no shim: a reader sees this run as running
    // until its exit is there (the previous run's exit.json is replaced).
    let tmp = dir.join(files::EXIT_TMP);
    if std::fs::write(&tmp, body).is_ok() {
        let _ = std::fs::rename(&tmp, dir.join(files::EXIT));
    }
    let _ = std::fs::remove_file(dir.join(files::SHIM_PID));
    runtime::trace::mark("exit recorded");
    // Attached readers see the end once the exit is there to be read.
    output.close();
    let _ = rt.delete(id, true);
    runtime::trace::mark("shim done");
    0
}

/// Copies output into the log until both pipes close and the init is reaped.
fn supervise(
    pid: i32,
    out: OwnedFd,
    err: OwnedFd,
    output: &control::Output,
    log: &std::sync::Mutex<Option<Log>>,
) -> i32 {
    let mut open = [Some(out), Some(err)];
    let mut exit: Option<i32> = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(p, c)) if p.as_raw() == pid => exit = Some(c),
                Ok(WaitStatus::Signaled(p, s, _)) if p.as_raw() == pid => {
                    exit = Some(128 + s as i32)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
        if open.iter().all(Option::is_none) {
            if let Some(c) = exit {
                return c;
            }
        }
        let mut fds: Vec<PollFd> = open
            .iter()
            .flatten()
            .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
            .collect();
        if fds.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(5));
            continue;
        }
        let _ = poll(&mut fds, PollTimeout::from(100u16));
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        let mut k = 0;
        for (i, stream) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
            let Some(fd) = &open[i] else { continue };
            let is_ready = ready[k];
            k += 1;
            if !is_ready {
                continue;
            }
            match nix::unistd::read(fd.as_fd(), &mut buf) {
                Ok(0) | Err(_) => open[i] = None,
                Ok(n) => {
                    if let Some(l) = log.lock().ok().as_mut().and_then(|l| l.as_mut()) {
                        l.write_lines(stream.name(), &buf[..n]);
                    }
                    output.send(stream, &buf[..n]);
                }
            }
        }
    }
}
