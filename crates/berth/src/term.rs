//! The user's terminal: whether a descriptor is one, its size, and raw mode
//! (keys go to the container as typed: ctrl-c is a byte for its shell, not a
//! signal for us), restored when the guard drops, also on an error path.

use std::os::fd::RawFd;

pub const STDIN: RawFd = 0;
pub const STDOUT: RawFd = 1;

pub fn is_terminal(fd: RawFd) -> bool {
    // SAFETY: isatty only reads the descriptor's type.
    unsafe { libc::isatty(fd) == 1 }
}

/// Rows and columns of the terminal on `fd`.
pub fn size(fd: RawFd) -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize we own.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// The terminal on `fd` in raw mode while this lives.
pub struct Raw {
    fd: RawFd,
    saved: libc::termios,
}

impl Raw {
    /// Raw mode on `fd`; `None` when it is no terminal.
    pub fn enter(fd: RawFd) -> Option<Raw> {
        if !is_terminal(fd) {
            return None;
        }
        // SAFETY: termios is plain data; tcgetattr fills it.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: a valid fd and a termios we own.
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return None;
        }
        let mut raw = saved;
        // SAFETY: cfmakeraw edits the termios we pass.
        unsafe { libc::cfmakeraw(&mut raw) };
        // SAFETY: as above.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) } != 0 {
            return None;
        }
        Some(Raw { fd, saved })
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enter`.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}
