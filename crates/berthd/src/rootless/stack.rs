//! The user-mode network stack that gives the daemon's network namespace
//! (the one its bridges live in) a way out: `slirp4netns` (the default, as
//! for Docker rootless and Podman 4) or `pasta` (package `passt`), chosen by
//! `--rootless-network`.
//!
//! Either runs in the host's network namespace as the user, with a tap
//! device in the daemon's namespace, and turns the namespace's packets into
//! the user's own sockets on the host. The holder (`holder.rs`) starts it,
//! waits until the namespace has its default route, and starts it again if
//! it dies.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The interface the stack makes in the daemon's namespace.
pub const TAP: &str = "tap0";
/// Its MTU (slirp4netns' and pasta's recommended 65520: fewer, larger
/// packets through the user-mode stack).
pub const MTU: u32 = 65520;
/// slirp4netns' DNS forwarder inside the namespace (`--configure`).
pub const SLIRP_DNS: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 2, 3);
/// How long the stack may take to configure the namespace.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Which user-mode stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Stack {
    /// slirp4netns: 10.0.2.100/24 in the namespace, gateway 10.0.2.2,
    /// DNS 10.0.2.3; the host's loopback is not reachable.
    Slirp4netns,
    /// pasta: the host's own address and gateway copied into the namespace.
    Pasta,
}

impl Stack {
    /// Its program's name.
    pub fn program(self) -> &'static str {
        match self {
            Stack::Slirp4netns => "slirp4netns",
            Stack::Pasta => "pasta",
        }
    }

    /// The command that attaches it to the namespace kept at `netns`.
    pub fn command(self, netns: &Path) -> Command {
        let mut cmd = Command::new(self.program());
        match self {
            Stack::Slirp4netns => {
                cmd.arg("--configure")
                    .arg(format!("--mtu={MTU}"))
                    // Containers must not reach the host's loopback services
                    // (Docker rootless's and Podman's default too).
                    .arg("--disable-host-loopback")
                    .arg("--enable-sandbox")
                    .arg("--enable-seccomp")
                    .arg("--netns-type=path")
                    .arg(netns)
                    .arg(TAP);
            }
            Stack::Pasta => {
                cmd.arg("--config-net")
                    .arg("--foreground")
                    .arg("--quiet")
                    .args(["--mtu", &MTU.to_string()])
                    .args(["--ns-ifname", TAP])
                    // The gateway is not the host's loopback (as slirp4netns'
                    // --disable-host-loopback).
                    .arg("--no-map-gw")
                    // berthd forwards published ports itself; pasta's own
                    // automatic forwarding of bound ports stays off.
                    .args(["-t", "none", "-u", "none", "-T", "none", "-U", "none"])
                    .arg("--netns")
                    .arg(netns);
            }
        }
        cmd
    }
}

/// Starts `stack` for the namespace kept at `netns` and waits until the
/// namespace has a default route. Its output goes to `log`.
pub fn spawn(stack: Stack, netns: &Path, log: &std::fs::File) -> io::Result<Child> {
    let mut cmd = stack.command(netns);
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?);
    // SAFETY: between fork and exec only prctl(2), async-signal-safe. The
    // holder is single-threaded, so the parent-death signal (which follows
    // the thread that forked) fires exactly when the holder goes.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "start {} (install Debian's {} package): {e}",
                stack.program(),
                match stack {
                    Stack::Slirp4netns => "slirp4netns",
                    Stack::Pasta => "passt",
                }
            ),
        )
    })?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if has_default_route(netns)? {
            return Ok(child);
        }
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!(
                "{} exited ({status}) before configuring the network; its log is beside the holder's",
                stack.program()
            )));
        }
        if Instant::now() > deadline {
            if let Err(e) = child.kill() {
                tracing::debug!("kill the network stack's helper: {e}");
            }
            if let Err(e) = child.wait() {
                tracing::debug!("reap the network stack's helper: {e}");
            }
            return Err(io::Error::other(format!(
                "{} did not configure the network within {READY_TIMEOUT:?}",
                stack.program()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether the namespace kept at `netns` has an IPv4 default route, read
/// from a thread that enters it.
fn has_default_route(netns: &Path) -> io::Result<bool> {
    let ns = std::fs::File::open(netns)?;
    std::thread::spawn(move || -> io::Result<bool> {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        let routes = std::fs::read_to_string("/proc/thread-self/net/route")?;
        Ok(routes
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(1) == Some("00000000")))
    })
    .join()
    .map_err(|_| io::Error::other("the namespace thread panicked"))?
}
