//! `/containers/{id}/exec`, `/exec/{id}/start`, `/exec/{id}/json`: the
//! requests of the exec service (`daemon::exec`), and the attached
//! streams: output in Docker's multiplexed frames or raw, input with the
//! detach keys.

use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use models::exec::{ExecConfig, ExecStart};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::containers::frame;
use super::{json, ApiError, Body};
use crate::daemon::exec::{self, dup_file};
use crate::Daemon;

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
    let id = exec::create(d, name, cfg).await?;
    Ok(json(StatusCode::CREATED, &models::image::IdResponse { id }))
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
    let rec = exec::find(d, &id)?;
    let keys = match rec.config.detach_keys.as_str() {
        "" => crate::detach::DEFAULT.to_vec(),
        k => crate::detach::parse(k).map_err(ApiError::bad_request)?,
    };
    let (rec, files) = exec::prepare(d, &id)?;
    let detach = opts.detach;
    let (tty, stdin) = (rec.tty, rec.stdin && !detach);
    // As dockerd: the start's `Tty`, not the exec's, says whether the
    // output is raw or in frames (docker-py starts TTY execs with
    // `"Tty": false` and reads frames of the pty's bytes).
    let framed = !opts.tty;
    if detach {
        exec::start_detached(d, id, rec, files).await?;
        return Ok(super::empty(StatusCode::OK));
    }
    // Attached: the process starts once the connection is the client's (as
    // dockerd: hijack, then start), so no output goes out with the 101's
    // headers, where clients that read them buffered (docker-py) lose it.
    exec::mark_running(d, &id);
    let d = d.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            exec::finish(&d, &id, &files, 126).await;
            return;
        };
        let (rd, mut wr) = tokio::io::split(TokioIo::new(upgraded));
        let (mut child, pty) = match exec::spawn(&d, &rec, &files, stdin, detach).await {
            Ok(c) => c,
            Err(e) => {
                // As dockerd: a start that fails after the hijack says why
                // on the stream.
                let text = format!("{e}\r\n");
                let data = if framed {
                    frame(1, text.as_bytes())
                } else {
                    text.into_bytes()
                };
                // The stream's peer may be gone (a detach, a hang-up): nothing is owed to it.
                let _ = wr.write_all(&data).await;
                exec::finish(&d, &id, &files, 126).await;
                let _ = wr.shutdown().await;
                return;
            }
        };
        exec::launched(&d, &id, &rec, &files, pty.clone()).await;
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
                        // The attach may be over already: no one waits for the detach.
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
            tokio::spawn(exec::finish_when_done(d.clone(), id, files, child));
            // The stream's peer may be gone: nothing is owed to it.
            let _ = wr.shutdown().await;
            return;
        }
        let status = child.wait().await.ok().and_then(|s| s.code());
        let code = exec::exit_code(status, &tail);
        // Recorded before the stream ends: the client asks for it right after.
        exec::finish(&d, &id, &files, code).await;
        // The stream's peer may be gone: nothing is owed to it.
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
    });
    Ok(super::upgraded(!framed))
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
    // The stream's peer may be gone: nothing is owed to it.
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
                    // The stream's peer may be gone: nothing is owed to it.
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

/// `GET /exec/{id}/json`.
pub async fn inspect(d: &Daemon, id: String) -> Result<Response<Body>, ApiError> {
    Ok(json(StatusCode::OK, &exec::inspect(d, &id)?))
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
    exec::resize(d, &id, h, w)?;
    Ok(super::empty(StatusCode::OK))
}
