//! Crash states of the collector and of unpacking, and unpacks of one layer
//! at once (issue 16's weak points), on a real filesystem.

use std::path::Path;

use super::*;
use crate::reference::Reference;

/// A layer with enough files that removing it takes a while.
fn layer_tar(files: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..files {
        let data = format!("file {i}\n").repeat(64);
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, format!("d{}/f{i}", i % 10), data.as_bytes())
            .unwrap();
    }
    b.into_inner().unwrap()
}

fn import(store: &Store, tar: &[u8], name: &str) -> ImageRecord {
    store
        .import(
            tar,
            &ImportOptions {
                reference: Some(Reference::parse(name).unwrap()),
                created: "2026-11-22T00:00:00Z".into(),
                ..Default::default()
            },
        )
        .unwrap()
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            n += count_files(&e.path());
        } else {
            n += 1;
        }
    }
    n
}

/// The old collector removed a layer's record, then its directory: a kill
/// between the two left a partial directory under the layer's name, which
/// the next import of the same layer took for complete. Now that state is
/// repaired by the next unpack, and `check_layers` sees a damaged tree.
#[test]
fn gc_killed_between_record_and_directory_leaves_no_partial_layer() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let tar = layer_tar(200);
    let img = import(&store, &tar, "a");
    let chain = img.top_layer.clone();
    let dir = store.layer_dir(&chain);
    assert_eq!(count_files(&dir), 200);
    assert!(store.check_layers().unwrap().is_empty());
    // What the old order left: records gone, the directory half removed.
    store
        .meta()
        .write(|w| {
            w.untag("docker.io/library/a:latest")?;
            w.delete_image(&img.id)?;
            w.delete_layer(&chain)?;
            Ok::<_, MetaError>(())
        })
        .unwrap();
    for i in 0..5 {
        std::fs::remove_dir_all(dir.join(format!("d{i}"))).unwrap();
    }
    drop(store);
    let store = Store::open(d.path()).unwrap();
    let again = import(&store, &tar, "a");
    assert_eq!(again.top_layer, chain);
    assert_eq!(
        count_files(&store.layer_dir(&chain)),
        200,
        "the partial directory was recorded as the layer"
    );
    assert!(store.check_layers().unwrap().is_empty());
    // And a damaged recorded layer is reported.
    std::fs::remove_file(store.layer_dir(&chain).join("d9/f9")).unwrap();
    let problems = store.check_layers().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("differs"), "{problems:?}");
}

/// The new collector deletes the records, then renames each directory away,
/// then removes it: each state a kill can leave is one the store opens
/// cleanly, with no record whose directory is gone, and that a later import
/// completes.
#[test]
fn gc_states_after_a_kill_are_all_recoverable() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let tar = layer_tar(50);
    let img = import(&store, &tar, "a");
    let chain = img.top_layer.clone();
    let layers = d.path().join("layers");
    let forget = |store: &Store, id: &str| {
        store
            .meta()
            .write(|w| {
                w.untag("docker.io/library/a:latest")?;
                w.delete_image(id)?;
                Ok::<_, MetaError>(())
            })
            .unwrap();
    };
    // Killed after the records went, before the rename: a whole directory
    // no record names. The next import of the layer keeps it.
    forget(&store, &img.id);
    store
        .meta()
        .write(|w| w.delete_layer(&chain).map(|_| ()))
        .unwrap();
    drop(store);
    let store = Store::open(d.path()).unwrap();
    assert!(store.check_layers().unwrap().is_empty());
    let again = import(&store, &tar, "a");
    assert_eq!(again.top_layer, chain);
    assert_eq!(count_files(&store.layer_dir(&chain)), 50);
    assert!(store.check_layers().unwrap().is_empty());
    // Killed while the renamed tree was being removed: open clears it.
    forget(&store, &again.id);
    store
        .meta()
        .write(|w| w.delete_layer(&chain).map(|_| ()))
        .unwrap();
    std::fs::rename(
        store.layer_dir(&chain),
        layers.join(format!(".tmp-gc-{}-1-0", &hex(&chain)[..12])),
    )
    .unwrap();
    drop(store);
    let store = Store::open(d.path()).unwrap();
    let names: Vec<String> = std::fs::read_dir(&layers)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.is_empty(),
        "open clears the collector's trees: {names:?}"
    );
    let img = import(&store, &tar, "a");
    assert_eq!(count_files(&store.layer_dir(&img.top_layer)), 50);
    // A whole directory no record names is collected by the next gc.
    forget(&store, &img.id);
    store
        .meta()
        .write(|w| w.delete_layer(&chain).map(|_| ()))
        .unwrap();
    assert_eq!(store.gc(&[]).unwrap().0, 1, "the unrecorded directory");
    assert_eq!(std::fs::read_dir(&layers).unwrap().count(), 0);
    // A real gc leaves nothing, and no record without its directory.
    let img = import(&store, &tar, "a");
    forget(&store, &img.id);
    assert_eq!(store.gc(&[]).unwrap().0, 1);
    assert_eq!(std::fs::read_dir(&layers).unwrap().count(), 0);
    assert!(store.meta().layers().unwrap().is_empty());
}

/// Four loads of one archive at once, on an empty store, all succeed and
/// leave one whole layer (they shared one temp name, `.unpacked-<digest>`,
/// and removed each other's trees).
#[test]
fn parallel_loads_of_one_archive_all_succeed() {
    let src = tempfile::tempdir().unwrap();
    let store = Store::open(src.path()).unwrap();
    let img = import(&store, &layer_tar(300), "same");
    let archive = crate::archive::save(
        &store,
        &[(img.clone(), vec![Reference::parse("same").unwrap()])],
        Vec::new(),
    )
    .unwrap();
    for round in 0..3 {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        // Another loader's tree under the name all loads of this blob used
        // to share: a load must leave it alone (it removed it, and a rename
        // of a half-removed tree made a partial layer).
        let theirs = d
            .path()
            .join("layers")
            .join(format!(".unpacked-{}", hex(&img.diff_ids[0])));
        std::fs::create_dir_all(theirs.join("in-progress")).unwrap();
        let results: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| crate::archive::load(&store, archive.as_slice())))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in &results {
            assert!(r.is_ok(), "round {round}: {r:?}");
        }
        assert!(
            theirs.join("in-progress").is_dir(),
            "a load removed another's tree"
        );
        std::fs::remove_dir_all(&theirs).unwrap();
        let layers: Vec<String> = std::fs::read_dir(d.path().join("layers"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(layers, [hex(&img.top_layer)], "round {round}");
        assert_eq!(count_files(&store.layer_dir(&img.top_layer)), 300);
        assert!(store.check_layers().unwrap().is_empty());
    }
}
