//! berth's Kubernetes Container Runtime Interface: the `runtime.v1`
//! `RuntimeService` and `ImageService` over gRPC on a unix socket, as the
//! kubelet, crictl and critest speak it. A second front door on the same
//! engine as the Docker API: images come from the engine's store and
//! registry client, containers run through the same shim and runtime.
//!
//! What the CRI adds lives here: pod sandboxes (an infra process per pod
//! holding its network, IPC, UTS and PID namespaces), the OCI spec built
//! from the CRI's container config, logs in the CRI's format at the path
//! the kubelet names, the streaming server for exec/attach/port-forward,
//! and pod networking through CNI plugins.

pub mod api {
    //! The messages and services generated from `proto/runtime/v1/api.proto`.
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("runtime.v1");
}

pub mod authority;
pub mod cni;
pub mod config;
pub mod container;
pub mod error;
pub mod events;
pub mod exec;
pub mod images;
pub mod records;
pub mod sandbox;
pub mod seccomp;
pub mod service;
pub mod shim;
pub mod spec;
pub mod stats;
pub mod stream;
pub mod time;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

pub use config::Config;
pub use error::{CriError, Kind};

/// The CRI server's state: the engine it shares with the Docker API, its
/// settings, and what is alive only while it runs (stream sessions, event
/// listeners).
#[derive(Debug)]
pub struct Cri {
    /// The engine (images, the metadata database).
    pub engine: Arc<engine::Engine>,
    /// Settings.
    pub cfg: Config,
    /// Pod networking.
    pub cni: cni::Cni,
    /// Container events, for `GetContainerEvents`.
    pub events: events::Events,
    /// The streaming server's sessions.
    pub streams: stream::Sessions,
    /// Held while a name is checked and reserved.
    names: std::sync::Mutex<()>,
    /// Whether the exit watcher runs.
    watching: std::sync::atomic::AtomicBool,
    /// The streaming server's listener, until `serve` takes it.
    stream_listener: std::sync::Mutex<Option<std::net::TcpListener>>,
    /// Its address.
    stream_addr: std::net::SocketAddr,
}

/// A new random id: 64 hex characters.
pub fn random_id() -> String {
    engine::ids::random_hex(32)
}

impl Cri {
    /// The CRI server over `engine`, with its streaming server's port bound.
    pub fn new(engine: Arc<engine::Engine>, cfg: Config) -> std::io::Result<Arc<Cri>> {
        for d in [&cfg.root, &cfg.state] {
            std::fs::create_dir_all(d)?;
            // Pods' files and containers' roots: root's alone.
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))?;
        }
        let listener = std::net::TcpListener::bind(cfg.stream_addr)?;
        listener.set_nonblocking(true)?;
        let stream_addr = listener.local_addr()?;
        let cni = cni::Cni::new(
            cfg.cni_conf_dir.clone(),
            cfg.cni_bin_dirs.clone(),
            cfg.state.join("cni"),
        );
        Ok(Arc::new(Cri {
            engine,
            cni,
            events: Default::default(),
            streams: Default::default(),
            names: Default::default(),
            watching: Default::default(),
            stream_listener: std::sync::Mutex::new(Some(listener)),
            stream_addr,
            cfg,
        }))
    }

    /// The streaming server's base URL (`http://127.0.0.1:PORT`).
    pub fn stream_base(&self) -> String {
        format!("http://{}", self.stream_addr)
    }

    /// Where the image store lives (for `ImageFsInfo`).
    pub fn image_root(&self) -> std::path::PathBuf {
        self.cfg
            .root
            .parent()
            .map(|p| p.join("image"))
            .unwrap_or_else(|| self.cfg.root.clone())
    }

    /// Starts, once, the task that reports containers that exited on their
    /// own while someone listens to events.
    pub fn watch_exits(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.watching.swap(true, Ordering::SeqCst) {
            return;
        }
        let cri = self.clone();
        tokio::spawn(async move {
            let mut running: std::collections::HashSet<String> = Default::default();
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                if !cri.events.listened() {
                    cri.watching.store(false, Ordering::SeqCst);
                    return;
                }
                let c2 = cri.clone();
                let now: Option<std::collections::HashSet<String>> =
                    tokio::task::spawn_blocking(move || {
                        c2.containers().ok().map(|all| {
                            all.into_iter()
                                .filter(|c| {
                                    matches!(c2.container_live(c), records::Live::Running(_))
                                })
                                .map(|c| c.id)
                                .collect()
                        })
                    })
                    .await
                    .ok()
                    .flatten();
                let Some(now) = now else { continue };
                for gone in running.difference(&now) {
                    cri.events
                        .container(gone, api::ContainerEventType::ContainerStoppedEvent);
                }
                running = now;
            }
        });
    }
}

/// Serves the CRI on `cri.cfg.socket` (root-owned, mode 0660) and the
/// streaming server on its port until `shutdown` resolves.
pub async fn serve(
    cri: Arc<Cri>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let socket = cri.cfg.socket.clone();
    if let Some(parent) = socket.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        return Err(std::io::Error::other(format!(
            "another server is listening on {}",
            socket.display()
        )));
    }
    if let Err(e) = std::fs::remove_file(&socket) {
        tracing::debug!(path = ?&socket, "remove a stale CRI socket: {e}");
    }
    let listener = tokio::net::UnixListener::bind(&socket)?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660))?;
    if let Some(l) = cri
        .stream_listener
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        let l = tokio::net::TcpListener::from_std(l)?;
        tokio::spawn(stream::serve(cri.clone(), l));
    }
    let services = service::Services(cri.clone());
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::UnixListenerStream::new(listener),
        |c| c.map(authority::relay),
    );
    let served = tonic::transport::Server::builder()
        .add_service(api::runtime_service_server::RuntimeServiceServer::new(
            services.clone(),
        ))
        .add_service(api::image_service_server::ImageServiceServer::new(services))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    if let Err(e) = std::fs::remove_file(&socket) {
        tracing::debug!(path = ?&socket, "remove the CRI socket: {e}");
    }
    served.map_err(std::io::Error::other)
}
