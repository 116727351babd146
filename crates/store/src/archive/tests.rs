//! save/load round trips between stores, and with skopeo (Debian's), which
//! reads and writes the formats real Docker does.

use std::process::Command;

use super::*;
use serde_json::Value;

use crate::ImportOptions;

fn rootfs(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

fn import(store: &Store, name: &str, files: &[(&str, &str)]) -> ImageRecord {
    let opts = ImportOptions {
        reference: Some(Reference::parse(name).unwrap()),
        created: "2026-01-01T00:00:00Z".into(),
        ..Default::default()
    };
    store.import(rootfs(files).as_slice(), &opts).unwrap()
}

fn refs(store: &Store, id: &str) -> Vec<Reference> {
    crate::images::tags_of(store.meta(), id)
        .unwrap()
        .iter()
        .map(|r| Reference::parse(r).unwrap())
        .collect()
}

#[test]
fn save_then_load_gives_identical_images() {
    let a = tempfile::tempdir().unwrap();
    let src = Store::open(a.path()).unwrap();
    let one = import(&src, "one:v1", &[("a", "1")]);
    let two = import(&src, "me/two", &[("b", "2")]);
    let list = vec![
        (one.clone(), refs(&src, &one.id)),
        (two.clone(), refs(&src, &two.id)),
    ];
    let archive = save(&src, &list, Vec::new()).unwrap();
    assert_eq!(
        archive,
        save(&src, &list, Vec::new()).unwrap(),
        "reproducible"
    );
    let b = tempfile::tempdir().unwrap();
    let dst = Store::open(b.path()).unwrap();
    let loaded = load(&dst, archive.as_slice()).unwrap();
    assert_eq!(
        loaded.images,
        [
            (one.id.clone(), vec!["one:v1".to_string()]),
            (two.id.clone(), vec!["me/two:latest".to_string()])
        ]
    );
    assert_eq!(
        dst.meta()
            .resolve("docker.io/library/one:v1")
            .unwrap()
            .as_deref(),
        Some(one.id.as_str())
    );
    let exported = dst
        .export_image(&dst.meta().image(&two.id).unwrap().unwrap(), Vec::new())
        .unwrap();
    assert!(String::from_utf8_lossy(&exported).contains('2'));
    // Loading again changes nothing.
    load(&dst, archive.as_slice()).unwrap();
    assert_eq!(dst.meta().images().unwrap().len(), 2);
}

#[test]
fn hostile_archives_are_refused_and_store_nothing() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let build = |files: &[(&str, &str)]| rootfs(files);
    let config = r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#;
    let cases = [
        (
            build(&[(
                "manifest.json",
                r#"[{"Config":"../../etc/passwd","Layers":[]}]"#,
            )]),
            "leaves the archive",
        ),
        (
            build(&[("manifest.json", r#"[{"Config":"/etc/passwd","Layers":[]}]"#)]),
            "leaves the archive",
        ),
        (
            build(&[
                (
                    "manifest.json",
                    r#"[{"Config":"c.json","Layers":["l.tar"]}]"#,
                ),
                ("c.json", config),
                ("l.tar", ""),
            ]),
            "diff id",
        ),
        (
            build(&[
                ("manifest.json", r#"[{"Config":"c.json","Layers":[]}]"#),
                ("c.json", config),
            ]),
            "lists 1 layers",
        ),
        (
            build(&[("index.json", r#"{"manifests":[{"digest":"sha256:../x"}]}"#)]),
            "invalid digest",
        ),
        (
            build(&[("nothing", "")]),
            "neither manifest.json nor index.json",
        ),
    ];
    for (archive, want) in cases {
        let err = load(&store, archive.as_slice()).unwrap_err().to_string();
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(store.meta().images().unwrap().is_empty());
    assert!(store.meta().refs().unwrap().is_empty());
}

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn skopeo_reads_our_archives_and_we_read_skopeos() {
    let a = tempfile::tempdir().unwrap();
    let src = Store::open(a.path()).unwrap();
    let img = import(
        &src,
        "localhost/interop:v1",
        &[("etc/os-release", "berth test\n")],
    );
    let archive = a.path().join("save.tar");
    std::fs::write(
        &archive,
        save(&src, &[(img.clone(), refs(&src, &img.id))], Vec::new()).unwrap(),
    )
    .unwrap();
    // Our archive is an OCI layout in a tar, and a docker archive.
    let info: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        &format!("oci-archive:{}", archive.display()),
    ]))
    .unwrap();
    assert_eq!(info["Layers"].as_array().unwrap().len(), 1);
    let cfg: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--config",
        &format!("docker-archive:{}", archive.display()),
    ]))
    .unwrap();
    assert_eq!(cfg["rootfs"]["diff_ids"][0], img.diff_ids[0]);
    // skopeo rewrites it as a Docker archive (as `docker save` makes them) and
    // as an OCI layout directory; both load to the same image id.
    let docker_tar = a.path().join("docker.tar");
    skopeo(&[
        "copy",
        &format!("oci-archive:{}", archive.display()),
        &format!(
            "docker-archive:{}:localhost/interop:skopeo",
            docker_tar.display()
        ),
    ]);
    let oci_dir = a.path().join("layout");
    skopeo(&[
        "copy",
        &format!("oci-archive:{}", archive.display()),
        &format!("oci:{}:v2", oci_dir.display()),
    ]);
    let b = tempfile::tempdir().unwrap();
    let dst = Store::open(b.path()).unwrap();
    let loaded = load(&dst, File::open(&docker_tar).unwrap()).unwrap();
    assert_eq!(
        loaded.images,
        [(img.id.clone(), vec!["localhost/interop:skopeo".to_string()])]
    );
    // An OCI layout directory, tarred: loaded through index.json.
    let mut b2 = tar::Builder::new(Vec::new());
    b2.append_dir_all(".", &oci_dir).unwrap();
    let c = tempfile::tempdir().unwrap();
    let dst2 = Store::open(c.path()).unwrap();
    let loaded = load(&dst2, b2.into_inner().unwrap().as_slice()).unwrap();
    assert_eq!(loaded.images[0].0, img.id);
}
