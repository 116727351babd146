//! Resolving paths inside the container's root without ever leaving it.
//!
//! Every lookup goes through `openat2(RESOLVE_IN_ROOT)` from a descriptor of the
//! rootfs: `..` stops at the root and absolute symlinks are taken relative to
//! it, so a symlink planted in an image (`/etc -> /host/etc`, `x -> ../../..`)
//! cannot point a mount at the host. What is opened is an `O_PATH` descriptor;
//! mounts then target `/proc/self/fd/N`, the very inode that was checked, so the
//! path cannot be swapped between check and use.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::readlinkat;
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

/// Most symlinks followed in one lookup, as the kernel's `MAXSYMLINKS`.
const MAX_LINKS: usize = 40;

/// Opens `path` (absolute, as the container sees it) below `root`, creating what
/// is missing as `create` says. Returns an `O_PATH` descriptor.
///
/// Creation walks the path one component at a time, expanding symlinks itself
/// (absolute targets restart at the root, `..` stops there), so a dangling
/// symlink such as `/evil -> /host/dir` gets its target made inside the rootfs.
/// The final open is again `RESOLVE_IN_ROOT`.
pub fn open_in_root(root: &OwnedFd, path: &Path, create: Create) -> Result<OwnedFd> {
    let rel = relative(path);
    match openat2(root.as_fd(), &rel, how(false)) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) if create != Create::No => {}
        Err(e) => return Err(Error::sys(format!("open {} in rootfs", path.display()), e)),
    }
    let err = |op: &str, e: Errno| Error::sys(format!("{op} {} in rootfs", path.display()), e);
    let mut pending: VecDeque<OsString> = components(path);
    // `cur` never contains a symlink, so popping it is what `..` means.
    let mut cur = PathBuf::from(".");
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            if cur != Path::new(".") {
                cur.pop();
            }
            continue;
        }
        let parent = openat2(root.as_fd(), &cur, how(true)).map_err(|e| err("open", e))?;
        match readlinkat(parent.as_fd(), Path::new(&name)) {
            Ok(target) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(err("resolve", Errno::ELOOP));
                }
                let target = PathBuf::from(target);
                if target.is_absolute() {
                    cur = PathBuf::from(".");
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => pending.push_front(n.to_os_string()),
                        Component::ParentDir => pending.push_front("..".into()),
                        _ => {}
                    }
                }
                continue;
            }
            Err(Errno::EINVAL) => {} // exists, not a symlink
            Err(Errno::ENOENT) => {
                let made = if pending.is_empty() && create == Create::File {
                    openat(
                        parent.as_fd(),
                        Path::new(&name),
                        OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_WRONLY
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map(drop)
                } else {
                    mkdirat(
                        parent.as_fd(),
                        Path::new(&name),
                        Mode::from_bits_truncate(0o755),
                    )
                };
                match made {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(err("create", e)),
                }
            }
            Err(e) => return Err(err("read link", e)),
        }
        cur.push(&name);
    }
    openat2(root.as_fd(), &cur, how(false)).map_err(|e| err("open", e))
}

fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
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
        nix::fcntl::open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
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
        // A dangling absolute link gets its target made inside.
        symlink("/made/here", d.path().join("dangling")).unwrap();
        open_in_root(&r, Path::new("/dangling/z"), Create::Dir).unwrap();
        assert!(d.path().join("made/here/z").is_dir());
        // Nothing appeared outside; both landed inside the root.
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
        assert!(d.path().join("y").is_file());
        assert!(d
            .path()
            .join(outside.path().strip_prefix("/").unwrap())
            .join("x")
            .is_dir());
    }
}
