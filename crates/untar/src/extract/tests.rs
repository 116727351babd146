//! The extractor against hostile archives, on a real filesystem.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;

/// A tar of (name, kind, link, data, mode, mtime), written raw (the `tar`
/// crate's builder refuses `..`, which is what a hostile tar has).
fn tar(entries: &[(&str, EntryType, &str, &[u8], u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, data, mode) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(*mode);
        h.set_size(data.len() as u64);
        h.set_mtime(1_000_000_000);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        let mut d = data.to_vec();
        d.resize(data.len().div_ceil(512) * 512, 0);
        out.extend_from_slice(&d);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn dest(dir: &Path) -> OwnedFd {
    fs::File::open(dir).unwrap().into()
}

fn run(dir: &Path, t: &[u8], opts: &Options) -> Result<(), ExtractError> {
    extract(&dest(dir), t, opts, |_: &[u8]| None)
}

const F: EntryType = EntryType::Regular;
const D: EntryType = EntryType::Directory;
const S: EntryType = EntryType::Symlink;
const L: EntryType = EntryType::Link;

#[test]
fn writes_files_dirs_links_with_modes_and_times() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tar(&[
        ("ro/", D, "", b"", 0o555),
        ("ro/f", F, "", b"data", 0o640),
        ("ro/l", S, "f", b"", 0o777),
        ("ro/h", L, "ro/f", b"", 0o640),
    ]);
    let opts = Options {
        mtimes: true,
        ..Options::default()
    };
    run(tmp.path(), &t, &opts).unwrap();
    let ro = tmp.path().join("ro");
    assert_eq!(fs::read(ro.join("f")).unwrap(), b"data");
    assert_eq!(fs::metadata(ro.join("f")).unwrap().mode() & 0o7777, 0o640);
    assert_eq!(fs::metadata(ro.join("f")).unwrap().mtime(), 1_000_000_000);
    // The read-only directory has its mode, set after its entries (an
    // extractor without CAP_DAC_OVERRIDE could not write into 0555).
    assert_eq!(
        fs::metadata(&ro).unwrap().permissions().mode() & 0o7777,
        0o555
    );
    assert_eq!(fs::read_link(ro.join("l")).unwrap(), Path::new("f"));
    assert_eq!(fs::metadata(ro.join("h")).unwrap().nlink(), 2);
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn renames_entries_and_link_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tar(&[
        ("a/", D, "", b"", 0o755),
        ("a/f", F, "", b"x", 0o644),
        ("a/h", L, "a/f", b"", 0o644),
    ]);
    let rename = |n: &[u8]| {
        n.strip_prefix(b"a")
            .map(|rest| [b"b".as_slice(), rest].concat())
    };
    extract(&dest(tmp.path()), t.as_slice(), &Options::default(), rename).unwrap();
    assert_eq!(fs::read(tmp.path().join("b/h")).unwrap(), b"x");
    assert!(!tmp.path().join("a").exists());
}

#[test]
fn refuses_names_and_links_leaving_the_destination() {
    let tmp = tempfile::tempdir().unwrap();
    let inside = tmp.path().join("in");
    fs::create_dir(&inside).unwrap();
    for (t, why) in [
        (
            tar(&[("../f", F, "", b"x", 0o644)]),
            "leaves the destination",
        ),
        (
            tar(&[("/abs", F, "", b"x", 0o644)]),
            "leaves the destination",
        ),
        (
            tar(&[("h", L, "../../etc/passwd", b"", 0o644)]),
            "leaves the destination",
        ),
    ] {
        let e = run(&inside, &t, &Options::default()).unwrap_err();
        assert!(e.to_string().contains(why), "{e}");
    }
    // A symlink out is stored as a link by the daemon (never followed)...
    let up = tar(&[
        ("d/", D, "", b"", 0o755),
        ("d/up", S, "../../..", b"", 0o777),
    ]);
    run(&inside, &up, &Options::default()).unwrap();
    // ...and refused where links get followed later (the CLI's copy out).
    let confined = Options {
        confine_symlinks: true,
        ..Options::default()
    };
    fs::remove_file(inside.join("d/up")).unwrap();
    let e = run(&inside, &up, &confined).unwrap_err();
    assert!(e.to_string().contains("invalid symlink"), "{e}");
    // A link climbing back down stays inside: allowed.
    let ok = tar(&[
        ("d/", D, "", b"", 0o755),
        ("d/ok", S, "../d/./x", b"", 0o777),
        ("d/abs", S, "/etc/passwd", b"", 0o777),
    ]);
    run(&inside, &ok, &confined).unwrap();
    assert!(
        fs::read_dir(tmp.path()).unwrap().count() == 1,
        "nothing outside"
    );
}

#[test]
fn never_writes_through_a_symlink_at_the_destination() {
    let tmp = tempfile::tempdir().unwrap();
    let (inside, outside) = (tmp.path().join("in"), tmp.path().join("out"));
    fs::create_dir(&inside).unwrap();
    fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, inside.join("evil")).unwrap();
    for t in [
        tar(&[("evil/f", F, "", b"x", 0o644)]),
        tar(&[("evil/", D, "", b"", 0o755)]),
    ] {
        let e = run(&inside, &t, &Options::default()).unwrap_err();
        assert!(matches!(e, ExtractError::NotADirectory { .. }), "{e}");
    }
    // A file entry replaces the link itself, not what it points at.
    run(
        &inside,
        &tar(&[("evil", F, "", b"mine", 0o644)]),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(fs::read(inside.join("evil")).unwrap(), b"mine");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn bounds_entries_and_bytes_and_kinds() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tar(&[("a", F, "", b"1", 0o644), ("b", F, "", b"2", 0o644)]);
    let few = Options {
        max_entries: 1,
        ..Options::default()
    };
    assert!(run(tmp.path(), &t, &few)
        .unwrap_err()
        .to_string()
        .contains("more than 1 entries"));
    let small = Options {
        max_bytes: 600,
        ..Options::default()
    };
    assert!(run(tmp.path(), &t, &small).is_err());
    let fifo = tar(&[("p", EntryType::Fifo, "", b"", 0o644)]);
    let e = run(tmp.path(), &fifo, &Options::default()).unwrap_err();
    assert!(e.to_string().contains("which copies do not take"), "{e}");
    let as_files = Options {
        others_as_files: true,
        ..Options::default()
    };
    run(tmp.path(), &fifo, &as_files).unwrap();
    assert!(fs::metadata(tmp.path().join("p")).unwrap().is_file());
}
