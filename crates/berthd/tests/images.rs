//! Images through berthd, driven by the real docker CLI.

mod common;

use common::{busybox_tar, Daemon};

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout: {}\nstderr: {}", r.1, r.2);
    r.1
}

#[test]
fn import_list_inspect_tag_history_save_rmi_load_prune() {
    let d = Daemon::start();
    let tar = busybox_tar(d.dir.path());
    let tar = tar.to_str().unwrap();
    let id = ok(d.docker(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        "-c",
        "ENV FOO=bar",
        "-m",
        "made by a test",
        tar,
        "busybox:latest",
    ]));
    let id = id.trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let out = ok(d.docker(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]));
    assert_eq!(out.trim(), format!("busybox:latest {}", &id[7..19]));
    let out = ok(d.docker(&["image", "inspect", "busybox", "--format", "{{.Id}}|{{json .Config.Cmd}}|{{json .Config.Env}}|{{.Os}}|{{len .RootFS.Layers}}|{{.Comment}}"]));
    assert_eq!(
        out.trim(),
        format!("{id}|[\"sh\"]|[\"FOO=bar\"]|linux|1|made by a test")
    );
    ok(d.docker(&["tag", "busybox", "localhost:5000/me/bb:v1"]));
    let out = ok(d.docker(&[
        "history",
        "--format",
        "{{.Comment}}",
        "localhost:5000/me/bb:v1",
    ]));
    assert_eq!(out.trim(), "made by a test");
    let archive = d.dir.path().join("save.tar");
    ok(d.docker(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        "busybox",
        "localhost:5000/me/bb:v1",
    ]));
    // Removing one of two names only untags.
    assert_eq!(
        ok(d.docker(&["rmi", "localhost:5000/me/bb:v1"])).trim(),
        "Untagged: localhost:5000/me/bb:v1"
    );
    let out = ok(d.docker(&["rmi", "busybox"]));
    assert!(
        out.contains("Untagged: busybox:latest") && out.contains(&format!("Deleted: {id}")),
        "{out}"
    );
    assert_eq!(ok(d.docker(&["images", "-q"])).trim(), "");
    let out = ok(d.docker(&["load", "-i", archive.to_str().unwrap()]));
    assert!(
        out.contains("Loaded image: busybox:latest")
            && out.contains("Loaded image: localhost:5000/me/bb:v1"),
        "{out}"
    );
    let out = ok(d.docker(&["images", "--no-trunc", "-q"]));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [id.as_str(), id.as_str()],
        "same id after the round trip"
    );
    let out = ok(d.docker(&["info", "--format", "{{.Images}}"]));
    assert_eq!(out.trim(), "1");
    // A second image over the same layer: the layer is shared by both.
    ok(d.docker(&["import", "-c", "CMD [\"true\"]", tar, "other"]));
    let (_, body) = d.http("GET", "/v1.47/images/json");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{body}");
    for img in list.as_array().unwrap() {
        assert!(img["Size"].as_u64().unwrap() > 1_000_000);
        assert_eq!(
            img["SharedSize"], img["Size"],
            "the one layer is shared: {body}"
        );
    }
    ok(d.docker(&["rmi", "other"]));
    ok(d.docker(&["image", "prune", "-f"]));
    assert_eq!(
        ok(d.docker(&["images", "-q"])).lines().count(),
        2,
        "tagged images are not dangling"
    );
}

#[test]
fn image_errors_are_dockers() {
    let d = Daemon::start();
    let (code, _, err) = d.docker(&["rmi", "nope"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "Error response from daemon: No such image: nope:latest"
    );
    let (code, _, err) = d.docker(&["image", "inspect", "nope"]);
    assert_ne!(code, 0);
    assert!(err.contains("No such image"), "{err}");
    // A registry that is not there: the URL tried and why, exit 1.
    let (code, _, err) = d.docker(&["pull", "127.0.0.1:1/nope"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("\"http://127.0.0.1:1/v2/\"") && err.contains("onnection refused"),
        "{err}"
    );
    // A hostile archive is refused with a 400 and stores nothing.
    let evil = d.dir.path().join("evil.tar");
    std::fs::write(&evil, b"").unwrap();
    let mut b = tar::Builder::new(std::fs::File::create(&evil).unwrap());
    let manifest = br#"[{"Config":"../../../etc/passwd","Layers":[]}]"#;
    let mut h = tar::Header::new_gnu();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "manifest.json", &manifest[..])
        .unwrap();
    b.finish().unwrap();
    drop(b);
    let (code, _, err) = d.docker(&["load", "-i", evil.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("leaves the archive"), "{err}");
    assert_eq!(d.docker(&["images", "-q"]).1.trim(), "");
}
