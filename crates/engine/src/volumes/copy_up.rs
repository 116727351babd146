//! A new volume takes the image's content at its destination (Docker's copy-up), never following a symlink.

use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstatat, Mode, SFlag};

use super::VolumeError;
use crate::EngineError;

pub(super) fn stat_kind(st: &nix::sys::stat::FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Docker's copy-up (moby `container.CopyImagePathContent`): an empty
/// volume mounted over `dest` is first filled with what the container's
/// root filesystem has there. The root is the image's (hostile): `dest` is
/// resolved inside it (`openat2(RESOLVE_IN_ROOT)`, a symlink cannot lead
/// out), and the tree below is walked by descriptors, every open
/// `O_NOFOLLOW`; symlinks are copied as symlinks, never followed.
pub fn copy_up(rootfs: &Path, dest: &str, data: &Path) -> Result<(), EngineError> {
    if std::fs::read_dir(data)
        .map_err(VolumeError::sys)?
        .next()
        .is_some()
    {
        return Ok(());
    }
    let root = nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| VolumeError::failed(format!("open {}", rootfs.display()), e))?;
    let src = match runtime::rootfs::resolve::open_in_root(
        &root,
        Path::new(dest),
        runtime::rootfs::resolve::Create::No,
    ) {
        Ok(fd) => fd,
        // Nothing there in the image: nothing to copy.
        Err(_) => return Ok(()),
    };
    let rd = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let Ok(src) = openat(&src, ".", rd, Mode::empty()) else {
        return Ok(()); // not a directory
    };
    let dst =
        nix::fcntl::open(data, rd | OFlag::O_NOFOLLOW, Mode::empty()).map_err(VolumeError::sys)?;
    // The volume's root takes the owner and mode of the image's directory.
    let st = nix::sys::stat::fstat(&src).map_err(VolumeError::sys)?;
    crate::error::ignore(
        format_args!("copy-up: chown {}", data.display()),
        nix::unistd::fchown(
            &dst,
            Some(nix::unistd::Uid::from_raw(st.st_uid)),
            Some(nix::unistd::Gid::from_raw(st.st_gid)),
        ),
    );
    crate::error::ignore(
        format_args!("copy-up: chmod {}", data.display()),
        nix::sys::stat::fchmod(&dst, Mode::from_bits_truncate(st.st_mode & 0o7777)),
    );
    copy_dir(&src, &dst, 0)
}

/// Deepest directory nesting copied up: a bound on a hostile image's tree
/// (the descriptors held open are one per level).
pub(super) const MAX_DEPTH: usize = 256;

pub(super) fn copy_dir(src: &OwnedFd, dst: &OwnedFd, depth: usize) -> Result<(), EngineError> {
    use nix::sys::stat::{fchmodat, mknodat, utimensat, FchmodatFlags, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    if depth > MAX_DEPTH {
        return Err(VolumeError::Invalid(format!(
            "copy-up: directories nested deeper than {MAX_DEPTH}"
        ))
        .into());
    }
    let dir = nix::dir::Dir::from_fd(src.try_clone().map_err(VolumeError::sys)?)
        .map_err(VolumeError::sys)?;
    let names: Vec<std::ffi::CString> = dir
        .into_iter()
        .flatten()
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in names {
        let name = std::ffi::OsStr::from_bytes(name.as_bytes());
        let st = match fstatat(src, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(_) => continue,
        };
        let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
        let err = |op: &str, e: nix::Error| {
            VolumeError::failed(format!("copy-up: {op} {}", name.to_string_lossy()), e)
        };
        match stat_kind(&st) {
            SFlag::S_IFDIR => {
                nix::sys::stat::mkdirat(dst, name, Mode::from_bits_truncate(0o700))
                    .map_err(|e| err("mkdir", e))?;
                let flags =
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                let s = openat(src, name, flags, Mode::empty()).map_err(|e| err("open", e))?;
                let d = openat(dst, name, flags, Mode::empty()).map_err(|e| err("open", e))?;
                copy_dir(&s, &d, depth + 1)?;
            }
            SFlag::S_IFREG => {
                // O_NONBLOCK and the check: never wait on a FIFO put in
                // the file's place since the stat.
                let s = openat(
                    src,
                    name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| err("open", e))?;
                if nix::sys::stat::fstat(&s)
                    .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT)
                    .ok()
                    != Some(SFlag::S_IFREG)
                {
                    return Err(VolumeError::sys(format!(
                        "copy-up: {}: not a regular file",
                        name.to_string_lossy()
                    ))
                    .into());
                }
                let d = openat(
                    dst,
                    name,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(|e| err("create", e))?;
                let mut s = std::fs::File::from(s);
                let mut d = std::fs::File::from(d);
                std::io::copy(&mut s, &mut d).map_err(|e| VolumeError::failed("copy-up", e))?;
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(src, name).map_err(|e| err("readlink", e))?;
                nix::unistd::symlinkat(target.as_os_str(), dst, name)
                    .map_err(|e| err("symlink", e))?;
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
                mknodat(dst, name, stat_kind(&st), perm, st.st_rdev)
                    .map_err(|e| err("mknod", e))?;
            }
            _ => continue, // sockets
        }
        crate::error::ignore(
            format_args!("copy-up: chown {}", name.to_string_lossy()),
            nix::unistd::fchownat(
                dst,
                name,
                Some(nix::unistd::Uid::from_raw(st.st_uid)),
                Some(nix::unistd::Gid::from_raw(st.st_gid)),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            ),
        );
        if stat_kind(&st) != SFlag::S_IFLNK {
            // After the chown, which clears set-id bits.
            crate::error::ignore(
                format_args!("copy-up: chmod {}", name.to_string_lossy()),
                fchmodat(dst, name, perm, FchmodatFlags::FollowSymlink),
            );
        }
        crate::error::ignore(
            format_args!("copy-up: set the times of {}", name.to_string_lossy()),
            utimensat(
                dst,
                name,
                &TimeSpec::new(st.st_atime, st.st_atime_nsec),
                &TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
                UtimensatFlags::NoFollowSymlink,
            ),
        );
    }
    Ok(())
}
