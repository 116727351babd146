//! Stopping, killing and pausing a running container.

use super::*;
use crate::{Engine, EngineError};

impl Engine {
    pub(super) fn not_running(c: &ContainerRecord) -> EngineError {
        ContainerError::NotRunning(c.id.clone()).into()
    }

    /// `POST /containers/{id}/kill?signal=`: any signal, by name or number.
    pub fn container_kill(&self, name: &str, signal: &str) -> Result<(), EngineError> {
        let c = self.find_container(name)?;
        let sig = runtime::container::parse_signal(if signal.is_empty() { "KILL" } else { signal })
            .map_err(|e| ContainerError::Invalid(e.to_string()))?;
        if !matches!(self.state(&c), State::Running(..)) {
            return Err(Self::not_running(&c));
        }
        self.runtime()
            .kill(&c.id, sig, false)
            .map_err(|e| ContainerError::failed(format!("cannot kill container {}", c.id), e))?;
        // As dockerd: a SIGKILL returns once the container is down, so that
        // a remove right after it finds it stopped.
        if sig == nix::sys::signal::Signal::SIGKILL
            && self.wait_stopped(&c, std::time::Duration::from_secs(10))
        {
            // Its ports and address are free when the call returns, as
            // Docker's (the monitor's release finds nothing left).
            self.container_release(&c);
        }
        Ok(())
    }

    /// Waits until the container is no longer running, at most `timeout`;
    /// true when it stopped.
    pub(super) fn wait_stopped(&self, c: &ContainerRecord, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if !matches!(self.state(c), State::Running(..)) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// `POST /containers/{id}/stop?t=&signal=`: the stop signal (the
    /// request's, the container's `StopSignal`, the image's, else SIGTERM),
    /// then SIGKILL after the timeout (`t`, `StopTimeout`, else 10 s).
    /// `Ok(false)` when it was not running (Docker's 304).
    pub fn container_stop(
        &self,
        name: &str,
        signal: Option<&str>,
        timeout: Option<i64>,
    ) -> Result<bool, EngineError> {
        let c = self.find_container(name)?;
        if !matches!(self.state(&c), State::Running(..)) {
            return Ok(false);
        }
        let image_signal = self
            .store()
            .meta()
            .image(&c.image)
            .ok()
            .flatten()
            .and_then(|i| self.store().config(&i).ok())
            .map(|cfg| cfg.config.stop_signal.clone())
            .filter(|s| !s.is_empty());
        let sig = signal
            .filter(|s| !s.is_empty())
            .map(String::from)
            .or_else(|| Some(c.config.config.stop_signal.clone()).filter(|s| !s.is_empty()))
            .or(image_signal)
            .unwrap_or_else(|| "SIGTERM".into());
        let sig = runtime::container::parse_signal(&sig)
            .map_err(|e| ContainerError::Invalid(e.to_string()))?;
        let timeout = timeout.or(c.config.config.stop_timeout).unwrap_or(10);
        if let State::Running(_, true) = self.state(&c) {
            // A frozen process cannot act on the signal: thaw it first.
            crate::error::ignore(
                format_args!("resume {} before stopping it", c.id),
                self.runtime().resume(&c.id),
            );
        }
        crate::error::ignore(
            format_args!("signal {} to stop", c.id),
            self.runtime().kill(&c.id, sig, false),
        );
        // A negative timeout waits for ever, as Docker's does.
        let wait = if timeout < 0 {
            std::time::Duration::from_secs(u64::MAX / 4)
        } else {
            std::time::Duration::from_secs(timeout as u64)
        };
        if !self.wait_stopped(&c, wait) {
            crate::error::ignore(
                format_args!("kill {} after the stop timeout", c.id),
                self.runtime()
                    .kill(&c.id, nix::sys::signal::Signal::SIGKILL, true),
            );
            if !self.wait_stopped(&c, std::time::Duration::from_secs(30)) {
                return Err(ContainerError::sys(format!(
                    "cannot stop container {}: it did not exit after SIGKILL",
                    c.id
                ))
                .into());
            }
        }
        // A script's next `run -p` finds the ports free, as with Docker.
        self.container_release(&c);
        Ok(true)
    }

    /// `POST /containers/{id}/pause` and `/unpause`: the cgroup freezer.
    pub fn container_pause(&self, name: &str, pause: bool) -> Result<(), EngineError> {
        let c = self.find_container(name)?;
        match (self.state(&c), pause) {
            (State::Running(_, true), true) => Err(ContainerError::Conflict(format!(
                "Container {} is already paused",
                c.id
            ))
            .into()),
            (State::Running(_, false), false) => {
                Err(ContainerError::Conflict(format!("Container {} is not paused", c.id)).into())
            }
            (State::Running(..), _) => {
                let r = if pause {
                    self.runtime().pause(&c.id)
                } else {
                    self.runtime().resume(&c.id)
                };
                r.map_err(|e| {
                    ContainerError::failed(
                        format!(
                            "cannot {} container {}",
                            if pause { "pause" } else { "unpause" },
                            c.id
                        ),
                        e,
                    )
                })
                .map_err(EngineError::from)
            }
            _ => Err(Self::not_running(&c)),
        }
    }
}

/// The number of a signal given by name or number (`TERM`, `SIGTERM`, `15`).
pub fn signal_number(s: &str) -> Option<i32> {
    runtime::container::parse_signal(s).ok().map(|s| s as i32)
}

/// Docker's rule for container names.
/// Whether a container's init has exited (gone, or a zombie its shim has
/// yet to reap): a pause that failed then had nothing left to freeze. A
/// pid reused meanwhile reads as alive, which refuses: the safe side.
pub(super) fn init_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|st| st == 'Z' || st == 'X'),
    }
}
