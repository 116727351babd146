//! The store end to end on a real filesystem.

use std::io::Write;

use std::path::Path;

use super::*;

fn rootfs_tar(extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_mtime(0);
    h.set_size(0);
    b.append_data(&mut h, "bin", std::io::empty()).unwrap();
    for (name, data) in extra {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn opts(r: &str, changes: &[&str]) -> ImportOptions {
    ImportOptions {
        reference: Some(Reference::parse(r).unwrap()),
        changes: changes.iter().map(|s| s.to_string()).collect(),
        message: None,
        created: "2026-11-22T00:00:00Z".into(),
    }
}

#[test]
fn import_export_round_trip_and_gc() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let tar = rootfs_tar(&[("bin/hello", b"#!/bin/sh\necho hi\n")]);
    let img = store
        .import(
            gz(&tar).as_slice(),
            &opts("hello", &["CMD [\"/bin/hello\"]", "ENV A=1"]),
        )
        .unwrap();
    assert_eq!(
        img.diff_ids,
        [crate::config::sha256(&tar)],
        "diff id is the uncompressed tar's"
    );
    assert_eq!(
        store
            .meta()
            .resolve("docker.io/library/hello:latest")
            .unwrap()
            .as_deref(),
        Some(img.id.as_str())
    );
    let cfg = store.config(&img).unwrap();
    assert_eq!(cfg.config.cmd.as_deref().unwrap(), ["/bin/hello"]);
    assert_eq!(cfg.config.env, ["A=1"]);
    assert_eq!(cfg.history[0].comment, "Imported from -");
    assert_eq!(
        crate::config::sha256(&cfg.to_bytes()),
        img.id,
        "the id is the config's digest"
    );
    // The same import again gives the same image and stores nothing twice.
    let again = store
        .import(
            tar.as_slice(),
            &opts("hello:2", &["CMD [\"/bin/hello\"]", "ENV A=1"]),
        )
        .unwrap();
    assert_eq!(again.id, img.id);
    assert_eq!(
        std::fs::read_dir(d.path().join("layers")).unwrap().count(),
        1
    );
    // Export gives back the tree.
    let out = store.export_image(&img, Vec::new()).unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(out.as_slice()).entries().unwrap() {
        let mut e = e.unwrap();
        let mut body = String::new();
        std::io::Read::read_to_string(&mut e, &mut body).unwrap();
        names.push(format!("{} {body:?}", e.path().unwrap().display()));
    }
    assert_eq!(names, ["bin \"\"", "bin/hello \"#!/bin/sh\\necho hi\\n\""]);
    // Removing the image leaves garbage that gc collects: layer and blobs.
    let none = |_: &str| Vec::new();
    crate::images::remove(store.meta(), &img.id, true, &none).unwrap();
    let (layers, blobs) = store.gc(&[]).unwrap();
    assert_eq!(
        (layers, blobs),
        (1, 3),
        "one layer; the gzip blob, the plain blob and the config"
    );
    assert_eq!(
        std::fs::read_dir(d.path().join("layers")).unwrap().count(),
        0
    );
}

#[test]
fn a_bad_import_leaves_the_store_as_it_was() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let good = store
        .import(rootfs_tar(&[]).as_slice(), &opts("good", &[]))
        .unwrap();
    // A tar whose entry climbs out.
    let mut evil = rootfs_tar(&[]);
    evil.truncate(evil.len() - 1024); // drop the end-of-archive blocks
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..9].copy_from_slice(b"../escape");
    h.set_mode(0o644);
    h.set_size(0);
    h.set_cksum();
    evil.extend_from_slice(h.as_bytes());
    evil.extend_from_slice(&[0u8; 1024]);
    let err = store
        .import(evil.as_slice(), &opts("good", &[]))
        .unwrap_err();
    assert!(err.to_string().contains("'..'"), "{err}");
    assert_eq!(
        store
            .meta()
            .resolve("docker.io/library/good:latest")
            .unwrap()
            .as_deref(),
        Some(good.id.as_str()),
        "tag untouched"
    );
    assert_eq!(store.meta().images().unwrap().len(), 1);
    assert_eq!(
        store.content().list().unwrap().len(),
        2,
        "the good layer blob and config only"
    );
    assert!(!d.path().join("escape").exists());
    assert!(store
        .import(&b"not a tar at all"[..], &opts("x", &[]))
        .is_err());
    assert!(matches!(
        store.import(rootfs_tar(&[]).as_slice(), &opts("x", &["RUN x"])),
        Err(StoreError::Change(_))
    ));
}

#[test]
fn open_removes_what_a_crash_left() {
    let d = tempfile::tempdir().unwrap();
    drop(Store::open(d.path()).unwrap());
    std::fs::create_dir(d.path().join("layers/.tmp-x-123")).unwrap();
    std::fs::create_dir(d.path().join("layers/.unpacked-abc")).unwrap();
    std::fs::write(d.path().join("ingest/.tmpXYZ"), "half").unwrap();
    let _store = Store::open(d.path()).unwrap();
    assert_eq!(
        std::fs::read_dir(d.path().join("layers")).unwrap().count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(d.path().join("ingest")).unwrap().count(),
        0
    );
}

/// A container deletes a file and a directory and adds one; committed, the
/// new image hides the deleted ones and the old image still has them.
#[test]
fn commit_of_a_real_container_layer_hides_deletions() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(&d.path().join("store")).unwrap();
    let base = store
        .import(
            rootfs_tar(&[("bin/keep", b"k"), ("bin/gone", b"g"), ("etc/dir/f", b"f")]).as_slice(),
            &opts("base", &[]),
        )
        .unwrap();
    let ctr = d.path().join("ctr");
    let rootfs = ctr.join("rootfs");
    store.mount_rw(&base, &ctr, &rootfs).unwrap();
    std::fs::remove_file(rootfs.join("bin/gone")).unwrap();
    std::fs::remove_dir_all(rootfs.join("etc/dir")).unwrap();
    std::fs::write(rootfs.join("bin/new"), "n").unwrap();
    crate::mount::unmount(&rootfs).unwrap();
    let history = History {
        created: "2026-11-22T01:00:00Z".into(),
        created_by: "sh".into(),
        ..Default::default()
    };
    let new = store
        .commit(
            &base,
            &ctr.join("upper"),
            history,
            Some(&Reference::parse("derived").unwrap()),
            |c| c.config.cmd = Some(vec!["sh".into()]),
        )
        .unwrap();
    assert_eq!(new.diff_ids.len(), 2);
    assert_eq!(new.parent.as_deref(), Some(base.id.as_str()));
    assert_eq!(
        store.config(&new).unwrap().config.cmd.as_deref().unwrap(),
        ["sh"]
    );
    let view = d.path().join("view");
    let ctr2 = d.path().join("ctr2");
    store.mount_rw(&new, &ctr2, &view).unwrap();
    let names = |dir: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&view.join("bin")), ["keep", "new"]);
    assert!(!view.join("etc/dir").exists());
    crate::mount::unmount(&view).unwrap();
    let old = d.path().join("old");
    store.mount_rw(&base, &d.path().join("ctr3"), &old).unwrap();
    assert_eq!(names(&old.join("bin")), ["gone", "keep"]);
    crate::mount::unmount(&old).unwrap();
}

/// Run as a child by `kill_9_during_imports_leaves_whole_images`.
#[test]
fn importer_child() {
    let Ok(root) = std::env::var("BERTH_STORE_IMPORTER") else {
        return;
    };
    let store = Store::open(Path::new(&root)).unwrap();
    for i in 0.. {
        let data = format!("{i}").repeat(100_000);
        let tar = rootfs_tar(&[("data", data.as_bytes())]);
        store
            .import(gz(&tar).as_slice(), &opts(&format!("img:{i}"), &[]))
            .unwrap();
    }
}

#[test]
fn kill_9_during_imports_leaves_whole_images() {
    let d = tempfile::tempdir().unwrap();
    for round in 0..3u64 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::tests::importer_child",
                "--test-threads=1",
            ])
            .env("BERTH_STORE_IMPORTER", d.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200 + 70 * round));
        child.kill().unwrap();
        child.wait().unwrap();
        let store = Store::open(d.path()).unwrap();
        let images = store.meta().images().unwrap();
        for img in &images {
            // Every recorded image is whole: config, layer records and dirs.
            store.config(img).unwrap();
            for c in crate::config::chain_ids(&img.diff_ids) {
                assert!(
                    store.meta().layer(&c).unwrap().is_some(),
                    "layer record {c}"
                );
                assert!(store.layer_dir(&c).is_dir(), "layer dir {c}");
            }
        }
        for (r, id) in store.meta().refs().unwrap() {
            assert!(
                store.meta().image(&id).unwrap().is_some(),
                "{r} names a missing image"
            );
        }
        if round == 2 {
            assert!(!images.is_empty(), "the importer got some in");
        }
        // What the crash left half-done is gone, and gc finds nothing recorded missing.
        store.gc(&[]).unwrap();
    }
}

/// Everything under `sub` of the store's root, hidden names included.
fn entries(root: &Path, sub: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join(sub))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn unpack_stream_checks_digest_size_and_diff_id_before_anything_shows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tar = rootfs_tar(&[("bin/x", b"x")]);
    let blob = gz(&tar);
    let digest = crate::config::sha256(&blob);
    let diff_id = crate::config::sha256(&tar);
    let media = "application/vnd.oci.image.layer.v1.tar+gzip";
    let wrong = crate::config::sha256(b"not it");
    // Each lie is refused, and leaves no blob, layer or temp file.
    for (d, size, diff, why) in [
        (
            wrong.as_str(),
            blob.len() as u64,
            diff_id.as_str(),
            "hashing to",
        ),
        (
            digest.as_str(),
            blob.len() as u64 + 1,
            diff_id.as_str(),
            "expected",
        ),
        (
            digest.as_str(),
            blob.len() as u64 - 1,
            diff_id.as_str(),
            "more than",
        ),
        (
            digest.as_str(),
            blob.len() as u64,
            wrong.as_str(),
            "its config says",
        ),
    ] {
        let err = store
            .unpack_stream(blob.as_slice(), (d, size, media), None, diff)
            .unwrap_err();
        assert!(err.to_string().contains(why), "{why}: {err}");
        assert_eq!(entries(dir.path(), "layers"), Vec::<String>::new());
        assert_eq!(entries(dir.path(), "ingest"), Vec::<String>::new());
        assert_eq!(entries(dir.path(), "blobs/sha256"), Vec::<String>::new());
    }
    // The truth: blob and layer both in place.
    let rec = store
        .unpack_stream(
            blob.as_slice(),
            (&digest, blob.len() as u64, media),
            None,
            &diff_id,
        )
        .unwrap();
    assert_eq!(rec.diff_id, diff_id);
    assert_eq!(rec.blobs, vec![(digest.clone(), media.to_string())]);
    assert!(store.layer_dir(&rec.chain_id).join("bin/x").exists());
    store.content().verify(&digest).unwrap();
    assert_eq!(entries(dir.path(), "ingest"), Vec::<String>::new());
}
