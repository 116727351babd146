//! The root a copy works on: a running container's own, or a view of a
//! stopped one with its binds and volumes mounted as Docker mounts them.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::ArchiveError;
use crate::container::record::State;
use crate::{Engine, EngineError};

/// A container's root, open, and what must be undone after.
pub(super) struct Root {
    pub(super) fd: OwnedFd,
    /// A temporary read-only view of a stopped container, unmounted on drop.
    view: Option<tempfile::TempDir>,
}

impl Drop for Root {
    fn drop(&mut self) {
        if let Some(v) = &self.view {
            crate::error::ignore(
                format_args!("unmount the read-only view {}", v.path().display()),
                store::mount::unmount(v.path()),
            );
        }
    }
}

impl Engine {
    /// The root a copy works on: a running container's own (its mounts are
    /// there), or, for a stopped or created one, its layers with its
    /// writable layer on top mounted for the copy, with its volumes and
    /// binds mounted over it as Docker mounts them (read-only unless
    /// `write`). The caller holds the container's lifecycle lock while a
    /// stopped container's root is mounted (no start meanwhile).
    fn archive_root(
        &self,
        c: &crate::container::record::ContainerRecord,
        write: bool,
    ) -> Result<Root, EngineError> {
        let open_dir = |p: &Path| {
            nix::fcntl::open(
                p,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| ArchiveError::failed(format!("open {}", p.display()), e))
        };
        if let State::Running(pid, _) = self.state(c) {
            if pid > 0 {
                if let Ok(fd) = open_dir(Path::new(&format!("/proc/{pid}/root"))) {
                    return Ok(Root { fd, view: None });
                }
            }
        }
        let dir = self.container_dir(&c.id);
        let view = tempfile::Builder::new()
            .prefix(".archive-")
            .tempdir_in(&dir)
            .map_err(ArchiveError::sys)?;
        self.store().mount_layers_rw(&c.layers, &dir, view.path())?;
        let root = Root {
            fd: open_dir(view.path())?,
            view: Some(view),
        };
        self.mount_volumes(&copy_mounts(c), &root, write)?;
        Ok(root)
    }

    /// [`Engine::archive_root`] for `name`, with its lifecycle lock when it
    /// is not running.
    pub(super) fn with_archive_root<T>(
        &self,
        name: &str,
        write: bool,
        f: impl FnOnce(&Root) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let c = self.find_container(name)?;
        let lock = self.lifecycle(&c.id);
        let _held = match self.state(&c) {
            State::Running(..) => None,
            _ => Some(lock.lock().unwrap_or_else(|p| p.into_inner())),
        };
        let root = self.archive_root(&c, write)?;
        f(&root)
    }

    /// Docker mounts a stopped container's volumes and binds for a copy
    /// (`daemon/archive.go`): each over the view at its destination,
    /// resolved inside the view (a symlink planted in the image cannot
    /// send it elsewhere), a missing mount point made in the container's
    /// layer as Docker's are. Read-only unless `writable` and the mount
    /// is. Undone with the view.
    fn mount_volumes(
        &self,
        mounts: &[crate::mounts::MountPoint],
        root: &Root,
        writable: bool,
    ) -> Result<(), EngineError> {
        use runtime::rootfs::resolve::{open_in_root, Create};
        for m in mounts {
            let source = if m.typ == "volume" {
                self.volume_data(&m.name)
            } else {
                PathBuf::from(&m.source)
            };
            let Ok(meta) = std::fs::metadata(&source) else {
                continue;
            };
            let create = if meta.is_dir() {
                Create::Dir
            } else {
                Create::File
            };
            let Ok(target) = open_in_root(&root.fd, Path::new(&m.destination), create) else {
                continue;
            };
            let dest = Path::new(&m.destination);
            bind(&source, &target, writable && m.rw, &|| {
                open_in_root(&root.fd, dest, Create::No).ok()
            })?;
        }
        Ok(())
    }
}

/// The mounts a copy sees in a stopped container: its binds and volumes
/// (parents first); tmpfs mounts hold nothing once it stopped.
fn copy_mounts(c: &crate::container::record::ContainerRecord) -> Vec<crate::mounts::MountPoint> {
    c.mounts
        .iter()
        .filter(|m| m.typ == "bind" || m.typ == "volume")
        .cloned()
        .collect()
}

/// Binds `source` (recursively) onto the directory or file `target` (a
/// descriptor: the mount lands on the inode that was resolved), read-only
/// unless `rw`; `reopen` opens the target anew, which now reaches the new
/// mount (the old descriptor still names what is under it).
fn bind(
    source: &Path,
    target: &OwnedFd,
    rw: bool,
    reopen: &dyn Fn() -> Option<OwnedFd>,
) -> Result<(), EngineError> {
    use nix::mount::{mount, MsFlags};
    let at = runtime::rootfs::resolve::fd_path(target);
    let what = |e| ArchiveError::failed(format!("mount {} for the copy", source.display()), e);
    mount(
        Some(source),
        &at,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(what)?;
    if !rw {
        // A remount of the new mount makes it read-only (the source's own
        // mount stays as it is).
        let remount = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        let done = reopen().ok_or(nix::errno::Errno::ENOENT).and_then(|top| {
            let top = runtime::rootfs::resolve::fd_path(&top);
            mount(None::<&str>, &top, None::<&str>, remount, None::<&str>)
        });
        if let Err(e) = done {
            if let Some(top) = reopen() {
                let top = runtime::rootfs::resolve::fd_path(&top);
                crate::error::ignore(
                    format_args!("detach the copy mount {}", top.display()),
                    nix::mount::umount2(&top, nix::mount::MntFlags::MNT_DETACH),
                );
            }
            return Err(what(e).into());
        }
    }
    Ok(())
}
