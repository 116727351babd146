//! A container's writable layer (the overlay's upper directory) turned back
//! into what images are made of: the change list `docker diff` prints, and a
//! layer tar with OCI whiteouts.
//!
//! In the upper directory, overlayfs records a deletion as a 0/0 character
//! device (a whiteout) and a directory that replaced one below as a directory
//! with the `trusted.overlay.opaque=y` xattr. In a layer tar they become
//! `.wh.<name>` and `.wh..wh..opq` entries (image-spec, layer.md).
//!
//! The tar is reproducible: entries sorted by name, no atime/ctime, no user or
//! group names, the same bytes for the same tree (mtimes are content and kept).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};

use crate::walk::{self, kind, Descend};

/// Prefix of a whiteout entry in a layer tar.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Name of the opaque-directory marker in a layer tar.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// The xattr overlayfs marks an opaque directory with (as root; a rootless
/// daemon's overlays use `user.overlay.opaque`, see [`crate::userns`]).
pub const OPAQUE_XATTR: &str = crate::userns::TRUSTED_OPAQUE;

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created (`A`).
    Added,
    /// Changed, or a directory whose contents changed (`C`).
    Modified,
    /// Removed (`D`).
    Deleted,
}

impl ChangeKind {
    /// Docker's letter for it.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Modified => 'C',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One entry of the change list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute path in the container (`/etc/hostname`).
    pub path: String,
    /// What happened.
    pub kind: ChangeKind,
}

fn is_whiteout(st: &FileStat) -> bool {
    kind(st) == SFlag::S_IFCHR && st.st_rdev == 0
}

fn is_opaque(fd: &OwnedFd) -> bool {
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    matches!(
        rustix::fs::getxattr(path.as_str(), crate::userns::opaque_xattr(), &mut [0u8; 4]),
        Ok(1)
    )
}

/// Opens `dir` for a walk.
fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    nix::fcntl::open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("{}: {e}", dir.display())))
}

/// Whether `rel` exists in the image below (the lower layers, top first),
/// looked up beneath each layer without following any symlink.
fn in_lower(lowers: &[OwnedFd], rel: &Path) -> bool {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
    for lower in lowers {
        match openat2(lower.as_fd(), rel, how) {
            Ok(fd) => return fstat(&fd).map(|st| !is_whiteout(&st)).unwrap_or(false),
            Err(_) => continue,
        }
    }
    false
}

/// Tracks the opaque directory the walk is inside, if any.
#[derive(Default)]
struct Opaque(Option<usize>);

impl Opaque {
    /// Whether the entry at `depth` is below an opaque directory.
    fn below(&mut self, depth: usize) -> bool {
        if self.0.is_some_and(|d| depth <= d) {
            self.0 = None;
        }
        self.0.is_some()
    }
}

/// The change list of `upper` over `lowers` (top first), sorted by path.
/// The upper directory is walked by descriptors (a running container may
/// be changing it).
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> io::Result<Vec<Change>> {
    let top = open_dir(upper)?;
    let lowers: Vec<OwnedFd> = lowers.iter().filter_map(|l| open_dir(l).ok()).collect();
    let mut out = Vec::new();
    let mut opaque = Opaque::default();
    walk::walk::<io::Error>(&top, |n| {
        let shown = format!("/{}", n.rel.display());
        let hidden = opaque.below(n.depth);
        if is_whiteout(n.stat) {
            out.push(Change {
                path: shown,
                kind: ChangeKind::Deleted,
            });
            return Ok(Descend::No);
        }
        // An opaque directory hides everything below it: its contents are
        // all new.
        let kind = if !hidden && in_lower(&lowers, n.rel) {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        out.push(Change { path: shown, kind });
        if n.kind() == SFlag::S_IFDIR && !hidden && is_opaque(n.fd) {
            opaque.0 = Some(n.depth);
        }
        Ok(Descend::Yes)
    })?;
    Ok(out)
}

/// Writes `upper` as an uncompressed layer tar to `out`. The tree is walked
/// by descriptors (`commit --pause=false` walks a running container's
/// layer: a directory it swaps for a symlink is stored as that symlink,
/// never followed to the host), iteratively, at most
/// [`walk::MAX_DEPTH`] levels deep.
pub fn write_layer<W: Write>(upper: &Path, out: W) -> io::Result<W> {
    let top = open_dir(upper)?;
    let mut builder = tar::Builder::new(out);
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    walk::walk::<io::Error>(&top, |n| {
        append_node(&mut builder, n, &mut links)?;
        Ok(Descend::Yes)
    })?;
    builder.into_inner()
}

fn header(st: &FileStat, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h.set_size(0);
    h
}

fn append_node<W: Write>(
    b: &mut tar::Builder<W>,
    n: &walk::Node<'_>,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    let st = n.stat;
    let r = n.rel;
    let dir = r.parent().unwrap_or(Path::new(""));
    if is_whiteout(st) {
        let mut wh = OsStr::new(WHITEOUT_PREFIX).to_os_string();
        wh.push(n.name);
        let mut h = header(st, tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        return b.append_data(&mut h, dir.join(wh), io::empty());
    }
    // overlayfs' own bookkeeping is not part of the layer (`user.` in a
    // user namespace, where the overlay is mounted with `userxattr`).
    let userns = crate::userns::in_user_namespace();
    let x: Vec<(String, Vec<u8>)> = walk::xattrs(n.fd)?
        .into_iter()
        .filter(|(k, _)| {
            !(k.starts_with("trusted.overlay.") || userns && k.starts_with("user.overlay."))
        })
        .collect();
    if !x.is_empty() {
        let keys: Vec<(String, &[u8])> = x
            .iter()
            .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.as_slice()))
            .collect();
        b.append_pax_extensions(keys.iter().map(|(k, v)| (k.as_str(), *v)))?;
    }
    match n.kind() {
        SFlag::S_IFDIR => {
            let mut h = header(st, tar::EntryType::Directory);
            b.append_data(&mut h, r, io::empty())?;
            if is_opaque(n.fd) {
                let mut h = header(st, tar::EntryType::Regular);
                h.set_mode(0o644);
                b.append_data(&mut h, r.join(OPAQUE_MARKER), io::empty())?;
            }
        }
        SFlag::S_IFLNK => {
            let target = nix::fcntl::readlinkat(n.fd, "").map_err(io::Error::from)?;
            let mut h = header(st, tar::EntryType::Symlink);
            b.append_link(&mut h, r, target)?;
        }
        SFlag::S_IFREG => {
            if st.st_nlink > 1 {
                if let Some(first) = links.get(&(st.st_dev, st.st_ino)) {
                    let mut h = header(st, tar::EntryType::Link);
                    return b.append_link(&mut h, r, first);
                }
                links.insert((st.st_dev, st.st_ino), r.to_path_buf());
            }
            // The very inode stat'ed, opened again for reading.
            let f = fs::File::from(walk::reopen(n.fd, OFlag::O_RDONLY)?);
            let size = u64::try_from(st.st_size).unwrap_or(0);
            let mut h = header(st, tar::EntryType::Regular);
            h.set_size(size);
            b.append_data(&mut h, r, walk::exactly(f, size))?;
        }
        SFlag::S_IFCHR | SFlag::S_IFBLK => {
            let kind = if n.kind() == SFlag::S_IFCHR {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            };
            let mut h = header(st, kind);
            h.set_device_major(libc::major(st.st_rdev))?;
            h.set_device_minor(libc::minor(st.st_rdev))?;
            b.append_data(&mut h, r, io::empty())?;
        }
        SFlag::S_IFIFO => {
            let mut h = header(st, tar::EntryType::Fifo);
            b.append_data(&mut h, r, io::empty())?;
        }
        // Sockets are not carried in layers (as Docker).
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mount::tests::Mounted;
    use crate::mount::Overlay;

    /// A container's life in miniature: changes made through a real overlay.
    #[test]
    fn changes_and_layer_tar_of_a_real_overlay() {
        let d = tempfile::tempdir().unwrap();
        let [lower, upper, work, merged] =
            ["lower", "upper", "work", "merged"].map(|n| d.path().join(n));
        for p in [&lower, &upper, &work, &merged] {
            fs::create_dir(p).unwrap();
        }
        fs::create_dir_all(lower.join("etc/sub")).unwrap();
        fs::write(lower.join("etc/keep"), "k").unwrap();
        fs::write(lower.join("etc/gone"), "g").unwrap();
        fs::write(lower.join("etc/sub/old"), "o").unwrap();
        fs::create_dir(lower.join("opaque")).unwrap();
        fs::write(lower.join("opaque/hidden"), "h").unwrap();
        let lowers = [lower.clone()];
        Overlay {
            lower: &lowers,
            upper: Some((&upper, &work)),
        }
        .mount(&merged)
        .unwrap();
        let m = Mounted(merged.clone());
        fs::write(merged.join("etc/keep"), "changed").unwrap();
        fs::remove_file(merged.join("etc/gone")).unwrap();
        fs::remove_dir_all(merged.join("etc/sub")).unwrap();
        fs::write(merged.join("new"), "n").unwrap();
        std::os::unix::fs::symlink("new", merged.join("link")).unwrap();
        fs::hard_link(merged.join("new"), merged.join("new2")).unwrap();
        fs::remove_dir_all(merged.join("opaque")).unwrap();
        fs::create_dir(merged.join("opaque")).unwrap();
        fs::write(merged.join("opaque/fresh"), "f").unwrap();
        drop(m);

        let list: Vec<String> = changes(&upper, &lowers)
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path))
            .collect();
        assert_eq!(
            list,
            [
                "C /etc",
                "D /etc/gone",
                "C /etc/keep",
                "D /etc/sub",
                "A /link",
                "A /new",
                "A /new2",
                "C /opaque",
                "A /opaque/fresh"
            ]
        );

        let tar1 = write_layer(&upper, Vec::new()).unwrap();
        let tar2 = write_layer(&upper, Vec::new()).unwrap();
        assert_eq!(tar1, tar2, "reproducible");
        let mut names = Vec::new();
        let mut archive = tar::Archive::new(tar1.as_slice());
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let kind = e.header().entry_type();
            names.push(format!("{:?} {}", kind, e.path().unwrap().display()));
        }
        assert_eq!(
            names,
            [
                "Directory etc",
                "Regular etc/.wh.gone",
                "Regular etc/keep",
                "Regular etc/.wh.sub",
                "Symlink link",
                "Regular new",
                "Link new2",
                "Directory opaque",
                "Regular opaque/.wh..wh..opq",
                "Regular opaque/fresh",
            ]
        );
    }
}
