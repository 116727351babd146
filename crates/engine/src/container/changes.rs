//! `diff` and `export`: a container's filesystem against its image.

use std::path::PathBuf;

use models::container::FilesystemChange;

use super::*;
use crate::{Engine, EngineError};

impl Engine {
    /// The layer directories under a container, top first.
    pub(super) fn lowers(&self, c: &ContainerRecord) -> Vec<PathBuf> {
        c.layers
            .iter()
            .rev()
            .map(|l| self.store().layer_dir(l))
            .collect()
    }

    /// `GET /containers/{id}/export`: the container's filesystem as a tar,
    /// its writable layer over its image's layers.
    pub fn container_export(
        &self,
        name: &str,
        out: &mut dyn std::io::Write,
    ) -> Result<(), EngineError> {
        let c = self.find_container(name)?;
        let dir = self.container_dir(&c.id);
        let upper = dir.join("upper");
        let mut lower = vec![upper.clone()];
        if !upper.exists() {
            lower.clear();
        }
        lower.extend(self.lowers(&c));
        if lower.is_empty() {
            lower.push(self.store().layer_dir("empty"));
            std::fs::create_dir_all(&lower[0]).map_err(ContainerError::sys)?;
        }
        // A read-only overlay of its own: the upper's whiteouts hide what
        // the container deleted, and a running container is not disturbed.
        let view = tempfile::Builder::new()
            .prefix(".export-")
            .tempdir_in(&dir)
            .map_err(ContainerError::sys)?;
        if lower.len() == 1 {
            store::diff::write_layer(&lower[0], out).map_err(ContainerError::sys)?;
            return Ok(());
        }
        store::mount::Overlay {
            lower: &lower,
            upper: None,
        }
        .mount(view.path())
        .map_err(ContainerError::sys)?;
        let r = store::diff::write_layer(view.path(), out).map_err(ContainerError::sys);
        crate::error::ignore(
            format_args!("unmount the view {}", view.path().display()),
            store::mount::unmount(view.path()),
        );
        r.map(|_| ()).map_err(EngineError::from)
    }

    /// `GET /containers/{id}/changes`: `[{"Path", "Kind"}]`, Kind 0 changed,
    /// 1 added, 2 deleted. The files berth mounts over (hostname, hosts,
    /// resolv.conf) and the directories changed only by them are left out,
    /// as Docker's init layer leaves them out.
    pub fn container_changes(
        &self,
        name: &str,
    ) -> Result<Option<Vec<FilesystemChange>>, EngineError> {
        let c = self.find_container(name)?;
        let upper = self.container_dir(&c.id).join("upper");
        if !upper.exists() {
            return Ok(None);
        }
        let changes =
            store::diff::changes(&upper, &self.lowers(&c)).map_err(ContainerError::sys)?;
        // What berth mounts over: the /etc files, and the mount points the
        // runtime makes when an image lacks them (Docker's init layer holds
        // these, so they are not the container's changes).
        const MOUNTED: &[&str] = &[
            "/etc/hostname",
            "/etc/hosts",
            "/etc/resolv.conf",
            "/.dockerenv",
        ];
        const MOUNT_POINTS: &[&str] = &[
            "/dev",
            "/proc",
            "/sys",
            "/etc",
            "/dev/pts",
            "/dev/shm",
            "/dev/mqueue",
            "/sys/fs",
            "/sys/fs/cgroup",
        ];
        let kept: Vec<&store::diff::Change> = changes
            .iter()
            .filter(|ch| !MOUNTED.contains(&ch.path.as_str()))
            .collect();
        let out: Vec<FilesystemChange> = kept
            .iter()
            .filter(|ch| {
                let prefix = format!("{}/", ch.path.trim_end_matches('/'));
                let something_under = kept.iter().any(|o| {
                    o.path.starts_with(&prefix) && !MOUNT_POINTS.contains(&o.path.as_str())
                });
                match ch.kind {
                    // A made mount point goes unless the container put something in it.
                    store::diff::ChangeKind::Added => {
                        !MOUNT_POINTS.contains(&ch.path.as_str()) || something_under
                    }
                    // A changed directory stays if something under it stays, or
                    // if none of the mounted files lies under it (its own change).
                    store::diff::ChangeKind::Modified => {
                        something_under
                            || !MOUNTED
                                .iter()
                                .chain(MOUNT_POINTS)
                                .any(|m| m.starts_with(&prefix))
                    }
                    store::diff::ChangeKind::Deleted => true,
                }
            })
            .map(|ch| {
                let kind = match ch.kind {
                    store::diff::ChangeKind::Modified => 0,
                    store::diff::ChangeKind::Added => 1,
                    store::diff::ChangeKind::Deleted => 2,
                };
                FilesystemChange {
                    path: ch.path.clone(),
                    kind,
                }
            })
            .collect();
        // Docker's answer for no change is null.
        Ok((!out.is_empty()).then_some(out))
    }
}
