//! Running a bundle through `berth-shim` (the same shim the Docker API's
//! containers have: it outlives berthd, holds the stdio, writes the log and
//! the exit) and talking to it on its control socket.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use shim_proto::{Command as ShimCommand, Reply, Report};

use crate::config::Config;
use crate::error::{CriError, Kind, Result};

/// Starts the bundle in `dir` as container `id`; returns its init's pid.
/// `open_stdin` gives it a stdin pipe the shim feeds from `ctl.sock`.
pub fn start(cfg: &Config, dir: &Path, id: &str, open_stdin: bool) -> Result<i32> {
    let mut cmd = Command::new(&cfg.shim);
    cmd.arg0("berth-shim");
    if open_stdin {
        cmd.env(shim_proto::env::OPEN_STDIN, "1");
    }
    let out = cmd
        .arg(dir)
        .arg(id)
        .arg(&cfg.runtime_root)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| CriError::internal(format!("start shim {}: {e}", cfg.shim.display())))?;
    let msg = String::from_utf8_lossy(&out.stdout).into_owned();
    match Report::parse(&msg) {
        Report::Started(pid) if out.status.success() => Ok(pid),
        report => {
            let why = match report {
                Report::Error(why) => why,
                Report::Started(_) => msg.trim().to_string(),
            };
            Err(CriError::new(
                Kind::Internal,
                format!("failed to start container {id}: {why}"),
            ))
        }
    }
}

/// Connects to the shim of `dir`, sends `command` and reads its answer
/// line; the connection stays open for what follows (attach frames, stdin
/// bytes). Reads time out after 10 s until the caller changes that.
pub fn connect(
    dir: &Path,
    command: ShimCommand,
) -> Result<(Reply, std::os::unix::net::UnixStream)> {
    // Through a descriptor of the directory, as berthd connects: a deep
    // root could make the socket's path too long for an address.
    let d = std::fs::File::open(dir)
        .map_err(|e| CriError::internal(format!("open {}: {e}", dir.display())))?;
    let path = format!(
        "/proc/self/fd/{}/{}",
        std::os::fd::AsRawFd::as_raw_fd(&d),
        shim_proto::files::CONTROL_SOCKET
    );
    let mut conn = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        CriError::internal(format!("connect to the shim of {}: {e}", dir.display()))
    })?;
    drop(d);
    if let Err(e) = conn.set_read_timeout(Some(std::time::Duration::from_secs(10))) {
        tracing::debug!("set the shim socket's read timeout: {e}");
    }
    conn.write_all(command.line().as_bytes())
        .map_err(|e| CriError::internal(format!("shim: {e}")))?;
    // Byte by byte: what follows the line belongs to the caller.
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match std::io::Read::read(&mut conn, &mut b) {
            Ok(1) if b[0] == b'\n' => break,
            Ok(1) => line.push(b[0]),
            Ok(_) => break,
            Err(e) => return Err(CriError::internal(format!("shim: {e}"))),
        }
        if line.len() > 4096 {
            return Err(CriError::internal("shim: answer too long"));
        }
    }
    Ok((Reply::parse(&String::from_utf8_lossy(&line)), conn))
}

/// Sends one command to the shim of `dir` and returns its answer.
pub fn control(dir: &Path, command: ShimCommand) -> Result<Reply> {
    connect(dir, command).map(|(answer, _)| answer)
}

/// Sends `sig` to container `id`'s init (all its processes with `all`).
pub fn kill(cfg: &Config, id: &str, sig: nix::sys::signal::Signal, all: bool) {
    if let Err(e) = runtime::Runtime::new(&cfg.runtime_root).kill(id, sig, all) {
        tracing::debug!("kill the container {id}: {e}");
    }
}

/// Removes what the runtime keeps of container `id`.
pub fn delete(cfg: &Config, id: &str) {
    if let Err(e) = runtime::Runtime::new(&cfg.runtime_root).delete(id, true) {
        tracing::debug!("delete the container {id} from the runtime: {e}");
    }
}

/// Waits until `dir`'s shim is gone, at most `limit`; true when it is.
pub fn wait_exit(dir: &Path, limit: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if !crate::records::shim_alive(dir) {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
