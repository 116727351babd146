//! The container's terminal: a pty opened in the container's own devpts, its
//! master handed to whoever drives the container (over `--console-socket`, as
//! runc does, or to the runtime's own copy loop for `run`), its follower made
//! the process's controlling terminal and stdio.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::dup2_stdin;
use oci_spec::runtime::Box as ConsoleSize;

use crate::error::{Error, Result};

mod ioctl {
    nix::ioctl_write_ptr_bad!(tiocsptlck, libc::TIOCSPTLCK, libc::c_int);
    nix::ioctl_write_int_bad!(tiocsctty, libc::TIOCSCTTY);
}
use ioctl::{tiocsctty, tiocsptlck};

/// Opens a pty through the multiplexer at `ptmx`; returns (master, follower).
pub fn open_pty(ptmx: &Path) -> Result<(OwnedFd, OwnedFd)> {
    let master = open(
        ptmx,
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("open {}", ptmx.display()), e))?;
    // SAFETY: TIOCSPTLCK reads an int through the pointer, which outlives the
    // call; `master` is an open pty master.
    unsafe { tiocsptlck(master.as_raw_fd(), &0) }.map_err(|e| Error::sys("unlock pty", e))?;
    // TIOCGPTPEER opens the follower through the master, without a path lookup
    // that the container could redirect.
    // SAFETY: TIOCGPTPEER takes open flags by value and returns a new fd.
    let fd = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(Error::sys("open pty follower", nix::errno::Errno::last()));
    }
    // SAFETY: the ioctl returned a new descriptor that nothing else owns.
    let follower = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok((master, follower))
}

/// Sets the window size, if the spec gives one.
pub fn set_size(master: &OwnedFd, size: Option<&ConsoleSize>) {
    if let Some(size) = size {
        let ws = libc::winsize {
            ws_row: u16::try_from(size.height()).unwrap_or(u16::MAX),
            ws_col: u16::try_from(size.width()).unwrap_or(u16::MAX),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize that lives for the call.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
}

/// Makes `follower` the controlling terminal of this (session leader) process
/// and its stdin, stdout and stderr.
pub fn make_controlling(follower: &OwnedFd) -> Result<()> {
    // SAFETY: TIOCSCTTY takes an int by value; we lead a new session.
    unsafe { tiocsctty(follower.as_raw_fd(), 0) }
        .map_err(|e| Error::sys("set controlling terminal", e))?;
    dup2_stdin(follower).map_err(|e| Error::sys("dup2 pty", e))?;
    nix::unistd::dup2_stdout(follower).map_err(|e| Error::sys("dup2 pty", e))?;
    nix::unistd::dup2_stderr(follower).map_err(|e| Error::sys("dup2 pty", e))?;
    Ok(())
}

/// Sends `master` over the unix socket at `socket` (runc's `--console-socket`).
pub fn send_to_socket(socket: &Path, master: &OwnedFd) -> Result<()> {
    use nix::sys::socket::{
        connect, sendmsg, socket as mksocket, AddressFamily, ControlMessage, MsgFlags, SockFlag,
        SockType, UnixAddr,
    };
    let sock = mksocket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| Error::sys("console socket", e))?;
    let addr = UnixAddr::new(socket)
        .map_err(|e| Error::sys(format!("console socket {}", socket.display()), e))?;
    connect(sock.as_raw_fd(), &addr)
        .map_err(|e| Error::sys(format!("connect {}", socket.display()), e))?;
    let fds = [master.as_raw_fd()];
    let name = b"/dev/ptmx";
    let iov = [std::io::IoSlice::new(name)];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| Error::sys(format!("send pty to {}", socket.display()), e))?;
    Ok(())
}

/// Receives a pty master sent by `send_to_socket` on an accepted connection
/// of a console socket (the other end of `--console-socket`).
pub fn recv_from(conn: &impl AsRawFd) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 64];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::sys("receive pty", e))?;
    let mut master = None;
    for c in msg.cmsgs().map_err(|e| Error::sys("receive pty", e))? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for raw in fds {
                // SAFETY: the kernel just installed `raw` in our table for
                // this message; nothing else owns it.
                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                master.get_or_insert(owned);
            }
        }
    }
    master.ok_or_else(|| Error::sys("receive pty", nix::errno::Errno::EBADMSG))
}
