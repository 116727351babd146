//! The shim's control socket, `CTRDIR/ctl.sock`: berthd (this one or the
//! next, after a restart) talks to the container through it. One command
//! line per connection:
//!
//! ```text
//! state            -> {"pid": N}
//! stdin            then the connection's bytes go to the container's stdin;
//!                  its EOF closes that stdin when the container asked for
//!                  it once (StdinOnce)
//! resize H W       the TTY's window size
//! ```
//!
//! It runs on a thread of its own (a small stack), so that a slow reader of
//! stdin never stalls the log.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Starts the control thread; without a socket the container just has none.
pub fn serve(dir: &Path, pid: i32, stdin: Option<OwnedFd>, pty: Option<OwnedFd>, once: bool) {
    let path = dir.join("ctl.sock");
    let _ = std::fs::remove_file(&path);
    let Ok(listener) = UnixListener::bind(&path) else {
        return;
    };
    let stdin = Arc::new(Mutex::new(stdin.map(std::fs::File::from)));
    let _ = std::thread::Builder::new()
        .name("control".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            for conn in listener.incoming().flatten() {
                handle(conn, pid, &stdin, pty.as_ref(), once);
            }
        });
}

fn handle(
    conn: UnixStream,
    pid: i32,
    stdin: &Mutex<Option<std::fs::File>>,
    pty: Option<&OwnedFd>,
    once: bool,
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
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["state"] => {
            let _ = writeln!(out, "{{\"pid\":{pid}}}");
        }
        ["stdin"] => {
            // One writer at a time; the pipe's write end stays ours.
            let Ok(mut guard) = stdin.lock() else { return };
            let Some(w) = guard.as_mut() else {
                let _ = writeln!(out, "error stdin is not open");
                return;
            };
            let _ = writeln!(out, "ok");
            let _ = std::io::copy(&mut reader, w);
            if once {
                *guard = None;
            }
        }
        ["resize", h, w] => {
            let (Ok(rows), Ok(cols)) = (h.parse::<u16>(), w.parse::<u16>()) else {
                let _ = writeln!(out, "error resize H W");
                return;
            };
            let Some(m) = pty else {
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
