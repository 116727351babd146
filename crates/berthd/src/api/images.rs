//! `/images/…`: list, inspect, history, tag, remove, prune, load, save
//! (`get`), and import (`create?fromSrc=`). Pull arrives with the registry.

use std::io::{Seek, Write};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use serde_json::json;

use super::query::Query;
use super::{blocking, json, ApiError, Body};
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

/// One JSON message a line, as Docker streams progress.
fn json_lines(messages: &[serde_json::Value]) -> Response<Body> {
    let mut body = Vec::new();
    for m in messages {
        body.extend_from_slice(m.to_string().as_bytes());
        body.push(b'\n');
    }
    let mut r = Response::new(super::full(body));
    r.headers_mut().insert(
        "Content-Type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// `GET /images/json`.
pub async fn list(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    let dangling = q
        .filters()
        .get("dangling")
        .is_some_and(|v| v.iter().any(|x| x == "true" || x == "1"));
    let e = d.engine.clone();
    Ok(json(
        StatusCode::OK,
        &blocking(move || e.image_list(dangling)).await?,
    ))
}

/// `GET /images/{name}/json`.
pub async fn inspect(d: &Daemon, name: String) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    Ok(json(
        StatusCode::OK,
        &blocking(move || e.image_inspect(&name)).await?,
    ))
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
    blocking(move || e.image_tag(&name, &repo, &tag)).await?;
    Ok(super::empty(StatusCode::CREATED))
}

/// `DELETE /images/{name}`.
pub async fn remove(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let (force, noprune) = (q.flag("force"), q.flag("noprune"));
    let e = d.engine.clone();
    Ok(json(
        StatusCode::OK,
        &blocking(move || e.image_remove(&name, force, noprune)).await?,
    ))
}

/// `POST /images/prune`.
pub async fn prune(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    // dangling=false means every unused image, as `image prune -a`.
    let all = q
        .filters()
        .get("dangling")
        .is_some_and(|v| v.iter().any(|x| x == "false" || x == "0"));
    let e = d.engine.clone();
    Ok(json(
        StatusCode::OK,
        &blocking(move || e.image_prune(all)).await?,
    ))
}

/// `POST /images/load`.
pub async fn load(d: &Daemon, body: Incoming) -> Result<Response<Body>, ApiError> {
    let file = spool(body).await?;
    let e = d.engine.clone();
    let lines = blocking(move || e.image_load(file)).await?;
    let messages: Vec<_> = lines
        .iter()
        .map(|l| json!({"stream": format!("{l}\n")}))
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

/// `POST /images/create`: import from the body (`fromSrc=-`); pulling
/// (`fromImage`) is not there yet.
pub async fn create(d: &Daemon, q: &Query, body: Incoming) -> Result<Response<Body>, ApiError> {
    if !q.get("fromImage").is_empty() {
        return Err(ApiError {
            status: StatusCode::NOT_IMPLEMENTED,
            message: "pulling images is not implemented yet in berth: load or import them".into(),
        });
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
    Ok(json_lines(&[json!({"status": id})]))
}
