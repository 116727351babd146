//! The shim's control socket, `CTRDIR/ctl.sock`: berthd (this one or the
//! next, after a restart) talks to the container through it. One command
//! line per connection:
//!
//! ```text
//! state            -> {"pid": N}
//! stdin            -> ok, then the connection's bytes go to the container's
//!                  stdin (its pipe, or the pty of a TTY container) until
//!                  EOF, answered by "done" once all of them are written
//! close-stdin      -> ok; the container's stdin pipe is closed (the daemon
//!                  asks when an attached StdinOnce client reached its EOF,
//!                  not when it detached)
//! resize H W       -> ok; the TTY's window size
//! ```
//!
//! Connections are served on threads with small stacks: a slow stdin never
//! stalls the log, and a resize goes through while a client types.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Where client input goes.
struct Input {
    /// The write end of an `-i` container's stdin pipe (`None` once closed).
    pipe: Mutex<Option<std::fs::File>>,
    /// A TTY container's pty master: input is typed into it.
    pty: Option<OwnedFd>,
}

const STACK: usize = 64 * 1024;

/// Starts the control thread; without a socket the container just has none.
pub fn serve(dir: &Path, pid: i32, stdin: Option<OwnedFd>, pty: Option<OwnedFd>) {
    let path = dir.join("ctl.sock");
    let _ = std::fs::remove_file(&path);
    let Ok(listener) = UnixListener::bind(&path) else {
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
                let input = input.clone();
                // Out of threads, the connection is dropped: the daemon
                // sees it end without an answer and says so.
                let _ = std::thread::Builder::new()
                    .stack_size(STACK)
                    .spawn(move || handle(conn, pid, &input));
            }
        });
}

fn handle(conn: UnixStream, pid: i32, input: &Input) {
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut out = conn;
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["state"] => {
            let _ = writeln!(out, "{{\"pid\":{pid}}}");
        }
        ["stdin"] => {
            if let Some(m) = &input.pty {
                let Ok(m) = m.try_clone() else { return };
                let _ = writeln!(out, "ok");
                let _ = std::io::copy(&mut reader, &mut std::fs::File::from(m));
                let _ = writeln!(out, "done");
                return;
            }
            // One writer at a time; the pipe's write end stays ours.
            let Ok(mut guard) = input.pipe.lock() else {
                return;
            };
            let Some(w) = guard.as_mut() else {
                let _ = writeln!(out, "error stdin is not open");
                return;
            };
            let _ = writeln!(out, "ok");
            let _ = std::io::copy(&mut reader, w);
            let _ = writeln!(out, "done");
        }
        ["close-stdin"] => {
            if let Ok(mut guard) = input.pipe.lock() {
                *guard = None;
            }
            let _ = writeln!(out, "ok");
        }
        ["resize", h, w] => {
            let (Ok(rows), Ok(cols)) = (h.parse::<u16>(), w.parse::<u16>()) else {
                let _ = writeln!(out, "error resize H W");
                return;
            };
            let Some(m) = &input.pty else {
                let _ = writeln!(out, "error no tty");
                return;
            };
            let ws = libc::winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            // SAFETY: TIOCSWINSZ reads a winsize we own from a valid fd.
            let r = unsafe { libc::ioctl(m.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
            let _ = writeln!(out, "{}", if r == 0 { "ok" } else { "error resize failed" });
        }
        _ => {
            let _ = writeln!(out, "error unknown command");
        }
    }
}
