//! Volumes in containers: the mounts a create resolves, the driver's mounts and subpaths made at start, released at stop.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use models::container::CreateBody;
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};

use super::*;
use crate::container::record::{ContainerRecord, State};
use crate::error::Cause;
use crate::mounts::{self, MountPoint};
use crate::{Engine, EngineError};

/// Staging points of subpaths (see `prepare_mounts`), unmounted and
/// removed when dropped.
#[derive(Debug, Default)]
pub(crate) struct Staged(Vec<PathBuf>);

impl Drop for Staged {
    fn drop(&mut self) {
        for at in &self.0 {
            // Detached, then the empty point: never a walk into the volume.
            crate::error::ignore(
                format_args!("unmount staged subpath {}", at.display()),
                nix::mount::umount2(at, nix::mount::MntFlags::MNT_DETACH),
            );
            crate::error::ignore(
                format_args!("remove staged subpath {}", at.display()),
                std::fs::remove_dir(at).or_else(|_| std::fs::remove_file(at)),
            );
        }
    }
}

/// At open, no start runs: staging points a killed daemon left under
/// `<exec-root>/subpaths` are unmounted and removed (never a walk into
/// what they bind).
pub(crate) fn sweep_subpaths(exec_root: &Path) {
    let Ok(entries) = std::fs::read_dir(exec_root.join("subpaths")) else {
        return;
    };
    let at: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    drop(Staged(at));
}

/// Binds what `fd` names onto `at` (made: a directory or an empty file,
/// as what it names), privately.
pub(super) fn stage(fd: &OwnedFd, at: &Path) -> Result<(), EngineError> {
    use nix::mount::{mount, MsFlags};
    let fail = |e: Cause| VolumeError::failed(format!("stage subpath at {}", at.display()), e);
    if let Some(parent) = at.parent() {
        crate::perms::private_dir(parent).map_err(|e| fail(e.into()))?;
    }
    let is_dir = nix::sys::stat::fstat(fd)
        .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
        .map_err(|e| fail(e.into()))?;
    crate::error::ignore(
        format_args!("unmount a stale staging point {}", at.display()),
        nix::mount::umount2(at, nix::mount::MntFlags::MNT_DETACH),
    );
    if is_dir {
        crate::error::ignore(
            format_args!("remove a stale staging file {}", at.display()),
            std::fs::remove_file(at),
        );
        if !at.is_dir() {
            std::fs::create_dir(at).map_err(|e| fail(e.into()))?;
        }
    } else {
        crate::error::ignore(
            format_args!("remove a stale staging directory {}", at.display()),
            std::fs::remove_dir(at),
        );
        std::fs::File::create(at).map_err(|e| fail(e.into()))?;
    }
    let src = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    mount(Some(&src), at, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| fail(e.into()))?;
    // Private: nothing mounted there shows anywhere else.
    mount(
        None::<&str>,
        at,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| fail(e.into()))?;
    Ok(())
}

/// Opens `subpath` of the volume whose data is `data`, resolved inside it
/// (`RESOLVE_IN_ROOT`: a symlink there cannot lead out); it must exist, as
/// Docker's ("cannot access path").
pub(super) fn open_subpath(data: &Path, subpath: &str) -> Result<OwnedFd, EngineError> {
    let shown = data.join(subpath);
    let fail = |e: String| {
        VolumeError::Invalid(format!(
            "invalid mount config for type \"volume\": cannot access path {}: {e}",
            shown.display()
        ))
    };
    let root = nix::fcntl::open(
        data,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail(e.to_string()))?;
    runtime::rootfs::resolve::open_in_root(
        &root,
        &Path::new("/").join(subpath),
        runtime::rootfs::resolve::Create::No,
    )
    .map_err(|e| fail(e.to_string()))
    .map_err(EngineError::from)
}

/// Whether `path` (its last component not followed) is the root of a
/// mount: one `statx` (`STATX_ATTR_MOUNT_ROOT`, Linux 5.8) on the start
/// path of every container, where reading `/proc/self/mountinfo` costs more
/// with every running container's overlay. Older kernels read mountinfo.
pub(crate) fn is_mounted(path: &Path) -> bool {
    use rustix::fs::{statx, AtFlags, StatxAttributes, StatxFlags, CWD};
    let flags = AtFlags::SYMLINK_NOFOLLOW | AtFlags::NO_AUTOMOUNT;
    match statx(CWD, path, flags, StatxFlags::empty()) {
        Ok(st) if st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT) => {
            st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT)
        }
        Ok(_) | Err(rustix::io::Errno::NOSYS) => {
            let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            let p = path.to_string_lossy();
            info.lines().any(|l| l.split(' ').nth(4) == Some(&p))
        }
        Err(_) => false,
    }
}

impl Engine {
    /// Resolves a create body's mounts (see `mounts`), making the volumes
    /// they name that do not exist yet. Called under `volumes_lock`.
    pub(crate) fn resolve_mounts(
        &self,
        body: &CreateBody,
        created: &str,
    ) -> Result<Vec<MountPoint>, EngineError> {
        let requested = mounts::parse_requested(&body.host_config)?;
        let mut out: Vec<MountPoint> = Vec::new();
        for v in body.host_config.volumes_from.iter().flatten() {
            let (name, rw) = mounts::split_volumes_from(v)?;
            // A 404 here would read to the docker CLI as a missing image.
            let other = self
                .find_container(name)
                .map_err(|e| VolumeError::Invalid(e.to_string()))?;
            // Its `--tmpfs` mounts are no mount points in Docker: not copied.
            for m in other.mounts.into_iter().filter(|m| !m.hidden) {
                let mut m = MountPoint {
                    rw: m.rw && rw != Some(false),
                    copy_data: false,
                    ..m
                };
                // What the other container made is not ours to remove.
                m.anonymous = false;
                m.mode = String::new();
                out.retain(|x| x.destination != m.destination);
                out.push(m);
            }
        }
        for m in requested {
            out.retain(|x| x.destination != m.destination);
            out.push(m);
        }
        // The image's volumes and `-v /path`: anonymous, where nothing else is.
        let mut image_volumes: Vec<&String> = body
            .config
            .volumes
            .iter()
            .flatten()
            .map(|(k, _)| k)
            .collect();
        image_volumes.sort();
        for dst in image_volumes {
            if !dst.starts_with('/') || dst.len() > 4096 || dst.split('/').any(|c| c == "..") {
                return Err(
                    VolumeError::Invalid(format!("invalid volume destination: {dst:?}")).into(),
                );
            }
            let dst = format!(
                "/{}",
                dst.split('/')
                    .filter(|c| !c.is_empty())
                    .collect::<Vec<_>>()
                    .join("/")
            );
            if dst == "/" {
                return Err(VolumeError::Invalid("invalid volume destination: '/'".into()).into());
            }
            if out.iter().any(|m| m.destination == dst) {
                continue;
            }
            out.push(MountPoint {
                typ: "volume".into(),
                destination: dst,
                driver: "local".into(),
                rw: true,
                anonymous: true,
                copy_data: true,
                ..Default::default()
            });
        }
        if out.len() > MAX_MOUNTS {
            return Err(VolumeError::Invalid(format!(
                "too many mounts: {} (at most {MAX_MOUNTS})",
                out.len()
            ))
            .into());
        }
        // `VolumeDriver` names the driver of the volumes made here; dockerd
        // looks it up only then (a container that makes none is created
        // with any: docker-py's test_create_with_volume_driver).
        let wanted = match body.host_config.volume_driver.as_str() {
            "" | "local" => None,
            d => Some(d),
        };
        for m in out.iter_mut().filter(|m| m.typ == "volume") {
            let missing = m.name.is_empty() || self.volume_record(&m.name)?.is_none();
            if let (Some(d), true) = (wanted, missing) {
                // A 400, not the 404 of a volume create: the docker CLI
                // takes a 404 of a container create for a missing image.
                return Err(VolumeError::Invalid(format!(
                    "error looking up volume plugin {d}: plugin \"{d}\" not found (berth has only the local volume driver)"
                )).into());
            }
            if m.name.is_empty() {
                let mut labels = std::mem::take(&mut m.volume_labels);
                labels.insert(ANONYMOUS_LABEL.into(), String::new());
                let r = self.create_volume_locked(
                    "",
                    "local",
                    std::mem::take(&mut m.volume_opts),
                    labels,
                    created.to_string(),
                )?;
                m.name = r.name;
                m.anonymous = true;
            } else if self.volume_record(&m.name)?.is_none() {
                self.create_volume_locked(
                    &m.name.clone(),
                    "local",
                    std::mem::take(&mut m.volume_opts),
                    std::mem::take(&mut m.volume_labels),
                    created.to_string(),
                )?;
            }
        }
        mounts::sort(&mut out);
        Ok(out)
    }

    /// Before a start: each volume ready (its driver mount made), bind
    /// sources made where `-v` makes them, and empty volumes filled from the
    /// image (copy-up). Returns the mounts with their host sources.
    ///
    /// A volume's subpath is opened inside the volume (its symlinks cannot
    /// lead out) and that descriptor is bound onto a root-only staging
    /// point under the exec root, the source the runtime binds: what is
    /// mounted is what was checked, even if a container swaps the path
    /// meanwhile (the runtime cannot bind the descriptor itself: it is in a
    /// mount namespace of its own by then). The staging points come back
    /// with the mounts; hold them until the start is through.
    pub(crate) fn prepare_mounts(
        &self,
        c: &ContainerRecord,
        rootfs: &Path,
    ) -> Result<(Vec<MountPoint>, Staged), EngineError> {
        let mut out = c.mounts.clone();
        let mut held = Staged::default();
        for m in &mut out {
            match m.typ.as_str() {
                "volume" => {
                    // Two containers starting on one volume: the second finds
                    // it mounted and filled, never mounts or copies twice.
                    let _l = self.volumes_lock.lock().unwrap_or_else(|p| p.into_inner());
                    let r = self
                        .volume_record(&m.name)?
                        .ok_or_else(|| no_such(&m.name))?;
                    let data = self.volume_data(&r.name);
                    if !r.options.is_empty() && !is_mounted(&data) {
                        mount_driver_options(&r, &data)?;
                    }
                    if m.copy_data {
                        copy_up(rootfs, &m.destination, &data)?;
                    }
                    m.source = data.to_string_lossy().into_owned();
                    if !m.subpath.is_empty() {
                        let fd = open_subpath(&data, &m.subpath)?;
                        let at = self.exec_root.join("subpaths").join(format!(
                            "{}-{}",
                            &c.id[..12],
                            held.0.len()
                        ));
                        m.source = at.to_string_lossy().into_owned();
                        held.0.push(at.clone());
                        stage(&fd, &at)?;
                    }
                }
                "bind" if m.create_source && !Path::new(&m.source).exists() => {
                    // Docker's -v makes a missing host directory.
                    std::fs::create_dir_all(&m.source).map_err(|e| {
                        VolumeError::failed(format!("create bind source {}", m.source), e)
                    })?;
                }
                "bind" if !Path::new(&m.source).exists() => {
                    return Err(VolumeError::Invalid(format!(
                        "invalid mount config for type \"bind\": bind source path does not exist: {}",
                        m.source
                    )).into());
                }
                _ => {}
            }
        }
        Ok((out, held))
    }

    /// After a container stopped: driver-option volumes that no running
    /// container uses any more are unmounted (a tmpfs volume's data goes,
    /// as with Docker's local driver).
    pub(crate) fn release_volumes(&self, c: &ContainerRecord) {
        let with_opts: Vec<&MountPoint> = c
            .mounts
            .iter()
            .filter(|m| m.typ == "volume")
            .filter(|m| {
                self.volume_record(&m.name)
                    .ok()
                    .flatten()
                    .is_some_and(|r| !r.options.is_empty())
            })
            .collect();
        if with_opts.is_empty() {
            return;
        }
        let _l = self.volumes_lock.lock().unwrap_or_else(|p| p.into_inner());
        // Running, or being started (its lifecycle lock held: it may have
        // mounted the volume and not run yet).
        let running: Vec<ContainerRecord> = self
            .container_records()
            .unwrap_or_default()
            .into_iter()
            .filter(|o| {
                o.id != c.id
                    && (matches!(self.state(o), State::Running(..))
                        || self.lifecycle(&o.id).try_lock().is_err())
            })
            .collect();
        for m in with_opts {
            if !running.iter().any(|o| {
                o.mounts
                    .iter()
                    .any(|x| x.typ == "volume" && x.name == m.name)
            }) {
                crate::error::ignore(
                    format_args!("unmount volume {} after its last user", m.name),
                    store::mount::unmount(&self.volume_data(&m.name)),
                );
            }
        }
    }

    /// `rm -v`, `--rm`: the container's anonymous volumes go, unless another
    /// container uses one (Docker ignores that conflict). Call after the
    /// container's record is gone.
    pub(crate) fn remove_anonymous_volumes(&self, c: &ContainerRecord) {
        let _l = self.volumes_lock.lock().unwrap_or_else(|p| p.into_inner());
        for m in c.mounts.iter().filter(|m| m.typ == "volume" && m.anonymous) {
            if let Err(e) = self.remove_volume_locked(&m.name, true) {
                tracing::warn!(
                    "removing anonymous volume {} of container {}: {e}",
                    m.name,
                    c.id
                );
            }
        }
    }
}

/// Mounts a volume made with driver options on its `_data`, as Docker's
/// local driver: `mount -t TYPE -o O DEVICE _data` (`o` split into flags
/// and filesystem data).
pub(super) fn mount_driver_options(r: &VolumeRecord, data: &Path) -> Result<(), EngineError> {
    let typ = r.options.get("type").map(String::as_str).unwrap_or("");
    let device = r.options.get("device").map(String::as_str).unwrap_or("");
    let o: Vec<&str> = r
        .options
        .get("o")
        .map(|o| o.split(',').filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    let parsed = runtime::mount_opts::parse(&o);
    let bind = parsed.flags.contains(nix::mount::MsFlags::MS_BIND);
    let fstype = if bind || typ == "none" {
        None
    } else {
        Some(typ)
    };
    let data_opt = (!parsed.data.is_empty()).then_some(parsed.data.as_str());
    let what = |e: nix::Error| {
        VolumeError::failed(format!("error while mounting volume '{}': failed to mount local volume: mount {device}:{} (type {typ}, options {})", data.display(),
            data.display(),
            o.join(",")), e)
    };
    nix::mount::mount(Some(device), data, fstype, parsed.flags, data_opt).map_err(what)?;
    if bind && parsed.flags.contains(nix::mount::MsFlags::MS_RDONLY) {
        nix::mount::mount(
            None::<&str>,
            data,
            None::<&str>,
            nix::mount::MsFlags::MS_REMOUNT
                | nix::mount::MsFlags::MS_BIND
                | nix::mount::MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(what)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_mounted;

    /// The mount roots the kernel reports, without mountinfo: a tmpfs
    /// mounted on a directory makes it one, and its unmount undoes that.
    #[test]
    fn mount_roots_by_statx() {
        assert!(is_mounted(std::path::Path::new("/proc")));
        assert!(
            !is_mounted(std::path::Path::new("/proc/self")),
            "a symlink is not followed"
        );
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("m");
        std::fs::create_dir(&at).unwrap();
        assert!(!is_mounted(&at));
        assert!(!is_mounted(&at.join("missing")));
        nix::mount::mount(
            Some("tmpfs"),
            &at,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        let mounted = is_mounted(&at);
        nix::mount::umount(&at).unwrap();
        assert!(mounted);
        assert!(!is_mounted(&at));
    }
}
