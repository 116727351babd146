//! Control groups: create a container's cgroup, apply its resource limits, move
//! processes into it, freeze and thaw it, read usage back, and remove it.
//!
//! Both layouts are handled behind one type:
//! - v2 (unified): one hierarchy, usually mounted at `/sys/fs/cgroup`;
//! - v1 (and "hybrid", as on hosts that mount a cgroup2 tree without controllers
//!   beside the v1 hierarchies): one directory per controller hierarchy.
//!
//! Paths are taken as parameters (the mount points are found in
//! `/proc/self/mountinfo` by [`Cgroup::open`], or given by tests), so the file
//! writes can be checked on a temporary directory.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

/// Errors from cgroup operations; each carries the file or directory it concerns.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Reading or writing a cgroup file failed.
    #[error("cgroup {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The cgroups path of the spec is not acceptable.
    #[error("invalid cgroups path {0:?}")]
    InvalidPath(String),
    /// No usable cgroup hierarchy was found on this host.
    #[error("no cgroup hierarchy found")]
    NoHierarchy,
    /// A resource asked for is not available on this host or layout.
    #[error("cgroup controller {0} is not available")]
    Unsupported(&'static str),
}

/// A container's cgroup, in whichever layout the host has.
///
/// It is serialisable so that the runtime can record it in the container's state
/// and find it again for `pause`, `ps`, `delete` and usage reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Cgroup {
    /// Unified hierarchy: the container's directory.
    V2 {
        /// Absolute path of the container's cgroup directory.
        path: PathBuf,
    },
    /// Per-controller hierarchies: controller name (`memory`, `cpu`, ...) to the
    /// container's directory in that hierarchy.
    V1 {
        /// Controller name to absolute directory path.
        paths: std::collections::BTreeMap<String, PathBuf>,
    },
}

/// Usage figures read back from a cgroup.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    /// Memory in use, in bytes.
    pub memory_usage: u64,
    /// Memory limit in force, in bytes (`u64::MAX` when unlimited).
    pub memory_limit: u64,
    /// Number of OOM kills in this cgroup.
    pub oom_kills: u64,
    /// CPU time used, in nanoseconds.
    pub cpu_usage_ns: u64,
    /// Number of tasks.
    pub pids_current: u64,
    /// Task limit (`u64::MAX` when unlimited).
    pub pids_limit: u64,
}

impl Cgroup {
    /// Resolves the spec's `cgroupsPath` (absolute: from the hierarchy root;
    /// relative: under the calling process's own cgroup; empty: `/berth/<id>`)
    /// against the hierarchies mounted on this host.
    pub fn open(cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup, CgroupError> {
        let _ = (cgroups_path, id);
        todo!()
    }

    /// Creates the directories (parents included).
    pub fn create(&self) -> Result<(), CgroupError> {
        todo!()
    }

    /// Writes the limits of `resources` into the cgroup files.
    pub fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        let _ = resources;
        todo!()
    }

    /// Moves process `pid` into the cgroup (every hierarchy for v1).
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        let _ = pid;
        todo!()
    }

    /// Freezes (`true`) or thaws (`false`) every process in the cgroup, waiting until
    /// the kernel reports the new state.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        let _ = frozen;
        todo!()
    }

    /// Whether the cgroup is frozen now.
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        todo!()
    }

    /// The pids of every process in the cgroup.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        todo!()
    }

    /// Reads usage back.
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        todo!()
    }

    /// Removes the cgroup directories (they must be empty of processes).
    pub fn destroy(&self) -> Result<(), CgroupError> {
        todo!()
    }
}
