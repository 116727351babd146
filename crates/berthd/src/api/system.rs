//! `/_ping`, `/version`, `/info`.

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, Response, StatusCode};

use models::system::{
    ComponentVersion, Info, PlatformName, PluginsInfo, Runtime, SwarmInfo, Version,
};

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

fn git_commit() -> &'static str {
    option_env!("BERTH_GIT_COMMIT").unwrap_or("unknown")
}

/// `/etc/os-release`'s `VERSION_ID` (`12`), as dockerd's `OSVersion`.
fn os_version() -> String {
    std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_ID="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default()
}

/// The daemon's open descriptors and threads (dockerd's `NFd` and, for
/// its goroutines, `NGoroutines`).
fn fds_and_threads() -> (i64, i64) {
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as i64);
    let threads = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (fds, threads)
}

/// `RegistryConfig` as dockerd reports it: loopback is always insecure;
/// each `--insecure-registry` is a CIDR or a registry of its own.
fn registry_config(insecure: &[String]) -> models::system::RegistryConfig {
    use models::system::IndexInfo;
    let mut cidrs = vec!["127.0.0.0/8".to_string()];
    let mut index = std::collections::BTreeMap::new();
    index.insert(
        "docker.io".to_string(),
        IndexInfo {
            name: "docker.io".into(),
            mirrors: Vec::new(),
            secure: true,
            official: true,
        },
    );
    for r in insecure {
        let is_cidr = r.split_once('/').is_some_and(|(ip, bits)| {
            ip.parse::<std::net::IpAddr>().is_ok() && bits.parse::<u8>().is_ok()
        });
        if is_cidr {
            if !cidrs.contains(r) {
                cidrs.push(r.clone());
            }
        } else {
            index.insert(
                r.clone(),
                IndexInfo {
                    name: r.clone(),
                    mirrors: Vec::new(),
                    secure: false,
                    official: false,
                },
            );
        }
    }
    models::system::RegistryConfig {
        allow_nondistributable_artifacts_cidrs: Some(Vec::new()),
        allow_nondistributable_artifacts_hostnames: Some(Vec::new()),
        insecure_registry_cidrs: Some(cidrs),
        index_configs: index,
        mirrors: Some(Vec::new()),
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
        ("Experimental", "false".into()),
        ("GitCommit", git_commit().into()),
        ("GoVersion", "none (Rust)".into()),
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
            // dockerd lists its runtime (runc) beside the engine: berth's
            // is berth-runtime, built with it.
            components: vec![
                ComponentVersion {
                    name: "Engine".into(),
                    version: v.into(),
                    details,
                },
                ComponentVersion {
                    name: "berth-runtime".into(),
                    version: v.into(),
                    details: [("GitCommit".to_string(), git_commit().to_string())]
                        .into_iter()
                        .collect(),
                },
            ],
            version: v.into(),
            api_version: API_VERSION.into(),
            min_api_version: MIN_API_VERSION.into(),
            git_commit: git_commit().into(),
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
            engine::container::State::Running(_, true) => paused += 1,
            engine::container::State::Running(..) => running += 1,
            _ => stopped += 1,
        }
    }
    let strings = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let (n_fd, n_threads) = fds_and_threads();
    // What the host's cgroups can limit (moby's `pkg/sysinfo`): the docker
    // CLI warns about every limit `/info` says the host lacks.
    let cg = runtime::cgroups::probe::Support::probe();
    let sysctl_on = |p: &str| std::fs::read_to_string(p).is_ok_and(|v| v.trim() == "1");
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
        default_runtime: engine::spec::DEFAULT_RUNTIME.into(),
        live_restore_enabled: true,
        plugins: PluginsInfo {
            volume: strings(&["local"]),
            // Driver names: the `none` network's is `null`.
            network: strings(&["bridge", "host", "null"]),
            authorization: None,
            log: strings(&["json-file", "local", "none"]),
        },
        swarm: SwarmInfo {
            local_node_state: "inactive".into(),
            ..Default::default()
        },
        memory_limit: cg.memory_limit,
        swap_limit: cg.swap_limit,
        cpu_cfs_period: cg.cpu_cfs,
        cpu_cfs_quota: cg.cpu_cfs,
        cpu_shares: cg.cpu_shares,
        cpu_set: cg.cpuset,
        pids_limit: cg.pids,
        oom_kill_disable: cg.oom_kill_disable,
        ipv4_forwarding: sysctl_on("/proc/sys/net/ipv4/ip_forward"),
        bridge_nf_iptables: sysctl_on("/proc/sys/net/bridge/bridge-nf-call-iptables"),
        bridge_nf_ip6tables: sysctl_on("/proc/sys/net/bridge/bridge-nf-call-ip6tables"),
        index_server_address: "https://index.docker.io/v1/".into(),
        system_time: engine::time::now(),
        // Go's nil slice when there is nothing to warn of.
        warnings: None,
        nfd: n_fd,
        ngoroutines: n_threads,
        os_version: os_version(),
        registry_config: Some(registry_config(&d.settings.insecure_registries)),
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
    Ok(json(
        StatusCode::OK,
        &models::system::CheckReport { problems },
    ))
}

/// `GET /events?since=&until=&filters=`: past events from `since`, then
/// live ones until `until` (or for ever), one JSON object per line.
pub async fn events(d: &Daemon, q: &Query) -> Result<Response<Body>, ApiError> {
    use crate::daemon::events::{matches, parse_time, time_of};
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
    let (mut tx, body) = http_body_util::channel::Channel::<bytes::Bytes, std::io::Error>::new(16);
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
