//! The daemon's services, below the HTTP layer: container lifecycle and
//! restart supervision, execs, health checks, images' orchestration
//! (pulls of every tag), events and phases. Nothing here knows HTTP: a
//! service takes typed inputs and answers a typed value or an [`Error`],
//! which `api/` maps to Docker's status and body in one place.

pub mod containers;
pub mod error;
pub mod events;
pub mod exec;
pub mod health;
pub mod images;
pub mod monitor;
pub mod phases;

use std::sync::Arc;

pub use error::{blocking, Error};

/// What every service and request handler shares.
#[derive(Debug)]
pub struct Daemon {
    /// Resolved settings.
    pub settings: crate::flags::Settings,
    /// This daemon's id (kept in the data root).
    pub id: String,
    /// The engine.
    pub engine: Arc<engine::Engine>,
    /// What happened, for `/events`.
    pub events: events::Events,
    /// The registry client (settings and cached tokens).
    pub registry: registry::Client,
    /// Exits and removals, for waiters and attached streams.
    pub phases: Arc<phases::Phases>,
    /// The shim binary (`berth-shim` beside berthd, or `$BERTH_SHIM`), as
    /// the path of its sealed copy when one could be made.
    pub shim: std::path::PathBuf,
    /// Keeps the sealed copy open.
    pub(crate) _shim_copy: Option<std::os::fd::OwnedFd>,
    /// `berth-runtime` (beside berthd, or `$BERTH_RUNTIME`), for execs; as
    /// the path of its sealed copy when one could be made.
    pub runtime: std::path::PathBuf,
    /// Keeps that copy open.
    pub(crate) _runtime_copy: Option<std::os::fd::OwnedFd>,
    /// Execs, by id.
    pub execs: exec::Execs,
    /// Health of containers with a healthcheck, by id (`State.Health`).
    pub health: std::sync::Mutex<std::collections::HashMap<String, models::container::Health>>,
}

/// The current time, RFC 3339, UTC.
pub fn now_rfc3339() -> String {
    engine::time::now()
}
