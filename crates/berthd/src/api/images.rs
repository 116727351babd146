//! `/images/…`: list, inspect, history, tag, remove, prune, load, save
//! (`get`), import (`create?fromSrc=`) and pull (`create?fromImage=`);
//! `POST /auth` (`docker login`).

use std::io::{Seek, Write};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use models::progress::Message;
use models::system::AuthResponse;
use store::reference::Reference;

use super::query::Query;
use super::{blocking, json, ApiError, Body};
use crate::daemon::images;
use crate::Daemon;

/// Largest request body spooled to disk (an image archive): 64 GiB.
const MAX_UPLOAD: u64 = 64 << 30;

/// Spools a request body into an unlinked temporary file, bounded.
pub async fn spool(body: Incoming) -> Result<std::fs::File, ApiError> {
    let mut file =
        tempfile::tempfile().map_err(|e| ApiError::internal(format!("spool request body: {e}")))?;
    let mut body = body;
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading request body: {e}")))?;
        if let Some(data) = frame.data_ref() {
            total += data.len() as u64;
            if total > MAX_UPLOAD {
                return Err(ApiError::bad_request(format!(
                    "request body exceeds {MAX_UPLOAD} bytes"
                )));
            }
            file.write_all(data)
                .map_err(|e| ApiError::internal(format!("spool request body: {e}")))?;
        }
    }
    file.rewind()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(file)
}

/// A request body read as a blocking `Read` (on a blocking thread) while
/// it arrives: a task forwards its frames, bounded like [`spool`]. A body
/// that fails or passes the bound ends in a read error.
/// Most bytes of a request body read and dropped after its reader gave up
/// on it (64 MiB): enough for the rest of a build context or copy, before
/// a client that keeps sending is cut off.
const MAX_DRAIN: u64 = 64 << 20;

pub struct BodyReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
    cur: bytes::Bytes,
}

impl BodyReader {
    /// Starts forwarding `body`.
    pub fn new(body: Incoming) -> BodyReader {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let mut body = body;
            let mut total = 0u64;
            while let Some(frame) = body.frame().await {
                let item = match frame {
                    Ok(f) => match f.into_data() {
                        Ok(d) => {
                            total += d.len() as u64;
                            if total > MAX_UPLOAD {
                                Err(std::io::Error::other(format!(
                                    "request body exceeds {MAX_UPLOAD} bytes"
                                )))
                            } else {
                                Ok(d)
                            }
                        }
                        Err(_) => continue,
                    },
                    Err(e) => Err(std::io::Error::other(format!("reading request body: {e}"))),
                };
                let stop = item.is_err();
                if stop {
                    // The client hung up: the rest has no one to go to.
                    let _ = tx.send(item).await;
                    return;
                }
                if tx.send(item).await.is_err() {
                    // The reader refused the input (a bad tar, say) and its
                    // answer is on its way: read on and drop what the
                    // client still sends, up to a bound, so that it reads
                    // that answer rather than a broken pipe.
                    let mut drained = 0u64;
                    while let Some(Ok(f)) = body.frame().await {
                        drained += f.data_ref().map_or(0, |d| d.len() as u64);
                        if drained > MAX_DRAIN {
                            break;
                        }
                    }
                    return;
                }
            }
        });
        BodyReader {
            rx,
            cur: bytes::Bytes::new(),
        }
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            // On a blocking thread (never on the runtime's own).
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = bytes::Bytes::slice(&self.cur, n..);
        Ok(n)
    }
}

/// One JSON message a line, as Docker streams progress.
fn json_lines(messages: &[Message]) -> Response<Body> {
    let mut body = Vec::new();
    for m in messages {
        body.extend_from_slice(&serde_json::to_vec(m).unwrap_or_default());
        body.push(b'\n');
    }
    // Chunked, as dockerd's progress answers always are: docker-py reads a
    // body with a length as one JSON document, a chunked one line by line.
    let (mut tx, ch) = http_body_util::channel::Channel::<bytes::Bytes, std::io::Error>::new(1);
    tokio::spawn(async move {
        // The client hung up: the rest has no one to go to.
        let _ = tx.send_data(bytes::Bytes::from(body)).await;
    });
    let mut r = Response::new(http_body_util::BodyExt::boxed(ch));
    r.headers_mut().insert(
        "Content-Type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// `GET /images/json?filters=`: `dangling`, `label`, `before`, `since`,
/// `reference`, `until`, as moby's `daemon/images/image_list.go` applies
/// them.
pub async fn list(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    let f = q.go_filters()?;
    f.validate(&["dangling", "label", "before", "since", "reference", "until"])?;
    let dangling = f.bool_or("dangling", false)?;
    // Created bounds: `before` the oldest named image, `since` the newest,
    // `until` a time.
    let mut until: Option<f64> = None;
    for u in f.get("until") {
        let t = crate::daemon::events::parse_time(u).ok_or_else(|| {
            ApiError::bad_request(format!("invalid value for 'until' filter: {u:?}"))
        })?;
        until = Some(until.map_or(t, |x: f64| x.min(t)));
    }
    let e = d.engine.clone();
    let f2 = f.clone();
    let (list, before, since) = blocking(move || {
        let created = |n: &String| -> Result<f64, engine::EngineError> {
            Ok(engine::time::unix_seconds_f64(&e.image_inspect(n)?.created))
        };
        let before = f2
            .get("before")
            .iter()
            .map(created)
            .collect::<Result<Vec<_>, _>>()?;
        let since = f2
            .get("since")
            .iter()
            .map(created)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((e.image_list(dangling)?, before, since))
    })
    .await?;
    let before = before.into_iter().chain(until).reduce(f64::min);
    let since = since.into_iter().reduce(f64::max);
    let mut kept = Vec::new();
    for mut img in list {
        let created = img.created as f64;
        let labels = img.labels.as_ref();
        if before.is_some_and(|b| created >= b.floor())
            || since.is_some_and(|s| created <= s.floor())
            || !f.match_labels_with("label", |k| {
                labels.and_then(|l| l.get(k)).map(String::as_str)
            })
        {
            continue;
        }
        let tagged = img.repo_tags.as_ref().is_some_and(|t| !t.is_empty());
        if f.contains("reference") {
            let tags: Vec<String> = img
                .repo_tags
                .iter()
                .flatten()
                .filter(|t| reference_matches(f.get("reference"), t))
                .cloned()
                .collect();
            if tags.is_empty() {
                continue;
            }
            img.repo_tags = Some(tags);
        }
        if f.contains("dangling") && !dangling && !tagged {
            continue;
        }
        img.for_version(q.version());
        kept.push(img);
    }
    Ok(json(StatusCode::OK, &kept))
}

/// Whether a tag (`name:tag`, familiar) matches one of the `reference`
/// patterns, globbed against its familiar and full forms, with and without
/// the tag, as Docker does.
fn reference_matches(patterns: &[String], tag: &str) -> bool {
    let (name, t) = match tag.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => (tag, "latest"),
    };
    let first = name.split('/').next().unwrap_or("");
    let full = if !name.contains('/') {
        format!("docker.io/library/{name}")
    } else if first.contains('.') || first.contains(':') || first == "localhost" {
        name.to_string()
    } else {
        format!("docker.io/{name}")
    };
    let targets = [
        tag.to_string(),
        name.to_string(),
        format!("{full}:{t}"),
        full,
    ];
    patterns
        .iter()
        .any(|p| targets.iter().any(|t| engine::filters::glob(p, t)))
}

/// `GET /images/{name}/json`.
pub async fn inspect(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let mut image = blocking(move || e.image_inspect(&name)).await?;
    image.for_version(q.version());
    Ok(json(StatusCode::OK, &image))
}

/// `GET /images/{name}/history`.
pub async fn history(d: &Daemon, name: String) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    Ok(json(
        StatusCode::OK,
        &blocking(move || e.image_history(&name)).await?,
    ))
}

/// `POST /images/{name}/tag`.
pub async fn tag(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let (repo, tag) = (q.get("repo").to_string(), q.get("tag").to_string());
    let e = d.engine.clone();
    let (n, r, t) = (name.clone(), repo.clone(), tag.clone());
    blocking(move || e.image_tag(&n, &r, &t)).await?;
    let full = if tag.is_empty() {
        format!("{repo}:latest")
    } else {
        format!("{repo}:{tag}")
    };
    images::event(d, &name, "tag", &engine::images::familiar(&full)).await;
    Ok(super::empty(StatusCode::CREATED))
}

/// `DELETE /images/{name}`.
pub async fn remove(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let (force, noprune) = (q.flag("force"), q.flag("noprune"));
    let e = d.engine.clone();
    let items = blocking(move || e.image_remove(&name, force, noprune)).await?;
    images::removal_events(d, &items);
    Ok(json(StatusCode::OK, &items))
}

/// `POST /images/prune`.
pub async fn prune(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    // dangling=false means every unused image, as `image prune -a`.
    let all = q
        .filters()
        .get("dangling")
        .is_some_and(|v| v.iter().any(|x| x == "false" || x == "0"));
    let e = d.engine.clone();
    let report = blocking(move || e.image_prune(all)).await?;
    if let Some(items) = &report.images_deleted {
        images::removal_events(d, items);
    }
    Ok(json(StatusCode::OK, &report))
}

/// `POST /images/load`.
pub async fn load(d: &Daemon, body: Incoming) -> Result<Response<Body>, ApiError> {
    let file = spool(body).await?;
    let e = d.engine.clone();
    // As dockerd: a load that fails answers 200 with the error as the
    // stream's last message (docker-py raises ImageLoadError from it).
    let lines = match blocking(move || e.image_load(file)).await {
        Ok(lines) => lines,
        Err(err) => return Ok(json_lines(&[Message::error(err.message)])),
    };
    for l in &lines {
        let name = l
            .strip_prefix("Loaded image: ")
            .or_else(|| l.strip_prefix("Loaded image ID: "))
            .unwrap_or(l);
        images::event(d, name, "load", name).await;
    }
    let messages: Vec<_> = lines
        .iter()
        .map(|l| Message {
            stream: format!("{l}\n"),
            ..Default::default()
        })
        .collect();
    Ok(json_lines(&messages))
}

/// `GET /images/get?names=…` and `GET /images/{name}/get`.
pub async fn save(d: &Daemon, names: Vec<String>) -> Result<Response<Body>, ApiError> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no images to save"));
    }
    let e = d.engine.clone();
    super::stream_blocking("application/x-tar", move |w| {
        e.image_save(&names, w).map(|_| ())
    })
    .await
}

/// `POST /images/create`: pull (`fromImage`, with `tag` and `platform`),
/// or import from the body (`fromSrc=-`).
pub async fn create(
    d: &Arc<Daemon>,
    q: &Query,
    body: Incoming,
    registry_auth: &str,
) -> Result<Response<Body>, ApiError> {
    if !q.get("fromImage").is_empty() {
        return pull(d, q, registry_auth).await;
    }
    match q.get("fromSrc") {
        "-" => {}
        "" => return Err(ApiError::bad_request("fromImage or fromSrc is required")),
        other => return Err(ApiError { status: StatusCode::NOT_IMPLEMENTED, message: format!("importing from a URL ({other}) is not implemented yet: send the tar in the request body") }),
    }
    let file = spool(body).await?;
    let (repo, tag, message) = (
        q.get("repo").to_string(),
        q.get("tag").to_string(),
        q.get("message").to_string(),
    );
    let changes = q.all("changes").to_vec();
    let e = d.engine.clone();
    let created = crate::now_rfc3339();
    let id = blocking(move || {
        e.image_import(
            file,
            &repo,
            &tag,
            changes,
            Some(message).filter(|m| !m.is_empty()),
            created,
        )
    })
    .await?;
    images::event(d, &id, "import", &id).await;
    Ok(json_lines(&[Message::status(id)]))
}

/// The reference a pull names: `fromImage` (which may carry a tag or
/// digest already) with `tag` (a tag, or a digest `sha256:…`).
fn pull_reference(from: &str, tag: &str) -> Result<Reference, ApiError> {
    let bad = |e: store::reference::ReferenceError| ApiError::bad_request(e.to_string());
    let base = Reference::parse(from).map_err(bad)?;
    if tag.is_empty() {
        return Ok(base.with_default_tag());
    }
    let name = base.name();
    let full = if tag.contains(':') {
        format!("{name}@{tag}")
    } else {
        format!("{name}:{tag}")
    };
    Reference::parse(&full).map_err(bad)
}

/// `POST /images/create?fromImage=…`: resolves at the registry first (its
/// failures get dockerd's status codes: 404 for a missing tag or a denied
/// repository, 500 for missing or wrong credentials; see
/// `engine::pull::registry_error`),
/// then streams Docker's progress messages; a later failure is the last
/// message, as `{"errorDetail":…,"error":…}`. A client that goes away
/// (ctrl-c of `docker pull`) stops the pull, as dockerd cancels it with
/// the request's context.
async fn pull(d: &Arc<Daemon>, q: &Query, registry_auth: &str) -> Result<Response<Body>, ApiError> {
    let reference = pull_reference(q.get("fromImage"), q.get("tag"))?;
    let platform = registry::Platform::parse(q.get("platform"))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let credentials = registry::Credentials::from_header(registry_auth)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    // No tag anywhere is every tag (`docker pull --all-tags`), as dockerd.
    let all_tags = q.get("tag").is_empty()
        && Reference::parse(q.get("fromImage"))
            .is_ok_and(|r| r.tag.is_none() && r.digest.is_none());
    let mut pulling = images::pull(d, reference, all_tags, platform, credentials).await?;
    let (mut btx, body) = http_body_util::channel::Channel::<Bytes, std::io::Error>::new(4);
    tokio::spawn(async move {
        while let Some(m) = pulling.messages.recv().await {
            let mut b = serde_json::to_vec(&m).unwrap_or_default();
            b.push(b'\n');
            if btx.send_data(Bytes::from(b)).await.is_err() {
                pulling.task.abort();
                break;
            }
        }
    });
    let mut r = Response::new(BodyExt::boxed(body));
    r.headers_mut().insert(
        "Content-Type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// Largest `POST /auth` body (a name, a password, an address).
const MAX_AUTH_BODY: u64 = 64 << 10;

/// `POST /auth` (`docker login`): checks the credentials against the
/// registry's `/v2/`.
pub async fn auth(d: &Arc<Daemon>, body: Incoming) -> Result<Response<Body>, ApiError> {
    let mut body = body;
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading request body: {e}")))?;
        if let Some(data) = frame.data_ref() {
            bytes.extend_from_slice(data);
            if bytes.len() as u64 > MAX_AUTH_BODY {
                return Err(ApiError::bad_request("request body is too large"));
            }
        }
    }
    let creds: registry::Credentials = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid credentials: {e}")))?;
    match d.registry.login(creds).await {
        Ok(()) => Ok(json(
            StatusCode::OK,
            &AuthResponse {
                status: "Login Succeeded".into(),
                identity_token: String::new(),
            },
        )),
        Err(e) => {
            let status = match e.kind() {
                registry::Kind::Unauthorized | registry::Kind::Denied => StatusCode::UNAUTHORIZED,
                registry::Kind::NotFound => StatusCode::NOT_FOUND,
                registry::Kind::Invalid => StatusCode::BAD_REQUEST,
                registry::Kind::Unavailable => StatusCode::INTERNAL_SERVER_ERROR,
            };
            Err(ApiError {
                status,
                message: e.to_string(),
            })
        }
    }
}
