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
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

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

fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    matches!(
        rustix::fs::lgetxattr(path, crate::userns::opaque_xattr(), &mut [0u8; 4]),
        Ok(1)
    )
}

/// Entries of `dir`, sorted by name bytes (the order tars and diffs use).
fn sorted(dir: &Path) -> io::Result<Vec<(PathBuf, fs::Metadata)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        out.push((e.path(), e.metadata()?));
    }
    out.sort_by(|a, b| a.0.as_os_str().as_bytes().cmp(b.0.as_os_str().as_bytes()));
    Ok(out)
}

/// Whether `rel` exists in the image below (the lower layers, top first).
fn in_lower(lowers: &[PathBuf], rel: &Path) -> bool {
    for lower in lowers {
        match fs::symlink_metadata(lower.join(rel)) {
            Ok(m) => return !is_whiteout(&m),
            Err(_) => continue,
        }
    }
    false
}

/// The change list of `upper` over `lowers` (top first), sorted by path.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> io::Result<Vec<Change>> {
    let mut out = Vec::new();
    walk_changes(upper, Path::new(""), lowers, &mut out)?;
    Ok(out)
}

fn walk_changes(
    dir: &Path,
    rel: &Path,
    lowers: &[PathBuf],
    out: &mut Vec<Change>,
) -> io::Result<()> {
    for (path, meta) in sorted(dir)? {
        let name = path.file_name().unwrap_or_default();
        let r = rel.join(name);
        let shown = format!("/{}", r.display());
        if is_whiteout(&meta) {
            out.push(Change {
                path: shown,
                kind: ChangeKind::Deleted,
            });
            continue;
        }
        let kind = if in_lower(lowers, &r) {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        out.push(Change { path: shown, kind });
        if meta.is_dir() {
            // An opaque directory hides everything below it: its contents
            // are all new.
            let below: &[PathBuf] = if is_opaque(&path) { &[] } else { lowers };
            walk_changes(&path, &r, below, out)?;
        }
    }
    Ok(())
}

/// Writes `upper` as an uncompressed layer tar to `out`.
pub fn write_layer<W: Write>(upper: &Path, out: W) -> io::Result<W> {
    let mut builder = tar::Builder::new(out);
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    walk_tar(&mut builder, upper, Path::new(""), &mut links)?;
    builder.into_inner()
}

fn header(meta: &fs::Metadata, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(u64::from(meta.uid()));
    h.set_gid(u64::from(meta.gid()));
    h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    h.set_size(0);
    h
}

fn xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut names = vec![0u8; 4096];
    let n = match rustix::fs::llistxattr(path, &mut names) {
        Ok(n) => n,
        Err(e) if e == rustix::io::Errno::NOTSUP => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        // overlayfs' own bookkeeping is not part of the layer (`user.` in
        // a user namespace, where the overlay is mounted with `userxattr`).
        if name.starts_with("trusted.overlay.")
            || (crate::userns::in_user_namespace() && name.starts_with("user.overlay."))
        {
            continue;
        }
        let mut value = vec![0u8; 65536];
        let len = rustix::fs::lgetxattr(path, name.as_str(), &mut value)?;
        value.truncate(len);
        out.push((name, value));
    }
    out.sort();
    Ok(out)
}

fn walk_tar<W: Write>(
    b: &mut tar::Builder<W>,
    dir: &Path,
    rel: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    for (path, meta) in sorted(dir)? {
        let name = path.file_name().unwrap_or_default();
        let r = rel.join(name);
        if is_whiteout(&meta) {
            let mut wh = OsStr::new(WHITEOUT_PREFIX).to_os_string();
            wh.push(name);
            let mut h = header(&meta, tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            b.append_data(&mut h, rel.join(wh), io::empty())?;
            continue;
        }
        let x = xattrs(&path)?;
        if !x.is_empty() {
            let keys: Vec<(String, &[u8])> = x
                .iter()
                .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.as_slice()))
                .collect();
            b.append_pax_extensions(keys.iter().map(|(k, v)| (k.as_str(), *v)))?;
        }
        let ft = meta.file_type();
        if ft.is_dir() {
            let mut h = header(&meta, tar::EntryType::Directory);
            b.append_data(&mut h, &r, io::empty())?;
            if is_opaque(&path) {
                let mut h = header(&meta, tar::EntryType::Regular);
                h.set_mode(0o644);
                b.append_data(&mut h, r.join(OPAQUE_MARKER), io::empty())?;
            }
            walk_tar(b, &path, &r, links)?;
        } else if ft.is_symlink() {
            let mut h = header(&meta, tar::EntryType::Symlink);
            b.append_link(&mut h, &r, fs::read_link(&path)?)?;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                    let mut h = header(&meta, tar::EntryType::Link);
                    b.append_link(&mut h, &r, first)?;
                    continue;
                }
                links.insert((meta.dev(), meta.ino()), r.clone());
            }
            let mut h = header(&meta, tar::EntryType::Regular);
            h.set_size(meta.len());
            b.append_data(&mut h, &r, fs::File::open(&path)?)?;
        } else if ft.is_char_device() || ft.is_block_device() {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            };
            let mut h = header(&meta, kind);
            h.set_device_major(libc::major(meta.rdev()))?;
            h.set_device_minor(libc::minor(meta.rdev()))?;
            b.append_data(&mut h, &r, io::empty())?;
        } else if ft.is_fifo() {
            let mut h = header(&meta, tar::EntryType::Fifo);
            b.append_data(&mut h, &r, io::empty())?;
        }
        // Sockets are not carried in layers (as Docker).
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
