//! The container's root filesystem, set up by its init in a fresh mount
//! namespace, in this order:
//!
//! 1. set the propagation of our copies of the host's mounts (`/` slave or
//!    as the spec's `rootfsPropagation` says) and make the mount holding the
//!    rootfs private, so nothing we mount under it leaks back;
//! 2. bind the rootfs onto itself, so it is a mount point `pivot_root` accepts;
//! 3. mount the spec's mounts in order, each destination resolved inside the
//!    rootfs (see [`resolve`]);
//! 4. fill `/dev` (devices, symlinks, `/dev/console` for a terminal);
//! 5. `pivot_root` into it and detach the old root ([`pivot`]);
//! 6. read-only root, masked and read-only paths ([`finish`]).

pub mod devices;
pub mod resolve;

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::sys::statvfs::{fstatvfs, FsFlags};
use nix::unistd::{chdir, pivot_root};
use oci_spec::runtime::{Mount, Spec};

use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use crate::mount_opts::{self, MountOptions};
use resolve::{fd_path, open_in_root, Create};

/// What the rootfs setup needs besides the spec.
#[derive(Debug)]
pub struct Setup<'a> {
    /// The spec.
    pub spec: &'a Spec,
    /// Host path of the rootfs.
    pub rootfs: &'a Path,
    /// The container's cgroup, for `cgroup` mounts.
    pub cgroup: &'a Cgroup,
    /// Whether the container runs in a user namespace: its own, or the
    /// runtime's (rootless).
    pub userns: bool,
    /// Whether it has its own cgroup namespace.
    pub cgroupns: bool,
    /// Whether the process gets a terminal: a pty is opened in the
    /// container's devpts and its follower bound onto `/dev/console`.
    pub terminal: bool,
}

/// Steps 1 to 4. Returns the pty (master, follower) when `terminal` is set.
pub fn prepare(s: &Setup<'_>) -> Result<Option<(OwnedFd, OwnedFd)>> {
    let linux = s.spec.linux().as_ref();
    // 1. The copies of the host's mounts take the spec's root propagation
    //    (a slave by default), as runc's prepareRoot: `rshared` keeps them
    //    peers of the host's, so that an `rshared` bind made from them
    //    below propagates both ways. The mount holding the rootfs is then
    //    made private, so that nothing mounted under the rootfs (the bind
    //    of step 2 and all that follows) reaches the host, and so that
    //    `pivot_root` accepts it (its parent must not be shared).
    let root_prop = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(mount_opts::propagation)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        root_prop | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| Error::sys("set / propagation", e))?;
    parent_mount_private(s.rootfs)?;
    // 2. The rootfs becomes a mount point of its own.
    mount(
        Some(s.rootfs),
        s.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| Error::sys(format!("bind rootfs {}", s.rootfs.display()), e))?;
    let root = open(
        s.rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("open rootfs {}", s.rootfs.display()), e))?;
    // 3. The spec's mounts, in order.
    let mut with_pts = false;
    for m in s.spec.mounts().iter().flatten() {
        with_pts |= m.destination() == Path::new("/dev/pts");
        mount_one(s, &root, m)?;
    }
    // 4. /dev.
    let spec_devices = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
    devices::create(&root, &devices::wanted(spec_devices)?, s.userns)?;
    devices::symlinks(&root, with_pts)?;
    if !s.terminal {
        return Ok(None);
    }
    let (master, follower) = if with_pts {
        let ptmx = open_in_root(&root, Path::new("/dev/pts/ptmx"), Create::No)?;
        crate::console::open_pty(&fd_path(&ptmx))?
    } else {
        crate::console::open_pty(Path::new("/dev/ptmx"))?
    };
    let target = open_in_root(&root, Path::new("/dev/console"), Create::File)?;
    mount(
        Some(&fd_path(&follower)),
        &fd_path(&target),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| Error::sys("bind /dev/console", e))?;
    Ok(Some((master, follower)))
}

/// Makes the mount that holds `path` private (not recursively): the first
/// of `path` and its ancestors that is a mount point (runc's
/// rootfsParentMountPrivate; EINVAL means "not a mount point").
fn parent_mount_private(path: &Path) -> Result<()> {
    let mut at = path;
    loop {
        match mount(
            None::<&str>,
            at,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        ) {
            Ok(()) => return Ok(()),
            Err(nix::errno::Errno::EINVAL) if at.parent().is_some() => {
                at = at.parent().unwrap_or(Path::new("/"));
            }
            Err(e) => {
                return Err(Error::sys(
                    format!("make the mount of {} private", path.display()),
                    e,
                ))
            }
        }
    }
}

fn mount_one(s: &Setup<'_>, root: &OwnedFd, m: &Mount) -> Result<()> {
    let opts = mount_opts::parse(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().as_deref().unwrap_or("");
    let dest = m.destination();
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(s, root, dest, &opts);
    }
    let is_bind = opts.flags.contains(MsFlags::MS_BIND) || typ == "bind";
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    let create = if is_bind && !source.is_dir() {
        Create::File
    } else {
        Create::Dir
    };
    let target = open_in_root(root, dest, create)?;
    let target_path = fd_path(&target);
    let what = || format!("mount {} on {}", source.display(), dest.display());
    if is_bind {
        let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
        mount(
            Some(&source),
            &target_path,
            None::<&str>,
            flags,
            None::<&str>,
        )
        .map_err(|e| Error::sys(what(), e))?;
        // A bind ignores the other flags: apply them with a remount.
        let rest = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !rest.is_empty() || opts.recursive_ro {
            // Reopen: the descriptor from before the mount names the covered inode.
            let target = open_in_root(root, dest, Create::No)?;
            if !rest.is_empty() {
                remount_bind(&target, rest, s.userns).map_err(|e| Error::sys(what(), e))?;
            }
            if opts.recursive_ro {
                read_only_recursive(&target).map_err(|e| Error::sys(what(), e))?;
            }
        }
    } else {
        let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
        match mount(Some(&source), &target_path, Some(typ), opts.flags, data) {
            // A user namespace may mount sysfs only for a network namespace
            // it owns; sharing another's (the host's, under podman's
            // rootless `--network host`), the host's /sys is bound, as runc does.
            Err(nix::errno::Errno::EPERM) if typ == "sysfs" && s.userns => {
                mount(
                    Some("/sys"),
                    &target_path,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(|e| Error::sys(what(), e))?;
                if opts.flags.contains(MsFlags::MS_RDONLY) {
                    read_only_recursive(&open_in_root(root, dest, Create::No)?)
                        .map_err(|e| Error::sys(what(), e))?;
                }
            }
            r => r.map_err(|e| Error::sys(what(), e))?,
        }
    }
    set_propagation(root, dest, &opts)
}

/// Makes the mount at `target` and every mount below it read-only.
fn read_only_recursive(target: &OwnedFd) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `target` is an open descriptor, the empty path is a valid C
    // string, and `attr` is a `mount_attr` alive for the call whose size is
    // passed with it; the kernel only reads it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            target.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    nix::errno::Errno::result(r).map(drop)
}

/// Remounts a bind mount with `flags`, keeping the flags the kernel will not let
/// us clear (in a user namespace, and nosuid/nodev/noexec everywhere, as runc).
fn remount_bind(target: &OwnedFd, flags: MsFlags, userns: bool) -> nix::Result<()> {
    let st = fstatvfs(target.as_fd())?.flags();
    let mut locked = MsFlags::empty();
    for (f, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if st.contains(f) {
            locked |= m;
        }
    }
    if userns {
        for (f, m) in [
            (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        ] {
            if st.contains(f) {
                locked |= m;
            }
        }
    }
    mount(
        None::<&str>,
        &fd_path(target),
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags | locked,
        None::<&str>,
    )
}

fn set_propagation(root: &OwnedFd, dest: &Path, opts: &MountOptions) -> Result<()> {
    if opts.propagation.is_empty() {
        return Ok(());
    }
    let target = open_in_root(root, dest, Create::No)?;
    for p in &opts.propagation {
        mount(
            None::<&str>,
            &fd_path(&target),
            None::<&str>,
            *p,
            None::<&str>,
        )
        .map_err(|e| Error::sys(format!("set propagation of {}", dest.display()), e))?;
    }
    Ok(())
}

/// A `cgroup` mount: with a cgroup namespace, the kernel shows the container's
/// own cgroup as the root of a fresh cgroupfs; without one, the container's
/// directories are bound in. For v1, a tmpfs holds one mount per hierarchy.
fn mount_cgroup(s: &Setup<'_>, root: &OwnedFd, dest: &Path, opts: &MountOptions) -> Result<()> {
    let flags = opts.flags
        & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY);
    let what = |e| Error::sys(format!("mount cgroup on {}", dest.display()), e);
    if s.cgroup.is_none() {
        // No cgroup (rootless, nothing delegated): an empty read-only tree,
        // rather than a view of cgroups that are not the container's.
        let target = open_in_root(root, dest, Create::Dir)?;
        mount(
            Some("tmpfs"),
            &fd_path(&target),
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY,
            Some("mode=755"),
        )
        .map_err(what)?;
        return Ok(());
    }
    match s.cgroup {
        Cgroup::V2 { path } => {
            let target = open_in_root(root, dest, Create::Dir)?;
            if s.cgroupns {
                mount(
                    Some("cgroup2"),
                    &fd_path(&target),
                    Some("cgroup2"),
                    flags,
                    None::<&str>,
                )
                .map_err(what)?;
            } else {
                mount(
                    Some(path),
                    &fd_path(&target),
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(what)?;
                remount_bind(&open_in_root(root, dest, Create::No)?, flags, s.userns)
                    .map_err(what)?;
            }
        }
        Cgroup::V1 { paths } => {
            let target = open_in_root(root, dest, Create::Dir)?;
            let tmpfs_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            mount(
                Some("tmpfs"),
                &fd_path(&target),
                Some("tmpfs"),
                tmpfs_flags,
                Some("mode=755"),
            )
            .map_err(what)?;
            for h in v1_hierarchies() {
                let sub = dest.join(&h.name);
                let target = open_in_root(root, &sub, Create::Dir)?;
                if s.cgroupns {
                    mount(
                        Some("cgroup"),
                        &fd_path(&target),
                        Some(h.fstype.as_str()),
                        flags,
                        Some(h.options.as_str()),
                    )
                    .map_err(what)?;
                } else if let Some(p) = h
                    .controllers
                    .iter()
                    .chain(&h.named)
                    .find_map(|c| paths.get(c))
                {
                    mount(
                        Some(p),
                        &fd_path(&target),
                        None::<&str>,
                        MsFlags::MS_BIND,
                        None::<&str>,
                    )
                    .map_err(what)?;
                    remount_bind(&open_in_root(root, &sub, Create::No)?, flags, s.userns)
                        .map_err(what)?;
                }
            }
            if flags.contains(MsFlags::MS_RDONLY) {
                let target = open_in_root(root, dest, Create::No)?;
                mount(
                    None::<&str>,
                    &fd_path(&target),
                    None::<&str>,
                    MsFlags::MS_REMOUNT | tmpfs_flags | MsFlags::MS_RDONLY,
                    Some("mode=755"),
                )
                .map_err(what)?;
            }
        }
    }
    Ok(())
}

/// A v1 hierarchy (or the hybrid layout's cgroup2 tree) as the host mounts it.
struct Hierarchy {
    /// Directory name under `/sys/fs/cgroup` (`memory`, `cpu,cpuacct`, `unified`).
    name: String,
    /// `cgroup` or `cgroup2`.
    fstype: String,
    /// Super options to mount it again (`memory`, `name=systemd`).
    options: String,
    /// Controllers it carries.
    controllers: Vec<String>,
    /// Its key among a v1 cgroup's paths when it carries no controller:
    /// `name=systemd`, or the hybrid layout's cgroup2 tree.
    named: Option<String>,
}

fn v1_hierarchies() -> Vec<Hierarchy> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let all = crate::cgroups::Hierarchy::of_host(&own).unwrap_or_default();
    all.into_iter()
        .map(|h| Hierarchy {
            name: h
                .point
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            fstype: if h.v2 { "cgroup2" } else { "cgroup" }.to_string(),
            options: h.options(),
            named: if h.v2 {
                Some(crate::cgroups::UNIFIED_KEY.to_string())
            } else if h.controllers.is_empty() {
                h.name.clone()
            } else {
                None
            },
            controllers: h.controllers,
        })
        .collect()
}

/// Step 5: make the rootfs `/` and detach the host's tree, as runc does with
/// `pivot_root(".", ".")`: the old root is stacked under the new one at `/`,
/// then lazily unmounted, so no directory for it is needed in the image.
pub fn pivot(rootfs: &Path) -> Result<()> {
    let old_root = open(
        "/",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys("open /", e))?;
    chdir(rootfs).map_err(|e| Error::sys(format!("chdir {}", rootfs.display()), e))?;
    pivot_root(".", ".").map_err(|e| Error::sys("pivot_root", e))?;
    // "." is still the new root's directory, under the old root stacked on
    // it: a propagation change there would reach the new root's mounts
    // (and turn `rshared` binds into slaves). Go to the old root itself, as
    // runc does.
    nix::unistd::fchdir(old_root.as_fd()).map_err(|e| Error::sys("fchdir old root", e))?;
    drop(old_root);
    // The old root must not propagate our unmount to the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| Error::sys("make old root slave", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| Error::sys("detach old root", e))?;
    chdir("/").map_err(|e| Error::sys("chdir /", e))
}

/// Step 6, inside the new root.
pub fn finish(spec: &Spec, userns: bool) -> Result<()> {
    let linux = spec.linux().as_ref();
    let root = open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys("open /", e))?;
    for path in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        let Some(target) = existing(&root, path)? else {
            continue;
        };
        mount(
            Some(&fd_path(&target)),
            &fd_path(&target),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| Error::sys(format!("bind {path}"), e))?;
        let target = open_in_root(&root, Path::new(path), Create::No)?;
        remount_bind(
            &target,
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            userns,
        )
        .map_err(|e| Error::sys(format!("make {path} read-only"), e))?;
    }
    for path in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        let Some(target) = existing(&root, path)? else {
            continue;
        };
        let is_dir = nix::sys::stat::fstat(target.as_fd())
            .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
            .unwrap_or(false);
        let res = if is_dir {
            mount(
                Some("tmpfs"),
                &fd_path(&target),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None::<&str>,
            )
        } else {
            mount(
                Some("/dev/null"),
                &fd_path(&target),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        res.map_err(|e| Error::sys(format!("mask {path}"), e))?;
    }
    if let Some(p) = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(mount_opts::propagation)
    {
        if p.contains(MsFlags::MS_SHARED) || p.contains(MsFlags::MS_UNBINDABLE) {
            mount(None::<&str>, "/", None::<&str>, p, None::<&str>)
                .map_err(|e| Error::sys("set / propagation", e))?;
        }
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        remount_bind(&root, MsFlags::MS_RDONLY, userns)
            .map_err(|e| Error::sys("make / read-only", e))?;
    }
    Ok(())
}

fn existing(root: &OwnedFd, path: &str) -> Result<Option<OwnedFd>> {
    match open_in_root(root, Path::new(path), Create::No) {
        Ok(fd) => Ok(Some(fd)),
        Err(Error::Sys {
            source: nix::errno::Errno::ENOENT,
            ..
        }) => Ok(None),
        Err(e) => Err(e),
    }
}
