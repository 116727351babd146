//! The shim's control socket, `CTRDIR/ctl.sock`: berthd (this one or the
//! next, after a restart) talks to the container through it. One command
//! line per connection; the commands, replies and frames are
//! [`shim_proto`]'s (`state`, `version`, `stdin`, `close-stdin`, `resize H
//! W`, `reopen-log`, `attach`). `close-stdin` comes from the daemon when an
//! attached StdinOnce client reached its EOF, not when it detached.
//!
//! Connections are served on threads with small stacks: a slow stdin never
//! stalls the log, and a resize goes through while a client types.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use shim_proto::{Command, Frame, Refusal, Reply, Stream};

/// Where client input goes.
struct Input {
    /// The write end of an `-i` container's stdin pipe (`None` once closed).
    pipe: Mutex<Option<std::fs::File>>,
    /// A TTY container's pty master: input is typed into it.
    pty: Option<OwnedFd>,
}

const STACK: usize = 64 * 1024;

/// How long an attached reader may stall the container's output before it
/// is dropped.
const SLOW_READER: Duration = Duration::from_secs(10);

/// The attached readers of the container's output.
#[derive(Default)]
pub struct Output {
    readers: Mutex<Vec<UnixStream>>,
    joined: Condvar,
}

impl Output {
    fn join(&self, conn: UnixStream) {
        let _ = conn.set_write_timeout(Some(SLOW_READER));
        if let Ok(mut r) = self.readers.lock() {
            r.push(conn);
            self.joined.notify_all();
        }
    }

    /// Waits until `n` readers are there (the clients attached before the
    /// start, so that they see its first bytes), at most `limit`.
    pub fn wait_for(&self, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        let Ok(mut r) = self.readers.lock() else {
            return;
        };
        while r.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            r = match self.joined.wait_timeout(r, left) {
                Ok((r, _)) => r,
                Err(_) => return,
            };
        }
    }

    /// Sends a piece of output to every reader; one that fails is dropped.
    pub fn send(&self, stream: Stream, data: &[u8]) {
        let Ok(mut r) = self.readers.lock() else {
            return;
        };
        if r.is_empty() {
            return;
        }
        let head = Frame::of(stream, data).encode();
        r.retain_mut(|c| c.write_all(&head).and_then(|()| c.write_all(data)).is_ok());
    }

    /// The end: every reader sees EOF.
    pub fn close(&self) {
        if let Ok(mut r) = self.readers.lock() {
            r.clear();
        }
    }
}

/// Starts the control thread; without a socket the container just has none.
pub fn serve(
    dir: &Path,
    pid: i32,
    stdin: Option<OwnedFd>,
    pty: Option<OwnedFd>,
    output: Arc<Output>,
    log: Arc<Mutex<Option<crate::log::Log>>>,
) {
    // Through a descriptor of the directory: a deep data root could make
    // the full path longer than a socket address may be (berthd connects
    // the same way).
    let Ok(d) = std::fs::File::open(dir) else {
        return;
    };
    let path = format!(
        "/proc/self/fd/{}/{}",
        d.as_raw_fd(),
        shim_proto::files::CONTROL_SOCKET
    );
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path);
    drop(d);
    let Ok(listener) = listener else {
        return;
    };
    let input = Arc::new(Input {
        pipe: Mutex::new(stdin.map(std::fs::File::from)),
        pty,
    });
    let _ = std::thread::Builder::new()
        .name("control".into())
        .stack_size(STACK)
        .spawn(move || {
            for conn in listener.incoming().flatten() {
                if !peer_is_daemon(&conn) {
                    continue;
                }
                let (input, output, log) = (input.clone(), output.clone(), log.clone());
                // Out of threads, the connection is dropped: the daemon
                // sees it end without an answer and says so.
                let _ = std::thread::Builder::new()
                    .stack_size(STACK)
                    .spawn(move || handle(conn, pid, &input, &output, &log));
            }
        });
}

/// Only root (the daemon) may drive the container: the socket is 0600 in a
/// root-only directory already, and the peer's credentials are checked too,
/// in case a descriptor of the directory leaked.
fn peer_is_daemon(conn: &UnixStream) -> bool {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    getsockopt(conn, PeerCredentials)
        .is_ok_and(|c| c.uid() == 0 || c.uid() == nix::unistd::geteuid().as_raw())
}

/// Bytes read from one side per write to the other: on the connection
/// thread's small stack.
const PUMP_BYTES: usize = 8 * 1024;

/// Copies `from` into `to` until EOF, with a read then a write.
///
/// Not `std::io::copy`: from a socket into a pipe it splices, and the
/// kernel's `splice()` holds the pipe's lock while it waits on the socket.
/// A client that keeps its connection open without writing would then hold
/// the container's stdin locked: the container could neither read what came
/// before nor exit (closing its end of the pipe takes that lock too), not
/// even on SIGKILL. A plain `write` into a full pipe sleeps without the lock.
/// And a splice from a unix socket waits for more than a typed line, so an
/// interactive shell fed through a pipe saw its input only at EOF.
fn pump(from: &mut impl Read, to: &mut impl Write) -> std::io::Result<u64> {
    let mut buf = [0u8; PUMP_BYTES];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

fn handle(
    conn: UnixStream,
    pid: i32,
    input: &Input,
    output: &Output,
    log: &Mutex<Option<crate::log::Log>>,
) {
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut out = conn;
    let reply = |out: &mut UnixStream, r: Reply| out.write_all(r.line().as_bytes());
    let command = match Command::parse(&line) {
        Ok(c) => c,
        Err(why) => {
            let _ = reply(&mut out, Reply::Refused(why));
            return;
        }
    };
    match command {
        Command::State => {
            let _ = reply(&mut out, Reply::State(pid));
        }
        Command::Version => {
            let _ = reply(&mut out, Reply::Ok(shim_proto::VERSION.to_string()));
        }
        Command::Stdin => {
            if let Some(m) = &input.pty {
                let Ok(m) = m.try_clone() else { return };
                let _ = reply(&mut out, Reply::ok());
                let _ = pump(&mut reader, &mut std::fs::File::from(m));
                let _ = reply(&mut out, Reply::Done);
                return;
            }
            // One writer at a time; the pipe's write end stays ours.
            let Ok(mut guard) = input.pipe.lock() else {
                return;
            };
            let Some(w) = guard.as_mut() else {
                let _ = reply(&mut out, Reply::Refused(Refusal::StdinNotOpen));
                return;
            };
            let _ = reply(&mut out, Reply::ok());
            let _ = pump(&mut reader, w);
            let _ = reply(&mut out, Reply::Done);
        }
        Command::Attach => {
            if reply(&mut out, Reply::ok()).is_ok() {
                output.join(out);
            }
        }
        Command::ReopenLog => {
            let reopened = log
                .lock()
                .ok()
                .and_then(|mut l| l.as_mut().map(|l| l.reopen()));
            let _ = reply(
                &mut out,
                match reopened {
                    Some(true) => Reply::ok(),
                    Some(false) => Reply::Refused(Refusal::CannotOpenLog),
                    None => Reply::Refused(Refusal::NoLog),
                },
            );
        }
        Command::CloseStdin => {
            if let Ok(mut guard) = input.pipe.lock() {
                *guard = None;
            }
            let _ = reply(&mut out, Reply::ok());
        }
        Command::Resize { height, width } => {
            let Some(m) = &input.pty else {
                let _ = reply(&mut out, Reply::Refused(Refusal::NoTty));
                return;
            };
            let ws = libc::winsize {
                ws_row: height,
                ws_col: width,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            // SAFETY: TIOCSWINSZ reads a winsize we own from a valid fd.
            let r = unsafe { libc::ioctl(m.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
            let _ = reply(
                &mut out,
                if r == 0 {
                    Reply::ok()
                } else {
                    Reply::Refused(Refusal::ResizeFailed)
                },
            );
        }
    }
}
