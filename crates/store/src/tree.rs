//! An unpacked layer's fingerprint, and its flush to disk.
//!
//! The fingerprint is the sha256 of a listing of the tree: every entry's
//! path (sorted, bytewise), type, mode, owner, and for what is not a
//! directory its size, device number, mtime and link target, plus every
//! entry's extended attributes (the overlay whiteout marks among them). It
//! is taken when a layer is unpacked and kept in the layer's record, so that
//! `system check` can tell a whole layer directory from one a crash cut
//! short (a removal that stopped half-way, files a power cut left empty),
//! and so that a directory no record names is only reused when it matches
//! what was just unpacked. File contents are not hashed: reading every
//! layer back would cost as much as the unpack; a same-size file with other
//! bytes is what neither `kill -9` nor a power cut after the sync makes.
//!
//! The walk never follows a symlink: entries are read with `lstat`, and a
//! directory is entered only when `lstat` says it is one (the tree is ours,
//! nobody changes it while it is walked).

use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// How a layer's files reach the disk before the layer is renamed into
/// place (and so before any record names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Not flushed: scratch trees (an archive unpacked to be read once).
    None,
    /// One `syncfs(2)` of the filesystem holding the layer, as containerd's
    /// `sync_fs` unpack option does: one flush, whatever the file count
    /// (but it also flushes other writers' dirty data on that filesystem).
    Syncfs,
    /// `fsync(2)` of every file and directory of the layer.
    Fsync,
}

/// Most xattr bytes listed per entry (names and values): an entry carries a
/// few (capabilities, the opaque mark); the kernel's own limit is 64 KiB.
const MAX_XATTR_LIST: usize = 64 << 10;

/// The fingerprint of the tree at `root` (`sha256:<hex>`), and the number of
/// entries in it; with [`Durability::Fsync`], every entry is fsynced on the
/// way.
pub fn fingerprint(root: &Path, durability: Durability) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut count = 0u64;
    let fsync = durability == Durability::Fsync;
    walk(root, &mut PathBuf::new(), &mut hasher, &mut count, fsync)?;
    if fsync {
        fs::File::open(root)?.sync_all()?;
    }
    Ok((crate::config::digest_string(&hasher.finalize()), count))
}

/// Flushes the layer at `root` to disk as `durability` says (the fsync of
/// each entry happens during [`fingerprint`]; this is the rest).
pub fn flush(root: &Path, durability: Durability) -> io::Result<()> {
    match durability {
        Durability::None | Durability::Fsync => Ok(()),
        Durability::Syncfs => {
            let dir = fs::File::open(root)?;
            rustix::fs::syncfs(dir.as_fd()).map_err(io::Error::from)
        }
    }
}

fn walk(
    root: &Path,
    rel: &mut PathBuf,
    hasher: &mut Sha256,
    count: &mut u64,
    fsync: bool,
) -> io::Result<()> {
    let dir = root.join(&*rel);
    let mut names: Vec<_> = fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        rel.push(&name);
        let path = root.join(&*rel);
        let md = fs::symlink_metadata(&path)?;
        let ft = md.file_type();
        *count += 1;
        hasher.update(rel.as_os_str().as_bytes());
        hasher.update([0]);
        let kind = if ft.is_dir() {
            'd'
        } else if ft.is_file() {
            'f'
        } else if ft.is_symlink() {
            'l'
        } else if ft.is_char_device() {
            'c'
        } else if ft.is_block_device() {
            'b'
        } else if ft.is_fifo() {
            'p'
        } else {
            's'
        };
        hasher.update(format!(
            "{kind} {:o} {} {}",
            md.mode() & 0o7777,
            md.uid(),
            md.gid()
        ));
        if !ft.is_dir() {
            // A directory's size and mtime change with its entries' lives
            // on some filesystems; what it holds is listed anyway.
            hasher.update(format!(" {} {} {}", md.size(), md.rdev(), md.mtime()));
        }
        if ft.is_symlink() {
            hasher.update([0]);
            hasher.update(fs::read_link(&path)?.as_os_str().as_bytes());
        }
        hash_xattrs(&path, hasher)?;
        hasher.update(b"\n");
        if ft.is_dir() {
            walk(root, rel, hasher, count, fsync)?;
            if fsync {
                fs::File::open(&path)?.sync_all()?;
            }
        } else if fsync && ft.is_file() {
            fs::File::open(&path)?.sync_all()?;
        }
        rel.pop();
    }
    Ok(())
}

fn hash_xattrs(path: &Path, hasher: &mut Sha256) -> io::Result<()> {
    let mut list = vec![0u8; 1024];
    let n = loop {
        match rustix::fs::llistxattr(path, &mut list[..]) {
            Ok(n) => break n,
            Err(rustix::io::Errno::RANGE) if list.len() < MAX_XATTR_LIST => {
                list.resize(list.len() * 4, 0)
            }
            // No xattrs on this filesystem (tmpfs without them, say).
            Err(rustix::io::Errno::NOTSUP) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    };
    let mut names: Vec<&[u8]> = list[..n]
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .collect();
    names.sort();
    let mut value = vec![0u8; 1024];
    for name in names {
        let name_c = std::ffi::CString::new(name).map_err(io::Error::other)?;
        let len = loop {
            match rustix::fs::lgetxattr(path, name_c.as_c_str(), &mut value[..]) {
                Ok(len) => break len,
                Err(rustix::io::Errno::RANGE) if value.len() < MAX_XATTR_LIST => {
                    value.resize(value.len() * 4, 0)
                }
                Err(e) => return Err(e.into()),
            }
        };
        hasher.update([0]);
        hasher.update(name);
        hasher.update(b"=");
        hasher.update(&value[..len]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_sees_a_missing_entry_a_truncated_file_and_a_mode() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/f"), b"hello").unwrap();
        fs::write(root.join("g"), b"x").unwrap();
        std::os::unix::fs::symlink("a/b/f", root.join("l")).unwrap();
        let (base, n) = fingerprint(root, Durability::None).unwrap();
        assert_eq!(n, 5);
        assert_eq!(fingerprint(root, Durability::Fsync).unwrap().0, base);
        // Unchanged: same fingerprint; then each kind of damage changes it.
        fs::write(root.join("a/b/f"), b"hell").unwrap();
        let t = filetime(&root.join("g"));
        set_mtime(&root.join("a/b/f"), t);
        set_mtime(&root.join("g"), t);
        assert_ne!(fingerprint(root, Durability::None).unwrap().0, base);
        fs::remove_file(root.join("a/b/f")).unwrap();
        assert_ne!(fingerprint(root, Durability::None).unwrap().0, base);
        fs::write(root.join("a/b/f"), b"hello").unwrap();
        fs::set_permissions(
            root.join("g"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        assert_ne!(fingerprint(root, Durability::None).unwrap().0, base);
    }

    fn filetime(p: &Path) -> i64 {
        fs::metadata(p).unwrap().mtime()
    }

    fn set_mtime(p: &Path, secs: i64) {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
        fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
}
