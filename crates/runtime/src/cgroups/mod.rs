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

mod apply;
mod devices;
mod layout;
pub mod probe;

pub use apply::{blkio_to_io_weight, device_rule, shares_to_weight};
pub use layout::{Hierarchy, UNIFIED_KEY};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    /// Page cache that could be dropped (`inactive_file`), which Docker's
    /// clients take off the memory usage.
    #[serde(default)]
    pub inactive_file: u64,
    /// Bytes read and written per block device: (major, minor, read, write).
    #[serde(default)]
    pub io_bytes: Vec<(u64, u64, u64, u64)>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(io_err(path))
}

fn read(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(io_err(path))
}

/// How often [`Cgroup::create`] makes its directories again when a
/// concurrent destroy removed the default parent from under it.
const CREATE_TRIES: usize = 20;

impl CgroupError {
    /// Whether the hierarchy refused us (not delegated to this user).
    pub fn is_permission(&self) -> bool {
        matches!(self, CgroupError::Io { source, .. }
            if matches!(source.raw_os_error(), Some(libc::EACCES | libc::EPERM | libc::EROFS)))
    }
}

/// The limits `r` asks for beyond device rules (which every container
/// gets), by name: what a rootless runtime without a delegated cgroup
/// cannot apply.
pub fn limits_asked(r: &LinuxResources) -> Vec<&'static str> {
    let mut asked = Vec::new();
    if let Some(m) = r.memory() {
        if m.limit().is_some() || m.reservation().is_some() || m.swap().is_some() {
            asked.push("memory");
        }
    }
    if let Some(c) = r.cpu() {
        if c.shares().is_some_and(|s| s > 0)
            || c.quota().is_some_and(|q| q > 0)
            || c.cpus().as_deref().is_some_and(|s| !s.is_empty())
            || c.mems().as_deref().is_some_and(|s| !s.is_empty())
        {
            asked.push("cpu");
        }
    }
    if r.pids().as_ref().is_some_and(|p| p.limit() > 0) {
        asked.push("pids");
    }
    if let Some(b) = r.block_io() {
        if b.weight().is_some()
            || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
            || b.throttle_read_bps_device()
                .as_ref()
                .is_some_and(|v| !v.is_empty())
            || b.throttle_write_bps_device()
                .as_ref()
                .is_some_and(|v| !v.is_empty())
            || b.throttle_read_iops_device()
                .as_ref()
                .is_some_and(|v| !v.is_empty())
            || b.throttle_write_iops_device()
                .as_ref()
                .is_some_and(|v| !v.is_empty())
        {
            asked.push("blkio");
        }
    }
    if r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty()) {
        asked.push("hugetlb");
    }
    asked
}

/// How long freezing may take before we give up.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

impl Cgroup {
    /// Resolves the spec's `cgroupsPath` (absolute: from the hierarchy root;
    /// relative: under the calling process's own cgroup; systemd's
    /// `slice:prefix:name`: `/slice/prefix-name.scope`; empty: `/berth/<id>`)
    /// against the hierarchies mounted on this host. v1 controllers win when
    /// any is mounted (the hybrid layout keeps none on cgroup2).
    pub fn open(cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup, CgroupError> {
        let own = read(Path::new("/proc/self/cgroup"))?;
        layout::resolve(&layout::Mounts::of_host(&own)?, &own, cgroups_path, id)
    }

    /// No cgroup at all: a rootless runtime where no hierarchy was delegated
    /// to the user (a v1 host, or a v2 tree owned by root). Nothing is
    /// created, limited or counted; [`Cgroup::pids`] is empty and freezing
    /// fails. Recorded as v1 without a controller.
    pub fn none() -> Cgroup {
        Cgroup::V1 {
            paths: std::collections::BTreeMap::new(),
        }
    }

    /// Whether this is [`Cgroup::none`].
    pub fn is_none(&self) -> bool {
        matches!(self, Cgroup::V1 { paths } if paths.is_empty())
    }

    /// The distinct directories (v1 hierarchies mounted together share one).
    pub fn dirs(&self) -> Vec<&Path> {
        match self {
            Cgroup::V2 { path } => vec![path.as_path()],
            Cgroup::V1 { paths } => {
                let mut dirs: Vec<&Path> = paths.values().map(PathBuf::as_path).collect();
                dirs.sort();
                dirs.dedup();
                dirs
            }
        }
    }

    /// The directory of a v1 controller, or the v2 directory.
    fn dir(&self, controller: &str) -> Option<&Path> {
        match self {
            Cgroup::V2 { path } => Some(path),
            Cgroup::V1 { paths } => paths.get(controller).map(PathBuf::as_path),
        }
    }

    /// Creates the directories (parents included). A concurrent
    /// [`Cgroup::destroy`] of the last other container may remove the shared
    /// default parent between its making and the leaf's: made again then.
    /// A cgroup just removed can still answer `mkdir` with `EEXIST` while
    /// the kernel lets it go (`create_dir_all` then finds no directory):
    /// tried again after a moment.
    pub fn create(&self) -> Result<(), CgroupError> {
        use std::io::ErrorKind;
        let mut tries = 0;
        loop {
            match self.create_once() {
                Err(CgroupError::Io { source, .. })
                    if matches!(
                        source.kind(),
                        ErrorKind::NotFound | ErrorKind::AlreadyExists
                    ) && tries < CREATE_TRIES =>
                {
                    tries += 1;
                    if source.kind() == ErrorKind::AlreadyExists {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
                r => return r,
            }
        }
    }

    fn create_once(&self) -> Result<(), CgroupError> {
        match self {
            Cgroup::V2 { path } => layout::create_v2(path),
            Cgroup::V1 { paths } => {
                for dir in self.dirs() {
                    layout::create_dir(dir)?;
                }
                if let Some(cpuset) = paths.get("cpuset") {
                    layout::fill_cpuset(cpuset)?;
                }
                Ok(())
            }
        }
    }

    /// Writes the limits of `resources` into the cgroup files.
    pub fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        match self {
            Cgroup::V2 { path } => apply::v2(path, resources),
            Cgroup::V1 { paths } => apply::v1(paths, resources),
        }
    }

    /// Moves process `pid` into the cgroup (every hierarchy for v1).
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        for dir in self.dirs() {
            write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Freezes (`true`) or thaws (`false`) every process in the cgroup, waiting
    /// until the kernel reports the new state.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        let (file, value) = match self {
            Cgroup::V2 { path } => (path.join("cgroup.freeze"), if frozen { "1" } else { "0" }),
            Cgroup::V1 { paths } => {
                let dir = paths
                    .get("freezer")
                    .ok_or(CgroupError::Unsupported("freezer"))?;
                (
                    dir.join("freezer.state"),
                    if frozen { "FROZEN" } else { "THAWED" },
                )
            }
        };
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        loop {
            write(&file, value)?;
            if self.is_frozen()? == frozen {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(CgroupError::Io {
                    path: file,
                    source: std::io::Error::from(std::io::ErrorKind::TimedOut),
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Whether the cgroup is frozen now.
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        match self {
            Cgroup::V2 { path } => {
                let events = read(&path.join("cgroup.events"))?;
                Ok(events.lines().any(|l| l == "frozen 1"))
            }
            Cgroup::V1 { paths } => match paths.get("freezer") {
                Some(dir) => Ok(read(&dir.join("freezer.state"))?.trim() == "FROZEN"),
                None => Ok(false),
            },
        }
    }

    /// The pids of every process in the cgroup (none once it is gone).
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let dir = self
            .dir("pids")
            .or_else(|| self.dir("memory"))
            .or_else(|| self.dirs().first().copied());
        let Some(dir) = dir else {
            return Ok(Vec::new());
        };
        let file = dir.join("cgroup.procs");
        match std::fs::read_to_string(&file) {
            Ok(s) => Ok(s.lines().filter_map(|l| l.trim().parse().ok()).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(CgroupError::Io {
                path: file,
                source: e,
            }),
        }
    }

    /// Reads usage back; figures a controller does not offer stay 0.
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        Ok(apply::stats(self))
    }

    /// Removes the cgroup directories (they must be empty of processes),
    /// then the default parent (`berth`) where no other container is left in
    /// it, so that a host where every container is gone keeps no cgroup of
    /// berth's (parents a `cgroupsPath` names are the caller's and stay).
    pub fn destroy(&self) -> Result<(), CgroupError> {
        for dir in self.dirs() {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match std::fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    // EBUSY: the last task is still leaving.
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => {
                        return Err(CgroupError::Io {
                            path: dir.to_path_buf(),
                            source: e,
                        })
                    }
                }
            }
        }
        for dir in self.dirs() {
            if let Some(parent) = dir.parent() {
                if parent.file_name() == Some(std::ffi::OsStr::new(layout::DEFAULT_PARENT)) {
                    // EBUSY or ENOTEMPTY: another container is in it.
                    let _ = std::fs::remove_dir(parent);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
