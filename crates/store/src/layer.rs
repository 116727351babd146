//! Unpacking a layer blob into a directory of its own, overlay-ready.
//!
//! The blob is a tar, plain or compressed (gzip, zstd, bzip2 or xz, told by
//! their magic bytes). Its diff id (the digest of the uncompressed tar) is computed while
//! it streams. Whiteouts become what overlayfs understands: `.wh.<name>` a 0/0
//! character device `<name>`, `.wh..wh..opq` the `trusted.overlay.opaque=y`
//! xattr on its directory. Owners, modes (setuid included), mtimes, xattrs,
//! hardlinks, symlinks, devices and fifos are kept.
//!
//! Layers are hostile input. Every entry is created relative to a descriptor
//! of the layer's root, one component at a time with `O_NOFOLLOW`, so no
//! entry can be written through a symlink; `..` and absolute names are
//! refused, and so are hardlinks leaving the layer; the number of entries and
//! bytes is bounded. The tree is built in `<parent>/.tmp-<name>-…` and renamed
//! to `<parent>/<name>` only when complete: a failure or crash leaves no
//! partial layer under its real name.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmodat, mkdirat, mknodat, utimensat, FchmodatFlags, Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use sha2::{Digest as _, Sha256};

use crate::diff::{OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX};

/// Most entries in one layer: real layers have up to a few hundred thousand;
/// ten million is no image, only an attack on the inode table.
pub const MAX_ENTRIES: u64 = 10_000_000;
/// Most uncompressed bytes in one layer (64 GiB): beyond what any image
/// needs, before a zip bomb fills the disk.
pub const MAX_BYTES: u64 = 64 << 30;
/// Most memory kept for restoring directory times after the entries are
/// written (64 MiB: each directory costs its path and a few words; a
/// million directories of ordinary depth fit, where real layers have tens
/// of thousands). Each entry's own header is bounded by the tar reader
/// ([`untar::MAX_META_BYTES`]).
pub const MAX_DIR_BOOKKEEPING: usize = 64 << 20;

/// Errors of unpacking.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// An entry is refused; `entry` names it.
    #[error("layer entry {entry:?}: {why}")]
    Entry {
        /// The entry's name as in the tar.
        entry: String,
        /// Why.
        why: String,
    },
    /// A bound was exceeded.
    #[error("layer exceeds {0}")]
    TooBig(&'static str),
    /// The stream is not a valid tar (or compressed tar).
    #[error("reading layer: {0}")]
    Read(io::Error),
    /// A tar header is refused (too large, malformed).
    #[error("reading layer: {0}")]
    Tar(#[from] untar::Error),
    /// The filesystem failed.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Options of [`unpack`].
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Unpacking in a user namespace (rootless): device nodes are skipped
    /// and opaque directories get `user.overlay.opaque`. The default is
    /// whether this process runs in one ([`crate::userns`]).
    pub rootless: bool,
    /// Entry limit ([`MAX_ENTRIES`] by default).
    pub max_entries: u64,
    /// Limit of file bytes ([`MAX_BYTES`] by default).
    pub max_bytes: u64,
    /// Limit of the directory-times bookkeeping ([`MAX_DIR_BOOKKEEPING`]
    /// by default).
    pub max_dir_bookkeeping: usize,
    /// How the files reach the disk before the tree is renamed into place
    /// (a layer's record may only name a tree that a power cut keeps).
    pub durability: crate::tree::Durability,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            rootless: crate::userns::in_user_namespace(),
            max_entries: MAX_ENTRIES,
            max_bytes: MAX_BYTES,
            max_dir_bookkeeping: MAX_DIR_BOOKKEEPING,
            durability: crate::tree::Durability::Syncfs,
        }
    }
}

/// What [`unpack`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// Digest of the uncompressed tar.
    pub diff_id: String,
    /// Bytes of file data written.
    pub size: u64,
    /// The final directory.
    pub path: PathBuf,
    /// The tree's fingerprint ([`crate::tree::fingerprint`]).
    pub tree: String,
}

/// Compression of a layer blob or an archive: what Docker's
/// `DecompressStream` tells by the magic bytes (moby's
/// `pkg/archive/archive.go`), and zstd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (1f 8b).
    Gzip,
    /// zstd (28 b5 2f fd).
    Zstd,
    /// bzip2 (`BZh`).
    Bzip2,
    /// xz (fd `7zXZ` 00).
    Xz,
}

/// The most memory the xz decoder may take. xz's presets need at most
/// 65 MiB to decode (`-9`, a 64 MiB dictionary); a hostile stream can name
/// a dictionary of up to 4 GiB, which it is refused.
pub const MAX_XZ_MEMORY: u64 = 128 << 20;

/// Tells the compression from the first bytes.
pub fn detect(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else if head.starts_with(b"BZh") {
        Compression::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else {
        Compression::None
    }
}

/// `reader` decompressed as its first bytes say (gzip, zstd, bzip2, xz, or
/// plain).
pub fn decompressed<'a>(reader: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::with_capacity(256 * 1024, reader);
    let head = buffered.fill_buf()?.to_vec();
    decoder(detect(&head), buffered)
}

/// A decoder of `kind` over `input` (concatenated streams read as one, as
/// Go's readers and the command-line tools do).
pub fn decoder<'a>(kind: Compression, input: impl BufRead + 'a) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match kind {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
        Compression::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                MAX_XZ_MEMORY,
                liblzma::stream::CONCATENATED,
            )
            .map_err(io::Error::other)?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(input, stream))
        }
    })
}

/// Hashes what passes through.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    /// The tar may hold headers and padding beyond the file bytes: a margin.
    limit: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        if self.bytes > self.limit {
            return Err(io::Error::other("layer exceeds the size limit"));
        }
        Ok(n)
    }
}

/// Reads the chunks the decompressing thread sends.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    self.chunk = c;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Unpacks the layer blob `reader` into `<parent>/<name>`.
pub fn unpack(
    reader: impl Read + Send,
    parent: &Path,
    name: &str,
    opts: Options,
) -> Result<Unpacked, LayerError> {
    let io_at = |p: &Path| {
        let p = p.to_path_buf();
        move |source| LayerError::Io { path: p, source }
    };
    fs::create_dir_all(parent).map_err(io_at(parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".tmp-{name}-"))
        .tempdir_in(parent)
        .map_err(io_at(parent))?;
    let limit = opts
        .max_bytes
        .saturating_add(opts.max_entries.saturating_mul(1024))
        .saturating_add(1 << 20);
    // Two stages on two threads, as `zstd -dc | tar -x` is two processes:
    // one decompresses and hashes, the other writes files.
    let (size, diff_id) = std::thread::scope(|scope| -> Result<(u64, String), LayerError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(16);
        let producer = scope.spawn(move || -> Result<String, io::Error> {
            let mut buffered = BufReader::with_capacity(256 * 1024, reader);
            let head = buffered.fill_buf()?.to_vec();
            let decoded = decoder(detect(&head), buffered)?;
            let mut hashing = Hashing {
                inner: decoded,
                hasher: Sha256::new(),
                bytes: 0,
                limit,
            };
            loop {
                let mut chunk = vec![0u8; 256 * 1024];
                let n = match hashing.read(&mut chunk) {
                    Ok(n) => n,
                    Err(e) => {
                        let msg = e.to_string();
                        let _ = tx.send(Err(e));
                        return Err(io::Error::other(msg));
                    }
                };
                if n == 0 {
                    break;
                }
                chunk.truncate(n);
                if tx.send(Ok(chunk)).is_err() {
                    // The extractor gave up; its error is the one to report.
                    return Err(io::Error::other("extraction stopped"));
                }
            }
            Ok(crate::config::digest_string(&hashing.hasher.finalize()))
        });
        let mut stream = ChannelReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
        };
        let extracted = extract(&mut stream, tmp.path(), opts).and_then(|size| {
            // The diff id covers the whole tar, trailing blocks included.
            io::copy(&mut stream, &mut io::sink()).map_err(LayerError::Read)?;
            Ok(size)
        });
        drop(stream);
        let hashed = producer
            .join()
            .map_err(|_| LayerError::Read(io::Error::other("decompression thread panicked")))?;
        let size = extracted?;
        Ok((size, hashed.map_err(LayerError::Read)?))
    })?;
    // Whole and on disk before it gets its name: a directory under its real
    // name is a complete layer even after a power cut.
    let (tree, _) =
        crate::tree::fingerprint(tmp.path(), opts.durability).map_err(io_at(tmp.path()))?;
    crate::tree::flush(tmp.path(), opts.durability).map_err(io_at(tmp.path()))?;
    let dest = parent.join(name);
    let tmp_path = tmp.keep();
    match fs::rename(&tmp_path, &dest) {
        Ok(()) => {}
        // Unpacked by someone else meanwhile: same content, keep theirs.
        Err(e)
            if e.raw_os_error() == Some(libc::ENOTEMPTY)
                || e.raw_os_error() == Some(libc::EEXIST) =>
        {
            let _ = crate::walk::remove_tree(&tmp_path);
        }
        Err(e) => {
            let _ = crate::walk::remove_tree(&tmp_path);
            return Err(LayerError::Io {
                path: dest,
                source: e,
            });
        }
    }
    let _ = crate::content::sync_dir(parent);
    Ok(Unpacked {
        diff_id,
        size,
        path: dest,
        tree,
    })
}

/// Splits an entry name into checked components: no `..`, not absolute.
fn components(name: &[u8]) -> Result<Vec<OsString>, String> {
    let path = Path::new(OsStr::from_bytes(name));
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir => return Err("contains '..'".into()),
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path".into()),
        }
    }
    Ok(out)
}

fn dir_fd(root: &OwnedFd, parts: &[OsString], create: bool) -> Result<OwnedFd, String> {
    let mut cur = openat(
        root.as_fd(),
        ".",
        OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
        Mode::empty(),
    )
    .map_err(|e| e.to_string())?;
    for p in parts {
        let open = |cur: &OwnedFd| {
            openat(
                cur.as_fd(),
                Path::new(p),
                OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
                Mode::empty(),
            )
        };
        let next = match open(&cur) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) if create => {
                mkdirat(cur.as_fd(), Path::new(p), Mode::from_bits_truncate(0o755))
                    .map_err(|e| e.to_string())?;
                open(&cur).map_err(|e| e.to_string())?
            }
            // O_NOFOLLOW on a symlink: ELOOP; on a file: ENOTDIR.
            Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => {
                return Err(format!("goes through {:?}, which is not a directory", p))
            }
            Err(e) => return Err(e.to_string()),
        };
        cur = next;
    }
    Ok(cur)
}

/// Writes the tar `reader` below `root_path`, entry by entry, then gives the
/// directories their times back; the bytes of file data written.
fn extract(reader: &mut impl Read, root_path: &Path, opts: Options) -> Result<u64, LayerError> {
    let mut extractor = Extractor::open(root_path, opts)?;
    let mut archive = untar::Archive::new(reader);
    while let Some(mut entry) = archive.next_entry()? {
        extractor.entry(&mut entry)?;
    }
    Ok(extractor.finish())
}

/// One extraction under way: the layer's root, the counts its bounds are
/// kept by, and the directories whose times are set at the end.
struct Extractor {
    /// The layer's root directory.
    root: OwnedFd,
    /// The bounds, and whether rootless (see [`Options`]).
    opts: Options,
    /// Entries seen (bounded by `opts.max_entries`).
    count: u64,
    /// File bytes written (bounded by `opts.max_bytes`).
    bytes: u64,
    /// Directory times are set last: creating children changes them. Kept
    /// as (path, mtime), bounded by `opts.max_dir_bookkeeping`.
    dir_times: Vec<(Box<[u8]>, u64)>,
    /// Bytes `dir_times` costs.
    bookkeeping: usize,
    /// Entries come grouped by directory: the directories along the last
    /// entry's path stay open (each opened once, however deep the tree).
    dirs_open: crate::walk::DirCache,
    /// The buffer file data is copied through.
    copy_buf: Vec<u8>,
}

impl Extractor {
    /// Opens the layer's root `root_path`.
    fn open(root_path: &Path, opts: Options) -> Result<Extractor, LayerError> {
        let root = nix::fcntl::open(
            root_path,
            OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
            Mode::empty(),
        )
        .map_err(|e| LayerError::Io {
            path: root_path.to_path_buf(),
            source: e.into(),
        })?;
        let dirs_open =
            crate::walk::DirCache::new(root.try_clone().map_err(|e| LayerError::Io {
                path: root_path.to_path_buf(),
                source: e,
            })?);
        Ok(Extractor {
            root,
            opts,
            count: 0,
            bytes: 0,
            dir_times: Vec::new(),
            bookkeeping: 0,
            dirs_open,
            copy_buf: vec![0u8; 1 << 20],
        })
    }

    /// Writes one entry: a whiteout, a directory or another node, then its
    /// owner, mode, xattrs and time.
    fn entry<R: Read>(&mut self, entry: &mut untar::Entry<'_, R>) -> Result<(), LayerError> {
        self.count += 1;
        if self.count > self.opts.max_entries {
            return Err(LayerError::TooBig("the entry limit"));
        }
        let raw = entry.path_bytes().to_vec();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let bad = |why: String| LayerError::Entry {
            entry: shown.clone(),
            why,
        };
        let parts = components(&raw).map_err(bad)?;
        let Some((name, dirs)) = parts.split_last() else {
            return Ok(());
        };
        let parent = self
            .dirs_open
            .dir(dirs, true)
            .and_then(|fd| Ok(fd.try_clone()?))
            .map_err(|e| bad(e.to_string()))?;
        let name_path = Path::new(name);
        if self.whiteout(&parent, name, &bad)? {
            return Ok(());
        }
        let mode = Mode::from_bits_truncate(entry.mode());
        if entry.kind().is_dir() {
            make_dir(&parent, name, mode, &bad)?;
            self.keep_dir_time(&raw, entry.mtime())?;
        } else {
            if remove_existing(&parent, name_path) {
                self.dirs_open.forget();
            }
            if !self.make_node(&parent, name_path, entry, mode, &bad)? {
                return Ok(());
            }
        }
        set_metadata(&parent, name_path, entry, mode, self.opts.rootless, &bad)
    }

    /// Applies `name` when it is a whiteout, as overlayfs reads them: the
    /// opaque marker becomes an xattr on `parent`, `.wh.<name>` a 0/0
    /// character device `<name>`. False when `name` is no whiteout.
    fn whiteout(
        &mut self,
        parent: &OwnedFd,
        name: &OsStr,
        bad: &impl Fn(String) -> LayerError,
    ) -> Result<bool, LayerError> {
        if name.as_bytes() == OPAQUE_MARKER.as_bytes() {
            let xattr = if self.opts.rootless {
                crate::userns::USER_OPAQUE
            } else {
                OPAQUE_XATTR
            };
            rustix::fs::fsetxattr(parent, xattr, b"y", rustix::fs::XattrFlags::empty())
                .map_err(|e| bad(format!("opaque xattr: {e}")))?;
            return Ok(true);
        }
        let Some(hidden) = name.as_bytes().strip_prefix(WHITEOUT_PREFIX.as_bytes()) else {
            return Ok(false);
        };
        let hidden = Path::new(OsStr::from_bytes(hidden));
        if remove_existing(parent, hidden) {
            self.dirs_open.forget();
        }
        mknodat(parent.as_fd(), hidden, SFlag::S_IFCHR, Mode::empty(), 0)
            .map_err(|e| bad(format!("whiteout: {e}")))?;
        Ok(true)
    }

    /// Keeps a directory's time for [`Extractor::finish`], within
    /// `opts.max_dir_bookkeeping`.
    fn keep_dir_time(&mut self, raw: &[u8], mtime: u64) -> Result<(), LayerError> {
        self.bookkeeping += raw.len() + std::mem::size_of::<(Box<[u8]>, u64)>();
        if self.bookkeeping > self.opts.max_dir_bookkeeping {
            return Err(LayerError::TooBig("the directory bookkeeping limit"));
        }
        self.dir_times
            .push((raw.to_vec().into_boxed_slice(), mtime));
        Ok(())
    }

    /// Makes a node other than a directory at `name` (whatever was there is
    /// gone). False when nothing more is owed to it: a hardlink shares its
    /// target's metadata, and kinds without a place in a rootfs are skipped.
    fn make_node<R: Read>(
        &mut self,
        parent: &OwnedFd,
        name: &Path,
        entry: &mut untar::Entry<'_, R>,
        mode: Mode,
        bad: &impl Fn(String) -> LayerError,
    ) -> Result<bool, LayerError> {
        let kind = entry.kind();
        if kind.is_file() || kind == tar::EntryType::Continuous {
            self.write_file(parent, name, entry, bad)?;
        } else if kind.is_symlink() {
            let target = entry
                .link_bytes()
                .ok_or_else(|| bad("symlink without target".into()))?
                .to_vec();
            symlinkat(Path::new(OsStr::from_bytes(&target)), parent.as_fd(), name)
                .map_err(|e| bad(e.to_string()))?;
        } else if kind.is_hard_link() {
            self.make_hardlink(parent, name, entry, bad)?;
            return Ok(false); // shares the target's metadata
        } else if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            if self.opts.rootless && !kind.is_fifo() {
                // A user namespace cannot make device nodes: skipped, as
                // Docker rootless skips them ("skipping device nodes in
                // a userns", moby's pkg/archive); a container gets its
                // /dev from the runtime anyway.
                return Ok(false);
            }
            let sflag = if kind.is_character_special() {
                SFlag::S_IFCHR
            } else if kind.is_block_special() {
                SFlag::S_IFBLK
            } else {
                SFlag::S_IFIFO
            };
            let (major, minor) = entry.device();
            let dev = libc::makedev(major, minor);
            mknodat(parent.as_fd(), name, sflag, mode, dev).map_err(|e| bad(e.to_string()))?;
        } else {
            // PAX/GNU metadata entries are consumed by the tar reader;
            // other types (sparse, volume labels) carry nothing for a rootfs.
            return Ok(false);
        }
        Ok(true)
    }

    /// Writes a regular file's data (0600 until its mode is set), within
    /// `opts.max_bytes` for the whole layer.
    fn write_file<R: Read>(
        &mut self,
        parent: &OwnedFd,
        name: &Path,
        entry: &mut untar::Entry<'_, R>,
        bad: &impl Fn(String) -> LayerError,
    ) -> Result<(), LayerError> {
        let size = entry.size();
        self.bytes += size;
        if self.bytes > self.opts.max_bytes {
            return Err(LayerError::TooBig("the size limit"));
        }
        let fd = openat(
            parent.as_fd(),
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| bad(e.to_string()))?;
        let mut f = File::from(fd);
        let copy_buf = &mut self.copy_buf;
        let mut left = size;
        while left > 0 {
            let want = copy_buf
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = entry
                .read(&mut copy_buf[..want])
                .map_err(LayerError::Read)?;
            if n == 0 {
                return Err(LayerError::Read(io::ErrorKind::UnexpectedEof.into()));
            }
            io::Write::write_all(&mut f, &copy_buf[..n]).map_err(|e| bad(e.to_string()))?;
            left -= n as u64;
        }
        Ok(())
    }

    /// Links `name` to the entry's target, which must name an entry already
    /// in the layer, reached below its root without following symlinks.
    fn make_hardlink<R: Read>(
        &self,
        parent: &OwnedFd,
        name: &Path,
        entry: &untar::Entry<'_, R>,
        bad: &impl Fn(String) -> LayerError,
    ) -> Result<(), LayerError> {
        let target = entry
            .link_bytes()
            .ok_or_else(|| bad("hardlink without target".into()))?
            .to_vec();
        let tparts = components(&target).map_err(|why| bad(format!("hardlink target {why}")))?;
        let Some((tname, tdirs)) = tparts.split_last() else {
            return Err(bad("empty hardlink target".into()));
        };
        let tparent = dir_fd(&self.root, tdirs, false)
            .map_err(|why| bad(format!("hardlink target {why}")))?;
        linkat(
            tparent.as_fd(),
            Path::new(tname),
            parent.as_fd(),
            name,
            AtFlags::empty(),
        )
        .map_err(|e| {
            bad(format!(
                "hardlink to {}: {e}",
                String::from_utf8_lossy(&target)
            ))
        })?;
        Ok(())
    }

    /// Gives each directory its time back, deepest (latest) first, once
    /// nothing more is written in them; the bytes of file data written.
    fn finish(mut self) -> u64 {
        self.dirs_open.forget();
        for (raw, mtime) in self.dir_times.into_iter().rev() {
            let Ok(parts) = components(&raw) else {
                continue;
            };
            if let Some((name, dirs)) = parts.split_last() {
                if let Ok(parent) = self.dirs_open.dir(dirs, false) {
                    let t = TimeSpec::new(mtime as i64, 0);
                    let _ = utimensat(
                        parent.as_fd(),
                        Path::new(name),
                        &t,
                        &t,
                        UtimensatFlags::NoFollowSymlink,
                    );
                }
            }
        }
        self.bytes
    }
}

/// Makes the directory `name` in `parent`; one made by an earlier entry is
/// kept, a non-directory there is replaced.
fn make_dir(
    parent: &OwnedFd,
    name: &OsString,
    mode: Mode,
    bad: &impl Fn(String) -> LayerError,
) -> Result<(), LayerError> {
    let name_path = Path::new(name);
    match mkdirat(parent.as_fd(), name_path, mode) {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            // An earlier entry made it (or a file sits there: replace).
            if dir_fd(parent, std::slice::from_ref(name), false).is_err() {
                remove_existing(parent, name_path);
                mkdirat(parent.as_fd(), name_path, mode).map_err(|e| bad(e.to_string()))?;
            }
        }
        Err(e) => return Err(bad(e.to_string())),
    }
    Ok(())
}

/// Sets an entry's metadata as its header says: ownership, then mode (chown
/// clears setuid), xattrs, time. A symlink gets no mode and no xattrs.
fn set_metadata<R: Read>(
    parent: &OwnedFd,
    name: &Path,
    entry: &untar::Entry<'_, R>,
    mode: Mode,
    rootless: bool,
    bad: &impl Fn(String) -> LayerError,
) -> Result<(), LayerError> {
    let uid = Uid::from_raw(entry.uid() as u32);
    let gid = Gid::from_raw(entry.gid() as u32);
    fchownat(
        parent.as_fd(),
        name,
        Some(uid),
        Some(gid),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| match e {
        // The id has no mapping in this user namespace.
        Errno::EINVAL if rootless => bad(format!(
            "chown to {uid}:{gid}: the id is outside this user namespace's range \
             (the user's ranges in /etc/subuid and /etc/subgid are too small for this image)"
        )),
        e => bad(format!("chown: {e}")),
    })?;
    if !entry.kind().is_symlink() {
        fchmodat(parent.as_fd(), name, mode, FchmodatFlags::FollowSymlink)
            .map_err(|e| bad(format!("chmod: {e}")))?;
        for (attr, value) in entry.xattrs() {
            let fd = openat(
                parent.as_fd(),
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
                Mode::empty(),
            )
            .map_err(|e| bad(e.to_string()))?;
            rustix::fs::fsetxattr(&fd, attr.as_str(), value, rustix::fs::XattrFlags::empty())
                .map_err(|e| bad(format!("xattr {attr}: {e}")))?;
        }
    }
    let t = TimeSpec::new(entry.mtime() as i64, 0);
    utimensat(
        parent.as_fd(),
        name,
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| bad(format!("mtime: {e}")))
}

/// Removes whatever sits at `name` (a later entry replaces an earlier one).
/// True when that was a directory (open descriptors of it are stale).
fn remove_existing(parent: &OwnedFd, name: &Path) -> bool {
    // EISDIR: a directory, removed only when empty, as tar does; ENOENT (the
    // usual case): nothing there.
    unlinkat(parent.as_fd(), name, UnlinkatFlags::NoRemoveDir) == Err(Errno::EISDIR)
        && unlinkat(parent.as_fd(), name, UnlinkatFlags::RemoveDir).is_ok()
}

#[cfg(test)]
mod tests;
