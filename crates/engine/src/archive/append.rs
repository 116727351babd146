//! Writing what a descriptor names into a tar, through descriptors only.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, SFlag};

use super::ArchiveError;
use crate::EngineError;

use super::{kind, reopen};

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

pub(super) fn header(st: &FileStat, typ: tar::EntryType, size: u64) -> tar::Header {
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
