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
    let (n, r, t) = (name.clone(), repo.clone(), tag.clone());
    blocking(move || e.image_tag(&n, &r, &t)).await?;
    let full = if tag.is_empty() {
        format!("{repo}:latest")
    } else {
        format!("{repo}:{tag}")
    };
    image_event(d, &name, "tag", &engine::images::familiar(&full)).await;
    Ok(super::empty(StatusCode::CREATED))
}

/// `DELETE /images/{name}`.
pub async fn remove(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let (force, noprune) = (q.flag("force"), q.flag("noprune"));
    let e = d.engine.clone();
    let items = blocking(move || e.image_remove(&name, force, noprune)).await?;
    removal_events(d, &items);
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
    if let Some(items) = report["ImagesDeleted"].as_array() {
        removal_events(d, items);
    }
    Ok(json(StatusCode::OK, &report))
}

/// `POST /images/load`.
pub async fn load(d: &Daemon, body: Incoming) -> Result<Response<Body>, ApiError> {
    let file = spool(body).await?;
    let e = d.engine.clone();
    let lines = blocking(move || e.image_load(file)).await?;
    for l in &lines {
        let name = l
            .strip_prefix("Loaded image: ")
            .or_else(|| l.strip_prefix("Loaded image ID: "))
            .unwrap_or(l);
        image_event(d, name, "load", name).await;
    }
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
    image_event(d, &id, "import", &id).await;
    Ok(json_lines(&[json!({"status": id})]))
}

/// Emits an image event: `ID` the image id, `name` what the user named.
pub async fn image_event(d: &Daemon, image: &str, action: &str, name: &str) {
    let (e, i) = (d.engine.clone(), image.to_string());
    let id = tokio::task::spawn_blocking(move || {
        e.image_inspect(&i)
            .ok()
            .and_then(|v| v["Id"].as_str().map(String::from))
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| image.to_string());
    let attrs = std::collections::BTreeMap::from([("name".to_string(), name.to_string())]);
    d.events.emit("image", action, &id, attrs);
}

/// `untag` and `delete` events for what `rmi` or prune did.
fn removal_events(d: &Daemon, items: &[serde_json::Value]) {
    for item in items {
        if let Some(t) = item["Untagged"].as_str() {
            d.events.emit(
                "image",
                "untag",
                t,
                std::collections::BTreeMap::from([("name".to_string(), t.to_string())]),
            );
        }
        if let Some(id) = item["Deleted"].as_str() {
            d.events.emit(
                "image",
                "delete",
                id,
                std::collections::BTreeMap::from([("name".to_string(), id.to_string())]),
            );
        }
    }
}
