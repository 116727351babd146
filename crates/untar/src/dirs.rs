//! Directories opened one component at a time below a root descriptor,
//! never through a symlink: what [`crate::extract`] writes through, and what
//! the store's layer unpacker and walks share.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;

/// Deepest tree walked (levels below the top). A path names at most
/// `PATH_MAX` (4096) bytes, so tools that walk by path (Docker's archive
/// code, `tar`) stop at 2048 levels of one-letter names; this bound is the
/// same, and keeps a walk at 2048 open descriptors at most.
pub const MAX_DEPTH: usize = 2048;

/// Directories opened below a root while extracting a tar, kept along the
/// current path: consecutive entries share most of their parents, so each
/// is opened once, not once per entry below it (a tree thousands of levels
/// deep would otherwise cost depth² opens). Each component is opened
/// `O_NOFOLLOW` from its parent: a symlink on the way is refused, never
/// followed. At most [`MAX_DEPTH`] levels.
pub struct DirCache {
    root: OwnedFd,
    open: Vec<(OsString, OwnedFd)>,
}

/// Why [`DirCache::dir`] could not give a directory.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// The entry is deeper than [`MAX_DEPTH`] levels.
    #[error("it is deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A component on the way is a symlink or a file.
    #[error("goes through {0:?}, which is not a directory")]
    NotADirectory(OsString),
    /// The filesystem failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl DirCache {
    /// A cache below `root` (a readable directory descriptor).
    pub fn new(root: OwnedFd) -> DirCache {
        DirCache {
            root,
            open: Vec::new(),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &OwnedFd {
        &self.root
    }

    /// The directory `parts` below the root, made (0755) where missing
    /// when `create`.
    pub fn dir(&mut self, parts: &[OsString], create: bool) -> Result<&OwnedFd, DirError> {
        if parts.len() > MAX_DEPTH {
            return Err(DirError::TooDeep);
        }
        let common = self
            .open
            .iter()
            .zip(parts)
            .take_while(|((have, _), want)| have == *want)
            .count();
        self.open.truncate(common);
        for p in &parts[common..] {
            let cur = self.open.last().map_or(&self.root, |(_, fd)| fd);
            let next = open_subdir(cur, p, create)?;
            self.open.push((p.clone(), next));
        }
        Ok(self.open.last().map_or(&self.root, |(_, fd)| fd))
    }

    /// Forgets what is open (after an entry replaced a directory).
    pub fn forget(&mut self) {
        self.open.clear();
    }
}

/// Opens (making it when `create` and missing) the directory `name` below
/// `parent`, refusing a symlink or file in its place.
pub fn open_subdir(parent: &OwnedFd, name: &OsStr, create: bool) -> Result<OwnedFd, DirError> {
    use nix::errno::Errno;
    let open = || {
        openat(
            parent.as_fd(),
            name,
            OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
            Mode::empty(),
        )
    };
    match open() {
        Ok(fd) => Ok(fd),
        Err(Errno::ENOENT) if create => {
            match nix::sys::stat::mkdirat(parent.as_fd(), name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(DirError::Io(e.into())),
            }
            open().map_err(|e| match e {
                Errno::ELOOP | Errno::ENOTDIR => DirError::NotADirectory(name.to_os_string()),
                e => DirError::Io(e.into()),
            })
        }
        // O_NOFOLLOW on a symlink: ELOOP; on a file: ENOTDIR.
        Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => {
            Err(DirError::NotADirectory(name.to_os_string()))
        }
        Err(e) => Err(DirError::Io(e.into())),
    }
}
