//! The container lifecycle, one file per verb, each an `impl Runtime`:
//! [`create`](Runtime::create), [`start`](Runtime::start),
//! [`kill`](Runtime::kill), [`delete`](Runtime::delete),
//! [`exec`](Runtime::exec), [`pause`](Runtime::pause) and
//! [`resume`](Runtime::resume), plus state queries here.

pub mod create;
mod delete;
mod exec;
mod kill;
mod pause;
mod start;
mod update;

use std::path::{Path, PathBuf};

pub use create::CreateOptions;
pub use exec::ExecOptions;
pub use kill::parse_signal;

use crate::error::{Error, Result};
use crate::state::{OciState, Record, StateDir, Status};

/// Default state directory, as runc's is `/run/runc`.
pub const DEFAULT_ROOT: &str = "/run/berth-runtime";

/// A runtime instance: the containers recorded under one state directory.
#[derive(Debug, Clone)]
pub struct Runtime {
    root: PathBuf,
}

impl Runtime {
    /// A runtime keeping its state under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime { root: root.into() }
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn open(&self, id: &str) -> Result<(StateDir, Record)> {
        let dir = StateDir::open(&self.root, id)?;
        let record = dir.load()?;
        Ok((dir, record))
    }

    /// The container's state as the runtime spec defines it.
    pub fn state(&self, id: &str) -> Result<OciState> {
        let (dir, record) = self.open(id)?;
        Ok(record.oci_state(&dir))
    }

    /// Every container's state, sorted by id.
    pub fn list(&self) -> Result<Vec<OciState>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io("read", &self.root, e)),
        };
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if let Ok(state) = self.state(&id) {
                out.push(state);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Resource usage of the container's cgroup.
    pub fn stats(&self, id: &str) -> Result<crate::cgroups::Stats> {
        let (_, record) = self.open(id)?;
        Ok(record.cgroup.stats()?)
    }

    /// Pids of every process in the container (its cgroup).
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let (_, record) = self.open(id)?;
        Ok(record.cgroup.pids()?)
    }

    fn require(
        &self,
        dir: &StateDir,
        record: &Record,
        ok: &[Status],
        op: &'static str,
    ) -> Result<Status> {
        let status = record.status(dir);
        if ok.contains(&status) {
            Ok(status)
        } else {
            Err(Error::BadState {
                id: record.id.clone(),
                status: status.to_string(),
                op,
            })
        }
    }
}
