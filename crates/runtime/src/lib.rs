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
pub mod trace;
pub mod userns;

pub use container::{create::now_rfc3339, CreateOptions, ExecOptions, Runtime};
pub use error::{Error, Kind, Result};
pub mod features;
pub mod hooks;
pub use features::{default_spec, features};

/// Makes every panic of this process abort it, after the usual message.
///
/// The workspace's release profile unwinds, so that berthd can answer a
/// panic in a request with a 500 and go on. The runtime and the shim must
/// not unwind: a panic in a forked child (a container's setup) would run
/// the parent's destructors and return into its code, in the child. Their
/// `main` calls this first (cargo cannot set `panic` per binary).
pub fn abort_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::abort();
    }));
}
