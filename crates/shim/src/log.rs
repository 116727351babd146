//! The container's log, as the engine's `log-opts.json` asks:
//! `{"driver": "json-file"|"local"|"none", "max_size": bytes, "max_file": n,
//! "compress": bool, "attrs": {…}}` (absent: json-file, unbounded, as
//! Docker's default).
//!
//! - json-file: Docker's lines, `{"log":…,"stream":…,"attrs":{…},"time":…}`;
//! - local: Docker's frames, `[u32 BE size][protobuf LogEntry][u32 BE size]`
//!   (moby `daemon/logger/local`), the line without its newline and
//!   `partial` set when the read ended mid-line;
//! - cri (`{"driver": "cri", "path": "/var/log/pods/…/0.log"}`): the
//!   Kubernetes CRI's format at the path the kubelet named,
//!   `<RFC 3339 time> <stream> <F|P> <bytes>` per line (`P` when the read
//!   ended mid-line); the kubelet rotates it itself (it renames the file,
//!   then asks for a reopen: control `reopen-log`);
//! - none: nothing is kept.
//!
//! Rotation as moby's `loggerutils.LogFile`: past `max_size`, `ctr.log`
//! becomes `ctr.log.1` (older ones shift up, the oldest goes); with
//! `compress`, `ctr.log.1` is gzipped into `ctr.log.1.gz` by a thread of its
//! own, so the container's output is never held up by it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Which format the file is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Driver {
    JsonFile,
    Local,
    Cri,
}

/// The open log of a container.
pub struct Log {
    driver: Driver,
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_file: u32,
    compress: bool,
    /// json-file's `,"attrs":{…}` fragment (empty without attrs).
    attrs: Vec<u8>,
    /// The compression of the last rotated file, finished before the next
    /// rotation shifts the files.
    compressing: Option<std::thread::JoinHandle<()>>,
}

/// Appends a protobuf varint.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One `LogEntry` frame of the local driver.
fn frame(out: &mut Vec<u8>, stream: &str, nanos: u64, line: &[u8], partial: bool) {
    let mut e = Vec::with_capacity(line.len() + 32);
    e.push(0x0a);
    varint(&mut e, stream.len() as u64);
    e.extend_from_slice(stream.as_bytes());
    e.push(0x10);
    varint(&mut e, nanos);
    if !line.is_empty() {
        e.push(0x1a);
        varint(&mut e, line.len() as u64);
        e.extend_from_slice(line);
    }
    if partial {
        e.extend_from_slice(&[0x20, 1]);
    }
    let size = (e.len() as u32).to_be_bytes();
    out.extend_from_slice(&size);
    out.extend_from_slice(&e);
    out.extend_from_slice(&size);
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Log {
    /// Opens the log as `CTRDIR/log-opts.json` says; None for `none` (or
    /// when the file cannot be opened).
    pub fn open(dir: &Path) -> Option<Log> {
        let opts: models::log::LogOptions = std::fs::read(dir.join(shim_proto::files::LOG_OPTS))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let driver = match opts.driver.as_str() {
            "none" => return None,
            "local" => Driver::Local,
            "cri" => Driver::Cri,
            _ => Driver::JsonFile,
        };
        let path = match driver {
            Driver::Cri if opts.path.starts_with('/') => PathBuf::from(&opts.path),
            Driver::Cri => return None,
            _ => dir.join(shim_proto::files::LOG),
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .ok()?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let attrs = if opts.attrs.is_empty() {
            Vec::new()
        } else {
            let mut v = b",\"attrs\":".to_vec();
            let _ = serde_json::to_writer(&mut v, &opts.attrs);
            v
        };
        Some(Log {
            driver,
            path,
            file,
            size,
            max_size: opts.max_size,
            max_file: opts.max_file.clamp(1, 1000) as u32,
            compress: opts.compress,
            attrs,
            compressing: None,
        })
    }

    /// Opens the log's path anew (the kubelet renamed the file); false
    /// when it cannot be opened (the old file stays in use).
    pub fn reopen(&mut self) -> bool {
        match OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            Ok(f) => {
                self.size = f.metadata().map(|m| m.len()).unwrap_or(0);
                self.file = f;
                true
            }
            Err(_) => false,
        }
    }

    fn name(&self, i: u32, gz: bool) -> PathBuf {
        let ext = if gz { ".gz" } else { "" };
        PathBuf::from(format!("{}.{i}{ext}", self.path.display()))
    }

    /// `ctr.log` becomes `ctr.log.1`, `.1` becomes `.2`, …; the oldest goes.
    fn rotate(&mut self) {
        if let Some(t) = self.compressing.take() {
            let _ = t.join();
        }
        if self.max_file <= 1 {
            let _ = self.file.set_len(0);
        } else {
            let gz = self.compress;
            for i in (1..self.max_file - 1).rev() {
                let _ = std::fs::rename(self.name(i, gz), self.name(i + 1, gz));
            }
            let first = self.name(1, false);
            let _ = std::fs::rename(&self.path, &first);
            if gz {
                let target = self.name(1, true);
                self.compressing = std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn(move || compress(&first, &target))
                    .ok();
            }
        }
        if let Ok(f) = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
        {
            self.file = f;
        }
        self.size = 0;
    }

    /// One read of the container's output, a record per line (the last
    /// one partial when the read ended mid-line); the records of one read
    /// go out in one write (rotation permitting).
    pub fn write_lines(&mut self, stream: &str, data: &[u8]) {
        let time = runtime::now_rfc3339();
        let nanos = now_nanos();
        let mut batch = Vec::with_capacity(data.len() + 128);
        for chunk in data.split_inclusive(|b| *b == b'\n') {
            let start = batch.len();
            match self.driver {
                Driver::JsonFile => {
                    batch.extend_from_slice(b"{\"log\":");
                    let text = String::from_utf8_lossy(chunk);
                    let _ = serde_json::to_writer(&mut batch, &*text);
                    batch.extend_from_slice(b",\"stream\":\"");
                    batch.extend_from_slice(stream.as_bytes());
                    batch.push(b'"');
                    batch.extend_from_slice(&self.attrs);
                    batch.extend_from_slice(b",\"time\":\"");
                    batch.extend_from_slice(time.as_bytes());
                    batch.extend_from_slice(b"\"}\n");
                }
                Driver::Local => {
                    let whole = chunk.ends_with(b"\n");
                    let line = if whole {
                        &chunk[..chunk.len() - 1]
                    } else {
                        chunk
                    };
                    frame(&mut batch, stream, nanos, line, !whole);
                }
                Driver::Cri => {
                    let (line, tag) = match chunk.strip_suffix(b"\n") {
                        Some(line) => (line, b'F'),
                        None => (chunk, b'P'),
                    };
                    batch.extend_from_slice(time.as_bytes());
                    batch.push(b' ');
                    batch.extend_from_slice(stream.as_bytes());
                    batch.push(b' ');
                    batch.push(tag);
                    batch.push(b' ');
                    batch.extend_from_slice(line);
                    batch.push(b'\n');
                }
            }
            let len = (batch.len() - start) as u64;
            let pending = start as u64;
            if self.max_size > 0
                && self.size + pending > 0
                && self.size + pending + len > self.max_size
            {
                // This record would overflow the file: what came before goes
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

    fn flush(&mut self, records: &[u8]) {
        if !records.is_empty() && self.file.write_all(records).is_ok() {
            self.size += records.len() as u64;
        }
    }
}

/// gzips `from` into `to` (through a temporary name, so a reader never
/// sees half a file) and removes `from`.
fn compress(from: &Path, to: &Path) {
    let tmp = to.with_extension("gz.tmp");
    let ok = (|| -> std::io::Result<()> {
        let mut src = File::open(from)?;
        let dst = File::create(&tmp)?;
        let mut gz = flate2::write::GzEncoder::new(dst, flate2::Compression::fast());
        std::io::copy(&mut src, &mut gz)?;
        gz.finish()?;
        std::fs::rename(&tmp, to)
    })();
    match ok {
        Ok(()) => {
            let _ = std::fs::remove_file(from);
        }
        Err(_) => {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_frames() {
        let mut v = Vec::new();
        varint(&mut v, 1_000_000_000);
        assert_eq!(v, [0x80, 0x94, 0xeb, 0xdc, 0x03]);
        let mut f = Vec::new();
        frame(&mut f, "stdout", 1, b"hi", false);
        let inner = [
            0x0a, 6, b's', b't', b'd', b'o', b'u', b't', 0x10, 1, 0x1a, 2, b'h', b'i',
        ];
        assert_eq!(&f[..4], &(inner.len() as u32).to_be_bytes());
        assert_eq!(&f[4..4 + inner.len()], &inner);
        assert_eq!(&f[4 + inner.len()..], &(inner.len() as u32).to_be_bytes());
    }

    #[test]
    fn cri_format_and_reopen() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("pods/c.log");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            d.path().join("log-opts.json"),
            format!(r#"{{"driver":"cri","path":"{}"}}"#, path.display()),
        )
        .unwrap();
        let mut log = Log::open(d.path()).unwrap();
        log.write_lines("stdout", b"one\ntw");
        log.write_lines("stderr", b"o\n");
        let text = std::fs::read_to_string(&path).unwrap();
        let recs: Vec<Vec<&str>> = text.lines().map(|l| l.splitn(4, ' ').collect()).collect();
        assert_eq!(recs.len(), 3, "{text}");
        assert_eq!(&recs[0][1..], ["stdout", "F", "one"]);
        assert_eq!(&recs[1][1..], ["stdout", "P", "tw"]);
        assert_eq!(&recs[2][1..], ["stderr", "F", "o"]);
        assert!(recs[0][0].ends_with('Z'));
        std::fs::rename(&path, d.path().join("pods/c.log.1")).unwrap();
        assert!(log.reopen());
        log.write_lines("stdout", b"after\n");
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains(" stdout F after"));
    }

    #[test]
    fn rotation_compresses_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("log-opts.json"),
            r#"{"driver":"local","max_size":100,"max_file":3,"compress":true}"#,
        )
        .unwrap();
        let mut log = Log::open(d.path()).unwrap();
        for _ in 0..3 {
            log.write_lines("stdout", &[b'x'; 60]);
            log.write_lines("stdout", b"\n");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !d.path().join("ctr.log.1.gz").exists() {
            assert!(std::time::Instant::now() < deadline, "no ctr.log.1.gz");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(std::fs::metadata(d.path().join("ctr.log")).unwrap().len() <= 100);
    }
}
