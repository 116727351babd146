//! `GET /distribution/{name}/json` and `GET /images/search`: what the
//! registry says, with the client's credentials (`X-Registry-Auth`).

use hyper::{Response, StatusCode};

use super::query::Query;
use super::{json, ApiError, Body};
use crate::Daemon;

fn credentials(header: &str) -> Result<registry::Credentials, ApiError> {
    registry::Credentials::from_header(header).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `GET /distribution/{name}/json`: the manifest's descriptor and platforms.
pub async fn inspect(d: &Daemon, name: &str, auth: &str) -> Result<Response<Body>, ApiError> {
    let reference = store::reference::Reference::parse(name)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let v = d
        .engine
        .distribution_inspect(&d.registry, reference, credentials(auth)?)
        .await?;
    Ok(json(StatusCode::OK, &v))
}

/// `GET /images/search?term=&limit=&filters=`.
pub async fn search(d: &Daemon, q: &Query, auth: &str) -> Result<Response<Body>, ApiError> {
    let limit = match q.get("limit") {
        "" => engine::distribution::DEFAULT_SEARCH_LIMIT,
        l => l
            .parse::<u32>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit: {l:?}")))?,
    };
    let filters = q.go_filters()?;
    let results = d
        .engine
        .image_search(
            &d.registry,
            q.get("term"),
            limit,
            &filters,
            credentials(auth)?,
        )
        .await?;
    Ok(json(StatusCode::OK, &results))
}
