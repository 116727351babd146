//! Layers built here with the tar crate (hostile names written into the raw
//! header), unpacked on the real filesystem.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use super::*;

/// A tar entry to build.
enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Char(&'a str, u32, u32),
    Fifo(&'a str),
    Xattr(&'a str, &'a str, &'a [u8]),
}

/// Writes `name` into the header's name field as raw bytes, bypassing the tar
/// crate's own refusal of `..` and absolute names (an attacker's tar has them).
fn raw_name(h: &mut tar::Header, name: &str) {
    let field = &mut h.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

fn raw_link(h: &mut tar::Header, name: &str) {
    let field = &mut h.as_old_mut().linkname;
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

fn build(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        let data: &[u8] = match e {
            E::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                raw_name(&mut h, n);
                &[]
            }
            E::File(n, d, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(d.len() as u64);
                raw_name(&mut h, n);
                d
            }
            E::Symlink(n, t) | E::Hardlink(n, t) => {
                h.set_entry_type(if matches!(e, E::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_mode(0o777);
                raw_name(&mut h, n);
                raw_link(&mut h, t);
                &[]
            }
            E::Char(n, major, minor) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_mode(0o666);
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                raw_name(&mut h, n);
                &[]
            }
            E::Fifo(n) => {
                h.set_entry_type(tar::EntryType::Fifo);
                h.set_mode(0o644);
                raw_name(&mut h, n);
                &[]
            }
            E::Xattr(n, key, value) => {
                b.append_pax_extensions([(format!("SCHILY.xattr.{key}").as_str(), *value)])
                    .unwrap();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                raw_name(&mut h, n);
                &[]
            }
        };
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn unpacks_every_kind_from_plain_gzip_and_zstd() {
    let tar = build(&[
        E::Dir("etc"),
        E::File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", 0o644),
        E::File("bin/su", b"\x7fELF", 0o4755),
        E::Symlink("etc/link", "/etc/passwd"),
        E::Hardlink("etc/hard", "etc/passwd"),
        E::Char("dev/null", 1, 3),
        E::Fifo("run/fifo"),
        E::Xattr("etc/x", "user.berth", b"yes"),
        E::File(".wh.gone", b"", 0o644),
        E::Dir("opaque"),
        E::File("opaque/.wh..wh..opq", b"", 0o644),
    ]);
    let want = crate::config::sha256(&tar);
    let zstd = zstd::encode_all(tar.as_slice(), 3).unwrap();
    for (blob, kind) in [(tar.clone(), "plain"), (gzip(&tar), "gzip"), (zstd, "zstd")] {
        let d = tempfile::tempdir().unwrap();
        let u = unpack(blob.as_slice(), d.path(), "layer", Options::default()).unwrap();
        assert_eq!(
            u.diff_id, want,
            "{kind}: the diff id is the plain tar's digest"
        );
        let l = &u.path;
        assert_eq!(
            fs::read_to_string(l.join("etc/passwd")).unwrap(),
            "root:x:0:0::/root:/bin/sh\n"
        );
        let su = fs::metadata(l.join("bin/su")).unwrap();
        assert_eq!(su.mode() & 0o7777, 0o4755, "setuid kept");
        assert_eq!(su.mtime(), 1_700_000_000);
        assert_eq!(
            fs::read_link(l.join("etc/link")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(
            fs::metadata(l.join("etc/hard")).unwrap().ino(),
            fs::metadata(l.join("etc/passwd")).unwrap().ino()
        );
        let null = fs::metadata(l.join("dev/null")).unwrap();
        assert!(null.file_type().is_char_device() && null.rdev() == libc::makedev(1, 3));
        assert!(fs::metadata(l.join("run/fifo"))
            .unwrap()
            .file_type()
            .is_fifo());
        let mut v = [0u8; 8];
        assert_eq!(
            rustix::fs::getxattr(l.join("etc/x"), "user.berth", &mut v).unwrap(),
            3
        );
        let gone = fs::symlink_metadata(l.join("gone")).unwrap();
        assert!(
            gone.file_type().is_char_device() && gone.rdev() == 0,
            "whiteout"
        );
        assert_eq!(
            rustix::fs::getxattr(l.join("opaque"), OPAQUE_XATTR, &mut v).unwrap(),
            1
        );
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temp dir left"
        );
    }
}

#[test]
fn hostile_entries_are_refused_and_touch_nothing_outside() {
    let cases: Vec<(&str, Vec<E<'_>>, &str)> = vec![
        ("dotdot", vec![E::File("../evil", b"x", 0o644)], "'..'"),
        (
            "nested dotdot",
            vec![E::File("a/../../evil", b"x", 0o644)],
            "'..'",
        ),
        ("absolute", vec![E::File("/evil", b"x", 0o644)], "absolute"),
        (
            "through symlink",
            vec![
                E::Symlink("link", "/tmp"),
                E::File("link/evil", b"x", 0o644),
            ],
            "not a directory",
        ),
        (
            "through relative symlink",
            vec![E::Symlink("up", "../.."), E::File("up/evil", b"x", 0o644)],
            "not a directory",
        ),
        (
            "hardlink out",
            vec![E::Hardlink("h", "../../etc/passwd")],
            "'..'",
        ),
        (
            "hardlink absolute",
            vec![E::Hardlink("h", "/etc/passwd")],
            "absolute",
        ),
        (
            "hardlink via symlink",
            vec![E::Symlink("s", "/etc"), E::Hardlink("h", "s/passwd")],
            "not a directory",
        ),
    ];
    for (what, entries, why) in cases {
        let outer = tempfile::tempdir().unwrap();
        let parent = outer.path().join("layers");
        let err = unpack(build(&entries).as_slice(), &parent, "l", Options::default()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("layer entry ") && msg.contains(why),
            "{what}: {msg}"
        );
        assert!(
            !outer.path().join("evil").exists() && !outer.path().join("h").exists(),
            "{what}"
        );
        assert_eq!(
            fs::read_dir(&parent).unwrap().count(),
            0,
            "{what}: nothing left"
        );
    }
    let rootless = Options {
        rootless: true,
        ..Options::default()
    };
    let d = tempfile::tempdir().unwrap();
    let u = unpack(
        build(&[E::Char("dev/sda", 8, 0)]).as_slice(),
        d.path(),
        "l",
        rootless,
    )
    .unwrap();
    assert!(
        !u.path.join("dev/sda").exists(),
        "device nodes are skipped rootless, as Docker rootless does"
    );
}

#[test]
fn bounds_and_corrupt_streams() {
    let d = tempfile::tempdir().unwrap();
    let small = Options {
        max_bytes: 10,
        ..Options::default()
    };
    let err = unpack(
        build(&[E::File("big", &[0u8; 100], 0o644)]).as_slice(),
        d.path(),
        "a",
        small,
    )
    .unwrap_err();
    assert!(matches!(err, LayerError::TooBig(_)), "{err}");
    let few = Options {
        max_entries: 2,
        ..Options::default()
    };
    let err = unpack(
        build(&[E::Dir("a"), E::Dir("b"), E::Dir("c")]).as_slice(),
        d.path(),
        "b",
        few,
    )
    .unwrap_err();
    assert!(matches!(err, LayerError::TooBig(_)), "{err}");
    let mut truncated = gzip(&build(&[E::File("f", &[1u8; 5000], 0o644)]));
    truncated.truncate(truncated.len() / 2);
    assert!(unpack(truncated.as_slice(), d.path(), "c", Options::default()).is_err());
    assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
}

/// `data` through one of the system's compressors (`bzip2`, `xz`): the
/// decoders read what the real tools write.
fn with_tool(tool: &str, data: &[u8]) -> Vec<u8> {
    let mut child = std::process::Command::new(tool)
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn bzip2_and_xz_layers_unpack_and_concatenated_streams_read_whole() {
    let tar = build(&[
        E::File("a", b"one", 0o644),
        E::File("b", &[7u8; 70_000], 0o600),
    ]);
    let want = crate::config::sha256(&tar);
    for tool in ["bzip2", "xz"] {
        let blob = with_tool(tool, &tar);
        assert_ne!(detect(&blob), Compression::None, "{tool}");
        let d = tempfile::tempdir().unwrap();
        let u = unpack(blob.as_slice(), d.path(), "layer", Options::default()).unwrap();
        assert_eq!(u.diff_id, want, "{tool}");
        assert_eq!(fs::read(u.path.join("b")).unwrap().len(), 70_000);
        // Two streams back to back (`cat a.xz b.xz`) read as one, as the
        // tools and Go's readers do.
        let (head, tail) = tar.split_at(1024);
        let mut two = with_tool(tool, head);
        two.extend(with_tool(tool, tail));
        let mut back = Vec::new();
        decompressed(two.as_slice())
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == tar, "{tool}: concatenated streams");
    }
}

/// An xz stream whose block asks for a 4 GiB dictionary is refused before
/// the decoder takes the memory: the block header's dictionary byte is
/// rewritten to 40 (4 GiB - 1) and its CRC32 fixed.
#[test]
fn xz_with_a_huge_dictionary_is_refused() {
    let mut xz = with_tool("xz", &build(&[E::File("a", b"x", 0o644)]));
    // Stream header (12 bytes), then the block header: size byte, flags,
    // filter id 0x21 (LZMA2), property size 1, the dictionary byte.
    assert_eq!(
        &xz[12..16],
        &[0x02, 0x00, 0x21, 0x01],
        "xz's default block header"
    );
    xz[16] = 40;
    let mut crc = flate2::Crc::new();
    crc.update(&xz[12..20]);
    xz[20..24].copy_from_slice(&crc.sum().to_le_bytes());
    let mut out = Vec::new();
    let err = decompressed(xz.as_slice())
        .unwrap()
        .read_to_end(&mut out)
        .unwrap_err();
    assert!(err.to_string().contains("memory limit"), "{err}");
}

/// A GNU long-name header declaring `size` bytes, then `size` bytes of 'a'
/// made as they are read (nothing of it is ever in memory here).
struct LongNameBomb {
    header: Vec<u8>,
    sent: u64,
    size: u64,
}

impl LongNameBomb {
    fn new(kind: tar::EntryType, size: u64) -> LongNameBomb {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(size);
        h.set_cksum();
        LongNameBomb {
            header: h.as_bytes().to_vec(),
            sent: 0,
            size,
        }
    }
}

impl Read for LongNameBomb {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let head = self.header.len() as u64;
        if self.sent < head {
            let from = &self.header[self.sent as usize..];
            let n = from.len().min(buf.len());
            buf[..n].copy_from_slice(&from[..n]);
            self.sent += n as u64;
            return Ok(n);
        }
        let left = (head + self.size).saturating_sub(self.sent);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        buf[..n].fill(b'a');
        self.sent += n as u64;
        Ok(n)
    }
}

/// Issue 15: the tar crate read a GNU long name or PAX header whole, so an
/// 8 GiB one (a few MB gzipped) grew the daemon by 8 GiB. Now refused from
/// its header, having read next to nothing.
#[test]
fn metadata_header_bombs_are_refused_unread() {
    for kind in [
        tar::EntryType::GNULongName,
        tar::EntryType::GNULongLink,
        tar::EntryType::XHeader,
    ] {
        let d = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let err = unpack(
            LongNameBomb::new(kind, 8 << 30),
            d.path(),
            "bomb",
            Options::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("is over the limit of 1048576 bytes"),
            "{kind:?}: {err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
    }
}

/// The directory-times list is bounded: a layer of many directories (here
/// one directory repeated, which a tar may do) is refused once its
/// bookkeeping passes the bound.
#[test]
fn directory_bookkeeping_is_bounded() {
    let entries: Vec<E<'_>> = (0..200).map(|_| E::Dir("a/long-directory-name")).collect();
    let tar = build(&entries);
    let d = tempfile::tempdir().unwrap();
    let tight = Options {
        max_dir_bookkeeping: 100 * 48,
        ..Options::default()
    };
    let err = unpack(tar.as_slice(), d.path(), "dirs", tight).unwrap_err();
    assert!(err.to_string().contains("bookkeeping"), "{err}");
    assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
    unpack(tar.as_slice(), d.path(), "dirs", Options::default()).unwrap();
}
