//! `/containers/…`: create, start, stop, wait, inspect, list, remove,
//! commit, prune, top, stats, archives, update, resize (the streams of
//! `logs` and `attach` are `streams.rs`'s).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::channel::Channel;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use models::container::{CreateBody, PathStat, WaitResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::query::Query;
use super::{blocking, json, ApiError, Body};
use crate::daemon::containers;
use crate::Daemon;

/// Largest create body: a container's config is a few KiB.
const MAX_CREATE_BODY: u64 = 1 << 20;

/// One multiplexed frame.
pub fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data.len());
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// `POST /containers/create?name=&platform=`.
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
    let body: CreateBody = super::decode(&bytes)?;
    let (name, platform) = (q.get("name").to_string(), q.get("platform").to_string());
    let created = containers::create(d, name, platform, body).await?;
    Ok(json(StatusCode::CREATED, &created))
}

/// `POST /containers/{id}/start` (204, or 304 when it runs already).
pub async fn start(d: &Arc<Daemon>, name: String) -> Result<Response<Body>, ApiError> {
    Ok(super::empty(if containers::start(d, name).await? {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    }))
}

/// `POST /containers/{id}/stop?t=&signal=` (204, or 304 when not running).
pub async fn stop(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let (t, signal) = (timeout(q)?, q.get("signal").to_string());
    Ok(super::empty(
        if containers::stop(d, name, signal, t).await? {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::NOT_MODIFIED
        },
    ))
}

fn timeout(q: &Query) -> Result<Option<i64>, ApiError> {
    match q.get("t") {
        "" => Ok(None),
        t => t
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid value for t: {t:?}"))),
    }
}

/// `POST /containers/{id}/restart?t=&signal=`.
pub async fn restart(d: &Arc<Daemon>, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let (t, signal) = (timeout(q)?, q.get("signal").to_string());
    containers::restart(d, name, signal, t).await?;
    Ok(super::empty(StatusCode::NO_CONTENT))
}

/// `POST /containers/{id}/kill?signal=`.
pub async fn kill(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    containers::kill(d, name, q.get("signal").to_string()).await?;
    Ok(super::empty(StatusCode::NO_CONTENT))
}

/// `POST /containers/{id}/pause` and `/unpause`.
pub async fn pause(d: &Daemon, name: String, pause: bool) -> Result<Response<Body>, ApiError> {
    containers::pause(d, name, pause).await?;
    Ok(super::empty(StatusCode::NO_CONTENT))
}

/// `POST /containers/{id}/rename?name=`.
pub async fn rename(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    containers::rename(d, name, q.get("name").to_string()).await?;
    Ok(super::empty(StatusCode::NO_CONTENT))
}

/// `POST /containers/{id}/wait?condition=not-running|next-exit|removed`.
/// The headers go out at once (the docker CLI waits for them before it
/// starts the container); the body when the condition is met, from the
/// phases the monitor and removals publish.
pub async fn wait(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let condition = match q.get("condition") {
        "" | "not-running" => containers::Condition::NotRunning,
        "next-exit" => containers::Condition::NextExit,
        "removed" => containers::Condition::Removed,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid condition: {other:?}"
            )))
        }
    };
    let exited = containers::wait(d, name, condition).await?;
    let (mut tx, body) = Channel::<Bytes, std::io::Error>::new(1);
    tokio::spawn(async move {
        let v = WaitResponse {
            status_code: exited.await,
            error: None,
        };
        let line = serde_json::to_string(&v).unwrap_or_default();
        runtime::trace::mark("wait answered");
        // The client hung up: the rest has no one to go to.
        let _ = tx.send_data(Bytes::from(format!("{line}\n"))).await;
    });
    let mut r = Response::new(body.boxed());
    r.headers_mut().insert(
        "Content-Type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// `DELETE /containers/{id}?force=&v=`.
pub async fn remove(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    containers::remove(d, name, q.flag("force"), q.flag("v")).await?;
    Ok(super::empty(StatusCode::NO_CONTENT))
}

/// `DELETE /containers/{parent}/{alias}?link=1`: a legacy link goes.
pub async fn remove_link(
    d: &Daemon,
    parent: String,
    alias: String,
) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    blocking(move || e.container_remove_link(&parent, &alias)).await?;
    Ok(super::empty(StatusCode::NO_CONTENT))
}

/// `GET /containers/{id}/json`, as dockerd writes it for the request's
/// API version.
pub async fn inspect(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let mut v = containers::inspect(d, name).await?;
    v.for_version(q.version());
    Ok(json(StatusCode::OK, &v))
}

/// `GET /containers/json?all=&limit=&size=&filters=`.
pub async fn list(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    let limit = match q.get("limit") {
        "" => None,
        l => match l.parse::<i64>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => {
                return Err(ApiError::bad_request(format!(
                    "invalid value for limit: {l:?}"
                )))
            }
        },
    };
    let (all, size, filters) = (q.flag("all"), q.flag("size"), q.go_filters()?);
    let mut list = containers::list(d, all, limit, size, filters).await?;
    list.iter_mut().for_each(|c| c.for_version(q.version()));
    Ok(json(StatusCode::OK, &list))
}

/// `GET /containers/{id}/export`: a tar of its filesystem, streamed.
pub async fn export(d: &Daemon, name: String) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let n = name.clone();
    blocking(move || e.find_container(&n)).await?;
    containers::event(d, &name, "export", vec![]).await;
    let e = d.engine.clone();
    super::stream_blocking("application/x-tar", move |w| e.container_export(&name, w)).await
}

/// `GET /containers/{id}/changes`.
pub async fn changes(d: &Daemon, name: String) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    Ok(json(
        StatusCode::OK,
        &blocking(move || e.container_changes(&name)).await?,
    ))
}

/// `POST /commit?container=&repo=&tag=&author=&comment=&changes=&pause=`
/// (the body, a config to merge, is not read: changes carry the edits).
pub async fn commit(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    let name = q.get("container").to_string();
    if name.is_empty() {
        return Err(ApiError::bad_request("a container is required: container="));
    }
    let reference = match (q.get("repo"), q.get("tag")) {
        ("", _) => None,
        (r, "") => Some(r.to_string()),
        (r, t) => Some(format!("{r}:{t}")),
    };
    let o = containers::Commit {
        reference,
        author: q.get("author").to_string(),
        comment: q.get("comment").to_string(),
        changes: q.all("changes").to_vec(),
        pause: q.get("pause") != "0" && q.get("pause") != "false",
    };
    let id = containers::commit(d, name, o).await?;
    Ok(json(StatusCode::CREATED, &models::image::IdResponse { id }))
}

/// `POST /containers/prune?filters=`: every stopped container (`label`,
/// `until` filters), with the space their writable layers took.
pub async fn prune(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    let filters = q.filters();
    for k in filters.keys() {
        if k != "label" && k != "until" {
            return Err(ApiError::bad_request(format!("invalid filter '{k}'")));
        }
    }
    let until = filters
        .get("until")
        .and_then(|v| v.first())
        .map(|u| {
            crate::daemon::events::parse_time(u)
                .ok_or_else(|| ApiError::bad_request(format!("invalid until: {u:?}")))
        })
        .transpose()?;
    let labels = filters.get("label").cloned().unwrap_or_default();
    Ok(json(
        StatusCode::OK,
        &containers::prune(d, until, labels).await?,
    ))
}

/// `GET /containers/{id}/top?ps_args=`.
pub async fn top(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let args = q.get("ps_args").to_string();
    Ok(json(
        StatusCode::OK,
        &blocking(move || e.container_top(&name, &args)).await?,
    ))
}

/// `GET /containers/{id}/stats?stream=&one-shot=`: samples a second apart,
/// each with the previous one as `precpu_stats` (so that clients compute
/// the CPU share); one sample without `stream` (two, a second apart, unless
/// `one-shot`).
pub async fn stats(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let stream = q.get("stream").is_empty() || q.flag("stream");
    let one_shot = q.flag("one-shot");
    let e = d.engine.clone();
    let n = name.clone();
    let first = blocking(move || e.container_stats(&n)).await?;
    let engine = d.engine.clone();
    let (mut tx, body) = Channel::<Bytes, std::io::Error>::new(2);
    tokio::spawn(async move {
        let mut prev = first;
        if !stream && one_shot {
            // The client hung up: the rest has no one to go to.
            let _ = tx.send_data(stats_line(&prev)).await;
            return;
        }
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let (e, n) = (engine.clone(), name.clone());
            let Ok(Ok(mut cur)) = tokio::task::spawn_blocking(move || e.container_stats(&n)).await
            else {
                return;
            };
            cur.precpu_stats = prev.cpu_stats.clone();
            cur.preread = prev.read.clone();
            if tx.send_data(stats_line(&cur)).await.is_err() || !stream {
                return;
            }
            prev = cur;
        }
    });
    let mut r = Response::new(body.boxed());
    r.headers_mut().insert(
        "Content-Type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// One sample of a stats stream: its JSON and a newline, as dockerd's
/// encoder writes each.
fn stats_line(s: &models::stats::StatsResponse) -> Bytes {
    let mut line = serde_json::to_vec(s).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// Docker's `X-Docker-Container-Path-Stat`: the stat JSON in base64.
fn path_stat_header(v: &PathStat) -> hyper::header::HeaderValue {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let data = serde_json::to_vec(v).unwrap_or_default();
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    hyper::header::HeaderValue::from_str(&out)
        .unwrap_or_else(|_| hyper::header::HeaderValue::from_static(""))
}

/// `HEAD /containers/{id}/archive?path=`: the path's stat only.
pub async fn archive_head(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let path = q.get("path").to_string();
    let st = blocking(move || e.archive_stat(&name, &path)).await?;
    let mut r = super::empty(StatusCode::OK);
    r.headers_mut()
        .insert("X-Docker-Container-Path-Stat", path_stat_header(&st));
    Ok(r)
}

/// `GET /containers/{id}/archive?path=`: a tar of the path, its stat in a
/// header. The walk never follows the container's symlinks out of it.
pub async fn archive_get(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let path = q.get("path").to_string();
    let (n, p) = (name.clone(), path.clone());
    // The stat first, so that a missing path is a proper 404.
    let st = blocking(move || e.archive_stat(&n, &p)).await?;
    let e = d.engine.clone();
    let mut r = super::stream_blocking("application/x-tar", move |w| {
        e.archive_get(&name, &path, |_| {}, w)
    })
    .await?;
    r.headers_mut()
        .insert("X-Docker-Container-Path-Stat", path_stat_header(&st));
    Ok(r)
}

/// `PUT /containers/{id}/archive?path=&copyUIDGID=`: a tar extracted into
/// a directory of the container (see `engine::archive`).
pub async fn archive_put(
    d: &Daemon,
    name: String,
    q: &Query,
    body: Incoming,
) -> Result<Response<Body>, ApiError> {
    let path = q.get("path").to_string();
    let keep_ids = q.flag("copyUIDGID");
    let file = super::images::spool(body).await?;
    let e = d.engine.clone();
    blocking(move || e.archive_put(&name, &path, file, keep_ids)).await?;
    Ok(super::empty(StatusCode::OK))
}

/// `POST /containers/{id}/update`: resources and restart policy, live in
/// the cgroup of a running container (`{"Warnings": [...]}`).
pub async fn update(d: &Daemon, name: String, body: Incoming) -> Result<Response<Body>, ApiError> {
    let bytes = http_body_util::Limited::new(body, MAX_CREATE_BODY as usize)
        .collect()
        .await
        .map_err(|e| {
            ApiError::bad_request(format!(
                "reading the update body (at most {MAX_CREATE_BODY} bytes): {e}"
            ))
        })?
        .to_bytes();
    let upd: models::container::UpdateConfig = if bytes.is_empty() {
        Default::default()
    } else {
        models::de::from_slice(&bytes).map_err(|e| match e.path.is_empty() {
            true => ApiError::bad_request(format!("invalid JSON: {e}")),
            false => ApiError::bad_request(format!("invalid update body: {e}")),
        })?
    };
    let e = d.engine.clone();
    let n = name.clone();
    let warnings = blocking(move || e.container_update(&n, &upd)).await?;
    containers::event(d, &name, "update", vec![]).await;
    Ok(json(
        StatusCode::OK,
        &models::container::UpdateResponse {
            warnings: Some(warnings),
        },
    ))
}

/// `POST /containers/{id}/resize?h=&w=`: the TTY's size, set by the shim
/// (it holds the pty master) through its control socket; a container
/// without a TTY takes it as a no-op, as dockerd does.
pub async fn resize(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let (h, w) = (q.get("h").parse::<u16>(), q.get("w").parse::<u16>());
    let (Ok(h), Ok(w)) = (h, w) else {
        return Err(ApiError::bad_request("h and w must be numbers"));
    };
    let e = d.engine.clone();
    let c = blocking(move || e.find_container(&name)).await?;
    if !matches!(d.engine.state(&c), engine::container::State::Running(..)) {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: format!("Container {} is not running", c.id),
        });
    }
    let dir = d.engine.container_dir(&c.id);
    let mut conn = crate::ctl::connect(&dir)
        .await
        .map_err(|e| ApiError::internal(format!("the container's shim: {e}")))?;
    let resize = shim_proto::Command::Resize {
        height: h,
        width: w,
    };
    conn.write_all(resize.line().as_bytes())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut answer = String::new();
    // The answer is optional: what was read, if anything, is used below.
    let _ = conn.read_to_string(&mut answer).await;
    match shim_proto::Reply::parse(&answer) {
        // Without a TTY there is nothing to resize: dockerd answers 200
        // all the same (containerd's shim ignores it), and so do we.
        shim_proto::Reply::Ok(_) | shim_proto::Reply::Refused(shim_proto::Refusal::NoTty) => {
            d.events.container(
                &c,
                "resize",
                &[("height", h.to_string()), ("width", w.to_string())],
            );
            Ok(super::empty(StatusCode::OK))
        }
        other => Err(ApiError::internal(other.why())),
    }
}
