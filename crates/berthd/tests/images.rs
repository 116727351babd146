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

/// The config dockerd 20.10 writes for `docker import` (Go's `null` for every
/// empty slice and map, a `container_config`, nanosecond timestamps), as
/// recorded from `docker save` there; `{DIFF}` is the layer's diff id.
const DOCKER_IMPORT_CONFIG: &str = r#"{"architecture":"amd64","comment":"Imported from -","config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"container_config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"created":"2026-11-30T09:12:41.873912053Z","docker_version":"20.10.24+dfsg1","history":[{"created":"2026-11-30T09:12:41.873912053Z","comment":"Imported from -"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["{DIFF}"]}}"#;

/// Regression (issue 17): images made by Docker, whose configs hold `null`s,
/// were refused ("invalid type: null, expected a sequence").
#[test]
fn docker_made_image_with_nulls_loads_runs_and_round_trips() {
    use sha2::Digest as _;
    let d = Daemon::start();
    let layer = std::fs::read(busybox_tar(d.dir.path())).unwrap();
    let hex = |b: &[u8]| {
        sha2::Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let diff = format!("sha256:{}", hex(&layer));
    let config = DOCKER_IMPORT_CONFIG.replace("{DIFF}", &diff);
    let config_hex = hex(config.as_bytes());
    // dockerd 20.10's `docker save` layout: a directory per layer with
    // VERSION, json and layer.tar; `<config hex>.json`; manifest.json with
    // `null` for the untagged image's RepoTags beside a tagged one.
    let layer_dir = "5d2a0c8ea63b4d5f0a1c9e8b7f6e5d4c3b2a19087f6e5d4c3b2a190876543210";
    let archive = d.dir.path().join("docker-save.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, name, data).unwrap();
    };
    add(&format!("{layer_dir}/VERSION"), b"1.0");
    add(
        &format!("{layer_dir}/json"),
        format!(r#"{{"id":"{layer_dir}","created":"0001-01-01T00:00:00Z","container_config":{{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}},"os":"linux"}}"#).as_bytes(),
    );
    add(&format!("{layer_dir}/layer.tar"), &layer);
    add(&format!("{config_hex}.json"), config.as_bytes());
    add(
        "manifest.json",
        format!(r#"[{{"Config":"{config_hex}.json","RepoTags":["dockermade:latest"],"Layers":["{layer_dir}/layer.tar"]}},{{"Config":"{config_hex}.json","RepoTags":null,"Layers":["{layer_dir}/layer.tar"]}}]"#).as_bytes(),
    );
    add(
        "repositories",
        format!(r#"{{"dockermade":{{"latest":"{layer_dir}"}}}}"#).as_bytes(),
    );
    b.finish().unwrap();
    drop(b);

    let out = ok(d.docker(&["load", "-i", archive.to_str().unwrap()]));
    assert!(out.contains("Loaded image: dockermade:latest"), "{out}");
    let id = format!("sha256:{config_hex}");
    let out = ok(d.docker(&[
        "image",
        "inspect",
        "dockermade",
        "--format",
        "{{.Id}}|{{.Created}}|{{.Comment}}",
    ]));
    assert_eq!(
        out.trim(),
        format!("{id}|2026-11-30T09:12:41.873912053Z|Imported from -")
    );
    assert!(ok(d.docker(&["images"])).contains("dockermade"));
    assert!(ok(d.docker(&["history", "dockermade"])).contains("Imported from -"));
    let out = ok(d.docker(&["run", "--rm", "dockermade", "echo", "from docker"]));
    assert_eq!(out.trim(), "from docker");
    // save → rmi → load: the same id, the config's bytes kept as they were.
    let saved = d.dir.path().join("resaved.tar");
    ok(d.docker(&["save", "-o", saved.to_str().unwrap(), "dockermade"]));
    ok(d.docker(&["rmi", "dockermade"]));
    ok(d.docker(&["load", "-i", saved.to_str().unwrap()]));
    let out = ok(d.docker(&["image", "inspect", "dockermade", "--format", "{{.Id}}"]));
    assert_eq!(out.trim(), id);
}

/// `POST /images/load` answers as dockerd: chunked JSON lines (docker-py
/// reads a body with a length as one document and failed on two "Loaded
/// image" lines), a broken archive as 200 with the error as the last
/// message (docker-py's ImageLoadError); `save` of several images loads
/// back every one. A pull's invalid platform is containerd's 400.
#[test]
fn load_answers_in_lines_and_pull_checks_the_platform() {
    let d = Daemon::start();
    let tar = busybox_tar(d.dir.path());
    ok(d.docker(&["import", tar.to_str().unwrap(), "busybox"]));
    ok(d.docker(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        tar.to_str().unwrap(),
        "other:1",
    ]));
    let (status, head, body) = d.curl_head("POST", "/v1.47/images/load", &[], b"abc");
    assert_eq!(status, 200);
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let last: serde_json::Value = serde_json::from_slice(
        body.trim_ascii_end()
            .split(|b| *b == b'\n')
            .next_back()
            .unwrap(),
    )
    .unwrap();
    assert!(
        last["errorDetail"]["message"]
            .as_str()
            .unwrap()
            .contains("not a (compressed) tar"),
        "{last}"
    );

    let (status, saved) = d.curl(
        "GET",
        "/v1.47/images/get?names=busybox&names=other:1",
        &[],
        b"",
    );
    assert_eq!(status, 200);
    ok(d.docker(&["rmi", "busybox", "other:1"]));
    let (status, head, body) = d.curl_head("POST", "/v1.47/images/load", &[], &saved);
    assert_eq!(status, 200);
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains(r#"{"stream":"Loaded image: busybox:latest\n"}"#)
            && text.contains(r#"{"stream":"Loaded image: other:1\n"}"#),
        "{text}"
    );
    ok(d.docker(&["image", "inspect", "busybox", "other:1"]));

    // As moby's tarexport reads names: an id saves the image untagged
    // (docker-py's `image.save()` then loads one image, not one per tag),
    // a repository without a tag saves its every tag.
    ok(d.docker(&["tag", "other:1", "other:2"]));
    let id = ok(d.docker(&["inspect", "-f", "{{.Id}}", "other:1"]));
    let id = id.trim();
    for (name, tags, loaded) in [
        (
            id.to_string(),
            "null".to_string(),
            format!("Loaded image ID: {id}"),
        ),
        (
            id[7..19].to_string(),
            "null".to_string(),
            format!("Loaded image ID: {id}"),
        ),
        (
            "other".to_string(),
            r#"["other:1","other:2"]"#.to_string(),
            "Loaded image: other:2".to_string(),
        ),
    ] {
        let (status, saved) = d.curl("GET", &format!("/v1.47/images/get?names={name}"), &[], b"");
        assert_eq!(status, 200);
        let mut ar = tar::Archive::new(&saved[..]);
        let manifest = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.path().unwrap().to_str() == Some("manifest.json"))
            .map(|mut e| {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut e, &mut s).unwrap();
                s
            })
            .unwrap();
        let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        assert_eq!(m.as_array().unwrap().len(), 1, "{manifest}");
        assert_eq!(m[0]["RepoTags"].to_string(), tags, "{name}: {manifest}");
        let (_, text) = d.curl("POST", "/v1.47/images/load", &[], &saved);
        assert!(
            String::from_utf8_lossy(&text).contains(&loaded),
            "{name}: {}",
            String::from_utf8_lossy(&text)
        );
    }

    let (status, body) = d.curl(
        "POST",
        "/v1.47/images/create?fromImage=busybox&tag=latest&platform=foobar",
        &[],
        b"",
    );
    assert_eq!(status, 400);
    assert_eq!(
        String::from_utf8_lossy(&body),
        r#"{"message":"\"foobar\": unknown operating system or architecture: invalid argument"}"#
    );
}
