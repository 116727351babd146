//! The content store: blobs by digest under `<root>/blobs/sha256/<hex>`.
//!
//! Contract, as containerd's content store has it: until ingestion is
//! complete, its content is not visible. A blob is streamed into a temporary
//! file under `<root>/ingest/` while it is hashed, its size is bounded, it is
//! fsynced and checked against the digest it should have, and only then
//! renamed into place (and the directory fsynced). A mismatch, a short stream
//! or a crash leaves nothing under `blobs/`; [`Content::cleanup`] removes the
//! leftovers of a crash when the daemon starts. Writers of the same blob race
//! harmlessly: the rename is atomic and the content identical.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// Errors of the content store.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// Not a `sha256:<64 hex>` digest.
    #[error("invalid digest {0:?}")]
    BadDigest(String),
    /// The bytes do not hash to what they should.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    Mismatch {
        /// What was announced.
        expected: String,
        /// What arrived.
        actual: String,
    },
    /// More bytes than allowed.
    #[error("blob exceeds the limit of {0} bytes")]
    TooLarge(u64),
    /// Not in the store.
    #[error("blob {0} not found")]
    NotFound(String),
    /// I/O on a path.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> ContentError + '_ {
    move |source| ContentError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a digest string and returns its hex part.
pub fn parse_digest(d: &str) -> Result<&str, ContentError> {
    match d.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(hex)
        }
        _ => Err(ContentError::BadDigest(d.to_string())),
    }
}

/// A blob's digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
}

/// The content store.
#[derive(Debug, Clone)]
pub struct Content {
    root: PathBuf,
}

/// Fsyncs a directory so that a rename in it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Content {
    /// The store under `root` (created if missing).
    pub fn open(root: &Path) -> Result<Content, ContentError> {
        for d in [root.join("blobs/sha256"), root.join("ingest")] {
            fs::create_dir_all(&d).map_err(io_at(&d))?;
        }
        Ok(Content {
            root: root.to_path_buf(),
        })
    }

    /// Path of a blob (whether or not present).
    pub fn path(&self, digest: &str) -> Result<PathBuf, ContentError> {
        Ok(self.root.join("blobs/sha256").join(parse_digest(digest)?))
    }

    /// Whether the blob is present.
    pub fn exists(&self, digest: &str) -> bool {
        self.path(digest).map(|p| p.exists()).unwrap_or(false)
    }

    /// Opens a blob for reading.
    pub fn open_blob(&self, digest: &str) -> Result<File, ContentError> {
        let p = self.path(digest)?;
        File::open(&p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                ContentError::NotFound(digest.into())
            } else {
                ContentError::Io { path: p, source: e }
            }
        })
    }

    /// Reads a whole (small) blob, checking its digest again.
    pub fn read(&self, digest: &str, max: u64) -> Result<Vec<u8>, ContentError> {
        let mut buf = Vec::new();
        let f = self.open_blob(digest)?;
        f.take(max + 1)
            .read_to_end(&mut buf)
            .map_err(io_at(&self.path(digest)?))?;
        if buf.len() as u64 > max {
            return Err(ContentError::TooLarge(max));
        }
        let actual = crate::config::sha256(&buf);
        if actual != digest {
            return Err(ContentError::Mismatch {
                expected: digest.into(),
                actual,
            });
        }
        Ok(buf)
    }

    /// Streams `reader` into the store. With `expected`, the bytes must hash
    /// to it; at most `max` bytes are taken. When the expected blob is
    /// already stored, `reader` is left unread.
    pub fn ingest(
        &self,
        mut reader: impl Read,
        expected: Option<&str>,
        max: u64,
    ) -> Result<Descriptor, ContentError> {
        if let Some(d) = expected {
            parse_digest(d)?;
            if self.exists(d) {
                // Already here: drain nothing, trust the stored (verified) copy.
                let size = fs::metadata(self.path(d)?)
                    .map_err(io_at(&self.path(d)?))?
                    .len();
                return Ok(Descriptor {
                    digest: d.to_string(),
                    size,
                });
            }
        }
        let ingest = self.root.join("ingest");
        let mut tmp = tempfile::NamedTempFile::new_in(&ingest).map_err(io_at(&ingest))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(ContentError::Io {
                        path: tmp.path().to_path_buf(),
                        source: e,
                    })
                }
            };
            size += n as u64;
            if size > max {
                return Err(ContentError::TooLarge(max));
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n]).map_err(io_at(&ingest))?;
        }
        let digest = crate::config::digest_string(&hasher.finalize());
        if let Some(e) = expected {
            if e != digest {
                return Err(ContentError::Mismatch {
                    expected: e.into(),
                    actual: digest,
                });
            }
        }
        tmp.as_file().sync_all().map_err(io_at(&ingest))?;
        let dest = self.path(&digest)?;
        tmp.persist(&dest).map_err(|e| ContentError::Io {
            path: dest.clone(),
            source: e.error,
        })?;
        // Visible now; a failed directory sync is logged by callers, not undone.
        let _ = sync_dir(dest.parent().unwrap_or(&self.root));
        Ok(Descriptor { digest, size })
    }

    /// A temporary file in the ingest directory, for a caller that writes
    /// and hashes a blob itself (a layer streamed into the store and its
    /// unpack at once). Nothing is visible until [`Content::commit`]; a
    /// crash leaves only the temp file, which [`Content::cleanup`] removes.
    pub fn begin(&self) -> Result<tempfile::NamedTempFile, ContentError> {
        let ingest = self.root.join("ingest");
        tempfile::NamedTempFile::new_in(&ingest).map_err(io_at(&ingest))
    }

    /// Makes a blob begun with [`Content::begin`] visible as `digest`: the
    /// caller has checked that its bytes hash to it. Fsyncs, renames.
    pub fn commit(&self, tmp: tempfile::NamedTempFile, digest: &str) -> Result<(), ContentError> {
        let dest = self.path(digest)?;
        tmp.as_file().sync_all().map_err(io_at(tmp.path()))?;
        tmp.persist(&dest).map_err(|e| ContentError::Io {
            path: dest.clone(),
            source: e.error,
        })?;
        let _ = sync_dir(dest.parent().unwrap_or(&self.root));
        Ok(())
    }

    /// Removes a blob; absent is fine.
    pub fn delete(&self, digest: &str) -> Result<(), ContentError> {
        let p = self.path(digest)?;
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(ContentError::Io { path: p, source: e })
            }
            _ => Ok(()),
        }
    }

    /// Every blob's digest.
    pub fn list(&self) -> Result<Vec<String>, ContentError> {
        let dir = self.root.join("blobs/sha256");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(io_at(&dir))? {
            let name = e
                .map_err(io_at(&dir))?
                .file_name()
                .to_string_lossy()
                .into_owned();
            let d = format!("sha256:{name}");
            if parse_digest(&d).is_ok() {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Re-hashes a blob (`berth system check`).
    pub fn verify(&self, digest: &str) -> Result<(), ContentError> {
        let mut f = self.open_blob(digest)?;
        let mut hasher = Sha256::new();
        io::copy(&mut f, &mut hasher).map_err(io_at(&self.path(digest)?))?;
        let actual = crate::config::digest_string(&hasher.finalize());
        if actual != digest {
            return Err(ContentError::Mismatch {
                expected: digest.into(),
                actual,
            });
        }
        Ok(())
    }

    /// Removes what crashed ingestions left (call before serving).
    pub fn cleanup(&self) -> Result<usize, ContentError> {
        let dir = self.root.join("ingest");
        let mut n = 0;
        for e in fs::read_dir(&dir).map_err(io_at(&dir))? {
            let p = e.map_err(io_at(&dir))?.path();
            if fs::remove_file(&p).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digests() {
        assert!(parse_digest(EMPTY).is_ok());
        for bad in [
            "",
            "sha256:",
            "sha256:E3B0",
            "md5:abc",
            &format!("{EMPTY}0"),
            "sha256:../../etc/passwd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(parse_digest(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ingest_verifies_and_leaves_nothing_on_failure() {
        let d = tempfile::tempdir().unwrap();
        let c = Content::open(d.path()).unwrap();
        let desc = c.ingest(&b"hello"[..], None, 100).unwrap();
        assert_eq!(desc.size, 5);
        assert_eq!(c.read(&desc.digest, 100).unwrap(), b"hello");
        assert!(matches!(
            c.ingest(&b"other"[..], Some(EMPTY), 100),
            Err(ContentError::Mismatch { .. })
        ));
        assert!(!c.exists(EMPTY));
        assert!(matches!(
            c.ingest(&[0u8; 1000][..], None, 999),
            Err(ContentError::TooLarge(999))
        ));
        // A reader that fails half-way.
        struct Broken(usize);
        impl Read for Broken {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("connection reset"));
                }
                self.0 -= 1;
                b[0] = 1;
                Ok(1)
            }
        }
        assert!(c.ingest(Broken(10), None, 100).is_err());
        assert_eq!(c.list().unwrap(), std::slice::from_ref(&desc.digest));
        assert_eq!(
            fs::read_dir(d.path().join("ingest")).unwrap().count(),
            0,
            "temp files removed"
        );
        c.verify(&desc.digest).unwrap();
        fs::write(c.path(&desc.digest).unwrap(), "tampered").unwrap();
        assert!(matches!(
            c.verify(&desc.digest),
            Err(ContentError::Mismatch { .. })
        ));
    }

    #[test]
    fn concurrent_writers_of_one_blob() {
        let d = tempfile::tempdir().unwrap();
        let c = Content::open(d.path()).unwrap();
        let data = vec![7u8; 1 << 20];
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| c.ingest(data.as_slice(), None, 2 << 20).unwrap());
            }
        });
        let list = c.list().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(c.read(&list[0], 2 << 20).unwrap(), data);
    }
}
