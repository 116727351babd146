//! `/networks…` (moby `api/server/router/network`): the predefined
//! networks (`bridge`, `host`, `none`) and user-defined bridge networks:
//! create, list with filters, inspect, remove, prune, connect, disconnect.

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

use super::query::Query;
use super::{blocking, ApiError, Body};
use crate::Daemon;

/// Largest body read before refusing: a create or connect request.
const MAX_BODY: usize = 1 << 20;

async fn read_json(body: Incoming) -> Result<Value, ApiError> {
    use http_body_util::BodyExt;
    let bytes = http_body_util::Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the body (at most 1 MiB): {e}")))?
        .to_bytes();
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request("invalid JSON: an object expected"));
    }
    Ok(v)
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
                let id = n["Id"].as_str().unwrap_or("").to_string();
                n["Containers"] = e.network_inspect(&id)?["Containers"].clone();
            }
        }
        Ok(all)
    })
    .await?;
    let builtin = |n: &Value| matches!(n["Name"].as_str(), Some("bridge" | "host" | "none"));
    let kept: Vec<Value> = all
        .into_iter()
        .filter(|n| {
            let field = |f: &str| n[f].as_str().unwrap_or("").to_string();
            let in_use = n["Containers"].as_object().is_some_and(|m| !m.is_empty());
            filters.exact("driver", &field("Driver"))
                && filters.matches("name", &field("Name"))
                && filters.matches("id", &field("Id"))
                && filters.match_labels("label", &n["Labels"])
                && filters.exact("scope", &field("Scope"))
                && dangling.is_none_or(|dangling| dangling == (!builtin(n) && !in_use))
                && filters
                    .get("type")
                    .first()
                    .is_none_or(|t| (t == "builtin") == builtin(n))
        })
        .map(|mut n| {
            if let Some(m) = n.as_object_mut() {
                m.insert("Containers".into(), json!({}));
            }
            n
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

fn string_map(v: &Value, what: &str) -> Result<BTreeMap<String, String>, ApiError> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(s) => Ok((k.clone(), s.to_string())),
                None => Err(ApiError::bad_request(format!(
                    "{what}: {k} is not a string"
                ))),
            })
            .collect(),
        _ => Err(ApiError::bad_request(format!("{what}: an object expected"))),
    }
}

/// `POST /networks/create` with `{Name, Driver, Internal, IPAM: {Config:
/// [{Subnet, Gateway, IPRange}]}, Labels, Options}`.
pub async fn create(d: &Daemon, body: Incoming) -> Result<Response<Body>, ApiError> {
    let v = read_json(body).await?;
    let name = v["Name"].as_str().unwrap_or("").to_string();
    if name.is_empty() {
        return Err(ApiError::bad_request("network name must not be empty"));
    }
    if v["EnableIPv6"].as_bool() == Some(true) {
        return Err(ApiError::bad_request(
            "IPv6 networks are not supported by berth",
        ));
    }
    let configs = v["IPAM"]["Config"].as_array().cloned().unwrap_or_default();
    if configs.len() > 1 {
        return Err(ApiError::bad_request(
            "berth's networks take one IPv4 subnet",
        ));
    }
    let cfg = configs.first().cloned().unwrap_or(Value::Null);
    let s = |k: &str| {
        cfg[k]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if cfg["Subnet"].as_str().is_none() && s("Gateway").is_some() {
        return Err(ApiError::bad_request(
            "gateway needs a subnet (--subnet) to be given",
        ));
    }
    let req = engine::network::NetworkCreate {
        name: name.clone(),
        driver: v["Driver"].as_str().unwrap_or("").to_string(),
        internal: v["Internal"].as_bool().unwrap_or(false),
        subnet: s("Subnet"),
        gateway: s("Gateway"),
        ip_range: s("IPRange"),
        labels: string_map(&v["Labels"], "Labels")?,
        options: string_map(&v["Options"], "Options")?,
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
        &json!({"Id": id, "Warning": ""}),
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
        &json!({ "NetworksDeleted": if gone.is_empty() { Value::Null } else { json!(gone) } }),
    ))
}

/// `POST /networks/{id}/connect` with `{Container, EndpointConfig}`.
pub async fn connect(
    d: &Daemon,
    network: String,
    body: Incoming,
) -> Result<Response<Body>, ApiError> {
    let v = read_json(body).await?;
    let container = v["Container"].as_str().unwrap_or("").to_string();
    let ep = v["EndpointConfig"].clone();
    let e = d.engine.clone();
    blocking(move || e.network_connect(&network, &container, ep)).await?;
    Ok(super::json(StatusCode::OK, &json!(null)))
}

/// `POST /networks/{id}/disconnect` with `{Container, Force}`.
pub async fn disconnect(
    d: &Daemon,
    network: String,
    body: Incoming,
) -> Result<Response<Body>, ApiError> {
    let v = read_json(body).await?;
    let container = v["Container"].as_str().unwrap_or("").to_string();
    let force = v["Force"].as_bool().unwrap_or(false);
    let e = d.engine.clone();
    blocking(move || e.network_disconnect(&network, &container, force)).await?;
    Ok(super::json(StatusCode::OK, &json!(null)))
}
