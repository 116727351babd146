//! `/networks…`: the predefined networks (`bridge`, `host`, `none`) listed
//! and inspected in Docker's shapes (moby `api/server/router/network`).
//! User-defined networks are not there yet (issue 8, part 2).

use hyper::{Response, StatusCode};

use super::query::Query;
use super::{blocking, json, ApiError, Body};
use crate::Daemon;

/// `GET /networks?filters=`: the `name`, `id` and `driver` filters.
pub async fn list(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    let filters = q.filters();
    let e = d.engine.clone();
    let mut all = blocking(move || e.network_list()).await?;
    for (key, wanted) in filters {
        let field = match key.as_str() {
            "name" => "Name",
            "id" => "Id",
            "driver" => "Driver",
            "type" | "scope" => continue,
            other => {
                return Err(ApiError::bad_request(format!("invalid filter '{other}'")));
            }
        };
        all.retain(|n| {
            let v = n[field].as_str().unwrap_or("");
            wanted.iter().any(|w| match field {
                "Id" => v.starts_with(w.as_str()),
                "Name" => v.contains(w.as_str()),
                _ => v == w,
            })
        });
    }
    Ok(json(StatusCode::OK, &all))
}

/// `GET /networks/{id}`.
pub async fn inspect(d: &Daemon, name: String) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let v = blocking(move || e.network_inspect(&name)).await?;
    Ok(json(StatusCode::OK, &v))
}

/// Largest body read before refusing: a create or connect request.
const MAX_BODY: usize = 1 << 20;

/// Creating, connecting and disconnecting networks: not yet (issue 8,
/// part 2), said plainly rather than with a 404. The body is read first,
/// so that the client is not cut off while it writes it.
pub async fn create(body: hyper::body::Incoming) -> Result<Response<Body>, ApiError> {
    use http_body_util::BodyExt;
    let _ = http_body_util::Limited::new(body, MAX_BODY).collect().await;
    Err(ApiError::bad_request(
        "user-defined networks are not supported by berth yet: only bridge, host, none and container:<name>",
    ))
}

/// `DELETE /networks/{id}`: the predefined ones cannot go (Docker's 403).
pub async fn remove(d: &Daemon, name: String) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let v = blocking(move || e.network_inspect(&name)).await?;
    Err(ApiError {
        status: StatusCode::FORBIDDEN,
        message: format!(
            "{} is a pre-defined network and cannot be removed",
            v["Name"].as_str().unwrap_or("")
        ),
    })
}

/// `POST /networks/prune`: nothing to prune among predefined networks.
pub fn prune() -> Response<Body> {
    json(
        StatusCode::OK,
        &serde_json::json!({ "NetworksDeleted": null }),
    )
}
