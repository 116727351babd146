//! Opening a path inside a container's root, symlinks resolved inside it.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, FileStat, Mode};

use super::ArchiveError;
use crate::EngineError;

use super::root::Root;

/// A path opened inside a container's root.
pub(super) struct Opened {
    /// An `O_PATH` descriptor of it (of the link itself for a symlink).
    pub(super) fd: OwnedFd,
    /// The name its entries take in a tar (`.` for `dir/.`).
    pub(super) base: String,
    /// For a symlink: its target as stored, and the path it resolves to
    /// inside the root (Docker's `linkTarget`).
    pub(super) link: Option<(PathBuf, String)>,
}

/// Opens `path` inside the root. A symlink named by the path's last
/// component is opened itself, as Docker's archive routes take it (`cp
/// -L` follows it through the `linkTarget` of the stat) unless
/// `follow_last`; symlinks on the way there are resolved inside the root.
pub(super) fn open_path(root: &Root, path: &str, follow_last: bool) -> Result<Opened, EngineError> {
    use runtime::rootfs::resolve::{open_in_root, Create};
    if path.is_empty() {
        return Err(ArchiveError::Invalid("a path is required".into()).into());
    }
    let p = Path::new(path);
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        Path::new("/").join(p)
    };
    let not_found = |e: runtime::Error| {
        if e.to_string().contains("No such file") || e.to_string().contains("ENOENT") {
            ArchiveError::NoSuchPath(path.to_string())
        } else {
            ArchiveError::sys(e)
        }
    };
    // `dir/.` means the directory's contents: its entries are `./…`.
    let dot = path == "." || path.ends_with("/.");
    let base = if dot {
        ".".to_string()
    } else {
        p.file_name()
            .map_or_else(|| ".".to_string(), |n| n.to_string_lossy().into_owned())
    };
    if !follow_last && !dot && !path.ends_with('/') {
        if let (Some(parent), Some(name)) = (p.parent(), p.file_name()) {
            let dir = open_in_root(&root.fd, parent, Create::No).map_err(not_found)?;
            if let Ok(target) = nix::fcntl::readlinkat(&dir, name) {
                let fd = openat(
                    &dir,
                    name,
                    OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(ArchiveError::sys)?;
                let resolved = resolve_in_root(root, &p);
                return Ok(Opened {
                    fd,
                    base,
                    link: Some((PathBuf::from(target), resolved)),
                });
            }
        }
    }
    let fd = open_in_root(&root.fd, &p, Create::No).map_err(not_found)?;
    Ok(Opened {
        fd,
        base,
        link: None,
    })
}

/// The path `p` comes to inside the root once every symlink in it is
/// followed (absolute targets from the root, `..` stopping there), as
/// text; what does not exist is taken as it is written.
fn resolve_in_root(root: &Root, p: &Path) -> String {
    use std::collections::VecDeque;
    let mut pending: VecDeque<std::ffi::OsString> = p
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_os_string()),
            std::path::Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut cur = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            cur.pop();
            continue;
        }
        let dir = runtime::rootfs::resolve::open_in_root(
            &root.fd,
            &cur,
            runtime::rootfs::resolve::Create::No,
        );
        match dir
            .ok()
            .and_then(|d| nix::fcntl::readlinkat(&d, name.as_os_str()).ok())
        {
            Some(target) if links < 40 => {
                links += 1;
                let target = PathBuf::from(target);
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                for c in target.components().rev() {
                    match c {
                        std::path::Component::Normal(n) => pending.push_front(n.to_os_string()),
                        std::path::Component::ParentDir => pending.push_front("..".into()),
                        _ => {}
                    }
                }
            }
            _ => cur.push(name),
        }
    }
    cur.to_string_lossy().into_owned()
}

/// Opens `path` inside the root `root` (an `O_PATH` directory; symlinks
/// followed inside it, never out of it) as an `O_PATH` descriptor, with its
/// stat. `Ok(None)`: no such path.
pub(crate) fn open_source(
    root: &OwnedFd,
    path: &Path,
) -> Result<Option<(OwnedFd, FileStat)>, EngineError> {
    use runtime::rootfs::resolve::{open_in_root, Create};
    let fd = match open_in_root(root, path, Create::No) {
        Ok(fd) => fd,
        Err(e) if e.to_string().contains("No such file") || e.to_string().contains("ENOENT") => {
            return Ok(None)
        }
        Err(e) => return Err(ArchiveError::sys(e).into()),
    };
    let st = fstat(&fd).map_err(ArchiveError::sys)?;
    Ok(Some((fd, st)))
}
