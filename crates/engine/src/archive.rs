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

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use models::container::PathStat;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};

use crate::container::record::State;
use crate::error::Cause;
use crate::{Engine, EngineError, ErrorKind};

/// A container's root, open, and what must be undone after.
struct Root {
    fd: OwnedFd,
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

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

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
    fn with_archive_root<T>(
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

/// Who owns what [`extract_into`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// root (`docker cp` without `-a`, `COPY` without `--chown`).
    Root,
    /// The ids in the tar (`cp -a`, `ADD` of an archive).
    FromTar,
    /// These ids (`COPY --chown`).
    Fixed(u32, u32),
}

/// Extracts a tar below the directory `dest`: every entry is created
/// relative to a directory descriptor, each parent opened `O_NOFOLLOW` (a
/// symlink on the way is refused, not followed), and `..` or absolute
/// entry names are refused; hardlinks must name an entry below `dest`.
/// `chmod` replaces every entry's mode (`COPY --chmod`).
pub(crate) fn extract_into(
    dest: &OwnedFd,
    tar: impl Read,
    owner: Owner,
    chmod: Option<u32>,
) -> Result<(), EngineError> {
    let parts_of = |name: &Path| -> Result<Vec<std::ffi::OsString>, EngineError> {
        let mut parts = Vec::new();
        for comp in name.components() {
            match comp {
                std::path::Component::Normal(n) => parts.push(n.to_os_string()),
                std::path::Component::CurDir => {}
                _ => {
                    return Err(bad_tar(format!(
                        "entry {} leaves the destination",
                        name.display()
                    )))
                }
            }
        }
        Ok(parts)
    };
    // The same bounds as a layer's: a small compressed upload may expand
    // to any size (a decompression bomb) or name millions of entries.
    let mut archive = untar::Archive::new(Bounded {
        inner: tar,
        left: store::layer::MAX_BYTES + store::layer::MAX_ENTRIES * 1024,
    });
    // The directories along the last entry's path stay open: a deep tree
    // costs one open per directory, not one per entry and level.
    let mut dirs_open = store::walk::DirCache::new(dest.try_clone().map_err(ArchiveError::sys)?);
    let mut count = 0u64;
    while let Some(mut entry) = archive.next_entry().map_err(|e| bad_tar(e.to_string()))? {
        count += 1;
        if count > store::layer::MAX_ENTRIES {
            return Err(bad_tar(format!(
                "more than {} entries",
                store::layer::MAX_ENTRIES
            )));
        }
        let name = PathBuf::from(OsStr::from_bytes(entry.path_bytes()));
        let parts = parts_of(&name)?;
        let parts: Vec<&OsStr> = parts.iter().map(|p| p.as_os_str()).collect();
        let Some((last, dirs)) = parts.split_last() else {
            continue;
        };
        let owned: Vec<std::ffi::OsString> = dirs.iter().map(|d| d.to_os_string()).collect();
        let parent = dirs_open
            .dir(&owned, true)
            .and_then(|fd| Ok(fd.try_clone()?))
            .map_err(|e| dir_error(&name, e))?;
        let (uid, gid) = match owner {
            Owner::Root => (0, 0),
            Owner::FromTar => (entry.uid() as u32, entry.gid() as u32),
            Owner::Fixed(u, g) => (u, g),
        };
        let mode = Mode::from_bits_truncate(chmod.unwrap_or(entry.mode()) & 0o7777);
        let own = |fd: &OwnedFd| {
            crate::error::ignore(
                format_args!("chown to {uid}:{gid} while extracting"),
                nix::unistd::fchown(
                    fd,
                    Some(nix::unistd::Uid::from_raw(uid)),
                    Some(nix::unistd::Gid::from_raw(gid)),
                ),
            );
            crate::error::ignore("chmod while extracting", nix::sys::stat::fchmod(fd, mode));
        };
        match entry.kind() {
            tar::EntryType::Directory => {
                let d = subdir(&parent, last)?;
                own(&d);
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                remove_non_dir(&parent, last);
                // O_NONBLOCK: a FIFO the container puts here meanwhile
                // must not hold this thread (opening one to write waits for
                // a reader); it is refused below.
                let f = openat(
                    &parent,
                    *last,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_TRUNC
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_NONBLOCK
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(|e| ArchiveError::failed(format!("create {}", name.display()), e))?;
                if fstat(&f).map(|st| kind(&st)).ok() != Some(SFlag::S_IFREG) {
                    return Err(ArchiveError::sys(format!(
                        "create {}: not a regular file",
                        name.display()
                    ))
                    .into());
                }
                let mut file = std::fs::File::from(f);
                std::io::copy(&mut entry, &mut file)
                    .map_err(|e| ArchiveError::failed(format!("write {}", name.display()), e))?;
                // After the data: a setuid bit survives only the owner's chown.
                own(&OwnedFd::from(file));
            }
            tar::EntryType::Symlink => {
                let target =
                    PathBuf::from(OsStr::from_bytes(entry.link_bytes().ok_or_else(|| {
                        bad_tar(format!("symlink {} has no target", name.display()))
                    })?));
                remove_non_dir(&parent, last);
                nix::unistd::symlinkat(target.as_path(), &parent, *last)
                    .map_err(|e| ArchiveError::failed(format!("symlink {}", name.display()), e))?;
                crate::error::ignore(
                    format_args!("chown symlink {}", name.display()),
                    nix::unistd::fchownat(
                        &parent,
                        *last,
                        Some(nix::unistd::Uid::from_raw(uid)),
                        Some(nix::unistd::Gid::from_raw(gid)),
                        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                    ),
                );
            }
            tar::EntryType::Link => {
                let target =
                    PathBuf::from(OsStr::from_bytes(entry.link_bytes().ok_or_else(|| {
                        bad_tar(format!("hardlink {} has no target", name.display()))
                    })?));
                let tparts = parts_of(&target)?;
                let tparts: Vec<&OsStr> = tparts.iter().map(|p| p.as_os_str()).collect();
                let Some((tlast, tdirs)) = tparts.split_last() else {
                    return Err(bad_tar(format!(
                        "hardlink {} names no file",
                        name.display()
                    )));
                };
                let towned: Vec<std::ffi::OsString> =
                    tdirs.iter().map(|d| d.to_os_string()).collect();
                let tparent = dirs_open
                    .dir(&towned, true)
                    .and_then(|fd| Ok(fd.try_clone()?))
                    .map_err(|e| dir_error(&target, e))?;
                remove_non_dir(&parent, last);
                nix::unistd::linkat(
                    &tparent,
                    *tlast,
                    &parent,
                    *last,
                    nix::fcntl::AtFlags::empty(),
                )
                .map_err(|e| ArchiveError::failed(format!("hardlink {}", name.display()), e))?;
            }
            other => {
                return Err(bad_tar(format!(
                    "entry {} is a {other:?}, which copies do not take",
                    name.display()
                )))
            }
        }
    }
    Ok(())
}

/// Opens again what an `O_PATH` descriptor names (the very inode that was
/// checked, not a path that may have been swapped since): the store's
/// [`store::walk::reopen`], its error as the engine words an errno.
pub(crate) fn reopen(fd: &OwnedFd, flags: OFlag) -> Result<OwnedFd, EngineError> {
    store::walk::reopen(fd, flags)
        .map_err(|e| ArchiveError::sys(nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0))))
        .map_err(EngineError::from)
}

/// Appends the directory (with all below it) or file `fd` names, stat'ed
/// as `st`, under the name `top`; anything else is refused (`what` names it).
pub(crate) fn append_opened<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    fd: &OwnedFd,
    st: &FileStat,
    top: &Path,
    what: &str,
) -> Result<(), EngineError> {
    match kind(st) {
        SFlag::S_IFDIR => append_dir(
            tar,
            reopen(fd, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?,
            top.to_path_buf(),
            st,
        ),
        SFlag::S_IFREG => append_file(
            tar,
            std::fs::File::from(reopen(fd, OFlag::O_RDONLY)?),
            top,
            st,
        ),
        _ => Err(ArchiveError::Invalid(format!("{what}: not a file or a directory")).into()),
    }
}

/// Opens `path` inside the root `root` (an `O_PATH` directory; symlinks
/// followed inside it, never out of it) as an `O_PATH` descriptor, with its
/// stat. `Ok(None)`: no such path.
pub(crate) fn open_source(
    root: &OwnedFd,
    path: &Path,
) -> Result<Option<(OwnedFd, FileStat)>, EngineError> {
    use runtime::rootfs::resolve::{open_in_root, Create};
    let fd = match open_in_root(root, path, Create::No) {
        Ok(fd) => fd,
        Err(e) if e.to_string().contains("No such file") || e.to_string().contains("ENOENT") => {
            return Ok(None)
        }
        Err(e) => return Err(ArchiveError::sys(e).into()),
    };
    let st = fstat(&fd).map_err(ArchiveError::sys)?;
    Ok(Some((fd, st)))
}

/// A reader that fails past `left` bytes (not a silent cut, which would
/// read as a truncated tar).
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::other("the archive exceeds its size limit uncompressed")
        })?;
        Ok(n)
    }
}

fn bad_tar(msg: String) -> EngineError {
    ArchiveError::BadArchive(msg).into()
}

/// Opens (making it if missing) directory `name` below `parent`, refusing
/// a symlink in its place.
fn subdir(parent: &OwnedFd, name: &OsStr) -> Result<OwnedFd, EngineError> {
    match nix::sys::stat::mkdirat(parent, name, Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => {
            return Err(ArchiveError::failed(format!("mkdir {}", name.to_string_lossy()), e).into())
        }
    }
    openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        ArchiveError::Invalid(format!(
            "{}: not a directory here ({e}); berth does not write through symlinks",
            name.to_string_lossy()
        ))
    })
    .map_err(EngineError::from)
}

/// An entry's directory could not be had.
fn dir_error(entry: &Path, e: store::walk::DirError) -> EngineError {
    use store::walk::DirError;
    match e {
        DirError::Io(e) => ArchiveError::failed(entry.display().to_string(), e).into(),
        DirError::NotADirectory(n) => ArchiveError::Invalid(format!(
            "{}: not a directory here; berth does not write through symlinks",
            n.to_string_lossy()
        ))
        .into(),
        e => bad_tar(format!("entry {}: {e}", entry.display())),
    }
}

/// Makes room for a file or link: whatever non-directory is there goes.
fn remove_non_dir(parent: &OwnedFd, name: &OsStr) {
    // Nothing there (ENOENT) is the common case, and a directory (EISDIR) is
    // left for the create after this to refuse with its own error.
    let _ = nix::unistd::unlinkat(parent, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
}

/// A path opened inside a container's root.
struct Opened {
    /// An `O_PATH` descriptor of it (of the link itself for a symlink).
    fd: OwnedFd,
    /// The name its entries take in a tar (`.` for `dir/.`).
    base: String,
    /// For a symlink: its target as stored, and the path it resolves to
    /// inside the root (Docker's `linkTarget`).
    link: Option<(PathBuf, String)>,
}

/// Opens `path` inside the root. A symlink named by the path's last
/// component is opened itself, as Docker's archive routes take it (`cp
/// -L` follows it through the `linkTarget` of the stat) unless
/// `follow_last`; symlinks on the way there are resolved inside the root.
fn open_path(root: &Root, path: &str, follow_last: bool) -> Result<Opened, EngineError> {
    use runtime::rootfs::resolve::{open_in_root, Create};
    if path.is_empty() {
        return Err(ArchiveError::Invalid("a path is required".into()).into());
    }
    let p = Path::new(path);
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        Path::new("/").join(p)
    };
    let not_found = |e: runtime::Error| {
        if e.to_string().contains("No such file") || e.to_string().contains("ENOENT") {
            ArchiveError::NoSuchPath(path.to_string())
        } else {
            ArchiveError::sys(e)
        }
    };
    // `dir/.` means the directory's contents: its entries are `./…`.
    let dot = path == "." || path.ends_with("/.");
    let base = if dot {
        ".".to_string()
    } else {
        p.file_name()
            .map_or_else(|| ".".to_string(), |n| n.to_string_lossy().into_owned())
    };
    if !follow_last && !dot && !path.ends_with('/') {
        if let (Some(parent), Some(name)) = (p.parent(), p.file_name()) {
            let dir = open_in_root(&root.fd, parent, Create::No).map_err(not_found)?;
            if let Ok(target) = nix::fcntl::readlinkat(&dir, name) {
                let fd = openat(
                    &dir,
                    name,
                    OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(ArchiveError::sys)?;
                let resolved = resolve_in_root(root, &p);
                return Ok(Opened {
                    fd,
                    base,
                    link: Some((PathBuf::from(target), resolved)),
                });
            }
        }
    }
    let fd = open_in_root(&root.fd, &p, Create::No).map_err(not_found)?;
    Ok(Opened {
        fd,
        base,
        link: None,
    })
}

/// The path `p` comes to inside the root once every symlink in it is
/// followed (absolute targets from the root, `..` stopping there), as
/// text; what does not exist is taken as it is written.
fn resolve_in_root(root: &Root, p: &Path) -> String {
    use std::collections::VecDeque;
    let mut pending: VecDeque<std::ffi::OsString> = p
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_os_string()),
            std::path::Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut cur = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            cur.pop();
            continue;
        }
        let dir = runtime::rootfs::resolve::open_in_root(
            &root.fd,
            &cur,
            runtime::rootfs::resolve::Create::No,
        );
        match dir
            .ok()
            .and_then(|d| nix::fcntl::readlinkat(&d, name.as_os_str()).ok())
        {
            Some(target) if links < 40 => {
                links += 1;
                let target = PathBuf::from(target);
                if target.is_absolute() {
                    cur = PathBuf::from("/");
                }
                for c in target.components().rev() {
                    match c {
                        std::path::Component::Normal(n) => pending.push_front(n.to_os_string()),
                        std::path::Component::ParentDir => pending.push_front("..".into()),
                        _ => {}
                    }
                }
            }
            _ => cur.push(name),
        }
    }
    cur.to_string_lossy().into_owned()
}

fn header(st: &FileStat, typ: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(typ);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(size);
    h
}

/// Appends an entry named `name`, link target `link` for a symlink.
/// The tar crate drops `.` components from names, but Docker names the
/// entries of `dir/.` `./…` (its clients rebase on that prefix): such names
/// are written into the header as they are, a GNU long-name entry before
/// one longer than the header holds.
fn append_entry<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    h: &mut tar::Header,
    name: &Path,
    link: Option<&Path>,
    data: impl Read,
) -> std::io::Result<()> {
    let raw = name.as_os_str().as_bytes();
    if !raw.starts_with(b"./") && raw != b"." {
        return match link {
            Some(l) => tar.append_link(h, name, l),
            None => tar.append_data(h, name, data),
        };
    }
    let long = |tar: &mut tar::Builder<W>, kind: tar::EntryType, bytes: &[u8]| {
        let mut l = tar::Header::new_gnu();
        l.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        l.set_mode(0o644);
        l.set_mtime(0);
        l.set_entry_type(kind);
        l.set_size(bytes.len() as u64 + 1);
        l.set_cksum();
        tar.append(&l, bytes.chain(&[0u8][..]))
    };
    if raw.len() > 100 {
        long(tar, tar::EntryType::GNULongName, raw)?;
    }
    if let Some(l) = link {
        let lb = l.as_os_str().as_bytes();
        if lb.len() > 100 {
            long(tar, tar::EntryType::GNULongLink, lb)?;
        }
        let field = &mut h.as_old_mut().linkname;
        field.fill(0);
        field[..lb.len().min(100)].copy_from_slice(&lb[..lb.len().min(100)]);
    }
    let field = &mut h.as_old_mut().name;
    field.fill(0);
    field[..raw.len().min(100)].copy_from_slice(&raw[..raw.len().min(100)]);
    h.set_cksum();
    tar.append(h, data)
}

fn append_file<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    file: std::fs::File,
    name: &Path,
    st: &FileStat,
) -> Result<(), EngineError> {
    let mut h = header(st, tar::EntryType::Regular, st.st_size as u64);
    // The size is what was stat'ed; a file that grows meanwhile is cut
    // there, one that shrinks padded (the header's size must hold).
    append_entry(
        tar,
        &mut h,
        name,
        None,
        store::walk::exactly(file, st.st_size as u64),
    )
    .map_err(ArchiveError::sys)
    .map_err(EngineError::from)
}

/// Whether a directory is on a kernel filesystem (proc, sysfs, cgroup,
/// devpts, mqueue and kin), whose trees are not the container's files.
fn pseudo_fs(fd: &OwnedFd) -> bool {
    use nix::sys::statfs::{
        fstatfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC, DEVPTS_SUPER_MAGIC, PROC_SUPER_MAGIC,
        SYSFS_MAGIC,
    };
    const MQUEUE_MAGIC: i64 = 0x1980_0202;
    let Ok(st) = fstatfs(fd) else { return false };
    let t = st.filesystem_type();
    [
        PROC_SUPER_MAGIC,
        SYSFS_MAGIC,
        CGROUP_SUPER_MAGIC,
        CGROUP2_SUPER_MAGIC,
        DEVPTS_SUPER_MAGIC,
    ]
    .contains(&t)
        || t.0 == MQUEUE_MAGIC
}

/// A directory and everything below it, through descriptors only
/// (`store::walk`: each entry opened `O_PATH | O_NOFOLLOW` from its
/// parent, iteratively, at most `store::walk::MAX_DEPTH` levels).
fn append_dir<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    dir: OwnedFd,
    name: PathBuf,
    st: &FileStat,
) -> Result<(), EngineError> {
    use store::walk::Descend;
    let mut h = header(st, tar::EntryType::Directory, 0);
    append_entry(tar, &mut h, &name, None, std::io::empty()).map_err(ArchiveError::sys)?;
    store::walk::walk::<EngineError>(&dir, |n| {
        let path = name.join(n.rel);
        match n.kind() {
            SFlag::S_IFDIR => {
                let mut h = header(n.stat, tar::EntryType::Directory, 0);
                append_entry(tar, &mut h, &path, None, std::io::empty())
                    .map_err(ArchiveError::sys)?;
                // /proc, /sys and the like: the mount point, not the kernel's tree.
                Ok(if pseudo_fs(n.fd) {
                    Descend::No
                } else {
                    Descend::Yes
                })
            }
            SFlag::S_IFREG => {
                // The very inode stat'ed, opened for reading.
                let f = reopen(n.fd, OFlag::O_RDONLY)?;
                append_file(tar, std::fs::File::from(f), &path, n.stat)?;
                Ok(Descend::No)
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(n.fd, "").map_err(ArchiveError::sys)?;
                let mut h = header(n.stat, tar::EntryType::Symlink, 0);
                append_entry(
                    tar,
                    &mut h,
                    &path,
                    Some(Path::new(&target)),
                    std::io::empty(),
                )
                .map_err(ArchiveError::sys)?;
                Ok(Descend::No)
            }
            _ => Ok(Descend::No),
        }
    })
}

/// An error of a copy into or out of a container or of an export; hostile archives are refused with a 400.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The path is not in the container (404), in Docker's words.
    #[error("Could not find the file {0} in container")]
    NoSuchPath(String),
    /// The archive is malformed or hostile (400): what is wrong with it.
    #[error("bad archive: {0}")]
    BadArchive(String),
    /// A refusal of what the caller asked (400), in Docker's words.
    #[error("{0}")]
    Invalid(String),
    /// An OS-level step that failed: what it did, on what, and the
    /// error (500).
    #[error("{context}: {source}")]
    Failed {
        /// What was being done, on what (the path, the id).
        context: String,
        /// The call's error.
        #[source]
        source: Cause,
    },
    /// A failure of the system whose text says it all (500).
    #[error(transparent)]
    Sys(#[from] Cause),
}

impl ArchiveError {
    /// What sort of failure, for the status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ArchiveError::NoSuchPath(_) => ErrorKind::NotFound,
            ArchiveError::BadArchive(_) => ErrorKind::InvalidArgument,
            ArchiveError::Invalid(_) => ErrorKind::InvalidArgument,
            ArchiveError::Failed { .. } | ArchiveError::Sys(_) => ErrorKind::System,
        }
    }

    /// `context` failed with `source`.
    pub(crate) fn failed(context: impl Into<String>, source: impl Into<Cause>) -> Self {
        ArchiveError::Failed {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A failure of the system: a call's error, or a message.
    pub(crate) fn sys(e: impl Into<Cause>) -> Self {
        ArchiveError::Sys(e.into())
    }
}
