//! `/_ping`, `/version`, `/info`.

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, Response, StatusCode};

use models::system::{
    ComponentVersion, Info, PlatformName, PluginsInfo, Runtime, SwarmInfo, Version,
};
use serde_json::json;

use super::query::Query;
use super::{json, ApiError, Body, API_VERSION, MIN_API_VERSION};
use crate::Daemon;

/// `/_ping`: `OK`, with the headers clients negotiate with.
pub fn ping(method: &Method) -> Response<Body> {
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from_static(b"OK")
    };
    let mut r = Response::new(super::full(body));
    let h = r.headers_mut();
    h.insert("Builder-Version", HeaderValue::from_static("1"));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert(
        "Cache-Control",
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert("Pragma", HeaderValue::from_static("no-cache"));
    h.insert(
        "Content-Type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `/version`.
pub fn version() -> Response<Body> {
    let v = env!("CARGO_PKG_VERSION");
    let details = [
        ("ApiVersion", API_VERSION.to_string()),
        ("MinAPIVersion", MIN_API_VERSION.into()),
        ("Os", "linux".into()),
        ("Arch", arch().into()),
        ("KernelVersion", kernel()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    json(
        StatusCode::OK,
        &Version {
            platform: PlatformName {
                name: "berth".into(),
            },
            components: vec![ComponentVersion {
                name: "Engine".into(),
                version: v.into(),
                details,
            }],
            version: v.into(),
            api_version: API_VERSION.into(),
            min_api_version: MIN_API_VERSION.into(),
            git_commit: option_env!("BERTH_GIT_COMMIT").unwrap_or("unknown").into(),
            go_version: "none (Rust)".into(),
            os: "linux".into(),
            arch: arch().into(),
            kernel_version: kernel(),
            experimental: false,
            build_time: String::new(),
        },
    )
}

/// `/info`: host facts and counts.
pub fn info(d: &Daemon) -> Response<Body> {
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .map(|v| v.trim().trim_end_matches(" kB").parse::<u64>().unwrap_or(0) * 1024)
            })
        })
        .unwrap_or(0);
    let cgroup_version = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2"
    } else {
        "1"
    };
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (mut running, mut paused, mut stopped) = (0, 0, 0);
    for c in d.engine.container_records().unwrap_or_default() {
        match d.engine.state(&c) {
            engine::containers::State::Running(_, true) => paused += 1,
            engine::containers::State::Running(..) => running += 1,
            _ => stopped += 1,
        }
    }
    let strings = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let mut info = Info {
        id: d.id.clone(),
        containers: running + paused + stopped,
        containers_running: running,
        containers_paused: paused,
        containers_stopped: stopped,
        images: d
            .engine
            .store()
            .meta()
            .images()
            .map(|i| i.len())
            .unwrap_or(0) as i64,
        driver: "overlay2".into(),
        driver_status: Some(vec![
            ["Backing Filesystem".into(), "extfs".into()],
            ["Supports d_type".into(), "true".into()],
        ]),
        docker_root_dir: d.settings.data_root.to_string_lossy().into_owned(),
        logging_driver: "json-file".into(),
        cgroup_driver: "cgroupfs".into(),
        cgroup_version: cgroup_version.into(),
        kernel_version: kernel(),
        operating_system: "Linux".into(),
        os_type: "linux".into(),
        architecture: std::env::consts::ARCH.into(),
        ncpu: std::thread::available_parallelism().map_or(1, |n| n.get() as i64),
        mem_total: mem as i64,
        name: host,
        server_version: env!("CARGO_PKG_VERSION").into(),
        security_options: strings(&["name=seccomp,profile=builtin"]),
        // `runc` and containerd's name for it are berth-runtime too
        // (it takes runc's command line): clients that name Docker's
        // default runtime (docker-py sends `runc`) get berth's.
        runtimes: Some(
            engine::spec::RUNTIMES
                .iter()
                .filter(|n| !n.is_empty())
                .map(|n| {
                    let r = Runtime {
                        path: "berth-runtime".into(),
                        ..Default::default()
                    };
                    (n.to_string(), r)
                })
                .collect(),
        ),
        default_runtime: "berth-runtime".into(),
        live_restore_enabled: true,
        plugins: PluginsInfo {
            volume: strings(&["local"]),
            network: strings(&["bridge", "host", "none"]),
            authorization: None,
            log: strings(&["json-file", "local", "none"]),
        },
        swarm: SwarmInfo {
            local_node_state: "inactive".into(),
            ..Default::default()
        },
        warnings: Some(Vec::new()),
        ..Default::default()
    };
    if d.engine.is_rootless() {
        crate::rootless::info(&mut info);
    }
    json(StatusCode::OK, &info)
}

/// `POST /berth/system/check` (berth's own): verifies the store.
pub async fn check(d: &Daemon) -> Result<Response<Body>, super::ApiError> {
    let e = d.engine.clone();
    let problems = super::blocking(move || e.system_check()).await?;
    Ok(json(StatusCode::OK, &json!({"Problems": problems})))
}

/// `GET /events?since=&until=&filters=`: past events from `since`, then
/// live ones until `until` (or for ever), one JSON object per line.
pub async fn events(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    use crate::events::{matches, parse_time, time_of};
    let filters: std::collections::BTreeMap<String, Vec<String>> =
        q.filters().into_iter().collect();
    for k in filters.keys() {
        if ![
            "type",
            "event",
            "action",
            "container",
            "image",
            "label",
            "scope",
            "daemon",
            "network",
            "volume",
            "plugin",
            "node",
            "service",
            "secret",
            "config",
        ]
        .contains(&k.as_str())
        {
            return Err(ApiError::bad_request(format!("invalid filter '{k}'")));
        }
    }
    let bad = |k: &str| ApiError::bad_request(format!("invalid value for {k}: {:?}", q.get(k)));
    let since = parse_time(q.get("since"));
    if since.is_none() && !q.get("since").is_empty() {
        return Err(bad("since"));
    }
    let until = parse_time(q.get("until"));
    if until.is_none() && !q.get("until").is_empty() {
        return Err(bad("until"));
    }
    let (past, mut rx) = d.events.subscribe();
    let (mut tx, body) =
        http_body_util::channel::Channel::<bytes::Bytes, std::convert::Infallible>::new(16);
    tokio::spawn(async move {
        let line = |v: &models::events::Message| {
            let mut b = serde_json::to_vec(v).unwrap_or_default();
            b.push(b'\n');
            bytes::Bytes::from(b)
        };
        let in_window = |v: &models::events::Message| until.is_none_or(|u| time_of(v) <= u);
        if let Some(s) = since {
            for v in past
                .iter()
                .filter(|v| time_of(v) >= s && in_window(v) && matches(v, &filters))
            {
                if tx.send_data(line(v)).await.is_err() {
                    return;
                }
            }
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let deadline = until.map(|u| {
            tokio::time::Instant::now() + std::time::Duration::from_secs_f64((u - now).max(0.0))
        });
        loop {
            let next = async {
                match deadline {
                    Some(dl) => tokio::time::timeout_at(dl, rx.recv()).await.ok(),
                    None => Some(rx.recv().await),
                }
            };
            match next.await {
                Some(Ok(v)) => {
                    if in_window(&v)
                        && matches(&v, &filters)
                        && tx.send_data(line(&v)).await.is_err()
                    {
                        return;
                    }
                }
                Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
                _ => return,
            }
        }
    });
    let mut r = Response::new(http_body_util::BodyExt::boxed(body));
    r.headers_mut().insert(
        "Content-Type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// `GET /system/df`.
pub async fn df(d: &Daemon) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    Ok(json(
        StatusCode::OK,
        &super::blocking(move || e.system_df()).await?,
    ))
}
