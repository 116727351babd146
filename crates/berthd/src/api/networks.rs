//! `/networks…` (moby `api/server/router/network`): the predefined
//! networks (`bridge`, `host`, `none`) and user-defined bridge networks:
//! create, list with filters, inspect, remove, prune, connect, disconnect.

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use models::network::{
    ConnectRequest, CreateRequest, CreateResponse, DisconnectRequest, Network, PruneReport,
};

use super::query::Query;
use super::{blocking, ApiError, Body};
use crate::Daemon;

/// Largest body read before refusing: a create or connect request.
const MAX_BODY: usize = 1 << 20;

/// A request body as dockerd reads it; an empty body is the defaults.
async fn read_json<T: serde::de::DeserializeOwned + Default>(
    body: Incoming,
) -> Result<T, ApiError> {
    use http_body_util::BodyExt;
    let bytes = http_body_util::Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the body (at most 1 MiB): {e}")))?
        .to_bytes();
    if bytes.is_empty() {
        return Ok(T::default());
    }
    super::decode(&bytes)
}

fn labels_match(labels: &Option<BTreeMap<String, String>>, wanted: &str) -> bool {
    let labels = labels.as_ref();
    match wanted.split_once('=') {
        Some((k, v)) => labels.and_then(|l| l.get(k)).map(String::as_str) == Some(v),
        None => labels.is_some_and(|l| l.contains_key(wanted)),
    }
}

/// `GET /networks?filters=`: `name` (part of it), `id` (prefix), `label`,
/// `driver`, `type` (`custom`, `builtin`), `dangling`, as Docker.
pub async fn list(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    let filters = q.filters();
    for key in filters.keys() {
        if !matches!(
            key.as_str(),
            "name" | "id" | "driver" | "label" | "type" | "scope" | "dangling"
        ) {
            return Err(ApiError::bad_request(format!("invalid filter '{key}'")));
        }
    }
    if let Some(t) = filters.get("type") {
        if let Some(bad) = t.iter().find(|t| *t != "custom" && *t != "builtin") {
            return Err(ApiError::bad_request(format!(
                "invalid filter: 'type'='{bad}'"
            )));
        }
    }
    let e = d.engine.clone();
    let dangling = filters.contains_key("dangling");
    let all = blocking(move || {
        let mut all = e.network_list()?;
        if dangling {
            for n in &mut all {
                n.containers = e.network_inspect(&n.id)?.containers;
            }
        }
        Ok(all)
    })
    .await?;
    let builtin = |n: &Network| matches!(n.name.as_str(), "bridge" | "host" | "none");
    let kept: Vec<Network> = all
        .into_iter()
        .filter(|n| {
            filters.iter().all(|(key, wanted)| {
                wanted.iter().any(|w| match key.as_str() {
                    "name" => n.name.contains(w.as_str()),
                    "id" => n.id.starts_with(w.as_str()),
                    "driver" => n.driver == *w,
                    "label" => labels_match(&n.labels, w),
                    "type" => (w == "builtin") == builtin(n),
                    "dangling" => {
                        let empty =
                            n.containers.as_ref().is_none_or(|m| m.is_empty()) && !builtin(n);
                        (w == "true" || w == "1") == empty
                    }
                    _ => true,
                })
            })
        })
        .map(|n| Network {
            containers: Some(BTreeMap::new()),
            ..n
        })
        .collect();
    Ok(super::json(StatusCode::OK, &kept))
}

/// `GET /networks/{id}`.
pub async fn inspect(d: &Daemon, name: String) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let v = blocking(move || e.network_inspect(&name)).await?;
    Ok(super::json(StatusCode::OK, &v))
}

/// `POST /networks/create` with `{Name, Driver, Internal, IPAM: {Config:
/// [{Subnet, Gateway, IPRange}]}, Labels, Options}`.
pub async fn create(d: &Daemon, body: Incoming) -> Result<Response<Body>, ApiError> {
    let v: CreateRequest = read_json(body).await?;
    let name = v.name.clone();
    if name.is_empty() {
        return Err(ApiError::bad_request("network name must not be empty"));
    }
    if v.enable_ipv6 == Some(true) {
        return Err(ApiError::bad_request(
            "IPv6 networks are not supported by berth",
        ));
    }
    let configs = v
        .ipam
        .as_ref()
        .and_then(|i| i.config.clone())
        .unwrap_or_default();
    if configs.len() > 1 {
        return Err(ApiError::bad_request(
            "berth's networks take one IPv4 subnet",
        ));
    }
    let cfg = configs.first().cloned().unwrap_or_default();
    let given = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    if cfg.subnet.is_empty() && !cfg.gateway.is_empty() {
        return Err(ApiError::bad_request(
            "gateway needs a subnet (--subnet) to be given",
        ));
    }
    let req = engine::network::NetworkCreate {
        name: name.clone(),
        driver: v.driver.clone(),
        internal: v.internal,
        subnet: given(&cfg.subnet),
        gateway: given(&cfg.gateway),
        ip_range: given(&cfg.ip_range),
        labels: v.labels.clone().unwrap_or_default(),
        options: v.options.clone().unwrap_or_default(),
    };
    let e = d.engine.clone();
    let id = blocking(move || e.network_create(req)).await?;
    d.events.emit(
        "network",
        "create",
        &id,
        BTreeMap::from([("name".into(), name), ("type".into(), "bridge".into())]),
    );
    Ok(super::json(
        StatusCode::CREATED,
        &CreateResponse {
            id,
            warning: String::new(),
        },
    ))
}

/// `DELETE /networks/{id}`.
pub async fn remove(d: &Daemon, name: String) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let id = blocking(move || {
        let r = e.find_network_id(&name)?;
        e.network_remove(&r)?;
        Ok(r)
    })
    .await?;
    d.events.emit("network", "destroy", &id, BTreeMap::new());
    Ok(super::empty(StatusCode::NO_CONTENT))
}

/// `POST /networks/prune?filters=` (`label`).
pub async fn prune(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    let filters = q.filters();
    for key in filters.keys() {
        if key != "label" && key != "until" {
            return Err(ApiError::bad_request(format!("invalid filter '{key}'")));
        }
    }
    let labels = filters.get("label").cloned().unwrap_or_default();
    let e = d.engine.clone();
    let gone = blocking(move || e.network_prune(&labels)).await?;
    Ok(super::json(
        StatusCode::OK,
        &PruneReport {
            networks_deleted: (!gone.is_empty()).then_some(gone),
        },
    ))
}

/// `POST /networks/{id}/connect` with `{Container, EndpointConfig}`.
pub async fn connect(
    d: &Daemon,
    network: String,
    body: Incoming,
) -> Result<Response<Body>, ApiError> {
    let v: ConnectRequest = read_json(body).await?;
    let ep = v.endpoint_config.unwrap_or_default();
    let e = d.engine.clone();
    blocking(move || e.network_connect(&network, &v.container, ep)).await?;
    Ok(super::json(StatusCode::OK, &()))
}

/// `POST /networks/{id}/disconnect` with `{Container, Force}`.
pub async fn disconnect(
    d: &Daemon,
    network: String,
    body: Incoming,
) -> Result<Response<Body>, ApiError> {
    let v: DisconnectRequest = read_json(body).await?;
    let e = d.engine.clone();
    blocking(move || e.network_disconnect(&network, &v.container, v.force)).await?;
    Ok(super::json(StatusCode::OK, &()))
}
