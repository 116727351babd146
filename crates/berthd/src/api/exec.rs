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
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::containers::frame;
use super::{blocking, json, ApiError, Body};
use crate::Daemon;

/// One exec.
#[derive(Debug, Clone)]
pub struct ExecRecord {
    id: String,
    container: String,
    config: Value,
    process: Value,
    running: bool,
    exit_code: Option<i32>,
    pid: i32,
}

/// The daemon's execs by id.
pub type Execs = std::sync::Mutex<std::collections::HashMap<String, ExecRecord>>;

fn random_id() -> String {
    let mut b = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn read_json(body: Incoming) -> Result<Value, ApiError> {
    let bytes = http_body_util::Limited::new(body, 1 << 20)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the body (at most 1 MiB): {e}")))?
        .to_bytes();
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

/// `POST /containers/{id}/exec`.
pub async fn create(d: &Daemon, name: String, body: Incoming) -> Result<Response<Body>, ApiError> {
    let cfg = read_json(body).await?;
    if cfg["Tty"].as_bool().unwrap_or(false) || cfg["AttachStdin"].as_bool().unwrap_or(false) {
        return Err(ApiError { status: StatusCode::NOT_IMPLEMENTED, message: "exec with a TTY or stdin is not implemented yet in berth (interactive containers are the next issue)".into() });
    }
    let e = d.engine.clone();
    let c2 = cfg.clone();
    let (c, process) = blocking(move || e.exec_process(&name, &c2)).await?;
    let id = random_id();
    let rec = ExecRecord {
        id: id.clone(),
        container: c.id.clone(),
        config: cfg,
        process,
        running: false,
        exit_code: None,
        pid: 0,
    };
    d.execs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.clone(), rec);
    super::containers::event(d, &c.id, "exec_create", vec![]).await;
    Ok(json(StatusCode::CREATED, &json!({"Id": id})))
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

/// `POST /exec/{id}/start`: attached (the connection is upgraded and the
/// output streams on it) or detached (`{"Detach": true}`).
pub async fn start(
    d: &Arc<Daemon>,
    id: String,
    body: Incoming,
    upgrade: hyper::upgrade::OnUpgrade,
) -> Result<Response<Body>, ApiError> {
    let opts = read_json(body).await?;
    let rec = find(d, &id)?;
    if rec.running || rec.exit_code.is_some() {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: format!("exec {id} has already run"),
        });
    }
    let dir = d.settings.exec_root.join("execs");
    std::fs::create_dir_all(&dir)
        .map_err(|e| ApiError::internal(format!("create {}: {e}", dir.display())))?;
    let process = dir.join(format!("{id}.json"));
    let pid_file = dir.join(format!("{id}.pid"));
    std::fs::write(&process, rec.process.to_string())
        .map_err(|e| ApiError::internal(format!("write {}: {e}", process.display())))?;
    let detach = opts["Detach"].as_bool().unwrap_or(false);
    let mut cmd = runtime_exec(d, &process);
    cmd.arg("--pid-file").arg(&pid_file);
    if detach {
        cmd.arg("--detach");
    }
    cmd.arg(&rec.container)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false);
    let mut child = cmd
        .spawn()
        .map_err(|e| ApiError::internal(format!("start {}: {e}", d.runtime.display())))?;
    update(d, &id, |r| r.running = true);
    super::containers::event(
        d,
        &rec.container,
        "exec_start",
        vec![("execID", id.clone())],
    )
    .await;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let d2 = d.clone();
    let finish = move |code: i32| {
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0);
        update(&d2, &id, |r| {
            r.running = false;
            r.exit_code = Some(code);
            r.pid = pid;
        });
        let _ = std::fs::remove_file(&process);
        let _ = std::fs::remove_file(&pid_file);
    };
    if detach {
        let status = child
            .wait()
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if !status.success() {
            let mut msg = String::new();
            if let Some(e) = err.as_mut() {
                let _ = e.read_to_string(&mut msg).await;
            }
            finish(126);
            return Err(ApiError::bad_request(
                msg.trim().trim_start_matches("berth-runtime: ").to_string(),
            ));
        }
        // The process runs on; its code is not known to berthd (Docker's is).
        update(d, &rec.id, |r| r.running = true);
        return Ok(super::empty(StatusCode::OK));
    }
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut io = TokioIo::new(upgraded);
        let (mut ob, mut eb) = (vec![0u8; 32 * 1024], vec![0u8; 32 * 1024]);
        // The end of stderr: berth-runtime's own error, if it failed.
        let mut tail: Vec<u8> = Vec::new();
        while out.is_some() || err.is_some() {
            tokio::select! {
                n = async { out.as_mut().unwrap().read(&mut ob).await }, if out.is_some() => match n {
                    Ok(n) if n > 0 => { if io.write_all(&frame(1, &ob[..n])).await.is_err() { break } }
                    _ => out = None,
                },
                n = async { err.as_mut().unwrap().read(&mut eb).await }, if err.is_some() => match n {
                    Ok(n) if n > 0 => {
                        tail.extend_from_slice(&eb[..n]);
                        tail.drain(..tail.len().saturating_sub(512));
                        if io.write_all(&frame(2, &eb[..n])).await.is_err() { break }
                    }
                    _ => err = None,
                },
            }
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
        finish(code);
        let _ = io.flush().await;
        let _ = io.shutdown().await;
    });
    Ok(super::upgraded(false))
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
    let cmd = r.config["Cmd"].as_array().cloned().unwrap_or_default();
    Ok(json(
        StatusCode::OK,
        &json!({
            "ID": r.id, "Running": r.running, "ExitCode": r.exit_code, "Pid": r.pid,
            "ContainerID": r.container, "CanRemove": false, "DetachKeys": "",
            "OpenStdin": false, "OpenStdout": true, "OpenStderr": true,
            "ProcessConfig": {
                "tty": r.config["Tty"].as_bool().unwrap_or(false),
                "entrypoint": cmd.first().cloned().unwrap_or(json!("")),
                "arguments": cmd.get(1..).unwrap_or_default(),
                "privileged": r.config["Privileged"].as_bool().unwrap_or(false),
                "user": r.config["User"].as_str().unwrap_or(""),
            },
        }),
    ))
}
