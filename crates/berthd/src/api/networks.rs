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

/// `GET /networks?filters=`: `name` and `id` (regular expressions),
/// `label`, `driver`, `scope`, `type` (`custom`, `builtin`), `dangling`, as
/// moby's `daemon/network/filter.go`.
pub async fn list(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    let filters = q.go_filters()?;
    filters.validate(&["dangling", "driver", "id", "label", "name", "scope", "type"])?;
    if let Some(bad) = filters
        .get("type")
        .iter()
        .find(|t| *t != "custom" && *t != "builtin")
    {
        return Err(ApiError::bad_request(format!(
            "invalid filter: 'type'='{bad}'"
        )));
    }
    let dangling = match filters.get("dangling") {
        [] => None,
        [one] => match one.as_str() {
            "1" | "true" => Some(true),
            "0" | "false" => Some(false),
            _ => {
                return Err(ApiError::bad_request(
                    r#"invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")"#,
                ))
            }
        },
        _ => {
            return Err(ApiError::bad_request(
                r#"got more than one value for filter key "dangling""#,
            ))
        }
    };
    let e = d.engine.clone();
    let all = blocking(move || {
        let mut all = e.network_list()?;
        if dangling.is_some() {
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
            let in_use = n.containers.as_ref().is_some_and(|m| !m.is_empty());
            let labels = n.labels.as_ref();
            filters.exact("driver", &n.driver)
                && filters.matches("name", &n.name)
                && filters.matches("id", &n.id)
                && filters.match_labels_with("label", |k| {
                    labels.and_then(|l| l.get(k)).map(String::as_str)
                })
                && filters.exact("scope", &n.scope)
                && dangling.is_none_or(|dangling| dangling == (!builtin(n) && !in_use))
                && filters
                    .get("type")
                    .first()
                    .is_none_or(|t| (t == "builtin") == builtin(n))
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

/// `POST /networks/create` (moby's `CreateRequest`, read as Go reads it:
/// a wrong type is a 400): `Name`, `Driver`, `Scope`, `Internal`,
/// `Attachable`, `Ingress`, `EnableIPv6`, `IPAM` (`Driver`, `Config` with a
/// pool of each family and its `AuxiliaryAddresses`, `Options`), `Options`,
/// `Labels`, `CheckDuplicate` (what API < 1.44 meant by it).
pub async fn create(
    d: &Daemon,
    version: Option<(u32, u32)>,
    body: Incoming,
) -> Result<Response<Body>, ApiError> {
    let v: CreateRequest = read_json(body).await?;
    let name = v.name.clone();
    if name.is_empty() {
        return Err(ApiError::bad_request("network name must not be empty"));
    }
    match v.scope.as_str() {
        "" | "local" => {}
        s => {
            return Err(ApiError::bad_request(format!(
                "invalid scope {s:?}: berth's networks are local"
            )))
        }
    }
    let ipam = v.ipam.clone().unwrap_or_default();
    match ipam.driver.as_str() {
        "" | "default" => {}
        driver => {
            return Err(ApiError::not_found(format!(
                "plugin \"{driver}\" not found"
            )))
        }
    }
    let mut pools = Vec::new();
    for c in ipam.config.clone().unwrap_or_default() {
        if c.subnet.is_empty() && !c.gateway.is_empty() {
            return Err(ApiError::bad_request(
                "gateway needs a subnet (--subnet) to be given",
            ));
        }
        pools.push(engine::network::IpamPool {
            subnet: c.subnet,
            ip_range: c.ip_range,
            gateway: c.gateway,
            aux: c.aux_address,
        });
    }
    // dockerd before API 1.44 made a second network of a name unless the
    // client asked it not to; from 1.44 it always refuses.
    let check_duplicate = version.is_none_or(|v| v >= (1, 44)) || v.check_duplicate == Some(true);
    let req = engine::network::NetworkCreate {
        name: name.clone(),
        driver: v.driver.clone(),
        internal: v.internal,
        ipv6: v.enable_ipv6 == Some(true),
        pools,
        ipam_options: ipam.options,
        labels: v.labels.clone().unwrap_or_default(),
        options: v.options.clone().unwrap_or_default(),
        attachable: v.attachable,
        ingress: v.ingress,
        check_duplicate,
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
