//! The channel between the runtime and the processes it forks: a
//! `SOCK_SEQPACKET` socket pair, so each message arrives whole, and file
//! descriptors (the pty master) can ride along with `SCM_RIGHTS`.
//!
//! Messages are one tag byte and a payload:
//! - `U` (child → parent): user namespace made, write the id maps;
//! - `G` (parent → child): go on (cgroup joined, maps written);
//! - `P` + decimal pid (child → parent): the pid of the container's init;
//! - `T` + fd (child → parent): the pty master;
//! - `H` (init → parent): run the prestart and createRuntime hooks, then send
//!   `S` + the state JSON (parent → init) for the init's own hooks;
//! - `R` (init → parent): set up, now waiting for `start`;
//! - `E` + text (any → parent): setup failed, with the reason.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

/// Largest message: an error text is cut to fit.
const MAX_MSG: usize = 4096;

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// A message read from the channel.
#[derive(Debug)]
pub enum Msg {
    /// `U`.
    UserNs,
    /// `G`.
    Go,
    /// `P`.
    Pid(i32),
    /// `T`.
    Pty(OwnedFd),
    /// `H`.
    Hooks,
    /// `S`.
    State(Vec<u8>),
    /// `R`.
    Ready,
    /// `E`.
    Error(String),
    /// The other side closed without a word.
    Closed,
}

/// Makes a connected pair; both ends are close-on-exec.
pub fn pair() -> nix::Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    /// Sends a tag and payload, with an optional fd.
    fn send_raw(&self, tag: u8, payload: &[u8], fd: Option<RawFd>) -> nix::Result<()> {
        let tag = [tag];
        let payload = &payload[..payload.len().min(MAX_MSG - 1)];
        let iov = [IoSlice::new(&tag), IoSlice::new(payload)];
        let fds;
        let cmsg: &[ControlMessage] = match fd {
            Some(fd) => {
                fds = [fd];
                &[ControlMessage::ScmRights(&fds)]
            }
            None => &[],
        };
        sendmsg::<()>(self.fd.as_raw_fd(), &iov, cmsg, MsgFlags::empty(), None)?;
        Ok(())
    }

    /// Sends a message without payload (`U`, `G`, `R`).
    pub fn send(&self, msg: &Msg) -> nix::Result<()> {
        match msg {
            Msg::UserNs => self.send_raw(b'U', &[], None),
            Msg::Go => self.send_raw(b'G', &[], None),
            Msg::Ready => self.send_raw(b'R', &[], None),
            Msg::Hooks => self.send_raw(b'H', &[], None),
            Msg::State(json) => self.send_raw(b'S', json, None),
            Msg::Pid(pid) => self.send_raw(b'P', pid.to_string().as_bytes(), None),
            Msg::Pty(fd) => self.send_raw(b'T', &[], Some(fd.as_raw_fd())),
            Msg::Error(text) => self.send_raw(b'E', text.as_bytes(), None),
            Msg::Closed => Ok(()),
        }
    }

    /// Receives one message, blocking.
    pub fn recv(&self) -> nix::Result<Msg> {
        let mut buf = [0u8; MAX_MSG];
        let mut cmsg_space = nix::cmsg_space!([RawFd; 1]);
        let (len, fd) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg_space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )?;
            let mut fd = None;
            for c in msg.cmsgs()? {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    for raw in fds {
                        // SAFETY: the kernel just installed `raw` in our table for
                        // this message; nothing else owns it.
                        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                        fd.get_or_insert(owned);
                    }
                }
            }
            (msg.bytes, fd)
        };
        if len == 0 {
            return Ok(Msg::Closed);
        }
        let payload = &buf[1..len];
        Ok(match buf[0] {
            b'U' => Msg::UserNs,
            b'G' => Msg::Go,
            b'R' => Msg::Ready,
            b'H' => Msg::Hooks,
            b'S' => Msg::State(payload.to_vec()),
            b'P' => Msg::Pid(
                std::str::from_utf8(payload)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(-1),
            ),
            b'T' => match fd {
                Some(fd) => Msg::Pty(fd),
                None => Msg::Error("pty message without a descriptor".into()),
            },
            b'E' => Msg::Error(String::from_utf8_lossy(payload).into_owned()),
            other => Msg::Error(format!("unexpected sync message {other:#x}")),
        })
    }

    /// The raw descriptor (for poll and for keeping it across fork).
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
