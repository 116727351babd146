//! Walking a directory tree that someone else may be changing: a running
//! container's writable layer during `commit --pause=false`, its root during
//! `docker cp`, an image's files during `export`.
//!
//! Nothing here follows a path on the host side. Every entry is opened
//! `O_PATH | O_NOFOLLOW` relative to its parent's descriptor and everything
//! read about it (its stat, its data, its link target, its xattrs) comes
//! from that descriptor, so a directory swapped for a symlink mid-walk is
//! seen as the symlink it has become, never followed (the CVE-2018-15664
//! class). The walk is iterative, one open descriptor per level, and bounded
//! at [`MAX_DEPTH`] levels: a tree of thousands of levels no longer
//! overflows a 2 MiB thread's stack (issue 15).

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};

/// Deepest tree walked or extracted: [`untar::dirs::MAX_DEPTH`].
pub use untar::dirs::MAX_DEPTH;

/// Why a walk stopped.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// The tree goes deeper than [`MAX_DEPTH`].
    #[error("{path}: the directory tree is deeper than {MAX_DEPTH} levels")]
    TooDeep {
        /// The directory at the bound, relative to the top.
        path: PathBuf,
    },
    /// The filesystem failed.
    #[error("{path}: {source}")]
    Io {
        /// Relative to the top.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl From<WalkError> for io::Error {
    fn from(e: WalkError) -> io::Error {
        match e {
            WalkError::Io { source, path } => {
                io::Error::new(source.kind(), format!("{}: {source}", path.display()))
            }
            e => io::Error::other(e.to_string()),
        }
    }
}

/// One entry met by [`walk`], opened.
pub struct Node<'a> {
    /// Its path relative to the top.
    pub rel: &'a Path,
    /// Its name in its directory.
    pub name: &'a OsStr,
    /// An `O_PATH` descriptor of the entry itself (the link itself for a
    /// symlink).
    pub fd: &'a OwnedFd,
    /// Its stat, from `fd`.
    pub stat: &'a FileStat,
    /// Levels below the top (1 for the top's own entries).
    pub depth: usize,
}

impl Node<'_> {
    /// The entry's type.
    pub fn kind(&self) -> SFlag {
        kind(self.stat)
    }
}

/// The type bits of a stat.
pub fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Opens again what an `O_PATH` descriptor names: the very inode checked,
/// not a path that may have been swapped since.
pub fn reopen(fd: &OwnedFd, flags: OFlag) -> io::Result<OwnedFd> {
    nix::fcntl::open(
        Path::new(&format!("/proc/self/fd/{}", fd.as_raw_fd())),
        flags | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

/// What the visitor wants done with a directory it was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Descend {
    /// Walk into it.
    Yes,
    /// Leave its contents alone.
    No,
}

struct Frame {
    dir: OwnedFd,
    rel: PathBuf,
    names: std::vec::IntoIter<OsString>,
}

/// The names in the directory `dir` (readable descriptor), sorted by bytes.
pub fn sorted_names(dir: &OwnedFd) -> io::Result<Vec<OsString>> {
    let fd = reopen(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
    let mut d = nix::dir::Dir::from_fd(fd).map_err(io::Error::from)?;
    let mut names = Vec::new();
    for e in d.iter() {
        let e = e.map_err(io::Error::from)?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// Walks the tree below the directory `top` (any descriptor of it) depth
/// first, entries of each directory in name order, showing `visit` every
/// entry opened `O_PATH | O_NOFOLLOW` from its parent. An entry that
/// vanished between the listing and its open is skipped. The visitor says
/// whether to enter a directory.
pub fn walk<E: From<WalkError>>(
    top: &OwnedFd,
    mut visit: impl FnMut(&Node<'_>) -> Result<Descend, E>,
) -> Result<(), E> {
    let io_at = |rel: &Path| {
        let path = rel.to_path_buf();
        move |source: io::Error| WalkError::Io { path, source }
    };
    let top = top.try_clone().map_err(io_at(Path::new("")))?;
    let names = sorted_names(&top).map_err(io_at(Path::new("")))?;
    let mut stack = vec![Frame {
        dir: top,
        rel: PathBuf::new(),
        names: names.into_iter(),
    }];
    while let Some(frame) = stack.last_mut() {
        let Some(name) = frame.names.next() else {
            stack.pop();
            continue;
        };
        let rel = frame.rel.join(&name);
        let fd = match openat(
            frame.dir.as_fd(),
            name.as_os_str(),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(io_at(&rel)(e.into()).into()),
        };
        let stat = fstat(&fd).map_err(|e| io_at(&rel)(e.into()))?;
        let depth = stack.len();
        let node = Node {
            rel: &rel,
            name: &name,
            fd: &fd,
            stat: &stat,
            depth,
        };
        if visit(&node)? == Descend::No || kind(&stat) != SFlag::S_IFDIR {
            continue;
        }
        if depth >= MAX_DEPTH {
            return Err(WalkError::TooDeep { path: rel }.into());
        }
        let names = sorted_names(&fd).map_err(io_at(&rel))?;
        stack.push(Frame {
            dir: fd,
            rel,
            names: names.into_iter(),
        });
    }
    Ok(())
}

/// The extended attributes of what `fd` (any descriptor, `O_PATH` too)
/// names, sorted by name; read through `/proc/self/fd`, which reaches a
/// symlink itself when the descriptor is of the link.
pub fn xattrs(fd: &OwnedFd) -> io::Result<Vec<(String, Vec<u8>)>> {
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let mut names = vec![0u8; 64 << 10];
    let n = match rustix::fs::listxattr(path.as_str(), &mut names) {
        Ok(n) => n,
        Err(e) if e == rustix::io::Errno::NOTSUP => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let mut value = vec![0u8; 64 << 10];
        let len = match rustix::fs::getxattr(path.as_str(), name.as_str(), &mut value) {
            Ok(len) => len,
            // Removed since the listing.
            Err(e) if e == rustix::io::Errno::NODATA => continue,
            Err(e) => return Err(e.into()),
        };
        value.truncate(len);
        out.push((name, value));
    }
    out.sort();
    Ok(out)
}

/// Exactly `size` bytes of `r`: cut there if it grew, padded with zeros if
/// it shrank since it was stat'ed (a tar entry's data must match its header).
pub fn exactly<R: Read>(r: R, size: u64) -> impl Read {
    r.take(size).chain(io::repeat(0)).take(size)
}

/// Directories opened one component at a time: the extractor's, shared.
pub use untar::dirs::{open_subdir, DirCache, DirError};

/// Removes the tree at `path` (a directory with all below it, or a single
/// file), iteratively: `std::fs::remove_dir_all` recurses once per level
/// and overflows a 2 MiB thread's stack on a tree some 30,000 levels deep,
/// which a container can make in its layer. At most two descriptors are
/// open: the walk goes back up through `..`, checked to be the directory
/// it came down from (nothing else may change a tree being removed: it is
/// the daemon's, of a container that no longer runs). Entries already gone
/// are no error.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    use nix::errno::Errno;
    use nix::unistd::{unlinkat, UnlinkatFlags};
    let (Some(parent_path), Some(top_name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::other(format!(
            "{}: not removable",
            path.display()
        )));
    };
    let parent_path = if parent_path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent_path
    };
    let top_parent = nix::fcntl::open(
        parent_path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)?;
    match unlinkat(&top_parent, top_name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => return Ok(()),
        Err(Errno::EISDIR) => {}
        Err(e) => return Err(e.into()),
    }
    struct Level {
        /// Its name in its parent, and its parent's identity.
        name: OsString,
        parent: (u64, u64),
        remaining: std::vec::IntoIter<OsString>,
    }
    let id = |fd: &OwnedFd| {
        fstat(fd)
            .map(|s| (s.st_dev, s.st_ino))
            .map_err(io::Error::from)
    };
    let open_dir = |at: &OwnedFd, name: &OsStr| {
        openat(
            at.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    };
    let mut cur = open_dir(&top_parent, top_name).map_err(io::Error::from)?;
    let mut levels = vec![Level {
        name: top_name.to_os_string(),
        parent: id(&top_parent)?,
        remaining: sorted_names(&cur)?.into_iter(),
    }];
    loop {
        let level = levels.last_mut().expect("a level while walking");
        if let Some(n) = level.remaining.next() {
            match unlinkat(&cur, n.as_os_str(), UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(Errno::EISDIR) => {
                    let child = open_dir(&cur, &n).map_err(io::Error::from)?;
                    let names = sorted_names(&child)?;
                    levels.push(Level {
                        name: n,
                        parent: id(&cur)?,
                        remaining: names.into_iter(),
                    });
                    cur = child;
                }
                Err(e) => return Err(e.into()),
            }
            continue;
        }
        // `cur` is empty: up, and remove it.
        let done = levels.pop().expect("the level just read");
        let parent = if levels.is_empty() {
            top_parent.try_clone()?
        } else {
            open_dir(&cur, OsStr::new("..")).map_err(io::Error::from)?
        };
        if id(&parent)? != done.parent {
            return Err(io::Error::other(format!(
                "{}: the tree changed while it was removed",
                path.display()
            )));
        }
        match unlinkat(&parent, done.name.as_os_str(), UnlinkatFlags::RemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        if levels.is_empty() {
            return Ok(());
        }
        cur = parent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree of issue 15: 30,000 levels, removed on a 2 MiB thread (std's
    /// `remove_dir_all` overflows its stack there and aborts the process).
    #[test]
    fn removes_a_very_deep_tree_on_a_small_stack() {
        // tmpfs: deep trees are quick to make and remove there.
        let base = if Path::new("/dev/shm").is_dir() {
            tempfile::tempdir_in("/dev/shm").unwrap()
        } else {
            tempfile::tempdir().unwrap()
        };
        let top = base.path().join("top");
        std::fs::create_dir(&top).unwrap();
        let mut cur =
            nix::fcntl::open(&top, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        for i in 0..30_000 {
            if i % 1000 == 0 {
                std::fs::write(format!("/proc/self/fd/{}/f", cur.as_raw_fd()), "x").unwrap();
            }
            cur = open_subdir(&cur, OsStr::new("d"), true).unwrap();
        }
        drop(cur);
        let t = top.clone();
        let r = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || remove_tree(&t))
            .unwrap()
            .join()
            .unwrap();
        r.unwrap();
        assert!(!top.exists());
        // A file, and what is not there.
        std::fs::write(base.path().join("f"), "x").unwrap();
        remove_tree(&base.path().join("f")).unwrap();
        remove_tree(&base.path().join("missing")).unwrap();
        assert_eq!(std::fs::read_dir(base.path()).unwrap().count(), 0);
    }
}
