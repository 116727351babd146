//! Small files the daemon reads from a container's root (`/etc/passwd`,
//! `/etc/group`): the root is the image's or the container's, so hostile.
//!
//! Each read resolves the path inside the root (`openat2(RESOLVE_IN_ROOT)`:
//! a symlink to `/etc/shadow` means the container's, never the host's),
//! takes regular files only (a FIFO would hang a daemon thread, a symlink
//! to a device such as `/dev/zero` would grow the daemon without end), and
//! reads at most [`MAX_ID_FILE`] bytes.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, Mode, SFlag};

/// The most of `/etc/passwd` or `/etc/group` read: far beyond any real
/// image's (a few KiB), small enough that a hostile one costs nothing.
pub const MAX_ID_FILE: u64 = 8 << 20;

/// Why a file of the root could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RootFileError {
    /// Not a regular file (a FIFO, a device, a directory, a socket).
    #[error("{0}: not a regular file")]
    NotRegular(String),
    /// Larger than the bound.
    #[error("{0}: larger than {MAX_ID_FILE} bytes")]
    TooLarge(String),
    /// Any other failure to open or read it.
    #[error("{0}: {1}")]
    Io(String, String),
}

/// Opens the directory `rootfs` (a container's mounted root) as the root
/// of later lookups.
pub fn open_root(rootfs: &Path) -> Result<OwnedFd, RootFileError> {
    nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| RootFileError::Io(rootfs.display().to_string(), e.to_string()))
}

/// The text of the regular file `path` (as the container sees it) inside
/// the root `root`; `Ok(None)` when it does not exist. Bytes that are not
/// UTF-8 are replaced, as the lines that matter are ASCII.
pub fn read(root: &OwnedFd, path: &str) -> Result<Option<String>, RootFileError> {
    use runtime::rootfs::resolve::{open_in_root, Create};
    let io = |e: &dyn std::fmt::Display| RootFileError::Io(path.to_string(), e.to_string());
    let fd = match open_in_root(root, Path::new(path), Create::No) {
        Ok(fd) => fd,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(io(&e)),
    };
    // The O_PATH descriptor's inode is what is read: its type cannot change.
    let st = fstat(&fd).map_err(|e| io(&e))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(RootFileError::NotRegular(path.to_string()));
    }
    let file = nix::fcntl::open(
        format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str(),
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(&e))?;
    let mut bytes = Vec::new();
    std::fs::File::from(file)
        .take(MAX_ID_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io(&e))?;
    if bytes.len() as u64 > MAX_ID_FILE {
        return Err(RootFileError::TooLarge(path.to_string()));
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// No such path (or a parent that is not a directory).
fn is_missing(e: &runtime::Error) -> bool {
    use nix::errno::Errno;
    matches!(
        e,
        runtime::Error::Sys {
            source: Errno::ENOENT | Errno::ENOTDIR,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_files_inside_the_root() {
        let host = tempfile::tempdir().unwrap();
        std::fs::write(host.path().join("secret"), "host:x:1:1::/:/bin/sh\n").unwrap();
        let d = tempfile::tempdir().unwrap();
        let etc = d.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        std::fs::write(etc.join("passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        // Absolute: the container's /host..., which does not exist in it.
        std::os::unix::fs::symlink(host.path().join("secret"), etc.join("out")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", etc.join("zero")).unwrap();
        std::os::unix::fs::symlink("passwd", etc.join("link")).unwrap();
        nix::unistd::mkfifo(&etc.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        std::fs::write(etc.join("big"), vec![b'x'; MAX_ID_FILE as usize + 1]).unwrap();
        let root = open_root(d.path()).unwrap();
        let passwd = Some("root:x:0:0::/root:/bin/sh\n".to_string());
        assert_eq!(read(&root, "/etc/passwd").unwrap(), passwd);
        assert_eq!(read(&root, "/etc/link").unwrap(), passwd);
        assert_eq!(read(&root, "/etc/missing").unwrap(), None);
        assert_eq!(read(&root, "/etc/out").unwrap(), None);
        assert_eq!(read(&root, "/etc/zero").unwrap(), None);
        assert_eq!(
            read(&root, "/etc/fifo"),
            Err(RootFileError::NotRegular("/etc/fifo".into()))
        );
        assert_eq!(
            read(&root, "/etc"),
            Err(RootFileError::NotRegular("/etc".into()))
        );
        assert_eq!(
            read(&root, "/etc/big"),
            Err(RootFileError::TooLarge("/etc/big".into()))
        );
    }
}
