//! Exec and attach over SPDY, as the kubelet's `remotecommand` server
//! speaks them: the client opens an `error` stream, then `stdin`, `stdout`,
//! `stderr` as the request asked and, with a terminal, `resize` (JSON
//! `{"Width":…,"Height":…}` messages); the server relays, then writes the
//! outcome on `error` (v4: a `metav1.Status` in JSON; v2 and v3: the error
//! text, nothing on success) and ends every stream.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::spdy::{Conn, Out, Stream};
use crate::api;
use crate::Cri;

/// The protocols served, most preferred first.
pub const PROTOCOLS: [&str; 3] = [
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
];
/// How long the client has to open its streams.
const STREAMS_TIMEOUT: Duration = Duration::from_secs(30);
/// Output is relayed in chunks of at most this many bytes.
const CHUNK: usize = 32 << 10;
/// How long a TTY exec waits for the terminal's first size.
const FIRST_SIZE_WAIT: Duration = Duration::from_millis(300);
/// A resize message longer than this ends the resize stream.
const MAX_RESIZE: usize = 4096;

/// What the client asked for.
#[derive(Debug, Clone, Copy)]
struct Want {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

/// The streams the client opened.
#[derive(Default)]
struct Streams {
    error: Option<u32>,
    stdin: Option<Stream>,
    stdout: Option<u32>,
    stderr: Option<u32>,
    resize: Option<Stream>,
}

/// Waits for the client's streams (each named by its `streamtype`).
async fn collect(conn: &mut Conn, want: Want, protocol: &str) -> Option<Streams> {
    let resize = want.tty && protocol != "v2.channel.k8s.io";
    let mut s = Streams::default();
    let done = |s: &Streams| {
        s.error.is_some()
            && (!want.stdin || s.stdin.is_some())
            && (!want.stdout || s.stdout.is_some())
            && (!want.stderr || s.stderr.is_some())
            && (!resize || s.resize.is_some())
    };
    let deadline = tokio::time::Instant::now() + STREAMS_TIMEOUT;
    while !done(&s) {
        let stream = tokio::time::timeout_at(deadline, conn.streams.recv())
            .await
            .ok()??;
        match stream.header("streamtype") {
            "error" => s.error = Some(stream.id),
            "stdin" => s.stdin = Some(stream),
            "stdout" => s.stdout = Some(stream.id),
            "stderr" => s.stderr = Some(stream.id),
            "resize" => s.resize = Some(stream),
            _ => {}
        }
    }
    Some(s)
}

/// Writes the outcome on the error stream and ends the connection.
async fn finish(
    out: &mpsc::Sender<Out>,
    s: &Streams,
    protocol: &str,
    outcome: Result<i32, String>,
) {
    let body = match (&outcome, protocol) {
        (Ok(0), "v4.channel.k8s.io") => json!({"metadata": {}, "status": "Success"}).to_string(),
        (Ok(code), "v4.channel.k8s.io") => json!({
            "metadata": {}, "status": "Failure",
            "message": format!("command terminated with non-zero exit code: exit status {code}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        })
        .to_string(),
        (Err(e), "v4.channel.k8s.io") => json!({
            "metadata": {}, "status": "Failure", "message": e, "reason": "InternalError",
        })
        .to_string(),
        (Ok(0), _) => String::new(),
        (Ok(code), _) => format!("command terminated with non-zero exit code: exit status {code}"),
        (Err(e), _) => e.clone(),
    };
    for id in [s.stdout, s.stderr].into_iter().flatten() {
        // The connection may be gone: nothing is owed to it.
        let _ = out.send(Out::Data(id, true, Bytes::new())).await;
    }
    if let Some(id) = s.error {
        if !body.is_empty() {
            let _ = out.send(Out::Data(id, false, Bytes::from(body))).await;
        }
        let _ = out.send(Out::Data(id, true, Bytes::new())).await;
    }
    let _ = out.send(Out::Close).await;
}

/// Copies `r` to stream `id` until EOF (not ending the stream).
async fn pump_out(mut r: impl AsyncRead + Unpin, id: Option<u32>, out: mpsc::Sender<Out>) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Some(id) = id {
                    if out
                        .send(Out::Data(id, false, Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    }
}

/// Copies a client stream into `w` until the client ends it.
async fn pump_in(mut data: mpsc::Receiver<Bytes>, mut w: impl AsyncWrite + Unpin) {
    while let Some(b) = data.recv().await {
        if w.write_all(&b).await.is_err() {
            return;
        }
    }
    // The peer may be gone: nothing is owed to it.
    let _ = w.shutdown().await;
}

/// Reads resize messages and hands each size to `apply`.
async fn resizes(mut data: mpsc::Receiver<Bytes>, apply: impl Fn(u16, u16) + Send) {
    let mut buf: Vec<u8> = Vec::new();
    while let Some(b) = data.recv().await {
        buf.extend_from_slice(&b);
        let mut it = serde_json::Deserializer::from_slice(&buf).into_iter::<serde_json::Value>();
        let mut used = 0;
        while let Some(Ok(v)) = it.next() {
            used = it.byte_offset();
            let (w, h) = (
                v["Width"].as_u64().unwrap_or(0),
                v["Height"].as_u64().unwrap_or(0),
            );
            if w > 0 && h > 0 {
                apply(h.min(u16::MAX as u64) as u16, w.min(u16::MAX as u64) as u16);
            }
        }
        buf.drain(..used);
        if buf.len() > MAX_RESIZE {
            return;
        }
    }
}

/// Sets a pty's window size.
fn set_size(fd: &std::os::fd::OwnedFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize we own from a valid descriptor.
    unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(fd), libc::TIOCSWINSZ, &ws) };
}

/// Serves an exec.
pub async fn exec(cri: Arc<Cri>, mut conn: Conn, req: api::ExecRequest, protocol: &str) {
    let want = Want {
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
        tty: req.tty,
    };
    let Some(mut s) = collect(&mut conn, want, protocol).await else {
        // The connection may be gone: nothing is owed to it.
        let _ = conn.out.send(Out::Close).await;
        return;
    };
    let out = conn.out.clone();
    let outcome = run_exec(&cri, &req, &mut s, &out).await;
    finish(&out, &s, protocol, outcome).await;
}

async fn run_exec(
    cri: &Arc<Cri>,
    req: &api::ExecRequest,
    s: &mut Streams,
    out: &mpsc::Sender<Out>,
) -> Result<i32, String> {
    // The client sends the terminal's size right after its streams: the
    // process starts with it when it comes soon enough.
    let mut size = None;
    if let Some(r) = s.resize.as_mut() {
        if let Ok(Some(first)) = tokio::time::timeout(FIRST_SIZE_WAIT, r.data.recv()).await {
            size = serde_json::Deserializer::from_slice(&first)
                .into_iter::<serde_json::Value>()
                .filter_map(|v| v.ok())
                .filter_map(|v| Some((v["Height"].as_u64()? as u16, v["Width"].as_u64()? as u16)))
                .last();
        }
    }
    let (files, mut cmd) = cri
        .exec_command(&req.container_id, &req.cmd, req.tty, size)
        .map_err(|e| e.message)?;
    let piped = |yes: bool| {
        if yes {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        }
    };
    let console = if req.tty {
        if let Err(e) = std::fs::remove_file(&files.console) {
            tracing::debug!(path = ?&files.console, "remove the exec's console socket: {e}");
        }
        Some(
            tokio::net::UnixListener::bind(&files.console)
                .map_err(|e| format!("console socket: {e}"))?,
        )
    } else {
        None
    };
    cmd.stdin(piped(s.stdin.is_some() && !req.tty))
        .stdout(piped(!req.tty))
        .stderr(piped(!req.tty));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("start berth-runtime: {e}"))?;
    let result = if let Some(l) = console {
        // The pty comes over the console socket before the process runs; a
        // process quick to exit may end berth-runtime before we accepted
        // it, with the connection still waiting in the backlog.
        let receive = |conn: tokio::net::UnixStream| async move {
            let conn = conn.into_std().map_err(|e| e.to_string())?;
            if let Err(e) = conn.set_nonblocking(false) {
                tracing::debug!("make the console connection blocking: {e}");
            }
            tokio::task::spawn_blocking(move || runtime::console::recv_from(&conn))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        };
        let conn = tokio::select! {
            biased;
            c = l.accept() => c.map_err(|e| format!("console socket: {e}"))?.0,
            st = child.wait() => {
                match tokio::time::timeout(Duration::from_millis(200), l.accept()).await {
                    Ok(Ok((c, _))) => c,
                    _ => {
                        files.remove();
                        return Err(format!(
                            "the exec did not start ({})",
                            st.map(|s| s.to_string()).unwrap_or_default()
                        ));
                    }
                }
            }
        };
        let pty = receive(conn).await?;
        let pty = Arc::new(pty);
        let reader = tokio::fs::File::from_std(std::fs::File::from(
            pty.try_clone().map_err(|e| e.to_string())?,
        ));
        let output = tokio::spawn(pump_out(reader, s.stdout, out.clone()));
        if let Some(stdin) = s.stdin.take() {
            let writer = tokio::fs::File::from_std(std::fs::File::from(
                pty.try_clone().map_err(|e| e.to_string())?,
            ));
            tokio::spawn(pump_in(stdin.data, writer));
        }
        if let Some(r) = s.resize.take() {
            let p = pty.clone();
            tokio::spawn(resizes(r.data, move |h, w| set_size(&p, h, w)));
        }
        let status = child.wait().await;
        // What the process wrote before it exited is still to be read.
        let _ = tokio::time::timeout(Duration::from_secs(2), output).await;
        status
    } else {
        if let (Some(stdin), Some(w)) = (s.stdin.take(), child.stdin.take()) {
            tokio::spawn(pump_in(stdin.data, w));
        }
        let o = child
            .stdout
            .take()
            .map(|r| tokio::spawn(pump_out(r, s.stdout, out.clone())));
        let e = child
            .stderr
            .take()
            .map(|r| tokio::spawn(pump_out(r, s.stderr, out.clone())));
        let status = child.wait().await;
        for t in [o, e].into_iter().flatten() {
            // The copier's end is the stream's: its errors were the peer's going away.
            let _ = t.await;
        }
        status
    };
    files.remove();
    let status = result.map_err(|e| e.to_string())?;
    Ok(status.code().unwrap_or_else(|| {
        128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
    }))
}

/// Serves an attach: the container's output from its shim (as it comes,
/// no replay), the client's input into its stdin, resizes to its pty.
/// Ends when the container exits or, unless its stdin is `stdin_once`,
/// when the client closes its stdin (as containerd's CRI does).
pub async fn attach(cri: Arc<Cri>, mut conn: Conn, req: api::AttachRequest, protocol: &str) {
    let want = Want {
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
        tty: req.tty,
    };
    let Some(mut s) = collect(&mut conn, want, protocol).await else {
        // The connection may be gone: nothing is owed to it.
        let _ = conn.out.send(Out::Close).await;
        return;
    };
    let out = conn.out.clone();
    let outcome = run_attach(&cri, &req, &mut s, &out).await;
    finish(&out, &s, protocol, outcome.map(|()| 0)).await;
}

async fn run_attach(
    cri: &Arc<Cri>,
    req: &api::AttachRequest,
    s: &mut Streams,
    out: &mpsc::Sender<Out>,
) -> Result<(), String> {
    let c = cri.container(&req.container_id).map_err(|e| e.message)?;
    let config = c.config();
    let dir = cri.container_dir(&c.id);
    let (answer, output) =
        crate::shim::connect(&dir, shim_proto::Command::Attach).map_err(|e| e.message)?;
    if !matches!(answer, shim_proto::Reply::Ok(_)) {
        return Err(format!("attach: {answer}"));
    }
    if let Err(e) = output.set_read_timeout(None) {
        tracing::debug!("clear the output's read timeout: {e}");
    }
    output.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut output = tokio::net::UnixStream::from_std(output).map_err(|e| e.to_string())?;
    let (stdout, stderr) = (s.stdout, if req.tty { s.stdout } else { s.stderr });
    let out2 = out.clone();
    let relay = async move {
        let mut head = [0u8; shim_proto::Frame::HEAD];
        loop {
            if output.read_exact(&mut head).await.is_err() {
                return;
            }
            let frame = shim_proto::Frame::decode(head);
            let n = frame.len as usize;
            let mut data = vec![0u8; n.min(1 << 20)];
            if output.read_exact(&mut data).await.is_err() {
                return;
            }
            let id = if frame.stream == shim_proto::Stream::Stderr as u8 {
                stderr
            } else {
                stdout
            };
            if let Some(id) = id {
                if out2
                    .send(Out::Data(id, false, Bytes::from(data)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    };
    let stdin_done = {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        if let Some(stdin) = s.stdin.take() {
            let dir = dir.clone();
            let once = config.stdin_once && !config.tty;
            tokio::spawn(async move {
                let d = dir.clone();
                let conn = tokio::task::spawn_blocking(move || {
                    crate::shim::connect(&d, shim_proto::Command::Stdin)
                })
                .await
                .ok()
                .and_then(|r| r.ok());
                if let Some((_, conn)) = conn.filter(|(a, _)| matches!(a, shim_proto::Reply::Ok(_)))
                {
                    if conn.set_nonblocking(true).is_ok() {
                        if let Ok(w) = tokio::net::UnixStream::from_std(conn) {
                            pump_in(stdin.data, w).await;
                        }
                    }
                }
                if once {
                    // Output goes on until the container exits.
                    let d = cri_dir_close(&dir);
                    // The detach's own errors are the peer's going away.
                    let _ = tokio::task::spawn_blocking(d).await;
                } else {
                    // The waiter may be gone: it no longer needs to hear.
                    let _ = tx.send(());
                }
            });
        }
        // Without stdin (the sender dropped), only the exit ends it.
        async move {
            if rx.await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    if let Some(r) = s.resize.take() {
        let dir = dir.clone();
        tokio::spawn(resizes(r.data, move |h, w| {
            let resize = shim_proto::Command::Resize {
                height: h,
                width: w,
            };
            if let Err(e) = crate::shim::control(&dir, resize) {
                tracing::debug!("resize the terminal: {e}");
            }
        }));
    }
    tokio::select! {
        () = relay => {}
        () = stdin_done => {}
    }
    Ok(())
}

/// A call that closes the container's stdin through its shim.
fn cri_dir_close(dir: &std::path::Path) -> impl FnOnce() + Send + 'static {
    let dir = dir.to_path_buf();
    move || {
        if let Err(e) = crate::shim::control(&dir, shim_proto::Command::CloseStdin) {
            tracing::debug!("close the container's stdin: {e}");
        }
    }
}
