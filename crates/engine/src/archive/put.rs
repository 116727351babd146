//! `PUT /containers/{id}/archive`: a tar extracted into a directory of
//! the container, refused where Docker refuses it.

use std::io::Read;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, SFlag};

use super::ArchiveError;
use crate::{Engine, EngineError};

use super::extract::{bad_tar, extract_into, Owner};
use super::path::open_path;
use super::{kind, reopen};

impl Engine {
    /// `PUT /containers/{id}/archive?path=DIR`: extracts a tar into DIR of
    /// the container. DIR is resolved inside the container's root; every
    /// entry is created relative to a directory descriptor, each parent
    /// opened `O_NOFOLLOW` (a symlink on the way is refused, not followed),
    /// and `..` or absolute entry names are refused. Files belong to root
    /// unless `keep_ids` (`docker cp -a`).
    pub fn archive_put(
        &self,
        name: &str,
        path: &str,
        tar: impl Read,
        keep_ids: bool,
    ) -> Result<(), EngineError> {
        check_writable(&self.find_container(name)?, path)?;
        self.with_archive_root(name, true, |root| {
            let dest = open_path(root, path, true)?.fd;
            if kind(&fstat(&dest).map_err(ArchiveError::sys)?) != SFlag::S_IFDIR {
                return Err(ArchiveError::Invalid(format!(
                    "extraction point is not a directory: {path}"
                ))
                .into());
            }
            let dest = reopen(&dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
            let owner = if keep_ids {
                Owner::FromTar
            } else {
                Owner::Root
            };
            // As Docker: the tar may be compressed (gzip, bzip2, xz; zstd too).
            let tar = store::layer::decompressed(tar).map_err(|e| bad_tar(e.to_string()))?;
            extract_into(&dest, tar, owner, None)
        })
    }
}

/// Docker's `checkIfPathIsInAVolume` and read-only root check for a copy
/// into `path`: a path in a read-only mount, or outside every mount of a
/// container with a read-only root, is refused with dockerd's texts (500).
fn check_writable(
    c: &crate::container::record::ContainerRecord,
    path: &str,
) -> Result<(), EngineError> {
    let abs = Path::new("/").join(path);
    let inside = c
        .mounts
        .iter()
        .filter(|m| abs.starts_with(&m.destination))
        .max_by_key(|m| m.destination.len());
    match inside {
        Some(m) if !m.rw => Err(ArchiveError::sys("mounted volume is marked read-only").into()),
        None if c.config.host_config.readonly_rootfs => {
            Err(ArchiveError::sys("container rootfs is marked read-only").into())
        }
        _ => Ok(()),
    }
}
