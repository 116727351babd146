//! The container's log, as its front door asked in `CTRDIR/log-opts.json`:
//!
//! - Docker's json-file (the default): `CTRDIR/ctr.log`, one JSON object per
//!   line, rotated by size as `max-size`/`max-file` ask
//!   (`{"max_size": bytes, "max_file": n}`; absent, it grows without bound
//!   as Docker's default does);
//! - the CRI's format (`{"format": "cri", "path": "/var/log/pods/…/0.log"}`):
//!   `<RFC 3339 time> <stream> <F|P> <bytes>` per line at the path the
//!   kubelet named, `P` for a partial line (a read that ended without a
//!   newline), `F` for a full one. The kubelet rotates it itself: it renames
//!   the file and asks for a reopen (control `reopen-log`);
//! - none (`{"format": "none"}`, or a CRI container without a log path).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Which format the log is written in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Cri,
}

/// An open log.
pub struct Log {
    format: Format,
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_file: u32,
}

fn open_append(path: &Path) -> Option<File> {
    OpenOptions::new().create(true).append(true).open(path).ok()
}

impl Log {
    /// The log `CTRDIR/log-opts.json` asks for; `None` for no log.
    pub fn open(dir: &Path) -> Option<Log> {
        let opts: serde_json::Value = std::fs::read(dir.join("log-opts.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let (format, path) = match opts["format"].as_str().unwrap_or("json-file") {
            "none" => return None,
            "cri" => (
                Format::Cri,
                PathBuf::from(opts["path"].as_str().filter(|p| p.starts_with('/'))?),
            ),
            _ => (Format::Json, dir.join("ctr.log")),
        };
        let file = open_append(&path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let max_size = opts["max_size"].as_u64().unwrap_or(0);
        let max_file = opts["max_file"].as_u64().unwrap_or(1).clamp(1, 100) as u32;
        Some(Log {
            format,
            path,
            file,
            size,
            max_size,
            max_file,
        })
    }

    /// Opens the log's path anew (after the kubelet renamed the file).
    pub fn reopen(&mut self) -> bool {
        match open_append(&self.path) {
            Some(f) => {
                self.size = f.metadata().map(|m| m.len()).unwrap_or(0);
                self.file = f;
                true
            }
            None => false,
        }
    }

    /// `ctr.log` becomes `ctr.log.1`, `.1` becomes `.2`, …; the oldest goes.
    fn rotate(&mut self) {
        let name = |i: u32| PathBuf::from(format!("{}.{i}", self.path.display()));
        if self.max_file <= 1 {
            let _ = self.file.set_len(0);
        } else {
            for i in (1..self.max_file - 1).rev() {
                let _ = std::fs::rename(name(i), name(i + 1));
            }
            let _ = std::fs::rename(&self.path, name(1));
        }
        if let Some(f) = open_append(&self.path) {
            self.file = f;
        }
        self.size = 0;
    }

    /// One read of the container's `stream` (`stdout`, `stderr`): its lines
    /// go out in one write (rotation permitting).
    pub fn write_lines(&mut self, stream: &str, data: &[u8]) {
        match self.format {
            Format::Json => self.write_json(stream, data),
            Format::Cri => self.write_cri(stream, data),
        }
    }

    /// The CRI's format (k8s.io/cri-api's `LogTag`: `P` partial, `F` full),
    /// as containerd writes it; the newline is the record's end, not part
    /// of the content.
    fn write_cri(&mut self, stream: &str, data: &[u8]) {
        let time = runtime::now_rfc3339();
        let mut batch = Vec::with_capacity(data.len() + 64);
        for chunk in data.split_inclusive(|b| *b == b'\n') {
            let (content, tag) = match chunk.strip_suffix(b"\n") {
                Some(line) => (line, "F"),
                None => (chunk, "P"),
            };
            batch.extend_from_slice(time.as_bytes());
            batch.push(b' ');
            batch.extend_from_slice(stream.as_bytes());
            batch.push(b' ');
            batch.extend_from_slice(tag.as_bytes());
            batch.push(b' ');
            batch.extend_from_slice(content);
            batch.push(b'\n');
        }
        self.flush(&batch);
    }

    /// Docker's json-file format: one JSON object per line of output.
    fn write_json(&mut self, stream: &str, data: &[u8]) {
        let time = runtime::now_rfc3339();
        let mut batch = Vec::with_capacity(data.len() + 128);
        for chunk in data.split_inclusive(|b| *b == b'\n') {
            let start = batch.len();
            batch.extend_from_slice(b"{\"log\":");
            let text = String::from_utf8_lossy(chunk);
            let _ = serde_json::to_writer(&mut batch, &*text);
            batch.extend_from_slice(b",\"stream\":\"");
            batch.extend_from_slice(stream.as_bytes());
            batch.extend_from_slice(b"\",\"time\":\"");
            batch.extend_from_slice(time.as_bytes());
            batch.extend_from_slice(b"\"}\n");
            let len = (batch.len() - start) as u64;
            let pending = start as u64;
            if self.max_size > 0
                && self.size + pending > 0
                && self.size + pending + len > self.max_size
            {
                // This line would overflow the file: what came before goes
                // to the current file, then it rotates.
                self.flush(&batch[..start]);
                batch.drain(..start);
                if self.size > 0 {
                    self.rotate();
                }
            }
        }
        self.flush(&batch);
    }

    fn flush(&mut self, lines: &[u8]) {
        if !lines.is_empty() && self.file.write_all(lines).is_ok() {
            self.size += lines.len() as u64;
        }
    }
}
