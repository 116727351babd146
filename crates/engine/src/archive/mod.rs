//! `GET`/`HEAD /containers/{id}/archive`: a path of a container as a tar,
//! and its stat. The container's filesystem is hostile: a symlink in it must
//! never make berth read outside it (the CVE-2018-15664 / CVE-2019-14271
//! class), even one swapped while the copy runs. So nothing here follows a
//! path on the host side: the path is opened with `openat2(RESOLVE_IN_ROOT)`
//! from a descriptor of the container's root, and the tree below it is
//! walked through directory descriptors, every open `O_NOFOLLOW` relative to
//! its parent; symlinks are stored as symlinks, never followed.
//!
//! The root is the running container's own (`/proc/PID/root`: its mounts,
//! binds included, are there), or a read-only overlay of a stopped one.

mod append;
mod error;
mod extract;
mod get;
mod path;
mod put;
mod root;

use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, SFlag};

use crate::EngineError;

pub(crate) use append::append_opened;
pub use error::ArchiveError;
pub(crate) use extract::{extract_into, Owner};
pub(crate) use path::open_source;

/// The file type bits of a stat.
fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Opens again what an `O_PATH` descriptor names (the very inode that was
/// checked, not a path that may have been swapped since): the store's
/// [`store::walk::reopen`], its error as the engine words an errno.
pub(crate) fn reopen(fd: &OwnedFd, flags: OFlag) -> Result<OwnedFd, EngineError> {
    store::walk::reopen(fd, flags)
        .map_err(|e| ArchiveError::sys(nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0))))
        .map_err(EngineError::from)
}
