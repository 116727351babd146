//! `GET`/`HEAD /containers/{id}/archive`: a path's stat, and the path as
//! a tar.

use std::path::Path;

use models::container::PathStat;
use nix::sys::stat::{fstat, FileStat, SFlag};

use super::ArchiveError;
use crate::{Engine, EngineError};

use super::append::{append_opened, header};
use super::kind;
use super::path::{open_path, Opened};

/// Docker's `X-Docker-Container-Path-Stat` body.
fn stat_json(name: &str, st: &FileStat, link: &str) -> PathStat {
    // Go's os.FileMode: permission bits plus type bits high up.
    let mut mode = st.st_mode & 0o777;
    match kind(st) {
        SFlag::S_IFDIR => mode |= 1 << 31,
        SFlag::S_IFLNK => mode |= 1 << 27,
        _ => {}
    }
    let secs = st.st_mtime;
    PathStat {
        name: name.into(),
        size: st.st_size,
        mode,
        mtime: crate::time::rfc3339(secs),
        link_target: link.into(),
    }
}

impl Engine {
    /// The stat of `path` in the container (Docker's path stat), as HEAD
    /// answers it; a missing path is 404.
    pub fn archive_stat(&self, name: &str, path: &str) -> Result<PathStat, EngineError> {
        self.with_archive_root(name, false, |root| {
            let o = open_path(root, path, false)?;
            let st = fstat(&o.fd).map_err(ArchiveError::sys)?;
            let link = o
                .link
                .as_ref()
                .map_or("", |(_, resolved)| resolved.as_str());
            Ok(stat_json(&o.base, &st, link))
        })
    }

    /// Writes `path` of the container as a tar to `out` (entries named from
    /// the path's last component, as Docker's); returns its stat first
    /// through `stat` (for the header).
    pub fn archive_get(
        &self,
        name: &str,
        path: &str,
        stat: impl FnOnce(PathStat),
        out: &mut dyn std::io::Write,
    ) -> Result<(), EngineError> {
        self.with_archive_root(name, false, |root| {
            let Opened { fd, base, link } = open_path(root, path, false)?;
            let st = fstat(&fd).map_err(ArchiveError::sys)?;
            let resolved = link.as_ref().map_or("", |(_, r)| r.as_str());
            stat(stat_json(&base, &st, resolved));
            let mut tar = tar::Builder::new(out);
            tar.follow_symlinks(false);
            if let Some((target, _)) = &link {
                let mut h = header(&st, tar::EntryType::Symlink, 0);
                tar.append_link(&mut h, &base, target)
                    .map_err(ArchiveError::sys)?;
                tar.finish().map_err(ArchiveError::sys)?;
                return Ok(());
            }
            append_opened(&mut tar, &fd, &st, Path::new(&base), path)?;
            tar.finish().map_err(ArchiveError::sys)?;
            Ok(())
        })
    }
}
