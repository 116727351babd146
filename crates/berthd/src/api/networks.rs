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

fn labels_match(labels: &Value, wanted: &str) -> bool {
    match wanted.split_once('=') {
        Some((k, v)) => labels[k].as_str() == Some(v),
        None => labels.get(wanted).is_some(),
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
            filters.iter().all(|(key, wanted)| {
                let field = |f: &str| n[f].as_str().unwrap_or("").to_string();
                wanted.iter().any(|w| match key.as_str() {
                    "name" => field("Name").contains(w.as_str()),
                    "id" => field("Id").starts_with(w.as_str()),
                    "driver" => field("Driver") == *w,
                    "label" => labels_match(&n["Labels"], w),
                    "type" => (w == "builtin") == builtin(n),
                    "dangling" => {
                        let empty =
                            n["Containers"].as_object().is_none_or(|m| m.is_empty()) && !builtin(n);
                        (w == "true" || w == "1") == empty
                    }
                    _ => true,
                })
            })
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
                // Go's decoder, as dockerd answers a wrong type.
                None => Err(ApiError::bad_request(format!(
                    "json: cannot unmarshal {} into Go struct field CreateRequest.{what} of type string",
                    json_kind(v)
                ))),
            })
            .collect(),
        other => Err(ApiError::bad_request(format!(
            "json: cannot unmarshal {} into Go struct field CreateRequest.{what} of type map[string]string",
            json_kind(other)
        ))),
    }
}

/// The word Go's `encoding/json` uses for a JSON value's type.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A boolean field of the body (absent or null: false), type-checked.
fn bool_field(v: &Value, key: &str) -> Result<bool, ApiError> {
    match &v[key] {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        other => Err(ApiError::bad_request(format!(
            "json: cannot unmarshal {} into Go struct field CreateRequest.{key} of type bool",
            json_kind(other)
        ))),
    }
}

/// `IPAM.Config`: each pool's `Subnet`, `IPRange`, `Gateway`,
/// `AuxiliaryAddresses`.
fn pools(v: &Value) -> Result<Vec<engine::network::IpamPool>, ApiError> {
    let configs = match &v["IPAM"]["Config"] {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a,
        other => {
            return Err(ApiError::bad_request(format!(
                "json: cannot unmarshal {} into Go struct field IPAM.IPAM.Config of type []network.IPAMConfig",
                json_kind(other)
            )))
        }
    };
    let s = |c: &Value, k: &str| c[k].as_str().unwrap_or("").to_string();
    let mut out = Vec::new();
    for c in configs {
        if s(c, "Subnet").is_empty() && !s(c, "Gateway").is_empty() {
            return Err(ApiError::bad_request(
                "gateway needs a subnet (--subnet) to be given",
            ));
        }
        out.push(engine::network::IpamPool {
            subnet: s(c, "Subnet"),
            ip_range: s(c, "IPRange"),
            gateway: s(c, "Gateway"),
            aux: string_map(&c["AuxiliaryAddresses"], "IPAM.Config.AuxiliaryAddresses")?,
        });
    }
    Ok(out)
}

/// `POST /networks/create` (moby's `NetworkCreateRequest`): `Name`,
/// `Driver`, `Scope`, `Internal`, `Attachable`, `Ingress`, `EnableIPv6`,
/// `IPAM` (`Driver`, `Config` with a pool of each family, `Options`),
/// `Options`, `Labels`, `CheckDuplicate` (what API < 1.44 meant by it).
pub async fn create(
    d: &Daemon,
    version: Option<(u32, u32)>,
    body: Incoming,
) -> Result<Response<Body>, ApiError> {
    let v = read_json(body).await?;
    let name = v["Name"].as_str().unwrap_or("").to_string();
    if name.is_empty() {
        return Err(ApiError::bad_request("network name must not be empty"));
    }
    match v["Scope"].as_str().unwrap_or("") {
        "" | "local" => {}
        s => {
            return Err(ApiError::bad_request(format!(
                "invalid scope {s:?}: berth's networks are local"
            )))
        }
    }
    match v["IPAM"]["Driver"].as_str().unwrap_or("") {
        "" | "default" => {}
        driver => {
            return Err(ApiError::not_found(format!(
                "plugin \"{driver}\" not found"
            )))
        }
    }
    let ipam_options = match &v["IPAM"]["Options"] {
        Value::Null => None,
        o => Some(string_map(o, "IPAM.Options")?),
    };
    // dockerd before API 1.44 made a second network of a name unless the
    // client asked it not to; from 1.44 it always refuses.
    let check_duplicate =
        version.is_none_or(|v| v >= (1, 44)) || v["CheckDuplicate"].as_bool() == Some(true);
    let req = engine::network::NetworkCreate {
        name: name.clone(),
        driver: v["Driver"].as_str().unwrap_or("").to_string(),
        internal: bool_field(&v, "Internal")?,
        ipv6: bool_field(&v, "EnableIPv6")?,
        pools: pools(&v)?,
        ipam_options,
        labels: string_map(&v["Labels"], "Labels")?,
        options: string_map(&v["Options"], "Options")?,
        attachable: bool_field(&v, "Attachable")?,
        ingress: bool_field(&v, "Ingress")?,
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
