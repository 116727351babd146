//! Execs as a service: a new process in a running container. berthd never
//! forks it itself: the sealed `berth-runtime exec` joins the container's
//! namespaces, cgroup, capabilities and seccomp filter (a fork of berthd
//! inside a container would expose berthd's binary, CVE-2019-5736). Exec
//! records live in memory, as Docker's do; the API layer relays the
//! attached streams.

use std::process::Stdio;
use std::sync::Arc;

use models::exec::{ExecConfig, ExecInspect, ProcessConfig};
use tokio::io::AsyncReadExt;

use super::{blocking, Daemon, Error};

/// One exec.
#[derive(Debug, Clone)]
pub struct ExecRecord {
    id: String,
    /// The container's id.
    pub container: String,
    /// As created.
    pub config: ExecConfig,
    /// The OCI process `berth-runtime exec --process` runs (runtime-spec
    /// JSON, written to a file as it is).
    process: oci_spec::runtime::Process,
    running: bool,
    exit_code: Option<i32>,
    pid: i32,
    /// A TTY exec: its pty master, held for resizes while it runs.
    pub tty: bool,
    pty: Option<Arc<std::os::fd::OwnedFd>>,
    /// Input from the attached client (`AttachStdin`).
    pub stdin: bool,
}

/// The daemon's execs by id.
pub type Execs = std::sync::Mutex<std::collections::HashMap<String, ExecRecord>>;

/// Creates an exec in container `name`; its id.
pub async fn create(d: &Daemon, name: String, cfg: ExecConfig) -> Result<String, Error> {
    if !cfg.detach_keys.is_empty() {
        crate::detach::parse(&cfg.detach_keys).map_err(Error::Invalid)?;
    }
    let e = d.engine.clone();
    let c2 = cfg.clone();
    let (c, process) = blocking(move || e.exec_process(&name, &c2)).await?;
    let id = engine::ids::random_hex(32);
    let rec = ExecRecord {
        id: id.clone(),
        container: c.id.clone(),
        process,
        running: false,
        exit_code: None,
        pid: 0,
        tty: cfg.tty,
        pty: None,
        stdin: cfg.attach_stdin,
        config: cfg,
    };
    d.execs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.clone(), rec);
    super::containers::event(d, &c.id, "exec_create", vec![]).await;
    Ok(id)
}

/// Exec `id`'s record.
pub fn find(d: &Daemon, id: &str) -> Result<ExecRecord, Error> {
    d.execs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(id)
        .cloned()
        .ok_or_else(|| Error::NotFound(format!("No such exec instance: {id}")))
}

/// Edits exec `id`'s record.
fn update(d: &Daemon, id: &str, f: impl FnOnce(&mut ExecRecord)) {
    if let Some(r) = d
        .execs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_mut(id)
    {
        f(r);
    }
}

/// Readies exec `id` to start: refused if it ran; its process written to
/// its file under `EXEC_ROOT/execs` (root's only: it holds the environment).
pub fn prepare(d: &Daemon, id: &str) -> Result<(ExecRecord, ExecFiles), Error> {
    let rec = find(d, id)?;
    if rec.running || rec.exit_code.is_some() {
        return Err(Error::Conflict(format!("exec {id} has already run")));
    }
    let dir = d.settings.exec_root.join("execs");
    engine::perms::private_dir(&dir)
        .map_err(|e| Error::Internal(format!("create {}: {e}", dir.display())))?;
    let files = ExecFiles {
        process: dir.join(format!("{id}.json")),
        pid: dir.join(format!("{id}.pid")),
        // Short: a socket path may have 107 bytes at most.
        console: dir.join(format!("{}.sock", &id[..16])),
    };
    let text = serde_json::to_string(&rec.process)
        .map_err(|e| Error::Internal(format!("the exec process: {e}")))?;
    engine::perms::write_private(&files.process, text)
        .map_err(|e| Error::Internal(format!("write {}: {e}", files.process.display())))?;
    Ok((rec, files))
}

/// Marks an attached exec running (before its process is spawned, once
/// the connection is the client's).
pub fn mark_running(d: &Daemon, id: &str) {
    update(d, id, |r| r.running = true);
}

/// Starts a detached exec (`{"Detach": true}`): it runs on, its output
/// goes nowhere, and its exit is still recorded.
pub async fn start_detached(
    d: &Arc<Daemon>,
    id: String,
    rec: ExecRecord,
    files: ExecFiles,
) -> Result<(), Error> {
    let (mut child, pty) = match spawn(d, &rec, &files, false, true).await {
        Ok(c) => c,
        Err(e) => {
            files.remove();
            update(d, &id, |r| r.exit_code = Some(126));
            return Err(e);
        }
    };
    update(d, &id, |r| {
        r.running = true;
        r.pty = pty.clone();
    });
    tokio::spawn(record_pid(d.clone(), id.clone(), files.pid.clone()));
    started_event(d, &rec, &id).await;
    let mut err = child.stderr.take();
    if let Err(msg) = started(&mut child, &files.pid, &mut err).await {
        finish(d, &id, &files, 126).await;
        return Err(Error::Invalid(msg));
    }
    if let Some(m) = &pty {
        // Nobody reads a detached TTY exec: its output is drained so it
        // never blocks on a full pty.
        tokio::spawn(drain(m.clone()));
    }
    tokio::spawn(finish_when_done(d.clone(), id, files, child));
    Ok(())
}

/// After an attached exec's process was spawned: its pty kept for resizes,
/// its pid recorded once written, the `exec_start` event.
pub async fn launched(
    d: &Arc<Daemon>,
    id: &str,
    rec: &ExecRecord,
    files: &ExecFiles,
    pty: Option<Arc<std::os::fd::OwnedFd>>,
) {
    update(d, id, |r| r.pty = pty);
    tokio::spawn(record_pid(d.clone(), id.to_string(), files.pid.clone()));
    started_event(d, rec, id).await;
}

/// The exit code of an attached exec's `berth-runtime`, with a command that
/// could not run given a shell's codes, as Docker reports (127 not found,
/// 126 not runnable), from the end of its stderr.
pub fn exit_code(status: Option<i32>, stderr_tail: &[u8]) -> i32 {
    let code = status.unwrap_or(126);
    let tail = String::from_utf8_lossy(stderr_tail);
    if code == 1 && tail.contains("berth-runtime: ") {
        if tail.contains("executable file not found") || tail.contains("no such file or directory")
        {
            return 127;
        }
        return 126;
    }
    code
}

/// Starts `berth-runtime exec` for `rec`: its process and, for a TTY exec,
/// the pty master it sends.
pub async fn spawn(
    d: &Daemon,
    rec: &ExecRecord,
    files: &ExecFiles,
    stdin: bool,
    detach: bool,
) -> Result<(tokio::process::Child, Option<Arc<std::os::fd::OwnedFd>>), Error> {
    let tty = rec.tty;
    let console = if tty {
        if let Err(e) = std::fs::remove_file(&files.console) {
            tracing::debug!(path = ?&files.console, "remove the exec's console socket: {e}");
        }
        let l = tokio::net::UnixListener::bind(&files.console)
            .map_err(|e| Error::Internal(format!("console socket: {e}")))?;
        // In a root-only directory already; root's alone as well.
        std::fs::set_permissions(
            &files.console,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .map_err(|e| Error::Internal(format!("console socket: {e}")))?;
        Some(l)
    } else {
        None
    };
    let mut cmd = runtime_exec(d, &files.process);
    cmd.arg("--pid-file").arg(&files.pid);
    if tty {
        cmd.arg("--console-socket").arg(&files.console);
    }
    // Foreground even when detached: berth-runtime stays with the process
    // and its exit code is the exec's.
    let piped = |yes: bool| if yes { Stdio::piped() } else { Stdio::null() };
    cmd.arg(&rec.container)
        .stdin(piped(stdin && !tty))
        .stdout(piped(!tty && !detach))
        .stderr(Stdio::piped())
        .kill_on_drop(false);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::Internal(format!("start {}: {e}", d.runtime.display())))?;
    let pty = match console {
        Some(l) => Some(Arc::new(receive_pty(&l, &mut child).await?)),
        None => None,
    };
    Ok((child, pty))
}

/// Docker's `exec_start` event.
async fn started_event(d: &Daemon, rec: &ExecRecord, id: &str) {
    super::containers::event(
        d,
        &rec.container,
        "exec_start",
        vec![("execID", id.to_string())],
    )
    .await;
}

/// The files of one exec under `EXEC_ROOT/execs`.
#[derive(Debug)]
pub struct ExecFiles {
    process: std::path::PathBuf,
    pid: std::path::PathBuf,
    console: std::path::PathBuf,
}

impl ExecFiles {
    /// Lets them go.
    pub fn remove(&self) {
        for f in [&self.process, &self.pid, &self.console] {
            if let Err(e) = std::fs::remove_file(f) {
                tracing::debug!(path = ?f, "remove exec file: {e}");
            }
        }
    }
}

/// Records an exec's end once its berth-runtime has exited (a detached exec).
pub async fn finish_when_done(
    d: Arc<Daemon>,
    id: String,
    files: ExecFiles,
    mut child: tokio::process::Child,
) {
    let code = child
        .wait()
        .await
        .ok()
        .and_then(|s| s.code())
        .unwrap_or(126);
    finish(&d, &id, &files, code).await;
}

/// Records an exec's end (its pid read from the pid file), lets its files
/// and pty go, and tells the events (`exec_die`, as Docker does).
pub async fn finish(d: &Daemon, id: &str, files: &ExecFiles, code: i32) {
    let pid = std::fs::read_to_string(&files.pid)
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0);
    update(d, id, |r| {
        r.running = false;
        r.exit_code = Some(code);
        if pid != 0 {
            r.pid = pid;
        }
        r.pty = None;
    });
    files.remove();
    if let Ok(r) = find(d, id) {
        let extra = vec![("execID", id.to_string()), ("exitCode", code.to_string())];
        super::containers::event(d, &r.container, "exec_die", extra).await;
    }
}

/// Records the exec's pid once berth-runtime has written it (it runs by
/// then), for `/exec/{id}/json` while it runs.
async fn record_pid(d: Arc<Daemon>, id: String, pid_file: std::path::PathBuf) {
    for _ in 0..2000 {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            update(&d, &id, |r| r.pid = pid);
            return;
        }
        if find(&d, &id).map_or(true, |r| !r.running) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// The pty master that `berth-runtime exec --console-socket` sends, or its
/// error if it fails first.
async fn receive_pty(
    l: &tokio::net::UnixListener,
    child: &mut tokio::process::Child,
) -> Result<std::os::fd::OwnedFd, Error> {
    let got = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        // Biased: a quick process's berth-runtime sends the terminal and
        // exits before this task runs again; its connection, waiting in the
        // backlog, must win over its exit (an unbiased pick failed such an
        // exec with an empty 400 about once in twenty on a loaded machine).
        tokio::select! {
            biased;
            c = accept_root(l) => {
                let conn = c.map_err(|e| Error::Internal(format!("console socket: {e}")))?;
                let conn = conn.into_std().map_err(|e| Error::Internal(e.to_string()))?;
                conn.set_nonblocking(false).map_err(|e| Error::Internal(e.to_string()))?;
                tokio::task::spawn_blocking(move || runtime::console::recv_from(&conn))
                    .await
                    .map_err(|e| Error::Internal(e.to_string()))?
                    .map_err(|e| Error::Internal(e.to_string()))
            }
            _ = child.wait() => {
                let mut msg = String::new();
                if let Some(e) = child.stderr.as_mut() {
                    // The error is what stderr holds; an unreadable stderr leaves it empty.
                    let _ = e.read_to_string(&mut msg).await;
                }
                Err(Error::Invalid(msg.trim().trim_start_matches("berth-runtime: ").to_string()))
            }
        }
    })
    .await;
    got.unwrap_or_else(|_| Err(Error::Internal("the exec's pty did not come".into())))
}

/// The next connection from root (berth-runtime, as the daemon runs it):
/// another user's is closed unanswered, never taken as the exec's terminal.
async fn accept_root(l: &tokio::net::UnixListener) -> std::io::Result<tokio::net::UnixStream> {
    loop {
        let (conn, _) = l.accept().await?;
        let me = nix::unistd::geteuid().as_raw();
        if conn
            .peer_cred()
            .is_ok_and(|c| c.uid() == 0 || c.uid() == me)
        {
            return Ok(conn);
        }
    }
}

/// Waits until a detached exec's process runs (its pid file is written) or
/// its start failed (berth-runtime exited; its error is returned).
async fn started(
    child: &mut tokio::process::Child,
    pid_file: &std::path::Path,
    err: &mut Option<tokio::process::ChildStderr>,
) -> Result<(), String> {
    loop {
        if pid_file.exists() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            if status.success() {
                return Ok(());
            }
            let mut msg = String::new();
            if let Some(e) = err.as_mut() {
                // The error is what stderr holds; an unreadable stderr leaves it empty.
                let _ = e.read_to_string(&mut msg).await;
            }
            return Err(msg.trim().trim_start_matches("berth-runtime: ").to_string());
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// An async file on a duplicate of the pty master (reads and writes go
/// through tokio's blocking pool, as a pty is not pollable by tokio's files).
pub fn dup_file(m: &std::os::fd::OwnedFd) -> Option<tokio::fs::File> {
    m.try_clone()
        .ok()
        .map(|fd| tokio::fs::File::from_std(std::fs::File::from(fd)))
}

/// Reads a pty until its last holder closes it.
pub async fn drain(m: Arc<std::os::fd::OwnedFd>) {
    let Some(mut f) = dup_file(&m) else { return };
    let mut buf = vec![0u8; 16 * 1024];
    while matches!(f.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// `berth-runtime --root R exec --process FILE` (the sealed copy): every
/// process berthd puts into a container (execs, healthchecks) starts so.
/// The caller adds its flags, then the container id.
pub fn runtime_exec(d: &Daemon, process: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(&d.runtime);
    cmd.arg0("berth-runtime")
        .arg("--root")
        .arg(d.settings.exec_root.join("runtime"))
        .arg("exec")
        .arg("--process")
        .arg(process);
    cmd
}

/// Exec `id` as `/exec/{id}/json` shows it.
pub fn inspect(d: &Daemon, id: &str) -> Result<ExecInspect, Error> {
    let r = find(d, id)?;
    let cmd = r.config.cmd.clone().unwrap_or_default();
    Ok(ExecInspect {
        id: r.id.clone(),
        running: r.running,
        exit_code: r.exit_code.map(i64::from),
        pid: i64::from(r.pid),
        container_id: r.container.clone(),
        can_remove: false,
        detach_keys: String::new(),
        open_stdin: r.stdin,
        open_stdout: true,
        open_stderr: true,
        process_config: ProcessConfig {
            tty: r.config.tty,
            entrypoint: cmd.first().cloned().unwrap_or_default(),
            arguments: cmd.get(1..).unwrap_or_default().to_vec(),
            privileged: Some(r.config.privileged),
            user: r.config.user.clone(),
        },
    })
}

/// A running TTY exec's window size.
pub fn resize(d: &Daemon, id: &str, h: u16, w: u16) -> Result<(), Error> {
    let r = find(d, id)?;
    let Some(m) = r.pty else {
        return Err(Error::Conflict(format!(
            "exec {id} has no TTY or is not running"
        )));
    };
    let ws = libc::winsize {
        ws_row: h,
        ws_col: w,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize we own from a valid fd.
    if unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&*m), libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(Error::Internal(format!(
            "resize: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}
