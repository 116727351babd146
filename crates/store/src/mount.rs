//! Mounting an image's layers for a container: an overlay whose lower
//! directories are the image's layers (top first), with the container's
//! writable layer as upper.
//!
//! The classic `mount(2)` option string is cut at one page, so it fails past
//! ~45 layers with long paths. The new mount API takes each lower directory
//! on its own (`fsconfig(FSCONFIG_SET_STRING, "lowerdir+", dir)`, Linux 6.8+):
//! that is tried first, and `mount(2)` is the fallback for older kernels (where
//! images of more than a few dozen layers then fail with the kernel's error;
//! Docker's short link names would lift that, and are not done yet).

use std::path::{Path, PathBuf};

use rustix::fd::AsFd;
use rustix::mount::{
    fsconfig_create, fsconfig_set_string, fsmount, fsopen, move_mount, FsMountFlags, FsOpenFlags,
    MountAttrFlags, MoveMountFlags,
};

/// Errors from mounting.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// No layer given.
    #[error("an overlay needs at least one lower directory")]
    NoLayers,
    /// A path cannot be passed to the kernel (a `:` or `,` in it, for
    /// `mount(2)`, or not UTF-8).
    #[error("layer path {0} cannot be used in an overlay mount")]
    BadPath(PathBuf),
    /// The mount failed.
    #[error("mount overlay on {target}: {source}")]
    Mount {
        /// Where.
        target: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// An overlay to mount.
#[derive(Debug, Clone)]
pub struct Overlay<'a> {
    /// Layer directories, top-most first.
    pub lower: &'a [PathBuf],
    /// The writable directory and overlayfs' work directory (same filesystem);
    /// `None` mounts read-only.
    pub upper: Option<(&'a Path, &'a Path)>,
}

impl Overlay<'_> {
    /// Mounts the overlay on `target`.
    pub fn mount(&self, target: &Path) -> Result<(), MountError> {
        if self.lower.is_empty() {
            return Err(MountError::NoLayers);
        }
        match self.mount_new_api(target) {
            Ok(()) => Ok(()),
            // Kernels before 6.8 refuse the "lowerdir+" key.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => self.mount_classic(target),
            Err(source) => Err(MountError::Mount {
                target: target.to_path_buf(),
                source,
            }),
        }
    }

    fn mount_new_api(&self, target: &Path) -> std::io::Result<()> {
        let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
        for dir in self.lower {
            fsconfig_set_string(fs.as_fd(), "lowerdir+", dir.as_path())?;
        }
        if let Some((upper, work)) = self.upper {
            fsconfig_set_string(fs.as_fd(), "upperdir", upper)?;
            fsconfig_set_string(fs.as_fd(), "workdir", work)?;
        }
        // The upper directory must hold whole files and plain directories, or
        // it cannot be turned back into a layer: no metacopy (metadata-only
        // copy-ups), no redirect_dir (renamed directories), no index.
        fsconfig_set_string(fs.as_fd(), "index", "off")?;
        fsconfig_set_string(fs.as_fd(), "metacopy", "off")?;
        if crate::userns::in_user_namespace() {
            // In a user namespace overlayfs keeps whiteouts' opaque marks in
            // `user.overlay.*` (see `crate::userns`); there it refuses
            // `redirect_dir=off` (which may follow) and wants `nofollow`.
            rustix::mount::fsconfig_set_flag(fs.as_fd(), "userxattr")?;
            fsconfig_set_string(fs.as_fd(), "redirect_dir", "nofollow")?;
        } else {
            fsconfig_set_string(fs.as_fd(), "redirect_dir", "off")?;
        }
        fsconfig_create(fs.as_fd())?;
        let attrs = if self.upper.is_some() {
            MountAttrFlags::empty()
        } else {
            MountAttrFlags::MOUNT_ATTR_RDONLY
        };
        let mnt = fsmount(fs.as_fd(), FsMountFlags::FSMOUNT_CLOEXEC, attrs)?;
        move_mount(
            mnt.as_fd(),
            "",
            rustix::fs::CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )?;
        Ok(())
    }

    fn mount_classic(&self, target: &Path) -> Result<(), MountError> {
        let text = |p: &Path| -> Result<String, MountError> {
            let s = p
                .to_str()
                .ok_or_else(|| MountError::BadPath(p.to_path_buf()))?;
            if s.contains([':', ',']) {
                return Err(MountError::BadPath(p.to_path_buf()));
            }
            Ok(s.to_string())
        };
        let lower = self
            .lower
            .iter()
            .map(|p| text(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mut data = format!("lowerdir={},index=off,metacopy=off", lower.join(":"));
        if crate::userns::in_user_namespace() {
            data.push_str(",userxattr,redirect_dir=nofollow");
        } else {
            data.push_str(",redirect_dir=off");
        }
        if let Some((upper, work)) = self.upper {
            data.push_str(&format!(
                ",upperdir={},workdir={}",
                text(upper)?,
                text(work)?
            ));
        }
        let flags = if self.upper.is_some() {
            rustix::mount::MountFlags::empty()
        } else {
            rustix::mount::MountFlags::RDONLY
        };
        let data =
            std::ffi::CString::new(data).map_err(|_| MountError::BadPath(target.to_path_buf()))?;
        rustix::mount::mount("overlay", target, "overlay", flags, data.as_c_str()).map_err(|e| {
            MountError::Mount {
                target: target.to_path_buf(),
                source: e.into(),
            }
        })
    }
}

/// Detaches the mount at `target` (lazily: it goes once no one uses it).
pub fn unmount(target: &Path) -> std::io::Result<()> {
    match rustix::mount::unmount(target, rustix::mount::UnmountFlags::DETACH) {
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOENT => Ok(()),
        other => other.map_err(Into::into),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::fs;

    /// Unmounts on drop, so a failing test leaves no mount behind.
    pub(crate) struct Mounted(pub(crate) PathBuf);
    impl Drop for Mounted {
        fn drop(&mut self) {
            let _ = unmount(&self.0);
        }
    }

    #[test]
    fn writes_land_in_upper_and_lower_layers_stay() {
        let d = tempfile::tempdir().unwrap();
        let (l1, l2, up, work, merged) = ["l1", "l2", "up", "work", "merged"]
            .map(|n| d.path().join(n))
            .into();
        for dir in [&l1, &l2, &up, &work, &merged] {
            fs::create_dir(dir).unwrap();
        }
        fs::write(l1.join("a"), "bottom").unwrap();
        fs::write(l2.join("a"), "top").unwrap();
        fs::write(l1.join("b"), "only bottom").unwrap();
        let lower = [l2.clone(), l1.clone()];
        Overlay {
            lower: &lower,
            upper: Some((&up, &work)),
        }
        .mount(&merged)
        .unwrap();
        let _m = Mounted(merged.clone());
        assert_eq!(
            fs::read_to_string(merged.join("a")).unwrap(),
            "top",
            "upper-most layer wins"
        );
        assert_eq!(fs::read_to_string(merged.join("b")).unwrap(), "only bottom");
        fs::write(merged.join("c"), "new").unwrap();
        fs::remove_file(merged.join("b")).unwrap();
        assert_eq!(fs::read_to_string(up.join("c")).unwrap(), "new");
        assert!(l1.join("b").exists(), "the layer is untouched");
        use std::os::unix::fs::FileTypeExt;
        assert!(
            fs::symlink_metadata(up.join("b"))
                .unwrap()
                .file_type()
                .is_char_device(),
            "a whiteout in upper"
        );
    }

    #[test]
    fn classic_mount_fallback() {
        let d = tempfile::tempdir().unwrap();
        let (l1, l2, merged) = (d.path().join("l1"), d.path().join("l2"), d.path().join("m"));
        for dir in [&l1, &l2, &merged] {
            fs::create_dir(dir).unwrap();
        }
        fs::write(l1.join("x"), "1").unwrap();
        let lower = [l2, l1];
        Overlay {
            lower: &lower,
            upper: None,
        }
        .mount_classic(&merged)
        .unwrap();
        let _m = Mounted(merged.clone());
        assert_eq!(fs::read_to_string(merged.join("x")).unwrap(), "1");
        let bad = [d.path().join("a:b")];
        assert!(matches!(
            Overlay {
                lower: &bad,
                upper: None
            }
            .mount_classic(&merged),
            Err(MountError::BadPath(_))
        ));
    }

    #[test]
    fn hundreds_of_layers_with_long_paths() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("x".repeat(100));
        let lower: Vec<PathBuf> = (0..200)
            .map(|i| base.join(format!("layer-{i:03}-{}", "y".repeat(40))))
            .collect();
        for (i, l) in lower.iter().enumerate() {
            fs::create_dir_all(l).unwrap();
            fs::write(l.join(format!("f{i}")), "").unwrap();
        }
        let merged = d.path().join("merged");
        fs::create_dir(&merged).unwrap();
        Overlay {
            lower: &lower,
            upper: None,
        }
        .mount(&merged)
        .unwrap();
        let _m = Mounted(merged.clone());
        assert_eq!(fs::read_dir(&merged).unwrap().count(), 200);
        assert!(
            fs::write(merged.join("new"), "").is_err(),
            "read-only without upper"
        );
    }
}
