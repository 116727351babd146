//! A client in a real terminal: the command runs on the follower side of a
//! new pty (its controlling terminal, as in an interactive shell), and the
//! test types into the master and reads what the terminal shows. Shared by
//! berthd's and berth's tests (`#[path]`), so it needs only libc.

#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long `expect` and `wait` wait before the test fails.
const LIMIT: Duration = Duration::from_secs(20);

pub struct Pty {
    master: File,
    child: Child,
    /// Everything the terminal showed since the last match.
    seen: Vec<u8>,
    /// The whole transcript, for failure messages.
    all: Vec<u8>,
}

fn winsize(rows: u16, cols: u16) -> libc::winsize {
    libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Pty {
    /// Starts `cmd` in a terminal of `rows` × `cols`.
    pub fn spawn(cmd: &mut Command, rows: u16, cols: u16) -> Pty {
        let (mut m, mut s) = (0, 0);
        let ws = winsize(rows, cols);
        // SAFETY: out-pointers to ints we own; a winsize we own.
        let r =
            unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) };
        assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty just gave us both descriptors.
        let (master, follower) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
        let io = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
        cmd.stdin(io(&follower))
            .stdout(io(&follower))
            .stderr(io(&follower));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn in a pty");
        drop(follower);
        Pty {
            master: File::from(master),
            child,
            seen: Vec::new(),
            all: Vec::new(),
        }
    }

    /// Types `s`.
    pub fn send(&mut self, s: &str) {
        self.master.write_all(s.as_bytes()).unwrap();
    }

    /// Reads what arrives within `ms` milliseconds; false at the end.
    fn pump(&mut self, ms: i32) -> bool {
        let mut p = libc::pollfd {
            fd: self.master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own.
        if unsafe { libc::poll(&mut p, 1, ms) } <= 0 {
            return true;
        }
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            Ok(n) if n > 0 => {
                // A program asking where the cursor is (busybox's shell does,
                // at times) waits for the answer a real terminal gives; one
                // that never comes would eat the next typed line instead.
                if buf[..n].windows(4).any(|w| w == b"\x1b[6n") {
                    let _ = self.master.write_all(b"\x1b[1;1R");
                }
                self.seen.extend_from_slice(&buf[..n]);
                self.all.extend_from_slice(&buf[..n]);
                true
            }
            // EIO: nobody holds the terminal any more.
            _ => false,
        }
    }

    /// Waits until the terminal shows `needle`; returns what it showed up
    /// to and including it (the rest is kept for the next call).
    pub fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let text = String::from_utf8_lossy(&self.seen).into_owned();
            if let Some(at) = text.find(needle) {
                let end = at + needle.len();
                self.seen = text.as_bytes()[end..].to_vec();
                return text[..end].to_string();
            }
            assert!(
                Instant::now() < deadline,
                "the terminal never showed {needle:?}; it showed:\n{}",
                String::from_utf8_lossy(&self.all)
            );
            if !self.pump(100) {
                assert!(
                    String::from_utf8_lossy(&self.seen).contains(needle),
                    "the terminal closed without showing {needle:?}; it showed:\n{}",
                    String::from_utf8_lossy(&self.all)
                );
            }
        }
    }

    /// Resizes the terminal (the kernel sends SIGWINCH to its foreground).
    pub fn resize(&mut self, rows: u16, cols: u16) {
        let ws = winsize(rows, cols);
        // SAFETY: TIOCSWINSZ reads a winsize we own.
        let r = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        assert_eq!(r, 0);
    }

    /// Resizes the terminal until a shell inside (at `prompt`) sees it with
    /// `stty size`. The client may not listen for SIGWINCH yet when the
    /// shell already answers (it sets that up after the start returns): the
    /// size alternates so that every try is a change, and so a signal.
    pub fn resize_until_seen(&mut self, prompt: &str) {
        let deadline = Instant::now() + LIMIT;
        for rows in (0u16..).map(|r| 40 + r % 2) {
            self.resize(rows, 120);
            std::thread::sleep(Duration::from_millis(100));
            self.send("stty size\r");
            if self.expect(prompt).contains(&format!("{rows} 120")) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the new size never showed: {}",
                self.transcript()
            );
        }
    }

    /// The command's exit code (after reading the rest of its output).
    pub fn wait(mut self) -> i32 {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the command did not exit; the terminal showed:\n{}",
                    String::from_utf8_lossy(&self.all)
                );
            }
            self.pump(50);
        }
    }

    /// What the terminal showed, all of it.
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.all).into_owned()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
