//! `/containers/{id}/exec`, `/exec/{id}/start`, `/exec/{id}/json`: a new
//! process in a running container. berthd never forks it itself: the
//! sealed `berth-runtime exec` joins the container's namespaces, cgroup,
//! capabilities and seccomp filter (a fork of berthd inside a container
//! would expose berthd's binary, CVE-2019-5736), and berthd relays its
//! output in Docker's multiplexed frames. Exec records live in memory, as
//! Docker's do.

use std::process::Stdio;
use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use models::exec::{ExecConfig, ExecInspect, ExecStart, ProcessConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::containers::frame;
use super::{blocking, json, ApiError, Body};
use crate::Daemon;

/// One exec.
#[derive(Debug, Clone)]
pub struct ExecRecord {
    id: String,
    container: String,
    config: ExecConfig,
    /// The OCI process `berth-runtime exec --process` runs (runtime-spec
    /// JSON, written to a file as it is).
    process: Value,
    running: bool,
    exit_code: Option<i32>,
    pid: i32,
    /// A TTY exec: its pty master, held for resizes while it runs.
    tty: bool,
    pty: Option<Arc<std::os::fd::OwnedFd>>,
    /// Input from the attached client (`AttachStdin`).
    stdin: bool,
}

/// The daemon's execs by id.
pub type Execs = std::sync::Mutex<std::collections::HashMap<String, ExecRecord>>;

/// A body as dockerd reads it; an empty one is the defaults.
async fn read_json<T: serde::de::DeserializeOwned + Default>(
    body: Incoming,
) -> Result<T, ApiError> {
    let bytes = http_body_util::Limited::new(body, 1 << 20)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the body (at most 1 MiB): {e}")))?
        .to_bytes();
    if bytes.is_empty() {
        return Ok(T::default());
    }
    super::decode(&bytes)
}

/// `POST /containers/{id}/exec`.
pub async fn create(d: &Daemon, name: String, body: Incoming) -> Result<Response<Body>, ApiError> {
    let cfg: ExecConfig = read_json(body).await?;
    if !cfg.detach_keys.is_empty() {
        crate::detach::parse(&cfg.detach_keys).map_err(ApiError::bad_request)?;
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
    Ok(json(StatusCode::CREATED, &models::image::IdResponse { id }))
}

fn find(d: &Daemon, id: &str) -> Result<ExecRecord, ApiError> {
    d.execs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
}

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

/// `POST /exec/{id}/start`: attached (the connection is upgraded: output
/// out, and with `AttachStdin` input in, raw bytes through a pty for a TTY
/// exec, Docker's frames without one) or detached (`{"Detach": true}`; the
/// exec runs on and its exit is still recorded).
pub async fn start(
    d: &Arc<Daemon>,
    id: String,
    body: Incoming,
    upgrade: hyper::upgrade::OnUpgrade,
) -> Result<Response<Body>, ApiError> {
    let opts: ExecStart = read_json(body).await?;
    let rec = find(d, &id)?;
    if rec.running || rec.exit_code.is_some() {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: format!("exec {id} has already run"),
        });
    }
    let keys = match rec.config.detach_keys.as_str() {
        "" => crate::detach::DEFAULT.to_vec(),
        k => crate::detach::parse(k).map_err(ApiError::bad_request)?,
    };
    let dir = d.settings.exec_root.join("execs");
    engine::perms::private_dir(&dir)
        .map_err(|e| ApiError::internal(format!("create {}: {e}", dir.display())))?;
    let files = ExecFiles {
        process: dir.join(format!("{id}.json")),
        pid: dir.join(format!("{id}.pid")),
        // Short: a socket path may have 107 bytes at most.
        console: dir.join(format!("{}.sock", &id[..16])),
    };
    // The exec's environment: root's only.
    engine::perms::write_private(&files.process, rec.process.to_string())
        .map_err(|e| ApiError::internal(format!("write {}: {e}", files.process.display())))?;
    let detach = opts.detach;
    let (tty, stdin) = (rec.tty, rec.stdin && !detach);
    // As dockerd: the start's `Tty`, not the exec's, says whether the
    // output is raw or in frames (docker-py starts TTY execs with
    // `"Tty": false` and reads frames of the pty's bytes).
    let framed = !opts.tty;
    if detach {
        let (mut child, pty) = match spawn_exec(d, &rec, &files, stdin, detach).await {
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
        exec_started(d, &rec, &id).await;
        let mut err = child.stderr.take();
        if let Err(msg) = started(&mut child, &files.pid, &mut err).await {
            finish(d, &id, &files, 126).await;
            return Err(ApiError::bad_request(msg));
        }
        if let Some(m) = &pty {
            // Nobody reads a detached TTY exec: its output is drained so it
            // never blocks on a full pty.
            tokio::spawn(drain(m.clone()));
        }
        tokio::spawn(finish_when_done(d.clone(), id, files, child));
        return Ok(super::empty(StatusCode::OK));
    }
    // Attached: the process starts once the connection is the client's (as
    // dockerd: hijack, then start), so no output goes out with the 101's
    // headers, where clients that read them buffered (docker-py) lose it.
    update(d, &id, |r| r.running = true);
    let d = d.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            finish(&d, &id, &files, 126).await;
            return;
        };
        let (rd, mut wr) = tokio::io::split(TokioIo::new(upgraded));
        let (mut child, pty) = match spawn_exec(&d, &rec, &files, stdin, detach).await {
            Ok(c) => c,
            Err(e) => {
                // As dockerd: a start that fails after the hijack says why
                // on the stream.
                let text = format!("{}\r\n", e.message);
                let data = if framed {
                    frame(1, text.as_bytes())
                } else {
                    text.into_bytes()
                };
                let _ = wr.write_all(&data).await;
                finish(&d, &id, &files, 126).await;
                let _ = wr.shutdown().await;
                return;
            }
        };
        update(&d, &id, |r| r.pty = pty.clone());
        tokio::spawn(record_pid(d.clone(), id.clone(), files.pid.clone()));
        exec_started(&d, &rec, &id).await;
        let mut err = child.stderr.take();
        let mut out = child.stdout.take();
        let child_stdin = child.stdin.take();
        let (detached_tx, detached) = tokio::sync::oneshot::channel::<()>();
        if stdin {
            let sink: Option<Box<dyn tokio::io::AsyncWrite + Send + Unpin>> = match &pty {
                Some(m) => dup_file(m).map(|f| Box::new(f) as _),
                None => child_stdin.map(|s| Box::new(s) as _),
            };
            if let Some(sink) = sink {
                // As Docker: the keys detach from a terminal only; other
                // input is data, copied as it is.
                let watch = crate::detach::Watch::new(if tty { keys } else { Vec::new() });
                tokio::spawn(async move {
                    if forward_input(rd, sink, watch).await {
                        let _ = detached_tx.send(());
                    }
                });
            }
        }
        let detached = async {
            if detached.await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::pin!(detached);
        let mut tail: Vec<u8> = Vec::new();
        let left = tokio::select! {
            _ = relay_output(&mut wr, framed, pty.as_ref(), &mut out, &mut err, &mut tail) => false,
            _ = &mut detached => true,
        };
        if left {
            // Detached: the exec runs on; its exit is recorded when it comes.
            tokio::spawn(finish_when_done(d.clone(), id, files, child));
            let _ = wr.shutdown().await;
            return;
        }
        let mut code = child
            .wait()
            .await
            .ok()
            .and_then(|s| s.code())
            .unwrap_or(126);
        // A command that could not run: a shell's codes, as Docker reports.
        let tail = String::from_utf8_lossy(&tail);
        if code == 1 && tail.contains("berth-runtime: ") {
            code = if tail.contains("executable file not found")
                || tail.contains("no such file or directory")
            {
                127
            } else {
                126
            };
        }
        // Recorded before the stream ends: the client asks for it right after.
        finish(&d, &id, &files, code).await;
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
    });
    Ok(super::upgraded(!framed))
}

/// Starts `berth-runtime exec` for `rec`: its process and, for a TTY exec,
/// the pty master it sends.
async fn spawn_exec(
    d: &Daemon,
    rec: &ExecRecord,
    files: &ExecFiles,
    stdin: bool,
    detach: bool,
) -> Result<(tokio::process::Child, Option<Arc<std::os::fd::OwnedFd>>), ApiError> {
    let tty = rec.tty;
    let console = if tty {
        let _ = std::fs::remove_file(&files.console);
        let l = tokio::net::UnixListener::bind(&files.console)
            .map_err(|e| ApiError::internal(format!("console socket: {e}")))?;
        // In a root-only directory already; root's alone as well.
        std::fs::set_permissions(
            &files.console,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .map_err(|e| ApiError::internal(format!("console socket: {e}")))?;
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
        .map_err(|e| ApiError::internal(format!("start {}: {e}", d.runtime.display())))?;
    let pty = match console {
        Some(l) => Some(Arc::new(receive_pty(&l, &mut child).await?)),
        None => None,
    };
    Ok((child, pty))
}

/// Docker's `exec_start` event.
async fn exec_started(d: &Daemon, rec: &ExecRecord, id: &str) {
    super::containers::event(
        d,
        &rec.container,
        "exec_start",
        vec![("execID", id.to_string())],
    )
    .await;
}

/// The files of one exec under `EXEC_ROOT/execs`.
struct ExecFiles {
    process: std::path::PathBuf,
    pid: std::path::PathBuf,
    console: std::path::PathBuf,
}

impl ExecFiles {
    fn remove(&self) {
        for f in [&self.process, &self.pid, &self.console] {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// Records an exec's end once its berth-runtime has exited (a detached exec).
async fn finish_when_done(
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
async fn finish(d: &Daemon, id: &str, files: &ExecFiles, code: i32) {
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
) -> Result<std::os::fd::OwnedFd, ApiError> {
    let got = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        // Biased: a quick process's berth-runtime sends the terminal and
        // exits before this task runs again; its connection, waiting in the
        // backlog, must win over its exit (an unbiased pick failed such an
        // exec with an empty 400 about once in twenty on a loaded machine).
        tokio::select! {
            biased;
            c = accept_root(l) => {
                let conn = c.map_err(|e| ApiError::internal(format!("console socket: {e}")))?;
                let conn = conn.into_std().map_err(|e| ApiError::internal(e.to_string()))?;
                conn.set_nonblocking(false).map_err(|e| ApiError::internal(e.to_string()))?;
                tokio::task::spawn_blocking(move || runtime::console::recv_from(&conn))
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))?
                    .map_err(|e| ApiError::internal(e.to_string()))
            }
            _ = child.wait() => {
                let mut msg = String::new();
                if let Some(e) = child.stderr.as_mut() {
                    let _ = e.read_to_string(&mut msg).await;
                }
                Err(ApiError::bad_request(msg.trim().trim_start_matches("berth-runtime: ").to_string()))
            }
        }
    })
    .await;
    got.unwrap_or_else(|_| Err(ApiError::internal("the exec's pty did not come")))
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
                let _ = e.read_to_string(&mut msg).await;
            }
            return Err(msg.trim().trim_start_matches("berth-runtime: ").to_string());
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// An async file on a duplicate of the pty master (reads and writes go
/// through tokio's blocking pool, as a pty is not pollable by tokio's files).
fn dup_file(m: &std::os::fd::OwnedFd) -> Option<tokio::fs::File> {
    m.try_clone()
        .ok()
        .map(|fd| tokio::fs::File::from_std(std::fs::File::from(fd)))
}

/// Reads a pty until its last holder closes it.
async fn drain(m: Arc<std::os::fd::OwnedFd>) {
    let Some(mut f) = dup_file(&m) else { return };
    let mut buf = vec![0u8; 16 * 1024];
    while matches!(f.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// Copies the client's input to the exec until EOF (the sink is closed) or
/// the detach keys (true).
async fn forward_input(
    mut rd: impl tokio::io::AsyncRead + Unpin,
    mut sink: Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
    mut watch: crate::detach::Watch,
) -> bool {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let (data, detach) = match watch.feed(&buf[..n]) {
            crate::detach::Seen::Send(b) => (b, false),
            crate::detach::Seen::Detach(b) => (b, true),
        };
        if sink.write_all(&data).await.is_err() || sink.flush().await.is_err() {
            break;
        }
        if detach {
            return true;
        }
    }
    let _ = sink.shutdown().await;
    false
}

/// Relays an exec's output to the client until it ends, in frames (the
/// pty's bytes as stdout) or raw. The end of stderr (berth-runtime's own
/// error, if it failed) is kept in `tail`.
async fn relay_output(
    wr: &mut (impl tokio::io::AsyncWrite + Unpin),
    framed: bool,
    pty: Option<&Arc<std::os::fd::OwnedFd>>,
    out: &mut Option<tokio::process::ChildStdout>,
    err: &mut Option<tokio::process::ChildStderr>,
    tail: &mut Vec<u8>,
) {
    let mut master = pty.and_then(|m| dup_file(m));
    let (mut ob, mut eb, mut tb) = (
        vec![0u8; 32 * 1024],
        vec![0u8; 32 * 1024],
        vec![0u8; 32 * 1024],
    );
    while out.is_some() || err.is_some() || master.is_some() {
        tokio::select! {
            n = async { master.as_mut().unwrap().read(&mut tb).await }, if master.is_some() => match n {
                Ok(n) if n > 0 => {
                    let data = if framed { frame(1, &tb[..n]) } else { tb[..n].to_vec() };
                    if wr.write_all(&data).await.is_err() { return }
                    let _ = wr.flush().await;
                }
                // EIO: the last process holding the pty is gone.
                _ => master = None,
            },
            n = async { out.as_mut().unwrap().read(&mut ob).await }, if out.is_some() => match n {
                Ok(n) if n > 0 => {
                    let data = if framed { frame(1, &ob[..n]) } else { ob[..n].to_vec() };
                    if wr.write_all(&data).await.is_err() { return }
                }
                _ => *out = None,
            },
            n = async { err.as_mut().unwrap().read(&mut eb).await }, if err.is_some() => match n {
                Ok(n) if n > 0 => {
                    tail.extend_from_slice(&eb[..n]);
                    tail.drain(..tail.len().saturating_sub(512));
                    let data = if framed { frame(2, &eb[..n]) } else { eb[..n].to_vec() };
                    if wr.write_all(&data).await.is_err() { return }
                }
                _ => *err = None,
            },
        }
    }
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

/// `GET /exec/{id}/json`.
pub async fn inspect(d: &Daemon, id: String) -> Result<Response<Body>, ApiError> {
    let r = find(d, &id)?;
    let cmd = r.config.cmd.clone().unwrap_or_default();
    Ok(json(
        StatusCode::OK,
        &ExecInspect {
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
        },
    ))
}

/// `POST /exec/{id}/resize?h=&w=`: a TTY exec's window size.
pub async fn resize(
    d: &Daemon,
    id: String,
    q: &super::query::Query,
) -> Result<Response<Body>, ApiError> {
    let (Ok(h), Ok(w)) = (q.get("h").parse::<u16>(), q.get("w").parse::<u16>()) else {
        return Err(ApiError::bad_request("h and w must be numbers"));
    };
    let r = find(d, &id)?;
    let Some(m) = r.pty else {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: format!("exec {id} has no TTY or is not running"),
        });
    };
    let ws = libc::winsize {
        ws_row: h,
        ws_col: w,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize we own from a valid fd.
    if unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&*m), libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(ApiError::internal(format!(
            "resize: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(super::empty(StatusCode::OK))
}
