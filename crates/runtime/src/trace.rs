//! Timestamps along a container's start, for the breakdown in
//! docs/PERFORMANCE.md (`bench/trace.py` reads them).
//!
//! With `BERTH_TRACE=FILE` in the environment of berthd (its shims and
//! their runtime inherit it) or of `berth-runtime`, every [`mark`] appends
//! one line, `<CLOCK_MONOTONIC ns> <pid> <what>`, to FILE in one `write(2)`
//! on an `O_APPEND` descriptor, so lines of several processes interleave
//! whole and share one clock. Without it a mark costs one look at a cached
//! `Option`. The descriptor is close-on-exec: no container process keeps it.

use std::fs::File;
use std::io::Write;
use std::sync::OnceLock;

fn sink() -> Option<&'static File> {
    static SINK: OnceLock<Option<File>> = OnceLock::new();
    SINK.get_or_init(|| {
        let path = std::env::var_os("BERTH_TRACE")?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
    })
    .as_ref()
}

/// Nanoseconds on CLOCK_MONOTONIC (the clock of every process on the host).
pub fn now_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `t`, which we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Whether marks are written (`BERTH_TRACE` is set and could be opened).
pub fn enabled() -> bool {
    sink().is_some()
}

/// Records that `what` happens now.
pub fn mark(what: &str) {
    if let Some(mut f) = sink() {
        let line = format!("{} {} {what}\n", now_ns(), std::process::id());
        let _ = f.write_all(line.as_bytes());
    }
}

/// A span: `what >` now, `what <` when dropped.
pub struct Span(&'static str);

/// Starts a span; keep the value until the step ends.
pub fn span(what: &'static str) -> Span {
    if enabled() {
        mark(&format!("{what} >"));
    }
    Span(what)
}

impl Drop for Span {
    fn drop(&mut self) {
        if enabled() {
            mark(&format!("{} <", self.0));
        }
    }
}
