//! Extracting a hostile tar below a directory descriptor (the copy's
//! `PUT`, and the builder's `COPY`/`ADD`).

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};

use super::ArchiveError;
use crate::EngineError;

use super::kind;

/// Who owns what [`extract_into`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// root (`docker cp` without `-a`, `COPY` without `--chown`).
    Root,
    /// The ids in the tar (`cp -a`, `ADD` of an archive).
    FromTar,
    /// These ids (`COPY --chown`).
    Fixed(u32, u32),
}

/// Extracts a tar below the directory `dest`: every entry is created
/// relative to a directory descriptor, each parent opened `O_NOFOLLOW` (a
/// symlink on the way is refused, not followed), and `..` or absolute
/// entry names are refused; hardlinks must name an entry below `dest`.
/// `chmod` replaces every entry's mode (`COPY --chmod`).
pub(crate) fn extract_into(
    dest: &OwnedFd,
    tar: impl Read,
    owner: Owner,
    chmod: Option<u32>,
) -> Result<(), EngineError> {
    // The same bounds as a layer's: a small compressed upload may expand
    // to any size (a decompression bomb) or name millions of entries.
    let mut archive = untar::Archive::new(Bounded {
        inner: tar,
        left: store::layer::MAX_BYTES + store::layer::MAX_ENTRIES * 1024,
    });
    // The directories along the last entry's path stay open: a deep tree
    // costs one open per directory, not one per entry and level.
    let mut dirs_open = store::walk::DirCache::new(dest.try_clone().map_err(ArchiveError::sys)?);
    let mut count = 0u64;
    while let Some(mut entry) = archive.next_entry().map_err(|e| bad_tar(e.to_string()))? {
        count += 1;
        if count > store::layer::MAX_ENTRIES {
            return Err(bad_tar(format!(
                "more than {} entries",
                store::layer::MAX_ENTRIES
            )));
        }
        let name = PathBuf::from(OsStr::from_bytes(entry.path_bytes()));
        let parts = entry_parts(&name)?;
        let parts: Vec<&OsStr> = parts.iter().map(|p| p.as_os_str()).collect();
        let Some((last, dirs)) = parts.split_last() else {
            continue;
        };
        let owned: Vec<std::ffi::OsString> = dirs.iter().map(|d| d.to_os_string()).collect();
        let parent = dirs_open
            .dir(&owned, true)
            .and_then(|fd| Ok(fd.try_clone()?))
            .map_err(|e| dir_error(&name, e))?;
        let (uid, gid) = match owner {
            Owner::Root => (0, 0),
            Owner::FromTar => (entry.uid() as u32, entry.gid() as u32),
            Owner::Fixed(u, g) => (u, g),
        };
        let mode = Mode::from_bits_truncate(chmod.unwrap_or(entry.mode()) & 0o7777);
        let own = |fd: &OwnedFd| {
            crate::error::ignore(
                format_args!("chown to {uid}:{gid} while extracting"),
                nix::unistd::fchown(
                    fd,
                    Some(nix::unistd::Uid::from_raw(uid)),
                    Some(nix::unistd::Gid::from_raw(gid)),
                ),
            );
            crate::error::ignore("chmod while extracting", nix::sys::stat::fchmod(fd, mode));
        };
        match entry.kind() {
            tar::EntryType::Directory => {
                let d = subdir(&parent, last)?;
                own(&d);
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let file = write_file(&parent, last, &name, &mut entry)?;
                // After the data: a setuid bit survives only the owner's chown.
                own(&file);
            }
            tar::EntryType::Symlink => {
                let target =
                    PathBuf::from(OsStr::from_bytes(entry.link_bytes().ok_or_else(|| {
                        bad_tar(format!("symlink {} has no target", name.display()))
                    })?));
                remove_non_dir(&parent, last);
                nix::unistd::symlinkat(target.as_path(), &parent, *last)
                    .map_err(|e| ArchiveError::failed(format!("symlink {}", name.display()), e))?;
                crate::error::ignore(
                    format_args!("chown symlink {}", name.display()),
                    nix::unistd::fchownat(
                        &parent,
                        *last,
                        Some(nix::unistd::Uid::from_raw(uid)),
                        Some(nix::unistd::Gid::from_raw(gid)),
                        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                    ),
                );
            }
            tar::EntryType::Link => {
                let target =
                    PathBuf::from(OsStr::from_bytes(entry.link_bytes().ok_or_else(|| {
                        bad_tar(format!("hardlink {} has no target", name.display()))
                    })?));
                hardlink(&mut dirs_open, &parent, last, &name, &target)?;
            }
            other => {
                return Err(bad_tar(format!(
                    "entry {} is a {other:?}, which copies do not take",
                    name.display()
                )))
            }
        }
    }
    Ok(())
}

/// An entry's name as path components below the destination (`.` left
/// out); `..`, an absolute name or anything else is refused.
fn entry_parts(name: &Path) -> Result<Vec<std::ffi::OsString>, EngineError> {
    let mut parts = Vec::new();
    for comp in name.components() {
        match comp {
            std::path::Component::Normal(n) => parts.push(n.to_os_string()),
            std::path::Component::CurDir => {}
            _ => {
                return Err(bad_tar(format!(
                    "entry {} leaves the destination",
                    name.display()
                )))
            }
        }
    }
    Ok(parts)
}

/// Writes a regular file `last` below `parent` (`name`: the entry's name,
/// for errors) with the entry's data; returns it, for its owner and mode.
fn write_file(
    parent: &OwnedFd,
    last: &OsStr,
    name: &Path,
    data: &mut impl Read,
) -> Result<OwnedFd, EngineError> {
    remove_non_dir(parent, last);
    // O_NONBLOCK: a FIFO the container puts here meanwhile
    // must not hold this thread (opening one to write waits for
    // a reader); it is refused below.
    let f = openat(
        parent,
        last,
        OFlag::O_WRONLY
            | OFlag::O_CREAT
            | OFlag::O_TRUNC
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| ArchiveError::failed(format!("create {}", name.display()), e))?;
    if fstat(&f).map(|st| kind(&st)).ok() != Some(SFlag::S_IFREG) {
        return Err(
            ArchiveError::sys(format!("create {}: not a regular file", name.display())).into(),
        );
    }
    let mut file = std::fs::File::from(f);
    std::io::copy(data, &mut file)
        .map_err(|e| ArchiveError::failed(format!("write {}", name.display()), e))?;
    Ok(OwnedFd::from(file))
}

/// Links `last` below `parent` to `target`, an entry below the
/// destination (its directories opened as the entries' are).
fn hardlink(
    dirs_open: &mut store::walk::DirCache,
    parent: &OwnedFd,
    last: &OsStr,
    name: &Path,
    target: &Path,
) -> Result<(), EngineError> {
    let tparts = entry_parts(target)?;
    let tparts: Vec<&OsStr> = tparts.iter().map(|p| p.as_os_str()).collect();
    let Some((tlast, tdirs)) = tparts.split_last() else {
        return Err(bad_tar(format!(
            "hardlink {} names no file",
            name.display()
        )));
    };
    let towned: Vec<std::ffi::OsString> = tdirs.iter().map(|d| d.to_os_string()).collect();
    let tparent = dirs_open
        .dir(&towned, true)
        .and_then(|fd| Ok(fd.try_clone()?))
        .map_err(|e| dir_error(target, e))?;
    remove_non_dir(parent, last);
    nix::unistd::linkat(&tparent, *tlast, parent, last, nix::fcntl::AtFlags::empty())
        .map_err(|e| ArchiveError::failed(format!("hardlink {}", name.display()), e))?;
    Ok(())
}

/// A reader that fails past `left` bytes (not a silent cut, which would
/// read as a truncated tar).
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::other("the archive exceeds its size limit uncompressed")
        })?;
        Ok(n)
    }
}

pub(super) fn bad_tar(msg: String) -> EngineError {
    ArchiveError::BadArchive(msg).into()
}

/// Opens (making it if missing) directory `name` below `parent`, refusing
/// a symlink in its place.
fn subdir(parent: &OwnedFd, name: &OsStr) -> Result<OwnedFd, EngineError> {
    match nix::sys::stat::mkdirat(parent, name, Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => {
            return Err(ArchiveError::failed(format!("mkdir {}", name.to_string_lossy()), e).into())
        }
    }
    openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        ArchiveError::Invalid(format!(
            "{}: not a directory here ({e}); berth does not write through symlinks",
            name.to_string_lossy()
        ))
    })
    .map_err(EngineError::from)
}

/// An entry's directory could not be had.
fn dir_error(entry: &Path, e: store::walk::DirError) -> EngineError {
    use store::walk::DirError;
    match e {
        DirError::Io(e) => ArchiveError::failed(entry.display().to_string(), e).into(),
        DirError::NotADirectory(n) => ArchiveError::Invalid(format!(
            "{}: not a directory here; berth does not write through symlinks",
            n.to_string_lossy()
        ))
        .into(),
        e => bad_tar(format!("entry {}: {e}", entry.display())),
    }
}

/// Makes room for a file or link: whatever non-directory is there goes.
fn remove_non_dir(parent: &OwnedFd, name: &OsStr) {
    // Nothing there (ENOENT) is the common case, and a directory (EISDIR) is
    // left for the create after this to refuse with its own error.
    let _ = nix::unistd::unlinkat(parent, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
}
