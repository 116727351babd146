//! `/dev` inside the container: the runtime spec's default devices plus the
//! spec's own, and the usual symlinks.
//!
//! Device nodes are made with `mknod`; inside a user namespace that is not
//! allowed, so the host's node is bind-mounted onto an empty file instead, as
//! runc does.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::resolve::{fd_path, open_in_root, Create};
use crate::error::{Error, Result};

/// A device to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Path inside the container.
    pub path: String,
    /// `c` or `b` (or `p` for a fifo).
    pub kind: SFlag,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// The runtime spec's default devices (config-linux.md, "Default Devices").
pub fn defaults() -> Vec<Device> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| Device {
        path: format!("/dev/{name}"),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// The spec's devices after the defaults; a spec device replaces a default with
/// the same path.
pub fn wanted(spec_devices: &[LinuxDevice]) -> Result<Vec<Device>> {
    let mut all = defaults();
    for d in spec_devices {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(Error::InvalidSpec(format!(
                    "device {} has type 'a'",
                    d.path().display()
                )))
            }
        };
        let path = d.path().to_string_lossy().into_owned();
        crate::spec::check_destination(d.path())?;
        all.retain(|x| x.path != path);
        all.push(Device {
            path,
            kind,
            major: u64::try_from(d.major()).unwrap_or(0),
            minor: u64::try_from(d.minor()).unwrap_or(0),
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    Ok(all)
}

/// Creates `devices` below `root`; `bind` makes bind mounts of the host's nodes
/// instead of new nodes (user namespaces).
pub fn create(root: &OwnedFd, devices: &[Device], bind: bool) -> Result<()> {
    for dev in devices {
        let path = Path::new(&dev.path);
        let parent = path.parent().unwrap_or(Path::new("/"));
        let name = path.file_name().unwrap_or_default();
        let dir = open_in_root(root, parent, Create::Dir)?;
        if bind {
            let target = open_in_root(root, path, Create::File)?;
            mount(
                Some(path),
                &fd_path(&target),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| Error::sys(format!("bind device {}", dev.path), e))?;
            continue;
        }
        let mode = Mode::from_bits_truncate(dev.mode);
        match mknodat(
            dir.as_fd(),
            Path::new(name),
            dev.kind,
            mode,
            makedev(dev.major, dev.minor),
        ) {
            Ok(()) => {}
            // Already there (a spec device listed twice, or a rootfs that ships
            // nodes): keep it.
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(Error::sys(format!("mknod {}", dev.path), e)),
        }
        // The init runs with umask 0 (see process::init), so the mode is exact.
        fchownat(
            dir.as_fd(),
            Path::new(name),
            Some(Uid::from_raw(dev.uid)),
            Some(Gid::from_raw(dev.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| Error::sys(format!("chown {}", dev.path), e))?;
    }
    Ok(())
}

/// The symlinks every container's `/dev` has; `ptmx` only with a devpts mount.
pub fn symlinks(root: &OwnedFd, with_pts: bool) -> Result<()> {
    let dev = open_in_root(root, Path::new("/dev"), Create::Dir)?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("/proc/kcore", "core"),
    ];
    if with_pts {
        links.push(("pts/ptmx", "ptmx"));
    }
    for (target, name) in links {
        match symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(Error::sys(format!("symlink /dev/{name}"), e)),
        }
    }
    Ok(())
}
