//! `kill`: a signal to the container's init, or to all its processes.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::Runtime;
use crate::error::{Error, Result};
use crate::state::Status;

impl Runtime {
    /// Sends `signal` to the init (or, with `all`, to every process in the
    /// container's cgroup). A paused container is thawed after signalling so
    /// that the signal is delivered.
    pub fn kill(&self, id: &str, signal: Signal, all: bool) -> Result<()> {
        let (dir, record) = self.open(id)?;
        let status = self.require(
            &dir,
            &record,
            &[Status::Created, Status::Running, Status::Paused],
            "kill",
        )?;
        // Without a cgroup (rootless, nothing delegated) the container's
        // processes cannot be listed: the init is signalled.
        if all && !record.cgroup.is_none() {
            for pid in record.cgroup.pids()? {
                let _ = kill(Pid::from_raw(pid), signal);
            }
        } else {
            kill(Pid::from_raw(record.pid), signal)
                .map_err(|e| Error::sys(format!("kill {} {signal}", record.pid), e))?;
        }
        if status == Status::Paused && matches!(signal, Signal::SIGKILL | Signal::SIGTERM) {
            let _ = record.cgroup.set_frozen(false);
        }
        Ok(())
    }
}

/// Parses a signal as runc accepts it: `9`, `KILL`, `SIGKILL`.
pub fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n)
            .map_err(|_| Error::InvalidArgument(format!("invalid signal {s:?}")));
    }
    let name = s.to_ascii_uppercase();
    let name = if name.starts_with("SIG") {
        name
    } else {
        format!("SIG{name}")
    };
    name.parse()
        .map_err(|_| Error::InvalidArgument(format!("invalid signal {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        for (s, want) in [
            ("9", Some(Signal::SIGKILL)),
            ("KILL", Some(Signal::SIGKILL)),
            ("sigterm", Some(Signal::SIGTERM)),
            ("HUP", Some(Signal::SIGHUP)),
            ("NOPE", None),
            ("999", None),
        ] {
            assert_eq!(parse_signal(s).ok(), want, "{s}");
        }
    }
}
