//! The Docker Engine API: routing, and one module per resource that turns a
//! request into a call and the answer into Docker's JSON. Errors leave as
//! Docker's `{"message": …}` with the status that their kind maps to, here
//! and nowhere else.

pub mod build;
pub mod containers;
pub mod distribution;
pub mod exec;
pub mod images;
pub mod networks;
pub mod push;
pub mod query;
pub mod streams;
pub mod swarm;
pub mod system;
pub mod volumes;
pub mod ws;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;

use crate::Daemon;

/// The API version berthd implements and announces.
pub const API_VERSION: &str = "1.47";
/// The oldest API version it accepts from clients.
pub const MIN_API_VERSION: &str = "1.24";

/// A response body: whole, or streamed through a channel.
/// A response body. Its error aborts the connection (no last chunk): how a
/// stream that fails after its first bytes tells the client so.
pub type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// A whole body.
pub fn full(b: impl Into<Bytes>) -> Body {
    use http_body_util::BodyExt;
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

/// An API error: a status and Docker's message.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Message for `{"message": …}`.
    pub message: String,
}

impl ApiError {
    /// 500 with `message`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }

    /// 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

/// Docker's status for an error of `kind`: the one place where kinds
/// become statuses.
fn status(kind: engine::ErrorKind) -> StatusCode {
    match kind {
        engine::ErrorKind::NotFound => StatusCode::NOT_FOUND,
        engine::ErrorKind::Conflict => StatusCode::CONFLICT,
        engine::ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        engine::ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        engine::ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        engine::ErrorKind::System => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<engine::EngineError> for ApiError {
    fn from(e: engine::EngineError) -> ApiError {
        ApiError {
            status: status(e.kind()),
            message: e.to_string(),
        }
    }
}

impl From<crate::daemon::Error> for ApiError {
    fn from(e: crate::daemon::Error) -> ApiError {
        ApiError {
            status: status(e.kind()),
            message: e.to_string(),
        }
    }
}

/// Runs a (blocking) engine call off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, engine::EngineError> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(crate::daemon::blocking(f).await?)
}

/// An empty response.
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// A body written by blocking code (a tar being made) as it is made: the
/// writer sends 64 KiB chunks; an error after the first byte can only cut
/// the stream, so `f` is checked up to its first write.
pub async fn stream_blocking(
    content_type: &'static str,
    f: impl FnOnce(&mut dyn std::io::Write) -> Result<(), engine::EngineError> + Send + 'static,
) -> Result<Response<Body>, ApiError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(8);
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<Result<(), ApiError>>();
    tokio::task::spawn_blocking(move || {
        let mut w = ChunkWriter {
            tx,
            buf: Vec::with_capacity(64 * 1024),
            first: Some(first_tx),
        };
        let r = f(&mut w).and_then(|()| {
            std::io::Write::flush(&mut w)
                .map_err(|e| engine::EngineError::new(engine::ErrorKind::System, e.to_string()))
        });
        match w.first.take() {
            Some(first) => {
                // The request is gone (the client hung up): no one waits for the answer.
                let _ = first.send(r.map_err(ApiError::from));
            }
            // Failed after the answer began: the body is aborted, so the
            // client sees a broken stream, not a short one that looks whole.
            None => {
                if let Err(e) = r {
                    // The request is gone (the client hung up): no one waits for the answer.
                    let _ = w.tx.blocking_send(Err(e.to_string()));
                }
            }
        }
    });
    first_rx
        .await
        .unwrap_or_else(|_| Err(ApiError::internal("the writer stopped")))?;
    let (mut btx, body) = http_body_util::channel::Channel::<Bytes, std::io::Error>::new(4);
    tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            match b {
                Ok(b) => {
                    if btx.send_data(b).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    btx.abort(std::io::Error::other(e));
                    break;
                }
            }
        }
    });
    let mut r = Response::new(http_body_util::BodyExt::boxed(body));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(r)
}

/// The `Write` side of `stream_blocking`.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, String>>,
    buf: Vec<u8>,
    /// Told once the first chunk goes (or the writer ends), so that an early
    /// error still becomes a proper error response.
    first: Option<tokio::sync::oneshot::Sender<Result<(), ApiError>>>,
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Some(first) = self.first.take() {
            // The request is gone (the client hung up): no one waits for the answer.
            let _ = first.send(Ok(()));
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(64 * 1024),
        ));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

/// `101 Switching Protocols` to a raw stream (`Upgrade: tcp`), as Docker
/// answers attach and exec start; `raw` for a TTY's bytes, else Docker's
/// multiplexed frames.
pub fn upgraded(raw: bool) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert("Connection", HeaderValue::from_static("Upgrade"));
    h.insert("Upgrade", HeaderValue::from_static("tcp"));
    let ctype = if raw {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

/// The `Sec-WebSocket-Accept` of a websocket handshake, or why it is not
/// one (400, as `x/net/websocket` answers).
fn websocket_accept(req: &Request<hyper::body::Incoming>) -> Result<String, ApiError> {
    let h = req.headers();
    let has = |name: &str, token: &str| {
        h.get_all(name).iter().any(|v| {
            v.to_str()
                .unwrap_or("")
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        })
    };
    if !has("Upgrade", "websocket") || !has("Connection", "upgrade") {
        return Err(ApiError::bad_request(
            "not a websocket handshake: Upgrade: websocket expected",
        ));
    }
    let key = h
        .get("Sec-WebSocket-Key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("not a websocket handshake: no Sec-WebSocket-Key"))?;
    Ok(ws::accept_key(key))
}

/// The 101 that accepts a websocket.
fn websocket_upgraded(accept: &str) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert("Connection", HeaderValue::from_static("Upgrade"));
    h.insert("Upgrade", HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(accept) {
        h.insert("Sec-WebSocket-Accept", v);
    }
    r
}

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).expect("responses serialise");
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// The answer to a request whose handler panicked (see `unwind`).
pub fn panicked(message: &str) -> Response<Body> {
    error_response(&ApiError::internal(format!(
        "internal error in berthd: {message}"
    )))
}

/// A request body decoded as dockerd decodes it (Go's rules: `null` is the
/// zero value, keys match fields ignoring case, unknown keys are ignored);
/// a body that does not decode is a 400 naming the field.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    models::de::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

fn error_response(e: &ApiError) -> Response<Body> {
    json(
        e.status,
        &models::system::ErrorResponse {
            message: e.message.clone(),
        },
    )
}

/// Splits `/v1.47/containers/json` into the version (if any) and the path.
pub fn split_version(path: &str) -> (Option<&str>, &str) {
    if let Some(rest) = path.strip_prefix("/v") {
        if let Some(i) = rest.find('/') {
            let v = &rest[..i];
            if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return (Some(v), &rest[i..]);
            }
        }
    }
    (None, path)
}

pub(crate) fn version_tuple(v: &str) -> (u32, u32) {
    let mut it = v.split('.').map(|p| p.parse().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// Routes one request.
pub async fn handle(
    daemon: &std::sync::Arc<Daemon>,
    req: Request<hyper::body::Incoming>,
) -> Response<Body> {
    let (version, path) = split_version(req.uri().path());
    if let Some(v) = version {
        if let Err(e) = check_version(v) {
            return error_response(&e);
        }
    }
    let method = req.method().clone();
    let path = query::decode_path(path);
    let traced = runtime::trace::enabled().then(|| format!("api {method} {path}"));
    if let Some(t) = &traced {
        runtime::trace::mark(&format!("{t} >"));
    }
    let mut q = query::Query::parse(req.uri().query());
    if let Some(v) = version {
        q = q.with_version(version_tuple(v));
    }
    tracing::debug!("{method} {}", req.uri());
    let version = version.map(version_tuple);
    let res = route_request(daemon, req, &method, &path, &q, version).await;
    let mut resp = res.unwrap_or_else(|e| error_response(&e));
    // Every answer says who it is, as dockerd's do.
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert(
        "Server",
        HeaderValue::from_static(concat!("berth/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    h.insert("Ostype", HeaderValue::from_static("linux"));
    if let Some(t) = &traced {
        runtime::trace::mark(&format!("{t} <"));
    }
    resp
}

/// The API version a client asks for (`/v1.xx/`), refused outside
/// [`MIN_API_VERSION`]..=[`API_VERSION`] with dockerd's words.
fn check_version(v: &str) -> Result<(), ApiError> {
    if version_tuple(v) < version_tuple(MIN_API_VERSION) {
        return Err(ApiError::bad_request(format!(
            "client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    if version_tuple(v) > version_tuple(API_VERSION) {
        return Err(ApiError::bad_request(format!(
            "client version {v} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    Ok(())
}

/// A request header as text (empty when absent or not text).
fn header(req: &Request<hyper::body::Incoming>, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The routes that need the request itself (an upgrade of its connection,
/// a header, the client's version), then [`route`] for the rest.
async fn route_request(
    daemon: &std::sync::Arc<Daemon>,
    mut req: Request<hyper::body::Incoming>,
    method: &Method,
    path: &str,
    q: &query::Query,
    version: Option<(u32, u32)>,
) -> Result<Response<Body>, ApiError> {
    let method = method.clone();
    let attach = path
        .strip_prefix("/containers/")
        .and_then(|p| p.strip_suffix("/attach"))
        .filter(|_| method == Method::POST)
        .map(String::from);
    let exec_start = path
        .strip_prefix("/exec/")
        .and_then(|p| p.strip_suffix("/start"))
        .filter(|_| method == Method::POST)
        .map(String::from);
    let attach_ws = path
        .strip_prefix("/containers/")
        .and_then(|p| p.strip_suffix("/attach/ws"))
        .filter(|_| method == Method::GET)
        .map(String::from);
    if let Some(name) = attach {
        let upgrade = hyper::upgrade::on(&mut req);
        streams::attach(daemon, name, q, upgrade, streams::Wire::Hijacked, upgraded).await
    } else if let Some(name) = attach_ws {
        match websocket_accept(&req) {
            Ok(accept) => {
                let upgrade = hyper::upgrade::on(&mut req);
                let wire = streams::Wire::WebSocket {
                    binary: q.version() >= (1, 28),
                };
                let answer = move |_raw: bool| websocket_upgraded(&accept);
                streams::attach(daemon, name, q, upgrade, wire, answer).await
            }
            Err(e) => Err(e),
        }
    } else if let Some(id) = exec_start {
        let upgrade = hyper::upgrade::on(&mut req);
        exec::start(daemon, id, req.into_body(), upgrade).await
    } else if method == Method::POST && path == "/build" {
        // The docker CLI sends every login it has for the base images.
        let config = header(&req, "X-Registry-Config");
        build::build(daemon, q, &config, req.into_body()).await
    } else if let Some(name) = path
        .strip_prefix("/images/")
        .and_then(|p| p.strip_suffix("/push"))
        .filter(|_| method == Method::POST)
    {
        let auth = header(&req, "X-Registry-Auth");
        push::push(daemon, name.to_string(), q, &auth).await
    } else if method == Method::GET
        && (path == "/images/search"
            || (path.starts_with("/distribution/") && path.ends_with("/json")))
    {
        // Both ask the registry, with the client's credentials.
        let auth = header(&req, "X-Registry-Auth");
        if path == "/images/search" {
            distribution::search(daemon, q, &auth).await
        } else {
            let name = path
                .trim_start_matches("/distribution/")
                .trim_end_matches("/json");
            distribution::inspect(daemon, name, &auth).await
        }
    } else if method == Method::POST && (path == "/images/create" || path == "/auth") {
        // These two read a header too: the registry credentials.
        let auth = header(&req, "X-Registry-Auth");
        let body = req.into_body();
        if path == "/auth" {
            images::auth(daemon, body).await
        } else {
            images::create(daemon, q, body, &auth).await
        }
    } else if let Some(e) = swarm::answer(&method, path) {
        Err(e)
    } else if method == Method::POST && path == "/networks/create" {
        // What a duplicate name means depends on the client's version.
        networks::create(daemon, version, req.into_body()).await
    } else {
        let body = req.into_body();
        route(daemon, &method, path, q, body).await
    }
}

/// `{name}` of `/volumes/{name}` (volume names have no `/`).
fn volume(path: &str) -> Option<String> {
    path.strip_prefix("/volumes/")
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .map(String::from)
}

/// Maps a method and path to its handler. Image names may contain `/`, so
/// `/images/{name}/json` is matched by its suffix, as Docker's router does.
///
/// Long on purpose: it is the route table, one flat match with an arm per
/// route, each a call into its handler; split, it would read worse.
async fn route(
    d: &std::sync::Arc<Daemon>,
    method: &Method,
    path: &str,
    q: &query::Query,
    body: hyper::body::Incoming,
) -> Result<Response<Body>, ApiError> {
    let image = |suffix: &str| {
        path.strip_prefix("/images/")
            .and_then(|p| p.strip_suffix(suffix))
            .filter(|n| !n.is_empty())
            .map(String::from)
    };
    // Container ids and names have no '/': `/containers/{id}/{verb}`.
    let ctr: Option<(&str, &str)> = path
        .strip_prefix("/containers/")
        .map(|p| p.split_once('/').unwrap_or((p, "")));
    match (method, ctr) {
        (&Method::POST, Some(("create", ""))) => return containers::create(d, q, body).await,
        (&Method::GET, Some(("json", ""))) => return containers::list(d, q).await,
        (&Method::POST, Some(("prune", ""))) => return containers::prune(d, q).await,
        (&Method::POST, Some((id, "start"))) => return containers::start(d, id.to_string()).await,
        (&Method::POST, Some((id, "wait"))) => return containers::wait(d, id.to_string(), q).await,
        (&Method::POST, Some((id, "stop"))) => return containers::stop(d, id.to_string(), q).await,
        (&Method::POST, Some((id, "restart"))) => {
            return containers::restart(d, id.to_string(), q).await
        }
        (&Method::POST, Some((id, "kill"))) => return containers::kill(d, id.to_string(), q).await,
        (&Method::POST, Some((id, "pause"))) => {
            return containers::pause(d, id.to_string(), true).await
        }
        (&Method::POST, Some((id, "unpause"))) => {
            return containers::pause(d, id.to_string(), false).await
        }
        (&Method::POST, Some((id, "rename"))) => {
            return containers::rename(d, id.to_string(), q).await
        }
        (&Method::POST, Some((id, "exec"))) => return exec::create(d, id.to_string(), body).await,
        (&Method::GET, Some((id, "export"))) => return containers::export(d, id.to_string()).await,
        (&Method::GET, Some((id, "stats"))) => {
            return containers::stats(d, id.to_string(), q).await
        }
        (&Method::GET, Some((id, "archive"))) => {
            return containers::archive_get(d, id.to_string(), q).await
        }
        (&Method::PUT, Some((id, "archive"))) => {
            return containers::archive_put(d, id.to_string(), q, body).await
        }
        (&Method::HEAD, Some((id, "archive"))) => {
            return containers::archive_head(d, id.to_string(), q).await
        }
        (&Method::POST, Some((id, "update"))) => {
            return containers::update(d, id.to_string(), body).await
        }
        (&Method::POST, Some((id, "resize"))) => {
            return containers::resize(d, id.to_string(), q).await
        }
        (&Method::GET, Some((id, "top"))) => return containers::top(d, id.to_string(), q).await,
        (&Method::GET, Some((id, "changes"))) => {
            return containers::changes(d, id.to_string()).await
        }
        (&Method::GET, Some((id, "logs"))) => return streams::logs(d, id.to_string(), q).await,
        (&Method::GET, Some((id, "json"))) => {
            return containers::inspect(d, id.to_string(), q).await
        }
        (&Method::DELETE, Some((id, ""))) => return containers::remove(d, id.to_string(), q).await,
        // `docker rm --link PARENT/ALIAS`.
        (&Method::DELETE, Some((parent, alias))) if q.flag("link") => {
            return containers::remove_link(d, parent.to_string(), alias.to_string()).await
        }
        _ => {}
    }
    match (method, path) {
        (&Method::GET | &Method::HEAD, "/_ping") => Ok(system::ping(method)),
        (&Method::GET, "/version") => Ok(system::version()),
        (&Method::GET, "/info") => Ok(system::info(d)),
        (&Method::GET, "/events") => system::events(d, q).await,
        (&Method::GET, "/system/df") => system::df(d).await,
        (&Method::POST, "/berth/system/check") => system::check(d).await,
        (&Method::POST, "/commit") => containers::commit(d, q).await,
        (&Method::GET, "/networks") => networks::list(d, q).await,
        (&Method::POST, "/networks/prune") => networks::prune(d, q).await,
        (&Method::POST, _) if path.starts_with("/networks/") => {
            let rest = path.trim_start_matches("/networks/");
            match rest.rsplit_once('/') {
                Some((id, "connect")) => networks::connect(d, id.to_string(), body).await,
                Some((id, "disconnect")) => networks::disconnect(d, id.to_string(), body).await,
                _ => Err(ApiError::not_found(format!("page not found: {path}"))),
            }
        }
        (&Method::DELETE, _) if path.starts_with("/networks/") => {
            networks::remove(d, path.trim_start_matches("/networks/").to_string()).await
        }
        (&Method::GET, _) if path.starts_with("/networks/") => {
            networks::inspect(d, path.trim_start_matches("/networks/").to_string()).await
        }
        (&Method::GET, "/volumes") => volumes::list(d, q).await,
        (&Method::POST, "/volumes/create") => volumes::create(d, body).await,
        (&Method::POST, "/volumes/prune") => volumes::prune(d, q).await,
        (&Method::GET, _) if volume(path).is_some() => {
            volumes::inspect(d, volume(path).unwrap_or_default()).await
        }
        (&Method::DELETE, _) if volume(path).is_some() => {
            volumes::remove(d, volume(path).unwrap_or_default(), q).await
        }
        (&Method::POST, _) if path.starts_with("/exec/") && path.ends_with("/resize") => {
            let id = path
                .trim_start_matches("/exec/")
                .trim_end_matches("/resize")
                .to_string();
            exec::resize(d, id, q).await
        }
        (&Method::GET, _) if path.starts_with("/exec/") && path.ends_with("/json") => {
            let id = path
                .trim_start_matches("/exec/")
                .trim_end_matches("/json")
                .to_string();
            exec::inspect(d, id).await
        }
        (&Method::POST, "/build/prune") => build::prune(d).await,
        (&Method::GET, "/images/json") => images::list(d, q).await,
        (&Method::POST, "/images/load") => images::load(d, body).await,
        (&Method::POST, "/images/prune") => images::prune(d, q).await,
        (&Method::GET, "/images/get") => images::save(d, q.all("names").to_vec()).await,
        (&Method::GET, _) if image("/json").is_some() => {
            images::inspect(d, image("/json").unwrap_or_default(), q).await
        }
        (&Method::GET, _) if image("/history").is_some() => {
            images::history(d, image("/history").unwrap_or_default()).await
        }
        (&Method::GET, _) if image("/get").is_some() => {
            images::save(d, vec![image("/get").unwrap_or_default()]).await
        }
        (&Method::POST, _) if image("/tag").is_some() => {
            images::tag(d, image("/tag").unwrap_or_default(), q).await
        }
        (&Method::DELETE, _) if image("").is_some() => {
            images::remove(d, image("").unwrap_or_default(), q).await
        }
        _ => Err(ApiError::not_found("page not found")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_in_paths() {
        assert_eq!(
            split_version("/v1.47/containers/json"),
            (Some("1.47"), "/containers/json")
        );
        assert_eq!(split_version("/_ping"), (None, "/_ping"));
        assert_eq!(split_version("/volumes/v1"), (None, "/volumes/v1"));
        assert!(version_tuple("1.9") < version_tuple("1.24"));
    }
}
