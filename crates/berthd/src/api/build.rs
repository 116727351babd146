//! `POST /build`: Docker's classic builder protocol. The build context is
//! the request body (a tar, maybe compressed), the options are in the
//! query string, and the answer streams JSON messages: `{"stream": …}`
//! lines of progress, `{"aux": {"ID": …}}` with the image, or
//! `{"errorDetail": …, "error": …}` when a step fails.

use std::collections::BTreeMap;
use std::sync::Arc;

use engine::builder::BuildEvent;
use hyper::body::Incoming;
use hyper::Response;
use models::image::BuildResult;
use models::progress::Message;
use models::system::BuildCachePruneReport;

use super::query::Query;
use super::{ApiError, Body};
use crate::Daemon;

/// A JSON object of the query (`buildargs`, `labels`), bounded and checked.
fn json_map(q: &Query, key: &str) -> Result<BTreeMap<String, Option<String>>, ApiError> {
    let raw = q.get(key);
    if raw.is_empty() {
        return Ok(BTreeMap::new());
    }
    if raw.len() > 1 << 20 {
        return Err(ApiError::bad_request(format!("{key} is larger than 1 MiB")));
    }
    let v: BTreeMap<String, Option<String>> = serde_json::from_str(raw)
        .map_err(|e| ApiError::bad_request(format!("invalid {key}: {e}")))?;
    Ok(v)
}

/// `POST /build`.
pub async fn build(
    d: &Arc<Daemon>,
    q: &Query,
    registry_config: &str,
    body: Incoming,
) -> Result<Response<Body>, ApiError> {
    let opts = build_options(d, q)?;
    let quiet = q.flag("q");
    let pull_always = q.flag("pull");
    let auths = registry_auths(registry_config)?;
    // Extracted as it arrives, not spooled first.
    let context = super::images::BodyReader::new(body);
    let e = d.engine.clone();
    let daemon = d.clone();
    let rt = tokio::runtime::Handle::current();
    super::stream_blocking("application/json", move |w| {
        let dir = e.build_context_dir()?;
        engine::builder::extract_context(context, dir.path())?;
        // Base images not here (or all, with --pull) come from their
        // registries first; their progress goes out as the pull's lines.
        for base in e.build_bases(dir.path(), &opts)? {
            if !pull_always && e.image_inspect(&base).is_ok() {
                continue;
            }
            let lines = rt
                .block_on(pull_base(&daemon, &base, &auths))
                .map_err(|e| {
                    engine::EngineError::new(
                        e.kind(),
                        format!("pulling the base image {base}: {e}"),
                    )
                })?;
            if !quiet {
                for l in lines {
                    w.write_all(&serde_json::to_vec(&l).unwrap_or_default())
                        .and_then(|()| w.write_all(b"\n"))
                        .map_err(|e| {
                            engine::EngineError::new(engine::ErrorKind::System, e.to_string())
                        })?;
                }
            }
        }
        let mut wrote = false;
        let mut failed = None;
        let result = {
            let mut out = |event: BuildEvent| {
                let message = match event {
                    // Quiet builds send the id alone, at the end.
                    _ if quiet => return,
                    BuildEvent::Stream(text) => Message {
                        stream: text.to_string(),
                        ..Default::default()
                    },
                    BuildEvent::Built(id) => Message {
                        aux: serde_json::to_value(BuildResult { id: id.to_string() }).ok(),
                        ..Default::default()
                    },
                };
                if failed.is_some() {
                    return;
                }
                let mut line = serde_json::to_vec(&message).unwrap_or_default();
                line.push(b'\n');
                if let Err(e) = w.write_all(&line) {
                    failed = Some(e);
                }
                wrote = true;
            };
            e.build(dir.path(), &opts, &mut out)
        };
        build_end(result, wrote, quiet, w)
    })
    .await
}

/// The build's options from the query, refused where dockerd refuses
/// them (a remote context, `squash`, a bad platform or `cachefrom`).
fn build_options(d: &Arc<Daemon>, q: &Query) -> Result<engine::builder::BuildOptions, ApiError> {
    if !q.get("remote").is_empty() {
        return Err(ApiError::bad_request(
            "building from a remote context (remote=) is not supported by berth: send the context in the body",
        ));
    }
    // As dockerd: squash needs its experimental mode, which berth has not.
    if q.flag("squash") {
        return Err(ApiError::bad_request(
            "squash is only supported with experimental mode",
        ));
    }
    // Checked as dockerd checks it (containerd's parser, its texts); the
    // image a build starts from is the host's platform either way.
    registry::Platform::parse(q.get("platform"))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let cache_from: Vec<String> = match q.get("cachefrom") {
        "" => Vec::new(),
        raw if raw.len() > 1 << 20 => {
            return Err(ApiError::bad_request("cachefrom is larger than 1 MiB"))
        }
        raw => serde_json::from_str(raw)
            .map_err(|e| ApiError::bad_request(format!("invalid cachefrom: {e}")))?,
    };
    let mut opts = engine::builder::BuildOptions {
        dockerfile: q.get("dockerfile").to_string(),
        tags: q.all("t").to_vec(),
        build_args: json_map(q, "buildargs")?,
        labels: json_map(q, "labels")?
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect(),
        target: Some(q.get("target").to_string()).filter(|t| !t.is_empty()),
        no_cache: q.flag("nocache"),
        remove: !matches!(q.get("rm"), "0" | "false" | "False"),
        force_remove: q.flag("forcerm"),
        cache_from,
        network_mode: q.get("networkmode").to_string(),
        extra_hosts: q.all("extrahosts").to_vec(),
        shim: d.shim.clone(),
    };
    if opts.network_mode.is_empty() {
        opts.network_mode = "default".into();
    }
    Ok(opts)
}

/// The end of a build's stream: a quiet build's id; an error as the
/// stream's last message once anything was streamed (before that, a
/// plain error status: a Dockerfile that does not parse, a missing base
/// image).
fn build_end(
    result: Result<String, engine::EngineError>,
    wrote: bool,
    quiet: bool,
    w: &mut dyn std::io::Write,
) -> Result<(), engine::EngineError> {
    match result {
        Ok(id) => {
            if quiet {
                let lines = [
                    Message {
                        aux: serde_json::to_value(BuildResult { id: id.clone() }).ok(),
                        ..Default::default()
                    },
                    Message {
                        stream: format!("{id}\n"),
                        ..Default::default()
                    },
                ];
                for l in lines {
                    let mut b = serde_json::to_vec(&l).unwrap_or_default();
                    b.push(b'\n');
                    // The client hung up: the build's output has no one to go to.
                    let _ = w.write_all(&b);
                }
            }
            Ok(())
        }
        // Nothing streamed yet: a plain error status (a Dockerfile
        // that does not parse, a missing base image).
        Err(err) if !wrote => Err(err),
        Err(err) => {
            let mut m = Message::error(err.to_string());
            if let (Some(code), Some(detail)) = (err.code(), m.error_detail.as_mut()) {
                detail.code = code;
            }
            let mut b = serde_json::to_vec(&m).unwrap_or_default();
            b.push(b'\n');
            // The client hung up: the build's output has no one to go to.
            let _ = w.write_all(&b);
            Ok(())
        }
    }
}

/// Docker's `X-Registry-Config`: base64url JSON of registry → credentials
/// (the docker CLI sends every login it has).
fn registry_auths(header: &str) -> Result<BTreeMap<String, registry::Credentials>, ApiError> {
    use base64::Engine as _;
    let h = header.trim().trim_end_matches('=');
    if h.is_empty() {
        return Ok(BTreeMap::new());
    }
    if h.len() > 1 << 20 {
        return Err(ApiError::bad_request("X-Registry-Config is too long"));
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(h)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(h))
        .map_err(|e| ApiError::bad_request(format!("X-Registry-Config: invalid base64: {e}")))?;
    // `null` is no logins, as Go reads it into a map.
    let auths: Option<BTreeMap<String, registry::Credentials>> = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("X-Registry-Config: invalid JSON: {e}")))?;
    Ok(auths.unwrap_or_default())
}

/// Pulls one base image of a build with the credentials for its registry;
/// returns the progress lines.
async fn pull_base(
    d: &Arc<Daemon>,
    name: &str,
    auths: &BTreeMap<String, registry::Credentials>,
) -> Result<Vec<Message>, engine::EngineError> {
    let reference = store::reference::Reference::parse(name)
        .map_err(|e| engine::EngineError::new(engine::ErrorKind::InvalidArgument, e.to_string()))?
        .with_default_tag();
    let credentials = auths
        .iter()
        .find(|(k, _)| {
            let host = k
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or("");
            host == reference.domain
                || (reference.domain == "docker.io" && host.ends_with("docker.io"))
        })
        .map(|(_, c)| c.clone())
        .unwrap_or_default();
    let plan = d
        .engine
        .pull_prepare(
            &d.registry,
            reference,
            &registry::Platform::host(),
            credentials,
        )
        .await?;
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink_lines = lines.clone();
    let sink: engine::pull::Sink = Arc::new(move |p| {
        sink_lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(crate::daemon::images::progress_json(&p));
    });
    plan.run(sink).await?;
    let out = std::mem::take(&mut *lines.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(out)
}

/// `POST /build/prune`: forgets the build cache.
pub async fn prune(d: &Daemon) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let n = super::blocking(move || e.build_cache_prune()).await?;
    Ok(super::json(
        hyper::StatusCode::OK,
        &BuildCachePruneReport {
            caches_deleted: Some(n),
            space_reclaimed: 0,
        },
    ))
}
