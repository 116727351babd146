//! berth's engine: what the daemon does, as library calls. It composes the
//! store (images) and, as their issues land, the runtime (containers),
//! networking and volumes. It speaks in Docker's shapes (the JSON the Engine
//! API returns) but knows nothing of HTTP: `berthd` maps routes onto it.

pub mod archive;
pub mod builder;
pub mod container;
pub mod distribution;
pub mod error;
pub mod filters;
pub mod ids;
pub mod images;
pub mod logging;
pub mod mounts;
pub mod network;
pub mod perms;
pub mod pull;
pub mod push;
pub mod rootfile;
pub mod rootless;
pub mod spec;
pub mod time;
pub mod update;
pub mod volumes;

pub use error::{EngineError, ErrorKind};
/// The networking crate, for the daemon's settings.
pub use net;

use std::path::Path;

/// The engine.
#[derive(Debug)]
pub struct Engine {
    store: store::Store,
    data_root: std::path::PathBuf,
    exec_root: std::path::PathBuf,
    /// Writers of layers (import, load, container create, a whole build)
    /// hold it shared; the garbage collector exclusively, so that it never
    /// takes a layer whose image is not recorded yet, nor the intermediate
    /// images a running build stands on.
    pub(crate) gc_lock: GcLock,
    /// Per-container locks ordering start and release.
    lifecycles:
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<std::sync::Mutex<()>>>>,
    /// Containers waiting out a restart back-off.
    restarting: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Held by container creates (while they make volumes and record their
    /// mounts) and by volume removals (between the in-use check and the
    /// delete), so that no volume goes while a container takes it.
    pub(crate) volumes_lock: std::sync::Mutex<()>,
    /// The default bridge, once [`Engine::network_setup`] made it.
    pub(crate) net: Option<network::NetContext>,
    /// Published ports in force.
    pub(crate) net_state: std::sync::Mutex<network::NetState>,
    /// The embedded DNS server of user-defined networks.
    pub(crate) dns: Option<net::dns::Server>,
    /// Where it forwards what is not a container's name (dockerd's `--dns`);
    /// empty: the host's `/etc/resolv.conf`.
    pub(crate) dns_servers: Vec<std::net::SocketAddr>,
    /// How published ports reach the host when the daemon's network
    /// namespace is not the host's (rootless); `None` as root.
    pub(crate) port_driver: Option<std::sync::Arc<dyn rootless::PortDriver>>,
    /// Daemon-wide settings of containers' networking (`dns-search`,
    /// `dns-opts`, `host-gateway-ip`).
    pub(crate) net_options: network::NetOptions,
}

impl Engine {
    /// Opens the engine's state under `data_root` (`<data_root>/image` holds
    /// the image store, `<data_root>/containers` the containers) with runtime
    /// state under `exec_root`.
    pub fn open(data_root: &Path, exec_root: &Path) -> Result<Engine, EngineError> {
        let modes = |e: std::io::Error| {
            EngineError::new(
                ErrorKind::System,
                format!("set the modes of {}: {e}", data_root.display()),
            )
        };
        // The roots first, so nothing below is reachable even for an
        // instant; then what an older berth left world-readable.
        perms::dir(data_root, perms::ROOT_DIR).map_err(modes)?;
        perms::dir(exec_root, perms::ROOT_DIR).map_err(modes)?;
        let store = store::Store::open(&data_root.join("image"))?;
        perms::tighten(data_root, exec_root).map_err(modes)?;
        container::record::index_names(store.meta())?;
        sweep_build(data_root);
        volumes::sweep_subpaths(exec_root);
        Ok(Engine {
            store,
            data_root: data_root.to_path_buf(),
            exec_root: exec_root.to_path_buf(),
            restarting: Default::default(),
            lifecycles: Default::default(),
            gc_lock: Default::default(),
            volumes_lock: Default::default(),
            net: None,
            net_state: Default::default(),
            dns: None,
            dns_servers: Vec::new(),
            port_driver: None,
            net_options: Default::default(),
        })
    }

    /// The daemon's settings of containers' networking, before
    /// [`Engine::network_setup`]: the embedded DNS server's upstreams
    /// (dockerd's `--dns`; none: the host's `/etc/resolv.conf`) and the
    /// `dns-search`, `dns-opts` and `host-gateway-ip` of every container.
    pub fn set_network_options(
        &mut self,
        dns_servers: Vec<std::net::SocketAddr>,
        options: network::NetOptions,
    ) {
        self.dns_servers = dns_servers;
        self.net_options = options;
    }

    /// How published ports reach the host when the daemon's network
    /// namespace is not the host's (a rootless daemon's port driver); none
    /// as root, where the kernel's NAT does it.
    pub fn set_port_driver(&mut self, driver: Option<std::sync::Arc<dyn rootless::PortDriver>>) {
        self.port_driver = driver;
    }

    /// Shared hold on the store against the garbage collector.
    pub(crate) fn writing(&self) -> Writing<'_> {
        self.gc_lock.hold()
    }

    /// Collects unreferenced layers and blobs, keeping containers' layers.
    pub(crate) fn collect_garbage(&self) -> Result<(), EngineError> {
        let only = self.gc_lock.exclusive();
        self.collect_garbage_alone(&only)
    }

    /// [`Engine::collect_garbage`] for a caller already running alone.
    pub(crate) fn collect_garbage_alone(&self, _alone: &Collecting<'_>) -> Result<(), EngineError> {
        self.store.gc(&self.container_layers()?)?;
        Ok(())
    }

    /// The image store.
    pub fn store(&self) -> &store::Store {
        &self.store
    }
}

/// At open, no build runs: what builds a crash cut short left under
/// `<data-root>/build` (contexts, step overlays) is unmounted and removed,
/// never deleted through a mount that stayed.
fn sweep_build(data_root: &Path) {
    for e in std::fs::read_dir(data_root.join("build"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let root = e.path().join("root");
        crate::error::ignore(
            format_args!("unmount leftover build root {}", root.display()),
            store::mount::unmount(&root),
        );
        if volumes::is_mounted(&root) {
            continue;
        }
        if let Err(err) = std::fs::remove_dir_all(e.path()) {
            tracing::warn!(
                "removing leftover build directory {}: {err}",
                e.path().display()
            );
        }
    }
}

/// The store's collector lock: any number of holders, or the collector
/// alone. Unlike `std::sync::RwLock` (where a reader waits behind a waiting
/// writer), a holder may take it again while it holds it (a build holds it
/// for its whole run and its steps take it too), so holders never wait for
/// the collector, which waits until no one holds it.
#[derive(Debug, Default)]
pub(crate) struct GcLock {
    /// Holders, and whether the collector runs.
    state: std::sync::Mutex<(usize, bool)>,
    changed: std::sync::Condvar,
}

/// A hold of [`GcLock`], let go when dropped.
pub(crate) struct Writing<'a>(&'a GcLock);

/// The collector's turn of [`GcLock`], over when dropped.
pub(crate) struct Collecting<'a>(&'a GcLock);

impl GcLock {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, bool)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds off the collector (waits only while it runs).
    pub(crate) fn hold(&self) -> Writing<'_> {
        let mut st = self.lock();
        while st.1 {
            st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.0 += 1;
        Writing(self)
    }

    /// Waits until no one holds it, then runs alone.
    pub(crate) fn exclusive(&self) -> Collecting<'_> {
        let mut st = self.lock();
        while st.0 > 0 || st.1 {
            st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.1 = true;
        Collecting(self)
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.0.lock().0 -= 1;
        self.0.changed.notify_all();
    }
}

impl Drop for Collecting<'_> {
    fn drop(&mut self) {
        self.0.lock().1 = false;
        self.0.changed.notify_all();
    }
}
