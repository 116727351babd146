//! Containers: created from an image and a Docker `ContainerCreate` body,
//! started through a shim (`berth-shim`, one per container, which outlives
//! the daemon), waited for, logged, inspected, listed and removed.
//!
//! On disk, `<data-root>/containers/<id>/`:
//!
//! ```text
//! config.json   the OCI bundle's spec (written at start)
//! rootfs/       the overlay mount point; upper/ and work/ its writable layer
//! etc/          hostname, hosts, resolv.conf bound into the container
//! ctr.log       json-file log, written by the shim
//! shim.pid      `PID START BOOT_ID` of the shim while it runs
//! exit.json     {"ExitCode", "FinishedAt"}, written by the shim when the init exits
//! commit-paused while a commit holds the container paused
//! ```
//!
//! The record (name, image, create body, times) is in the metadata database;
//! the live state is derived from those files, so a daemon restart finds it.

mod changes;
mod commit;
mod create;
mod error;
mod exec;
mod inspect;
mod list;
/// The record of a container and its live state: a leaf the rest of the
/// engine (networks, volumes, the builder, logs) reads without the verbs.
pub mod record;
mod remove;
mod start;
mod stats;
mod stop;
mod top;

pub use commit::CommitOptions;
pub use error::ContainerError;
pub(crate) use record::random_hex;
use record::unindex_name;
pub use record::{ContainerRecord, LogLine, State};
pub use stop::signal_number;

pub(crate) use create::restart_policy_ok;
use start::*;
use stop::*;
