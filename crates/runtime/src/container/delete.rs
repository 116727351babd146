//! `delete`: remove a container's cgroup and state.

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::Runtime;
use crate::error::{Error, Result};
use crate::state::{StateDir, Status};

/// How long `delete --force` waits for killed processes to go.
const KILL_WAIT: Duration = Duration::from_secs(10);

impl Runtime {
    /// Deletes a stopped or created container; with `force`, a running or
    /// paused one is killed first (every process in its cgroup).
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let (dir, record) = match self.open(id) {
            Ok(v) => v,
            // A create that died half-way leaves a directory without a
            // record: force removes it, as runc does.
            Err(Error::NotFound(_)) if force => {
                crate::state::check_id(id)?;
                let dir = StateDir {
                    path: self.root.join(id),
                };
                if dir.path.exists() {
                    return dir.remove();
                }
                return Err(Error::NotFound(id.into()));
            }
            Err(e) => return Err(e),
        };
        let status = record.status(&dir);
        match status {
            Status::Running | Status::Paused if !force => {
                return Err(Error::BadState {
                    id: id.into(),
                    status: status.to_string(),
                    op: "delete (use --force)",
                });
            }
            Status::Created | Status::Running | Status::Paused => {
                let _ = kill(Pid::from_raw(record.pid), Signal::SIGKILL);
            }
            _ => {}
        }
        // Whatever is left in the cgroup goes too (processes that outlived an
        // init without a pid namespace of its own, or a forced delete).
        let deadline = Instant::now() + KILL_WAIT;
        loop {
            let pids = record.cgroup.pids().unwrap_or_default();
            if pids.is_empty() {
                break;
            }
            for pid in &pids {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
            }
            let _ = record.cgroup.set_frozen(false);
            if Instant::now() > deadline {
                return Err(Error::BadState {
                    id: id.into(),
                    status: format!("still holding pids {pids:?}"),
                    op: "delete",
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        record.cgroup.destroy()?;
        // poststop: reported by nobody, as the spec allows; the delete stands.
        if let Ok(spec) =
            crate::spec::read_json::<oci_spec::runtime::Spec>(&record.bundle.join("config.json"))
        {
            if let Some(hooks) = spec.hooks().as_ref().and_then(|h| h.poststop().as_ref()) {
                let _ = crate::hooks::run("poststop", hooks, &record.oci_state(&dir));
            }
        }
        dir.remove()
    }
}
