//! Extracting a hostile tar below a directory descriptor: the one extractor
//! of berth for copies (`docker cp` both ways, `COPY`/`ADD` of archives,
//! build contexts). Layers have their own unpacker in `store::layer`
//! (whiteouts, xattrs, devices), built on the same [`crate::dirs`].
//!
//! Nothing is reached through a path on the host side: every entry is
//! created relative to the descriptor of its parent directory, each parent
//! opened one component at a time with `O_NOFOLLOW` (a symlink on the way
//! is refused, never followed; a container swapping a directory for a link
//! while the copy runs gains nothing: the CVE-2018-15664 class). `..` and
//! absolute entry names are refused; hardlinks must name an entry below the
//! destination; the number of entries and the bytes read are bounded.
//! Directory modes are set last, deepest first, so that a read-only
//! directory still takes its files.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::unistd::{Gid, Uid};

use crate::dirs::{DirCache, DirError};
use crate::{Archive, Entry, EntryType};

/// Most entries in one archive: real trees have up to a few hundred
/// thousand; ten million is no copy, only an attack on the inode table.
pub const MAX_ENTRIES: u64 = 10_000_000;
/// Most uncompressed bytes in one archive (64 GiB): beyond what any copy
/// needs, before a decompression bomb fills the disk.
pub const MAX_BYTES: u64 = 64 << 30;
/// Most memory kept for setting directory modes after the entries are
/// written (64 MiB: each directory costs its path and a few words).
pub const MAX_DIR_BOOKKEEPING: usize = 64 << 20;

/// Who owns what [`extract`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Whoever extracts (no `chown`: the docker CLI's `NoLchown`).
    Caller,
    /// root (`docker cp` into a container without `-a`, `COPY` without
    /// `--chown`).
    Root,
    /// The ids in the tar (`cp -a`, `ADD` of an archive, build contexts).
    FromTar,
    /// These ids (`COPY --chown`).
    Fixed(u32, u32),
}

/// How [`extract`] treats what it writes.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Who owns the entries.
    pub owner: Owner,
    /// A mode for every entry instead of the tar's (`COPY --chmod`).
    pub chmod: Option<u32>,
    /// Keep files' modification times (the docker CLI's copy out of a
    /// container does; the daemon's copies in do not).
    pub mtimes: bool,
    /// Refuse a symlink whose target, joined to its directory, leads
    /// outside the destination (moby's `Untar` breakout check: the CLI's
    /// copy out lands on the user's own disk, where links get followed).
    pub confine_symlinks: bool,
    /// Write entries of other kinds (devices, fifos) as regular files with
    /// their data, as the `tar` crate and POSIX tar do for types they do
    /// not know; else refuse them.
    pub others_as_files: bool,
    /// Most entries ([`MAX_ENTRIES`]).
    pub max_entries: u64,
    /// Most bytes read, headers included ([`MAX_BYTES`] and 1 KiB an
    /// entry).
    pub max_bytes: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            owner: Owner::Caller,
            chmod: None,
            mtimes: false,
            confine_symlinks: false,
            others_as_files: false,
            max_entries: MAX_ENTRIES,
            max_bytes: MAX_BYTES + MAX_ENTRIES * 1024,
        }
    }
}

/// Why an extraction stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The archive is refused: an entry leaves the destination, a bound is
    /// passed, the stream is no tar.
    #[error("{0}")]
    Invalid(String),
    /// An entry's directory is a symlink or a file at the destination.
    #[error("{name}: not a directory here; berth does not write through symlinks")]
    NotADirectory {
        /// The component that is not a directory.
        name: String,
    },
    /// The filesystem failed on an entry.
    #[error("{what}: {source}")]
    Io {
        /// What was done, on which entry.
        what: String,
        /// The error.
        source: io::Error,
    },
}

impl ExtractError {
    fn io(what: impl Into<String>, e: impl Into<io::Error>) -> ExtractError {
        ExtractError::Io {
            what: what.into(),
            source: e.into(),
        }
    }
}

/// An entry's directory could not be had.
fn dir_error(entry: &Path, e: DirError) -> ExtractError {
    match e {
        DirError::Io(e) => ExtractError::io(entry.display().to_string(), e),
        DirError::NotADirectory(n) => ExtractError::NotADirectory {
            name: n.to_string_lossy().into_owned(),
        },
        e => ExtractError::Invalid(format!("entry {}: {e}", entry.display())),
    }
}

/// The normal components of an entry name; `..` or an absolute name is
/// refused.
fn parts_of(name: &Path) -> Result<Vec<OsString>, ExtractError> {
    let mut parts = Vec::new();
    for comp in name.components() {
        match comp {
            Component::Normal(n) => parts.push(n.to_os_string()),
            Component::CurDir => {}
            _ => {
                return Err(ExtractError::Invalid(format!(
                    "entry {} leaves the destination",
                    name.display()
                )))
            }
        }
    }
    Ok(parts)
}

/// Whether a symlink in directory `dirs` with target `link` stays below
/// the destination, as moby's `Untar` judges it: the target joined to the
/// link's directory (an absolute one too, as Go's `filepath.Join` does)
/// and cleaned. The directories on the way are real ones (none is a
/// symlink: [`DirCache`] refuses them), so this is lexical.
fn link_stays_inside(dirs: &[&OsStr], link: &Path) -> bool {
    let mut depth = dirs.len();
    for comp in link.components() {
        match comp {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    true
}

/// Extracts the tar `tar` below the directory `dest` as `opts` say. Each
/// entry's name (and a hardlink's target) goes through `rename` first: a
/// new name, or `None` to keep it (the CLI's copy lands its top entry
/// under another name).
pub fn extract(
    dest: &OwnedFd,
    tar: impl Read,
    opts: &Options,
    rename: impl Fn(&[u8]) -> Option<Vec<u8>>,
) -> Result<(), ExtractError> {
    let mut archive = Archive::new(Bounded {
        inner: tar,
        left: opts.max_bytes,
    });
    let mut extractor = Extractor {
        opts,
        rename,
        dirs_open: DirCache::new(
            dest.try_clone()
                .map_err(|e| ExtractError::io("the destination", e))?,
        ),
        dir_modes: Vec::new(),
        bookkeeping: 0,
        count: 0,
    };
    while let Some(mut entry) = archive
        .next_entry()
        .map_err(|e| ExtractError::Invalid(e.to_string()))?
    {
        extractor.entry(&mut entry)?;
    }
    set_dir_modes(&mut extractor.dirs_open, extractor.dir_modes)
}

/// One extraction under way: its options, the directories open and those
/// whose modes are set at the end.
struct Extractor<'o, F> {
    /// Owner, modes, bounds (see [`Options`]).
    opts: &'o Options,
    /// Renames entries and hardlink targets (see [`extract`]).
    rename: F,
    /// The directories along the last entry's path stay open: a deep tree
    /// costs one open per directory, not one per entry and level.
    dirs_open: DirCache,
    /// Directories made or met, with their modes, set once all is written.
    dir_modes: Vec<(Vec<OsString>, Mode)>,
    /// Bytes `dir_modes` costs (bounded by [`MAX_DIR_BOOKKEEPING`]).
    bookkeeping: usize,
    /// Entries seen (bounded by `opts.max_entries`).
    count: u64,
}

impl<F: Fn(&[u8]) -> Option<Vec<u8>>> Extractor<'_, F> {
    /// Writes one entry in its directory, as its kind says.
    fn entry<R: Read>(&mut self, entry: &mut Entry<'_, R>) -> Result<(), ExtractError> {
        self.count += 1;
        if self.count > self.opts.max_entries {
            return Err(ExtractError::Invalid(format!(
                "more than {} entries",
                self.opts.max_entries
            )));
        }
        let renamed =
            (self.rename)(entry.path_bytes()).unwrap_or_else(|| entry.path_bytes().to_vec());
        let name = Path::new(OsStr::from_bytes(&renamed)).to_path_buf();
        let owned_parts = parts_of(&name)?;
        let parts: Vec<&OsStr> = owned_parts.iter().map(|p| p.as_os_str()).collect();
        let Some((last, dirs)) = parts.split_last() else {
            return Ok(());
        };
        let parent = self
            .dirs_open
            .dir(&owned_parts[..dirs.len()], true)
            .and_then(|fd| Ok(fd.try_clone()?))
            .map_err(|e| dir_error(&name, e))?;
        let (uid, gid) = owner_ids(self.opts.owner, entry);
        let mode = Mode::from_bits_truncate(self.opts.chmod.unwrap_or(entry.mode()) & 0o7777);
        // Ownership first: a setuid bit survives only the owner's chown.
        let own = |fd: &OwnedFd| -> Result<(), ExtractError> {
            if uid.is_some() {
                nix::unistd::fchown(fd, uid, gid)
                    .map_err(|e| ExtractError::io(format!("chown {}", name.display()), e))
                    .or_else(best_effort)?;
            }
            Ok(())
        };
        let mtime = self.opts.mtimes.then(|| entry.mtime());
        match entry.kind() {
            EntryType::Directory => {
                let d = crate::dirs::open_subdir(&parent, last, true)
                    .map_err(|e| dir_error(&name, e))?;
                own(&d)?;
                self.keep_dir_mode(renamed.len(), &owned_parts, mode)
            }
            EntryType::Symlink => {
                let confine = self.opts.confine_symlinks;
                make_symlink(&parent, last, dirs, &name, entry, confine, (uid, gid))
            }
            EntryType::Link => self.make_hardlink(&parent, last, &name, entry),
            EntryType::Regular | EntryType::Continuous => {
                write_file(&parent, last, &name, entry, mtime, &own, mode)
            }
            _ if self.opts.others_as_files => {
                write_file(&parent, last, &name, entry, mtime, &own, mode)
            }
            other => Err(ExtractError::Invalid(format!(
                "entry {} is a {other:?}, which copies do not take",
                name.display()
            ))),
        }
    }

    /// Keeps a directory's mode for [`set_dir_modes`], within
    /// [`MAX_DIR_BOOKKEEPING`] (`name_len`: its name's length).
    fn keep_dir_mode(
        &mut self,
        name_len: usize,
        parts: &[OsString],
        mode: Mode,
    ) -> Result<(), ExtractError> {
        self.bookkeeping += name_len + 64;
        if self.bookkeeping > MAX_DIR_BOOKKEEPING {
            return Err(ExtractError::Invalid(format!(
                "more directories than {MAX_DIR_BOOKKEEPING} bytes of bookkeeping hold"
            )));
        }
        self.dir_modes.push((parts.to_vec(), mode));
        Ok(())
    }

    /// Links `last` in `parent` to the entry's target (renamed as entry
    /// names are), reached below the destination; whatever non-directory
    /// was at `last` goes first.
    fn make_hardlink<R: Read>(
        &mut self,
        parent: &OwnedFd,
        last: &OsStr,
        name: &Path,
        entry: &Entry<'_, R>,
    ) -> Result<(), ExtractError> {
        let link = entry.link_bytes().ok_or_else(|| {
            ExtractError::Invalid(format!("hardlink {} has no target", name.display()))
        })?;
        let target = (self.rename)(link).unwrap_or_else(|| link.to_vec());
        let target = Path::new(OsStr::from_bytes(&target)).to_path_buf();
        let towned = parts_of(&target)?;
        let Some((tlast, tdirs)) = towned.split_last() else {
            return Err(ExtractError::Invalid(format!(
                "hardlink {} names no file",
                name.display()
            )));
        };
        let tparent = self
            .dirs_open
            .dir(tdirs, true)
            .and_then(|fd| Ok(fd.try_clone()?))
            .map_err(|e| dir_error(&target, e))?;
        remove_non_dir(parent, last);
        nix::unistd::linkat(&tparent, tlast.as_os_str(), parent, last, AtFlags::empty())
            .map_err(|e| ExtractError::io(format!("hardlink {}", name.display()), e))?;
        Ok(())
    }
}

/// Who is to own an entry, as [`Owner`] says (`None`: no `chown`).
fn owner_ids<R: Read>(owner: Owner, entry: &Entry<'_, R>) -> (Option<Uid>, Option<Gid>) {
    let (uid, gid) = match owner {
        Owner::Caller => (None, None),
        Owner::Root => (Some(0), Some(0)),
        Owner::FromTar => (Some(entry.uid() as u32), Some(entry.gid() as u32)),
        Owner::Fixed(u, g) => (Some(u), Some(g)),
    };
    (uid.map(Uid::from_raw), gid.map(Gid::from_raw))
}

/// Makes the symlink `last` in `parent` (directories `dirs` below the
/// destination), refusing one that leads outside it when `confine`;
/// whatever non-directory was there goes first.
fn make_symlink<R: Read>(
    parent: &OwnedFd,
    last: &OsStr,
    dirs: &[&OsStr],
    name: &Path,
    entry: &Entry<'_, R>,
    confine: bool,
    (uid, gid): (Option<Uid>, Option<Gid>),
) -> Result<(), ExtractError> {
    let target = Path::new(OsStr::from_bytes(entry.link_bytes().ok_or_else(|| {
        ExtractError::Invalid(format!("symlink {} has no target", name.display()))
    })?))
    .to_path_buf();
    if confine && !link_stays_inside(dirs, &target) {
        return Err(ExtractError::Invalid(format!(
            "invalid symlink {:?} -> {:?}: it leads outside the destination",
            name, target
        )));
    }
    remove_non_dir(parent, last);
    nix::unistd::symlinkat(target.as_path(), parent, last)
        .map_err(|e| ExtractError::io(format!("symlink {}", name.display()), e))?;
    if uid.is_some() {
        nix::unistd::fchownat(parent, last, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| ExtractError::io(format!("chown {}", name.display()), e))
            .or_else(best_effort)?;
    }
    Ok(())
}

/// A `chown` refused for want of the right (an unprivileged extractor
/// asked to keep the tar's ids) is not the copy's failure, as GNU tar
/// without `--same-owner`; any other error is.
fn best_effort(e: ExtractError) -> Result<(), ExtractError> {
    match &e {
        ExtractError::Io { source, .. } if source.raw_os_error() == Some(Errno::EPERM as i32) => {
            Ok(())
        }
        _ => Err(e),
    }
}

/// Writes a regular file's data: whatever non-directory was there goes
/// first; a FIFO put there meanwhile is refused, not waited on.
fn write_file(
    parent: &OwnedFd,
    last: &OsStr,
    name: &Path,
    entry: &mut impl Read,
    mtime: Option<u64>,
    own: &impl Fn(&OwnedFd) -> Result<(), ExtractError>,
    mode: Mode,
) -> Result<(), ExtractError> {
    remove_non_dir(parent, last);
    // O_NONBLOCK: a FIFO the container puts here meanwhile must not hold
    // this thread (opening one to write waits for a reader); it is refused
    // below.
    let f = openat(
        parent,
        last,
        OFlag::O_WRONLY
            | OFlag::O_CREAT
            | OFlag::O_TRUNC
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| ExtractError::io(format!("create {}", name.display()), e))?;
    let st = fstat(&f).map_err(|e| ExtractError::io(format!("create {}", name.display()), e))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(ExtractError::io(
            format!("create {}", name.display()),
            io::Error::other("not a regular file"),
        ));
    }
    let mut file = std::fs::File::from(f);
    io::copy(entry, &mut file)
        .map_err(|e| ExtractError::io(format!("write {}", name.display()), e))?;
    if let Some(secs) = mtime {
        file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .map_err(|e| ExtractError::io(format!("set the time of {}", name.display()), e))?;
    }
    let fd = OwnedFd::from(file);
    own(&fd)?;
    nix::sys::stat::fchmod(&fd, mode)
        .map_err(|e| ExtractError::io(format!("chmod {}", name.display()), e))?;
    Ok(())
}

/// Sets each directory's mode, deepest (latest) first, reaching each again
/// through the descriptors of its parents (one that became a symlink
/// meanwhile is skipped: it is not ours to change).
fn set_dir_modes(
    dirs_open: &mut DirCache,
    dir_modes: Vec<(Vec<OsString>, Mode)>,
) -> Result<(), ExtractError> {
    for (parts, mode) in dir_modes.into_iter().rev() {
        let Ok(fd) = dirs_open.dir(&parts, false) else {
            continue;
        };
        nix::sys::stat::fchmod(fd.as_fd(), mode).map_err(|e| {
            ExtractError::io(
                format!(
                    "chmod {}",
                    Path::new(&parts.join(OsStr::new("/"))).display()
                ),
                e,
            )
        })?;
    }
    Ok(())
}

/// Makes room for a file or link: whatever non-directory is there goes
/// (a directory stays, and the create after says so).
fn remove_non_dir(parent: &OwnedFd, name: &OsStr) {
    // ENOENT (nothing there) and EISDIR (a directory: the create that
    // follows fails with its own error) are the expected ones.
    let _ = nix::unistd::unlinkat(parent, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
}

/// A reader that fails past `left` bytes (not a silent cut, which would
/// read as a truncated tar).
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self
            .left
            .checked_sub(n as u64)
            .ok_or_else(|| io::Error::other("the archive exceeds its size limit uncompressed"))?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
