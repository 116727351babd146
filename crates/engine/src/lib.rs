//! berth's engine: what the daemon does, as library calls. It composes the
//! store (images) and, as their issues land, the runtime (containers),
//! networking and volumes. It speaks in Docker's shapes (the JSON the Engine
//! API returns) but knows nothing of HTTP: `berthd` maps routes onto it.

pub mod archive;
pub mod build;
pub mod containers;
pub mod error;
pub mod images;
pub mod logging;
pub mod mounts;
pub mod network;
pub mod pull;
pub mod push;
pub mod rootless;
pub mod spec;
pub mod time;
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
    /// Writers of layers (import, load, container create) hold it shared;
    /// the garbage collector exclusively, so that it never takes a layer
    /// whose image is not recorded yet.
    pub(crate) gc_lock: std::sync::RwLock<()>,
    /// Per-container locks ordering start and release.
    lifecycles:
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<std::sync::Mutex<()>>>>,
    /// Containers waiting out a restart back-off.
    pub restarting: std::sync::Mutex<std::collections::HashSet<String>>,
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
    pub dns_servers: Vec<std::net::SocketAddr>,
    /// How published ports reach the host when the daemon's network
    /// namespace is not the host's (rootless); `None` as root.
    pub port_driver: Option<std::sync::Arc<dyn rootless::PortDriver>>,
}

impl Engine {
    /// Opens the engine's state under `data_root` (`<data_root>/image` holds
    /// the image store, `<data_root>/containers` the containers) with runtime
    /// state under `exec_root`.
    pub fn open(data_root: &Path, exec_root: &Path) -> Result<Engine, EngineError> {
        let store = store::Store::open(&data_root.join("image"))?;
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
        })
    }

    /// Shared hold on the store against the garbage collector.
    pub(crate) fn writing(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.gc_lock.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Collects unreferenced layers and blobs, keeping containers' layers.
    pub(crate) fn collect_garbage(&self) -> Result<(), EngineError> {
        let _only = self.gc_lock.write().unwrap_or_else(|p| p.into_inner());
        self.store.gc(&self.container_layers()?)?;
        Ok(())
    }

    /// The image store.
    pub fn store(&self) -> &store::Store {
        &self.store
    }
}
