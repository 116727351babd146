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
