//! `/containers/…`: create, start, wait, attach, logs, inspect, list, remove.
//! Output is read from the shim's json-file log; without a terminal it goes
//! out in Docker's multiplexed frames (8-byte header: stream, 0, 0, 0, size).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::channel::Channel;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::query::Query;
use super::{blocking, json, ApiError, Body};
use crate::Daemon;

/// Largest create body: a container's config is a few KiB.
const MAX_CREATE_BODY: u64 = 1 << 20;

/// How often waiting and following poll the shim's files.
const POLL: Duration = Duration::from_millis(10);

/// One multiplexed frame.
pub fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data.len());
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

fn tty(c: &engine::containers::ContainerRecord) -> bool {
    c.config["Tty"].as_bool().unwrap_or(false)
}

/// `POST /containers/create?name=`.
pub async fn create(d: &Daemon, q: &Query, body: Incoming) -> Result<Response<Body>, ApiError> {
    let bytes = http_body_util::Limited::new(body, MAX_CREATE_BODY as usize)
        .collect()
        .await
        .map_err(|e| {
            ApiError::bad_request(format!(
                "reading the create body (at most {MAX_CREATE_BODY} bytes): {e}"
            ))
        })?
        .to_bytes();
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let name = q.get("name").to_string();
    let e = d.engine.clone();
    let created = crate::now_rfc3339();
    let id = blocking(move || e.container_create(Some(&name), value, created)).await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({"Id": id, "Warnings": []}),
    ))
}

/// `POST /containers/{id}/start`; with `AutoRemove`, a task removes the
/// container once it has exited.
pub async fn start(d: &Arc<Daemon>, name: String) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let shim = d.shim.clone();
    let now = crate::now_rfc3339();
    let n = name.clone();
    let c = blocking(move || {
        let c = e.find_container(&n)?;
        if let Err(err) = e.container_start(&n, &shim, now) {
            // Docker removes an --rm container whose start failed; the CLI
            // waits for that before it reports the error.
            if c.config["HostConfig"]["AutoRemove"]
                .as_bool()
                .unwrap_or(false)
            {
                let _ = e.container_remove(&c.id, true);
            }
            return Err(err);
        }
        Ok(c)
    })
    .await?;
    let e = d.engine.clone();
    tokio::spawn(async move {
        // Unmount once exited; remove when asked to.
        loop {
            tokio::time::sleep(POLL).await;
            let (e2, c2) = (e.clone(), c.clone());
            let done = tokio::task::spawn_blocking(move || e2.exit_code(&c2).is_some())
                .await
                .unwrap_or(true);
            if done {
                break;
            }
        }
        let auto = c.config["HostConfig"]["AutoRemove"]
            .as_bool()
            .unwrap_or(false);
        let _ = tokio::task::spawn_blocking(move || {
            e.container_release(&c);
            if auto {
                let _ = e.container_remove(&c.id, true);
            }
        })
        .await;
    });
    Ok(super::empty(StatusCode::NO_CONTENT))
}

/// `POST /containers/{id}/wait?condition=not-running|next-exit|removed`.
/// The headers go out at once (the docker CLI waits for them before it
/// starts the container); the body when the condition is met.
pub async fn wait(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let n = name.clone();
    let c = blocking(move || e.find_container(&n)).await?;
    let condition = q.get("condition").to_string();
    let engine = d.engine.clone();
    let (mut tx, body) = Channel::<Bytes, std::convert::Infallible>::new(1);
    tokio::spawn(async move {
        // next-exit waits for an exit after this moment, not an earlier one.
        let mut seen_running = false;
        let mut last = None;
        loop {
            let (e, c2) = (engine.clone(), c.clone());
            let Ok((state, exists)) = tokio::task::spawn_blocking(move || {
                (e.state(&c2), e.find_container(&c2.id).is_ok())
            })
            .await
            else {
                return;
            };
            let code = match state {
                engine::containers::State::Exited(code, _) => Some(code),
                _ => None,
            };
            last = code.or(last);
            seen_running |= matches!(state, engine::containers::State::Running(_));
            let done = match condition.as_str() {
                "removed" => !exists,
                "next-exit" => seen_running && code.is_some(),
                _ => !matches!(state, engine::containers::State::Running(_)),
            };
            if done {
                let v = json!({"StatusCode": last.unwrap_or(0), "Error": null});
                let _ = tx.send_data(Bytes::from(format!("{v}\n"))).await;
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    });
    let mut r = Response::new(body.boxed());
    r.headers_mut().insert(
        "Content-Type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// Streams a container's output from log offset 0 into `tx` until it has
/// exited and everything was sent (`follow`), or once (`!follow`).
async fn pump(
    d: Arc<Daemon>,
    c: engine::containers::ContainerRecord,
    follow: bool,
    want: (bool, bool),
    mut send: impl FnMut(Vec<u8>) -> bool,
) {
    let mut offset = 0u64;
    let raw = tty(&c);
    loop {
        let (e, c2) = (d.engine.clone(), c.clone());
        let Ok((lines, next, exited)) = tokio::task::spawn_blocking(move || {
            let exited = e.exit_code(&c2).is_some() || e.find_container(&c2.id).is_err();
            let (l, n) = e.container_log(&c2, offset);
            (l, n, exited)
        })
        .await
        else {
            return;
        };
        offset = next;
        for (stream, data) in lines {
            if (stream == 1 && !want.0) || (stream == 2 && !want.1) {
                continue;
            }
            let bytes = if raw { data } else { frame(stream, &data) };
            if !send(bytes) {
                return;
            }
        }
        if !follow || exited {
            // One more read after the exit picks up the last lines.
            let (e, c2) = (d.engine.clone(), c.clone());
            if let Ok((lines, _)) =
                tokio::task::spawn_blocking(move || e.container_log(&c2, offset)).await
            {
                for (stream, data) in lines {
                    if (stream == 1 && want.0) || (stream == 2 && want.1) {
                        let _ = send(if raw { data } else { frame(stream, &data) });
                    }
                }
            }
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `GET /containers/{id}/logs`.
pub async fn logs(d: &Arc<Daemon>, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let c = blocking(move || e.find_container(&name)).await?;
    let want = (q.flag("stdout"), q.flag("stderr"));
    let follow = q.flag("follow");
    let (mut tx, body) = Channel::<Bytes, std::convert::Infallible>::new(64);
    let ctype = if tty(&c) {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let d = d.clone();
    tokio::spawn(async move {
        let (btx, mut brx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        let pumping = tokio::spawn(pump(d, c, follow, want, move |b| btx.send(b).is_ok()));
        while let Some(b) = brx.recv().await {
            if tx.send_data(Bytes::from(b)).await.is_err() {
                break;
            }
        }
        let _ = pumping.await;
    });
    let mut r = Response::new(body.boxed());
    r.headers_mut().insert(
        "Content-Type",
        hyper::header::HeaderValue::from_static(ctype),
    );
    Ok(r)
}

/// `POST /containers/{id}/attach`: the connection is upgraded (101) and the
/// output streams on it until the container exits. stdin is not forwarded
/// yet (interactive containers are their own issue).
pub async fn attach(
    d: &Arc<Daemon>,
    name: String,
    q: &Query,
    upgrade: hyper::upgrade::OnUpgrade,
) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let c = blocking(move || e.find_container(&name)).await?;
    let want = (q.flag("stdout"), q.flag("stderr"));
    let stream = q.flag("stream");
    let d = d.clone();
    let raw = tty(&c);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut io = TokioIo::new(upgraded);
        let (btx, mut brx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        let pumping = tokio::spawn(pump(d, c, stream, want, move |b| btx.send(b).is_ok()));
        while let Some(b) = brx.recv().await {
            if io.write_all(&b).await.is_err() {
                break;
            }
            let _ = io.flush().await;
        }
        let _ = pumping.await;
        let _ = io.shutdown().await;
    });
    let mut r = Response::new(super::full(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        "Connection",
        hyper::header::HeaderValue::from_static("Upgrade"),
    );
    h.insert("Upgrade", hyper::header::HeaderValue::from_static("tcp"));
    let ctype = if raw {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    h.insert(
        "Content-Type",
        hyper::header::HeaderValue::from_static(ctype),
    );
    Ok(r)
}

/// `DELETE /containers/{id}`.
pub async fn remove(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let force = q.flag("force");
    let e = d.engine.clone();
    blocking(move || e.container_remove(&name, force)).await?;
    Ok(super::empty(StatusCode::NO_CONTENT))
}

/// `GET /containers/{id}/json`.
pub async fn inspect(d: &Daemon, name: String) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    Ok(json(
        StatusCode::OK,
        &blocking(move || e.container_inspect(&name)).await?,
    ))
}

/// `GET /containers/json`.
pub async fn list(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    let all = q.flag("all");
    let e = d.engine.clone();
    Ok(json(
        StatusCode::OK,
        &blocking(move || e.container_list(all)).await?,
    ))
}
