//! Resolving paths inside the container's root without ever leaving it.
//!
//! Every lookup goes through `openat2(RESOLVE_IN_ROOT)` from a descriptor of the
//! rootfs: `..` stops at the root and absolute symlinks are taken relative to
//! it, so a symlink planted in an image (`/etc -> /host/etc`, `x -> ../../..`)
//! cannot point a mount at the host. What is opened is an `O_PATH` descriptor;
//! mounts then target `/proc/self/fd/N`, the very inode that was checked, so the
//! path cannot be swapped between check and use.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{mkdirat, Mode};

use crate::error::{Error, Result};

/// What to create when the path is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Nothing: a missing path is an error (`ENOENT`).
    No,
    /// Directories all the way.
    Dir,
    /// Directories, then an empty file as the last component.
    File,
}

fn how(dir: bool) -> OpenHow {
    let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    if dir {
        flags |= OFlag::O_DIRECTORY;
    }
    OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// Opens `path` (absolute, as the container sees it) below `root`, creating what
/// is missing as `create` says. Returns an `O_PATH` descriptor.
pub fn open_in_root(root: &OwnedFd, path: &Path, create: Create) -> Result<OwnedFd> {
    let rel = relative(path);
    match openat2(root.as_fd(), &rel, how(false)) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) if create != Create::No => {}
        Err(e) => return Err(Error::sys(format!("open {} in rootfs", path.display()), e)),
    }
    let parts: Vec<_> = rel.components().collect();
    let mut prefix = PathBuf::from(".");
    for (i, part) in parts.iter().enumerate() {
        let Component::Normal(name) = part else {
            continue;
        };
        let parent = openat2(root.as_fd(), &prefix, how(true))
            .map_err(|e| Error::sys(format!("open {} in rootfs", prefix.display()), e))?;
        let last = i + 1 == parts.len();
        let made = if last && create == Create::File {
            openat(
                parent.as_fd(),
                Path::new(name),
                OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o644),
            )
            .map(drop)
        } else {
            mkdirat(parent.as_fd(), Path::new(name), Mode::from_bits_truncate(0o755))
        };
        match made {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(Error::sys(format!("create {} in rootfs", path.display()), e));
            }
        }
        prefix.push(name);
    }
    openat2(root.as_fd(), &rel, how(false))
        .map_err(|e| Error::sys(format!("open {} in rootfs", path.display()), e))
}

/// `/a/b` as `./a/b`, for lookups relative to the root descriptor.
fn relative(path: &Path) -> PathBuf {
    let mut rel = PathBuf::from(".");
    for c in path.components() {
        if let Component::Normal(n) = c {
            rel.push(n);
        }
    }
    rel
}

/// The `/proc/self/fd/N` path that names `fd`, for use as a mount target.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn root(dir: &Path) -> OwnedFd {
        nix::fcntl::open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).unwrap()
    }

    #[test]
    fn creates_dirs_and_files_inside() {
        let d = tempfile::tempdir().unwrap();
        let r = root(d.path());
        open_in_root(&r, Path::new("/a/b/c"), Create::Dir).unwrap();
        assert!(d.path().join("a/b/c").is_dir());
        open_in_root(&r, Path::new("/etc/hosts"), Create::File).unwrap();
        assert!(d.path().join("etc/hosts").is_file());
        assert!(open_in_root(&r, Path::new("/missing"), Create::No).is_err());
    }

    #[test]
    fn symlinks_cannot_leave_the_root() {
        let outside = tempfile::tempdir().unwrap();
        let d = tempfile::tempdir().unwrap();
        let r = root(d.path());
        // An absolute symlink to a host directory and a relative one climbing out.
        symlink(outside.path(), d.path().join("abs")).unwrap();
        symlink("../../../../../../..", d.path().join("up")).unwrap();
        open_in_root(&r, Path::new("/abs/x"), Create::Dir).unwrap();
        open_in_root(&r, Path::new("/up/y"), Create::File).unwrap();
        // Nothing appeared outside; both landed inside the root.
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
        assert!(d.path().join("y").is_file());
        assert!(d.path().join(outside.path().strip_prefix("/").unwrap()).join("x").is_dir());
    }
}
