//! One function per command: parse what the flags say, make one library call,
//! render the answer.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Capability, Process, Spec, UserBuilder};
use runtime::container::parse_signal;
use runtime::{CreateOptions, ExecOptions, Runtime};

use crate::flags::{CreateFlags, ExecFlags};
use crate::supervise;

/// Writes `pid` to `path` atomically (runc writes no newline).
fn write_pid_file(path: Option<&Path>, pid: i32) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    let tmp = path.with_extension("berth-tmp");
    std::fs::write(&tmp, pid.to_string()).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))
}

/// Hands the pty master to the console socket, or keeps it for a foreground run.
fn place_pty(
    pty: Option<OwnedFd>,
    socket: Option<&Path>,
    foreground: bool,
) -> Result<Option<OwnedFd>> {
    match (pty, socket) {
        (Some(m), Some(sock)) => {
            runtime::console::send_to_socket(sock, &m)?;
            Ok(None)
        }
        (Some(_), None) if !foreground => bail!("a terminal needs --console-socket when detached"),
        (pty, _) => Ok(pty),
    }
}

/// Creates the container, hands its pty on and writes the pid file; on
/// failure the half-made container is deleted. Returns the pid and, for a
/// foreground run, the pty to relay.
fn create_placed(
    rt: &Runtime,
    f: &CreateFlags,
    foreground: bool,
) -> Result<(i32, Option<OwnedFd>)> {
    let spawned = rt.create(
        &f.id,
        &f.bundle,
        &CreateOptions {
            preserve_fds: f.preserve_fds,
        },
    )?;
    let pid = spawned.pid;
    match place_pty(spawned.pty, f.console_socket.as_deref(), foreground)
        .and_then(|pty| write_pid_file(f.pid_file.as_deref(), pid).map(|_| pty))
    {
        Ok(pty) => Ok((pid, pty)),
        Err(e) => {
            let _ = rt.delete(&f.id, true);
            Err(e)
        }
    }
}

/// `create`.
pub fn create(rt: &Runtime, f: &CreateFlags) -> Result<()> {
    create_placed(rt, f, false).map(drop)
}

/// `run`: create, start and (unless detached) wait; returns the exit code.
pub fn run(rt: &Runtime, f: &CreateFlags, detach: bool, keep: bool) -> Result<i32> {
    if !detach {
        supervise::block_signals()?;
    }
    let (pid, pty) = create_placed(rt, f, !detach)?;
    if let Err(e) = rt.start(&f.id) {
        let _ = rt.delete(&f.id, true);
        return Err(e.into());
    }
    if detach {
        return Ok(0);
    }
    let code = supervise::supervise(pid, pty)?;
    if !keep {
        rt.delete(&f.id, true)?;
    }
    Ok(code)
}

/// `exec`; returns the process's exit code (0 when detached).
pub fn exec(rt: &Runtime, f: &ExecFlags) -> Result<i32> {
    let process = match &f.process {
        Some(path) => runtime::spec::read_json::<Process>(path)?,
        None => process_from_flags(rt, f)?,
    };
    let foreground = !f.detach;
    if foreground {
        supervise::block_signals()?;
    }
    let spawned = rt.exec(
        &f.id,
        process,
        &ExecOptions {
            preserve_fds: f.preserve_fds,
        },
    )?;
    let pty = place_pty(spawned.pty, f.console_socket.as_deref(), foreground)?;
    write_pid_file(f.pid_file.as_deref(), spawned.pid)?;
    if f.detach {
        return Ok(0);
    }
    supervise::supervise(spawned.pid, pty)
}

/// An exec process built from the container's own process and the flags, as
/// runc does: same env (plus `-e`), cwd, user and capabilities unless overridden.
fn process_from_flags(rt: &Runtime, f: &ExecFlags) -> Result<Process> {
    if f.command.is_empty() {
        bail!("exec needs a command (or --process)");
    }
    let state = rt.state(&f.id)?;
    let spec: Spec = runtime::spec::read_json(&state.bundle.join("config.json"))?;
    let mut p = spec
        .process()
        .clone()
        .context("container spec has no process")?;
    p.set_args(Some(f.command.clone()));
    p.set_terminal(Some(f.tty));
    p.set_console_size(None);
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &f.env {
        let key = kv.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &f.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(user) = &f.user {
        let (uid, gid) = user.split_once(':').unwrap_or((user, "0"));
        let uid: u32 = uid
            .parse()
            .with_context(|| format!("invalid --user {user:?}"))?;
        let gid: u32 = gid
            .parse()
            .with_context(|| format!("invalid --user {user:?}"))?;
        p.set_user(
            UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .additional_gids(f.additional_gids.clone())
                .build()?,
        );
    }
    if !f.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &f.cap {
            let name = name.trim_start_matches("CAP_").to_string();
            let cap: Capability = name
                .parse()
                .map_err(|_| anyhow::anyhow!("unknown capability {name}"))?;
            let add = |s: &Option<std::collections::HashSet<Capability>>| {
                let mut s = s.clone().unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
        }
        p.set_capabilities(Some(caps));
    }
    if f.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

/// `ps`.
pub fn ps(rt: &Runtime, format: &str, id: &str, ps_args: &[String]) -> Result<()> {
    let pids = rt.pids(id)?;
    let mut out = std::io::stdout().lock();
    if format == "json" {
        writeln!(out, "{}", serde_json::to_string(&pids)?)?;
        return Ok(());
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let output = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("run ps")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|c| c == "PID")
        .context("ps output has no PID column")?;
    writeln!(out, "{header}")?;
    for line in lines {
        let pid: Option<i32> = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// `kill`.
pub fn kill(rt: &Runtime, id: &str, signal: &str, all: bool) -> Result<()> {
    Ok(rt.kill(id, parse_signal(signal)?, all)?)
}
