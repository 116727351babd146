//! berth's low-level container runtime: it runs an OCI runtime bundle
//! (`config.json` plus a root filesystem) as an isolated process tree, the way
//! runc, crun and youki do, with a lifecycle compatible with theirs
//! (`create`, `start`, `state`, `kill`, `delete`, `exec`, `pause`, `resume`).
//!
//! It knows nothing about images, registries or the Docker API: the engine turns
//! those into a bundle and hands it here. It never prints and never exits; the
//! `berth-runtime` binary renders its errors.

pub mod caps;
pub mod cgroups;
pub mod console;
pub mod container;
pub mod error;
pub mod mount_opts;
pub mod process;
pub mod rootfs;
pub mod sealed;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod time;
pub mod userns;

pub use container::{create::now_rfc3339, CreateOptions, ExecOptions, Runtime};
pub use error::{Error, Kind, Result};
pub mod features;
pub mod hooks;
pub use features::{default_spec, features};
