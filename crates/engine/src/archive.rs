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

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use models::container::PathStat;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};

use crate::container::record::State;
use crate::error::sys;
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
            let _ = store::mount::unmount(v.path());
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
            .map_err(|e| sys(format!("open {}: {e}", p.display())))
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
            .map_err(sys)?;
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
            let st = fstat(&o.fd).map_err(sys)?;
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
            let st = fstat(&fd).map_err(sys)?;
            let resolved = link.as_ref().map_or("", |(_, r)| r.as_str());
            stat(stat_json(&base, &st, resolved));
            let mut tar = tar::Builder::new(out);
            tar.follow_symlinks(false);
            if let Some((target, _)) = &link {
                let mut h = header(&st, tar::EntryType::Symlink, 0);
                tar.append_link(&mut h, &base, target).map_err(sys)?;
                tar.finish().map_err(sys)?;
                return Ok(());
            }
            append_opened(&mut tar, &fd, &st, Path::new(&base), path)?;
            tar.finish().map_err(sys)?;
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
            if kind(&fstat(&dest).map_err(sys)?) != SFlag::S_IFDIR {
                return Err(EngineError::new(
                    ErrorKind::InvalidArgument,
                    format!("extraction point is not a directory: {path}"),
                ));
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
        Some(m) if !m.rw => Err(sys("mounted volume is marked read-only")),
        None if c.config.host_config.readonly_rootfs => {
            Err(sys("container rootfs is marked read-only"))
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
    let what = |e| sys(format!("mount {} for the copy: {e}", source.display()));
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
                let _ = nix::mount::umount2(&top, nix::mount::MntFlags::MNT_DETACH);
            }
            return Err(what(e));
        }
    }
    Ok(())
}

/// Who owns what [`extract_into`] makes: the shared extractor's owners
/// (`Root` for `docker cp` without `-a` and `COPY`, `FromTar` for `cp -a`
/// and `ADD` of an archive, `Fixed` for `COPY --chown`).
pub(crate) use untar::extract::Owner;

/// Extracts a tar below the directory `dest` with the one extractor
/// ([`untar::extract`]: every entry created relative to a directory
/// descriptor, no symlink followed, `..` and absolute names refused,
/// hardlinks below `dest`, entries and bytes bounded as a layer's).
/// `chmod` replaces every entry's mode (`COPY --chmod`).
pub(crate) fn extract_into(
    dest: &OwnedFd,
    tar: impl Read,
    owner: Owner,
    chmod: Option<u32>,
) -> Result<(), EngineError> {
    use untar::extract::{ExtractError, Options};
    let opts = Options {
        owner,
        chmod,
        // The same bounds as a layer's: a small compressed upload may
        // expand to any size (a decompression bomb) or name millions of
        // entries.
        max_entries: store::layer::MAX_ENTRIES,
        max_bytes: store::layer::MAX_BYTES + store::layer::MAX_ENTRIES * 1024,
        ..Options::default()
    };
    untar::extract::extract(dest, tar, &opts, |_: &[u8]| None).map_err(|e| match e {
        ExtractError::Invalid(msg) => bad_tar(msg),
        e @ ExtractError::NotADirectory { .. } => {
            EngineError::new(ErrorKind::InvalidArgument, e.to_string())
        }
        e @ ExtractError::Io { .. } => sys(e.to_string()),
    })
}

/// Opens again what an `O_PATH` descriptor names (the very inode that was
/// checked, not a path that may have been swapped since): the store's
/// [`store::walk::reopen`], its error as the engine words an errno.
pub(crate) fn reopen(fd: &OwnedFd, flags: OFlag) -> Result<OwnedFd, EngineError> {
    store::walk::reopen(fd, flags)
        .map_err(|e| sys(nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0))))
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
        _ => Err(EngineError::new(
            ErrorKind::InvalidArgument,
            format!("{what}: not a file or a directory"),
        )),
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
        Err(e) => return Err(sys(e)),
    };
    let st = fstat(&fd).map_err(sys)?;
    Ok(Some((fd, st)))
}

fn bad_tar(msg: String) -> EngineError {
    EngineError::new(ErrorKind::InvalidArgument, format!("bad archive: {msg}"))
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
        return Err(EngineError::new(
            ErrorKind::InvalidArgument,
            "a path is required",
        ));
    }
    let p = Path::new(path);
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        Path::new("/").join(p)
    };
    let not_found = |e: runtime::Error| {
        if e.to_string().contains("No such file") || e.to_string().contains("ENOENT") {
            EngineError::new(
                ErrorKind::NotFound,
                format!("Could not find the file {path} in container"),
            )
        } else {
            sys(e)
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
                .map_err(sys)?;
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
    .map_err(sys)
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
    append_entry(tar, &mut h, &name, None, std::io::empty()).map_err(sys)?;
    store::walk::walk::<EngineError>(&dir, |n| {
        let path = name.join(n.rel);
        match n.kind() {
            SFlag::S_IFDIR => {
                let mut h = header(n.stat, tar::EntryType::Directory, 0);
                append_entry(tar, &mut h, &path, None, std::io::empty()).map_err(sys)?;
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
                let target = nix::fcntl::readlinkat(n.fd, "").map_err(sys)?;
                let mut h = header(n.stat, tar::EntryType::Symlink, 0);
                append_entry(
                    tar,
                    &mut h,
                    &path,
                    Some(Path::new(&target)),
                    std::io::empty(),
                )
                .map_err(sys)?;
                Ok(Descend::No)
            }
            _ => Ok(Descend::No),
        }
    })
}
