//! Processes run in a container: `ExecSync` (output collected, a timeout
//! kills the process) and the streaming server's exec. Like berthd's, every
//! such process is started by the sealed `berth-runtime exec`, never by a
//! fork of the daemon (CVE-2019-5736): it joins the container's namespaces,
//! cgroup, capabilities and seccomp filter.

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::Stdio;

use serde_json::json;
use tokio::io::AsyncReadExt;

use crate::api;
use crate::error::{CriError, Kind, Result};
use crate::records::Live;
use crate::Cri;

/// ExecSync keeps at most this much of each stream (the kubelet's probes
/// read far less), as containerd bounds it.
pub const MAX_OUTPUT: usize = 16 << 20;

/// An exec's files under the CRI's state directory.
pub struct Files {
    /// The process's OCI JSON.
    pub process: PathBuf,
    /// Where berth-runtime writes the process's pid.
    pub pid: PathBuf,
    /// The console socket of a TTY exec.
    pub console: PathBuf,
}

impl Files {
    /// Removes them.
    pub fn remove(&self) {
        for p in [&self.process, &self.pid, &self.console] {
            if let Err(e) = std::fs::remove_file(p) {
                tracing::debug!(path = ?p, "remove exec file: {e}");
            }
        }
    }

    /// The process's pid once berth-runtime wrote it.
    pub fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(&self.pid).ok()?.trim().parse().ok()
    }
}

impl Cri {
    /// Writes the exec's process (the container's own, with `cmd` and a
    /// terminal as asked) and returns its files and a `berth-runtime exec`
    /// command for it, to which the caller adds stdio.
    pub fn exec_command(
        &self,
        container_id: &str,
        cmd: &[String],
        tty: bool,
        size: Option<(u16, u16)>,
    ) -> Result<(Files, tokio::process::Command)> {
        let c = self.container(container_id)?;
        if !matches!(self.container_live(&c), Live::Running(_)) {
            return Err(CriError::new(
                Kind::State,
                format!("container {} is not running", c.id),
            ));
        }
        if cmd.is_empty() {
            return Err(CriError::invalid("exec needs a command"));
        }
        let spec: serde_json::Value = std::fs::read(self.container_dir(&c.id).join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| CriError::internal(format!("container {} has no spec", c.id)))?;
        let mut p = spec["process"].clone();
        p["args"] = json!(cmd);
        p["terminal"] = json!(tty);
        if let Some(o) = p.as_object_mut() {
            o.remove("consoleSize");
        }
        if let Some((h, w)) = size.filter(|_| tty) {
            p["consoleSize"] = json!({"height": h, "width": w});
        }
        let dir = self.cfg.state.join("execs");
        std::fs::create_dir_all(&dir)
            .map_err(|e| CriError::internal(format!("create {}: {e}", dir.display())))?;
        let eid = crate::random_id();
        let files = Files {
            process: dir.join(format!("{eid}.json")),
            pid: dir.join(format!("{eid}.pid")),
            // Short: a socket path may have 107 bytes at most.
            console: dir.join(format!("{}.sock", &eid[..16])),
        };
        std::fs::write(&files.process, p.to_string())
            .map_err(|e| CriError::internal(format!("write {}: {e}", files.process.display())))?;
        let mut command = std::process::Command::new(&self.cfg.runtime_bin);
        command
            .arg0("berth-runtime")
            .arg("--root")
            .arg(&self.cfg.runtime_root)
            .arg("exec")
            .arg("--process")
            .arg(&files.process)
            .arg("--pid-file")
            .arg(&files.pid);
        if tty {
            command.arg("--console-socket").arg(&files.console);
        }
        command.arg(&c.id);
        let mut command = tokio::process::Command::from(command);
        command.kill_on_drop(false);
        Ok((files, command))
    }

    /// `ExecSync`: runs `cmd`, collects its output; past `timeout` seconds
    /// (0: none) the process is killed and the call fails with
    /// `DeadlineExceeded`, as the kubelet's probes expect.
    pub async fn exec_sync(&self, req: &api::ExecSyncRequest) -> Result<api::ExecSyncResponse> {
        let (files, mut cmd) = self.exec_command(&req.container_id, &req.cmd, false, None)?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| CriError::internal(format!("start berth-runtime: {e}")))?;
        let mut out = child.stdout.take().map(|o| o.take(MAX_OUTPUT as u64));
        let mut err = child.stderr.take().map(|e| e.take(MAX_OUTPUT as u64));
        let run = async {
            let (mut o, mut e) = (Vec::new(), Vec::new());
            let read_out = async {
                if let Some(r) = out.as_mut() {
                    // What was read is the output: a read error ends it, as the process's end does.
                    let _ = r.read_to_end(&mut o).await;
                }
            };
            let read_err = async {
                if let Some(r) = err.as_mut() {
                    let _ = r.read_to_end(&mut e).await;
                }
            };
            tokio::join!(read_out, read_err);
            let status = child.wait().await;
            (o, e, status)
        };
        let done = if req.timeout > 0 {
            tokio::time::timeout(std::time::Duration::from_secs(req.timeout as u64), run).await
        } else {
            Ok(run.await)
        };
        let result = match done {
            Ok((stdout, stderr, status)) => {
                let code = status
                    .map(|s| {
                        s.code().unwrap_or_else(|| {
                            128 + std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(0)
                        })
                    })
                    .unwrap_or(-1);
                // berth-runtime's own failures (no such file…) come as its
                // exit code with its message on stderr, as runc's.
                Ok(api::ExecSyncResponse {
                    stdout,
                    stderr,
                    exit_code: code,
                })
            }
            Err(_) => {
                // The process and whatever it started in the container go.
                if let Some(pid) = files.pid() {
                    if let Err(e) = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    ) {
                        tracing::debug!("kill the timed-out exec: {e}");
                    }
                }
                Err(CriError::new(
                    Kind::Timeout,
                    format!(
                        "command {:?} timed out after {}s",
                        req.cmd.join(" "),
                        req.timeout
                    ),
                ))
            }
        };
        files.remove();
        result
    }
}
