//! cgroups for a rootless daemon.
//!
//! On a cgroup v2 host where the daemon's own cgroup was delegated to the
//! user (systemd's `Delegate=yes` for a user service, or a directory an
//! administrator chowned), berthd moves itself into a leaf `berthd` of it
//! (v2 allows controllers to be handed down only from cgroups without
//! processes), hands the delegated controllers down, and containers get
//! their cgroups beside it: limits work as far as the controllers given
//! allow. Anywhere else (cgroup v1 or hybrid hosts, such as the project's
//! test machines, or a v2 tree that is root's) containers run without a
//! cgroup and a limit asked for is dropped with one warning naming it,
//! as Podman does on such hosts ("Resource limits are not supported and
//! ignored on cgroups V1 rootless systems").

use std::path::{Path, PathBuf};

use engine::rootless::Cgroups;
use runtime::cgroups::probe::Support;
use runtime::cgroups::Cgroup;

/// The controllers a container may be limited by, when delegated.
const CONTROLLERS: &[&str] = &["cpu", "cpuset", "io", "memory", "pids"];

/// Decides the daemon's cgroups (and moves it, when delegated).
pub fn setup() -> Cgroups {
    match delegated() {
        Some((parent, support)) => Cgroups::Delegated { parent, support },
        None => Cgroups::None,
    }
}

fn delegated() -> Option<(String, Support)> {
    let Ok(Cgroup::V2 { path: root }) = Cgroup::open(Some(Path::new("/")), "") else {
        return None;
    };
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))?
        .trim()
        .to_string();
    let dir: PathBuf = root.join(rel.trim_start_matches('/'));
    let writable = |p: &Path| nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok();
    if !writable(&dir) || !writable(&dir.join("cgroup.subtree_control")) {
        return None;
    }
    // A leaf for the daemon, its holder and its stack (every process of
    // the cgroup), then the controllers handed down.
    let leaf = dir.join("berthd");
    std::fs::create_dir_all(&leaf).ok()?;
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines() {
        if let Err(e) = std::fs::write(leaf.join("cgroup.procs"), pid) {
            tracing::debug!(path = ?leaf.join("cgroup.procs"), "move the process into the rootless leaf cgroup: {e}");
        }
    }
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    for c in available
        .split_whitespace()
        .filter(|c| CONTROLLERS.contains(c))
    {
        if let Err(e) = std::fs::write(dir.join("cgroup.subtree_control"), format!("+{c}")) {
            tracing::debug!(path = ?dir.join("cgroup.subtree_control"), "enable a controller for the rootless cgroups: {e}");
        }
    }
    // The leaf's controllers are what its siblings, the containers, get.
    let support = Support::of(&Cgroup::V2 { path: leaf });
    Some((if rel.is_empty() { "/".into() } else { rel }, support))
}
