//! `/volumes…`: list, create, inspect, remove and prune volumes, in
//! Docker's shapes and statuses (moby `api/server/router/volume`): 404 for a
//! missing volume, 409 for one in use.

use std::collections::BTreeMap;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use models::volume;

use super::query::Query;
use super::{blocking, json, ApiError, Body};
use crate::Daemon;

/// Largest create body: a name, a driver, a few options and labels.
const MAX_CREATE_BODY: usize = 1 << 20;

fn filters(q: &Query) -> BTreeMap<String, Vec<String>> {
    q.filters().into_iter().collect()
}

fn event(d: &Daemon, name: &str, action: &str) {
    let mut a = BTreeMap::new();
    a.insert("driver".to_string(), "local".to_string());
    d.events.emit("volume", action, name, a);
}

/// `GET /volumes?filters=`: `dangling`, `name`, `driver`, `label` (moby's
/// `acceptedListFilters`; `label!` is for prune).
pub async fn list(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    let parsed = q.go_filters()?;
    parsed.validate(&["dangling", "name", "driver", "label"])?;
    parsed.bool_or("dangling", false)?;
    let f = parsed.as_map().clone();
    let e = d.engine.clone();
    let volumes = blocking(move || e.volume_list(&f)).await?;
    Ok(json(
        StatusCode::OK,
        &volume::ListResponse {
            volumes: Some(volumes),
            warnings: Some(Vec::new()),
        },
    ))
}

/// `POST /volumes/create` with `{Name, Driver, DriverOpts, Labels}`.
pub async fn create(d: &Daemon, body: Incoming) -> Result<Response<Body>, ApiError> {
    let bytes = http_body_util::Limited::new(body, MAX_CREATE_BODY)
        .collect()
        .await
        .map_err(|e| {
            ApiError::bad_request(format!(
                "reading the body (at most {MAX_CREATE_BODY} bytes): {e}"
            ))
        })?
        .to_bytes();
    let v: volume::CreateOptions = if bytes.is_empty() {
        Default::default()
    } else {
        super::decode(&bytes)?
    };
    let (name, driver) = (v.name, v.driver);
    let (opts, labels) = (v.driver_opts, v.labels);
    let e = d.engine.clone();
    let created = crate::now_rfc3339();
    let existed = {
        let e = e.clone();
        let n = name.clone();
        blocking(move || Ok(e.volume_inspect(&n).is_ok())).await?
    };
    let vol = blocking(move || e.volume_create(&name, &driver, opts, labels, created)).await?;
    if !existed {
        event(d, &vol.name, "create");
    }
    Ok(json(StatusCode::CREATED, &vol))
}

/// `GET /volumes/{name}`.
pub async fn inspect(d: &Daemon, name: String) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    Ok(json(
        StatusCode::OK,
        &blocking(move || e.volume_inspect(&name)).await?,
    ))
}

/// `DELETE /volumes/{name}?force=`.
pub async fn remove(d: &Daemon, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let force = q.flag("force");
    let e = d.engine.clone();
    let n = name.clone();
    if blocking(move || e.volume_remove(&n, force)).await? {
        event(d, &name, "destroy");
    }
    Ok(super::empty(StatusCode::NO_CONTENT))
}

/// `POST /volumes/prune?filters=`.
pub async fn prune(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    let mut f = filters(q);
    // As moby: before API 1.42 a prune takes every unused volume, not only
    // the anonymous ones.
    if q.version() < (1, 42) {
        f.insert("all".into(), vec!["true".into()]);
    }
    let e = d.engine.clone();
    let (gone, space) = blocking(move || e.volume_prune(&f)).await?;
    for n in &gone {
        event(d, n, "destroy");
    }
    d.events.emit("volume", "prune", "", {
        let mut a = BTreeMap::new();
        a.insert("reclaimed".to_string(), space.to_string());
        a
    });
    Ok(json(
        StatusCode::OK,
        &volume::PruneReport {
            volumes_deleted: Some(gone),
            space_reclaimed: space,
        },
    ))
}
