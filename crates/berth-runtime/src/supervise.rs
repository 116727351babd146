//! Staying with a foreground process (`run` and `exec` without `--detach`):
//! forward signals to it, relay its terminal, reap it and whatever orphans are
//! reparented to us, and return its exit code.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Signals passed on to the container rather than acted on.
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
    Signal::SIGALRM,
];

/// The signals `run` and `exec` handle through a signalfd.
pub fn signal_set() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in FORWARDED {
        set.add(*s);
    }
    set
}

/// Blocks the handled signals; call before spawning so none is missed. The
/// container's processes reset their mask before exec.
pub fn block_signals() -> Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signal_set()), None)
        .context("block signals")
}

/// Restores the terminal mode on drop (also when leaving with an error).
struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            cfmakeraw(&mut raw);
            let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

fn copy_winsize(master: &OwnedFd) {
    let mut ws: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills `ws`, which outlives the call; TIOCSWINSZ reads it.
    unsafe {
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Waits for `pid`, forwarding signals and relaying `pty` to our stdio.
pub fn supervise(pid: i32, pty: Option<OwnedFd>) -> Result<i32> {
    let sfd = SignalFd::with_flags(&signal_set(), SfdFlags::SFD_CLOEXEC).context("signalfd")?;
    let _raw = pty.as_ref().map(|m| {
        copy_winsize(m);
        RawMode::enter()
    });
    let mut stdin_open = pty.is_some();
    let mut exit: Option<i32> = None;
    let mut buf = [0u8; 16 * 1024];
    loop {
        // Reap: the process, and orphans reparented to us (we are a subreaper).
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => exit = Some(code),
                Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => {
                    exit = Some(128 + sig as i32)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
        if let Some(code) = exit {
            if let Some(m) = &pty {
                drain(m, &mut buf);
            }
            return Ok(code);
        }
        let sig_fd = sfd.as_fd();
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(sig_fd, PollFlags::POLLIN)];
        if let Some(m) = &pty {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("poll"),
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        if ready[0] {
            if let Ok(Some(info)) = sfd.read_signal() {
                let sig = Signal::try_from(info.ssi_signo as i32).ok();
                match sig {
                    Some(Signal::SIGCHLD) | None => {}
                    Some(Signal::SIGWINCH) => {
                        if let Some(m) = &pty {
                            copy_winsize(m);
                        }
                    }
                    Some(s) => {
                        let _ = kill(Pid::from_raw(pid), s);
                    }
                }
            }
        }
        if let Some(m) = &pty {
            if ready.get(1) == Some(&true) && !relay(m.as_fd(), &mut std::io::stdout(), &mut buf) {
                // EIO: every follower closed; the exit comes with SIGCHLD.
            }
            if stdin_open && ready.get(2) == Some(&true) {
                let n = std::io::stdin().read(&mut buf).unwrap_or(0);
                if n == 0 {
                    stdin_open = false;
                } else {
                    let _ = write_all_fd(m.as_fd(), &buf[..n]);
                }
            }
        }
    }
}

fn relay(from: BorrowedFd<'_>, to: &mut impl Write, buf: &mut [u8]) -> bool {
    match nix::unistd::read(from, buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            let _ = to.write_all(&buf[..n]);
            let _ = to.flush();
            true
        }
    }
}

fn drain(master: &OwnedFd, buf: &mut [u8]) {
    let _ = nix::fcntl::fcntl(
        master,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    while relay(master.as_fd(), &mut std::io::stdout(), buf) {}
}

fn write_all_fd(fd: BorrowedFd<'_>, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        let n = nix::unistd::write(fd, data)?;
        data = &data[n..];
    }
    Ok(())
}
