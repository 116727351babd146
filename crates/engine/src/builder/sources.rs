//! What `COPY`/`ADD` copies, written as a tar, and the hash of its content for the cache key.

use std::io::{Read, Seek, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use sha2::Digest;

use super::*;
use crate::archive::{append_opened, open_source, reopen};
use crate::EngineError;

/// The sha256 hex of some bytes.
pub(super) fn hex(bytes: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// What a COPY/ADD copies, ready to be written as a tar.
pub(super) struct Sources<'a> {
    /// Paths in the source root (or URLs), in order.
    pub(super) sources: &'a [(String, bool)],
    /// The bodies of the URLs among them.
    pub(super) fetched: &'a [Option<Fetched>],
    /// Here-documents: (name, body).
    pub(super) heredocs: &'a [(String, String)],
    pub(super) src_root: &'a OwnedFd,
    /// ADD from the context: local archives are unpacked, not copied.
    pub(super) unpack_archives: bool,
    pub(super) what: &'a str,
}

impl Sources<'_> {
    /// Appends every source; a file takes `single` as its name when given
    /// (one source onto a file path), a directory's contents go in as they
    /// are. Returns each source's kind and the archives ADD unpacks.
    pub(super) fn append<W: Write>(
        &self,
        tar: &mut tar::Builder<W>,
        single: Option<&str>,
    ) -> Result<(Vec<&'static str>, Vec<std::fs::File>), EngineError> {
        let mut kinds = Vec::new();
        let mut archives = Vec::new();
        for ((src, _), fetched) in self.sources.iter().zip(self.fetched) {
            if let Some(f) = fetched {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o600);
                h.set_size(f.size);
                h.set_mtime(0);
                let mut body = &f.file;
                body.rewind().map_err(BuildError::sys)?;
                tar.append_data(&mut h, single.unwrap_or(&f.name), body.take(f.size))
                    .map_err(BuildError::sys)?;
                kinds.push("file");
                continue;
            }
            // Resolved inside the source root, symlinks followed only
            // within it (Docker's FollowSymlinkInScope): the context is
            // the client's, the files around it the daemon host's.
            let Some((fd, st)) = open_source(self.src_root, &Path::new("/").join(src))? else {
                return Err(BuildError::Invalid(format!(
                    "{} failed: file not found in build context or excluded by .dockerignore: stat {src}: file does not exist",
                    self.what
                )).into());
            };
            let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
            if self.unpack_archives && st.st_mode & libc::S_IFMT == libc::S_IFREG {
                let mut f = std::fs::File::from(reopen(&fd, OFlag::O_RDONLY)?);
                if is_archive(&mut f) {
                    archives.push(f);
                    kinds.push("file");
                    continue;
                }
            }
            let top = if is_dir {
                PathBuf::from(".")
            } else {
                PathBuf::from(single.map(String::from).unwrap_or_else(|| {
                    Path::new(src)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                }))
            };
            kinds.push(if is_dir { "dir" } else { "file" });
            append_opened(tar, &fd, &st, &top, src)?;
        }
        for (name, body) in self.heredocs {
            let mut hd = tar::Header::new_gnu();
            hd.set_entry_type(tar::EntryType::Regular);
            hd.set_mode(0o644);
            hd.set_size(body.len() as u64);
            hd.set_mtime(0);
            tar.append_data(&mut hd, single.unwrap_or(name), body.as_bytes())
                .map_err(BuildError::sys)?;
            kinds.push("file");
        }
        Ok((kinds, archives))
    }
}

/// Hashes a tar stream as it is written, with each header's mtime and
/// checksum left out: the cache follows content, not mtimes.
#[derive(Default)]
pub(super) struct TarHash {
    pub(super) h: sha2::Sha256,
    pub(super) header: Vec<u8>,
    /// Data bytes (padded to 512) of the current entry still to come.
    pub(super) remaining: u64,
}

/// A tar header's size field: octal text, or GNU's base-256.
pub(super) fn tar_size(field: &[u8]) -> u64 {
    if field[0] & 0x80 != 0 {
        field[1..].iter().fold(0u64, |n, &b| {
            n.saturating_mul(256).saturating_add(u64::from(b))
        })
    } else {
        let text: String = field
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| b as char)
            .collect();
        u64::from_str_radix(text.trim(), 8).unwrap_or(0)
    }
}

impl Write for TarHash {
    fn write(&mut self, mut buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            if self.remaining > 0 {
                let k = (self.remaining.min(buf.len() as u64)) as usize;
                self.h.update(&buf[..k]);
                self.remaining -= k as u64;
                buf = &buf[k..];
                continue;
            }
            let k = (512 - self.header.len()).min(buf.len());
            self.header.extend_from_slice(&buf[..k]);
            buf = &buf[k..];
            if self.header.len() == 512 {
                let mut block = std::mem::take(&mut self.header);
                if block.iter().any(|&b| b != 0) {
                    let size = tar_size(&block[124..136]);
                    block[136..156].fill(0);
                    self.remaining = size.div_ceil(512) * 512;
                }
                self.h.update(&block);
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tar_hash_tests {
    use super::*;

    pub(super) fn hash_of(entries: &[(&str, &[u8], u64)]) -> String {
        let mut h = TarHash::default();
        {
            let mut tar = tar::Builder::new(&mut h);
            for (name, data, mtime) in entries {
                let mut hd = tar::Header::new_gnu();
                hd.set_entry_type(tar::EntryType::Regular);
                hd.set_mode(0o644);
                hd.set_size(data.len() as u64);
                hd.set_mtime(*mtime);
                tar.append_data(&mut hd, name, *data).unwrap();
            }
            tar.finish().unwrap();
        }
        format!("{:x}", h.h.finalize())
    }

    #[test]
    pub(super) fn mtimes_do_not_count_content_does() {
        let a = hash_of(&[("a", b"one", 1), ("b", &[7u8; 1000], 2)]);
        assert_eq!(a, hash_of(&[("a", b"one", 99), ("b", &[7u8; 1000], 12345)]));
        assert_ne!(a, hash_of(&[("a", b"one", 1), ("b", &[8u8; 1000], 2)]));
        assert_ne!(a, hash_of(&[("a", b"onf", 1), ("b", &[7u8; 1000], 2)]));
        assert_ne!(a, hash_of(&[("c", b"one", 1), ("b", &[7u8; 1000], 2)]));
        let long = "d/".repeat(80) + "f";
        assert_eq!(
            hash_of(&[(long.as_str(), b"x", 1)]),
            hash_of(&[(long.as_str(), b"x", 2)])
        );
    }

    #[test]
    pub(super) fn sizes_in_both_encodings() {
        assert_eq!(tar_size(b"00000001750\0"), 1000);
        let mut b = [0u8; 12];
        b[0] = 0x80;
        b[11] = 0x10;
        b[10] = 0x01;
        assert_eq!(tar_size(&b), 0x110);
    }
}
