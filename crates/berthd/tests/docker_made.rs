//! Images made by Docker (issue 17's acceptance): the configs dockerd 20.10
//! wrote here for a classic `docker build` and a `FROM scratch`
//! hello-world (recorded in `crates/models/tests/dockerd-20.10/`, `null`s,
//! `container_config`, Go's nanosecond timestamps) over layers the test
//! makes, in the archive layout dockerd 20.10's `docker save` writes
//! (`manifest.json`, `<id>.json`, a directory per layer with `VERSION`,
//! `json`, `layer.tar`). They load, run, inspect and show their history
//! through the docker CLI; `save` then `load` keeps their ids; pushed to a
//! registry with skopeo they pull with the same ids, and berth pushes them
//! on with the same layer and config digests.

mod common;

use common::registry::{Options, Registry};
use common::{busybox_tar, Daemon};
use sha2::Digest as _;

const CLASSIC_BUILD: &str =
    include_str!("../../models/tests/dockerd-20.10/classic-build.config.json");
const HELLO_WORLD: &str = include_str!("../../models/tests/dockerd-20.10/hello-world.config.json");

/// The diff ids dockerd's layers had, replaced by the test's own.
const CLASSIC_DIFFS: [&str; 3] = [
    "sha256:e858e45a47d345b59234762ede683cdbb243ba4e91a973e7d80f2ce56901c09c",
    "sha256:bb656490c5387fb9327317fc23808dac60bcd9b8de855eea79dbb7ec17d61735",
    "sha256:0322d010266e63466341141014088640c5fe6291200be6728eb59f6be81c4e27",
];
const HELLO_DIFF: &str = "sha256:29ab16037ce165a79c85f347c662384253bd2d29fcb9a311da9cae7cddf0090c";

/// The hello-world binary of that image: `write(1, "Hello from
/// Docker!\n")` and `exit(0)` as raw x86-64 syscalls (`as` and `ld -s -n
/// -N`), 392 bytes.
const HELLO: &[u8] = &[
    0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x3e, 0x00, 0x01, 0x00, 0x00, 0x00, 0x78, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x38, 0x00, 0x01, 0x00, 0x40, 0x00, 0x03, 0x00, 0x02, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x78, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x78, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x78, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x3d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x48, 0xc7, 0xc0, 0x01, 0x00, 0x00, 0x00, 0x48,
    0xc7, 0xc7, 0x01, 0x00, 0x00, 0x00, 0x48, 0x8d, 0x35, 0x15, 0x00, 0x00, 0x00, 0x48, 0xc7, 0xc2,
    0x13, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x48, 0xc7, 0xc0, 0x3c, 0x00, 0x00, 0x00, 0x48, 0x31, 0xff,
    0x0f, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x66, 0x72, 0x6f, 0x6d, 0x20, 0x44, 0x6f, 0x63,
    0x6b, 0x65, 0x72, 0x21, 0x0a, 0x00, 0x2e, 0x73, 0x68, 0x73, 0x74, 0x72, 0x74, 0x61, 0x62, 0x00,
    0x2e, 0x74, 0x65, 0x78, 0x74, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x78, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x78, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xb5, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout: {}\nstderr: {}", r.1, r.2);
    r.1
}

fn sha256(b: &[u8]) -> String {
    let h = sha2::Sha256::digest(b);
    format!(
        "sha256:{}",
        h.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

/// A layer tar of `files` (`(name, mode, content)`; a name ending in `/`
/// is a directory), with fixed headers.
fn layer(files: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, mode, data) in files {
        let mut h = tar::Header::new_gnu();
        if name.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
        }
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(0);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// One image of an archive: its config's bytes, its tags, its layers.
struct Image<'a> {
    config: String,
    tags: &'a [&'a str],
    layers: Vec<Vec<u8>>,
}

/// An archive as dockerd 20.10's `docker save` writes it.
fn docker_20_10_archive(path: &std::path::Path, images: &[Image]) {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, name, data).unwrap();
    };
    let mut manifest = Vec::new();
    for img in images {
        let config_hex = &sha256(img.config.as_bytes())[7..];
        add(&format!("{config_hex}.json"), img.config.as_bytes());
        let mut parent = String::new();
        let mut paths = Vec::new();
        for l in &img.layers {
            // dockerd names a layer's directory by its v1 id: a digest of
            // the chain so far.
            let id = sha256(format!("{parent} {}", sha256(l)).as_bytes())[7..].to_string();
            add(&format!("{id}/VERSION"), b"1.0");
            let parent_field = if parent.is_empty() {
                String::new()
            } else {
                format!(r#","parent":"{parent}""#)
            };
            add(
                &format!("{id}/json"),
                format!(r#"{{"id":"{id}"{parent_field},"created":"0001-01-01T00:00:00Z","container_config":{{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}},"os":"linux"}}"#).as_bytes(),
            );
            add(&format!("{id}/layer.tar"), l);
            paths.push(format!("{id}/layer.tar"));
            parent = id;
        }
        manifest.push(serde_json::json!({
            "Config": format!("{config_hex}.json"),
            "RepoTags": if img.tags.is_empty() { serde_json::Value::Null } else { serde_json::json!(img.tags) },
            "Layers": paths,
        }));
    }
    add(
        "manifest.json",
        serde_json::to_string(&manifest).unwrap().as_bytes(),
    );
    b.finish().unwrap();
}

/// The classic build's config over the test's busybox, greeting and `/srv`
/// layers.
fn classic_build(d: &Daemon) -> Image<'static> {
    let layers = vec![
        std::fs::read(busybox_tar(d.dir.path())).unwrap(),
        layer(&[("greeting.txt", 0o644, b"hello\n")]),
        layer(&[("srv/", 0o755, b"")]),
    ];
    let mut config = CLASSIC_BUILD.to_string();
    for (theirs, ours) in CLASSIC_DIFFS.iter().zip(&layers) {
        config = config.replace(theirs, &sha256(ours));
    }
    Image {
        config,
        tags: &["built:classic"],
        layers,
    }
}

/// The hello-world config over a layer holding [`HELLO`]; with `created`,
/// that creation time instead of the recorded one.
fn hello_world(tags: &'static [&'static str], created: Option<&str>) -> Image<'static> {
    let l = layer(&[("hello", 0o755, HELLO)]);
    let mut config = HELLO_WORLD.replace(HELLO_DIFF, &sha256(&l));
    if let Some(t) = created {
        config = config.replace(
            r#""created":"2026-12-07T16:42:46.13590573Z""#,
            &format!(r#""created":"{t}""#),
        );
    }
    Image {
        config,
        tags,
        layers: vec![l],
    }
}

#[test]
fn docker_made_images_load_run_inspect_and_keep_their_ids() {
    let d = Daemon::start();
    let built = classic_build(&d);
    let hello = hello_world(&["hello-world:latest"], None);
    // Go's RFC 3339 with an offset.
    let offset = hello_world(
        &["hello-world:offset"],
        Some("2024-05-01T12:34:56.123456789+02:00"),
    );
    let ids: Vec<String> = [&built, &hello, &offset]
        .iter()
        .map(|i| sha256(i.config.as_bytes()))
        .collect();
    let archive = d.dir.path().join("docker-20.10-save.tar");
    docker_20_10_archive(&archive, &[built, hello, offset]);
    let out = ok(d.docker(&["load", "-i", archive.to_str().unwrap()]));
    for t in ["built:classic", "hello-world:latest", "hello-world:offset"] {
        assert!(out.contains(&format!("Loaded image: {t}")), "{out}");
    }
    let id_of = |name: &str| {
        ok(d.docker(&["image", "inspect", "-f", "{{.Id}}", name]))
            .trim()
            .to_string()
    };
    assert_eq!(
        [
            id_of("built:classic"),
            id_of("hello-world:latest"),
            id_of("hello-world:offset")
        ],
        [ids[0].clone(), ids[1].clone(), ids[2].clone()],
        "image ids are the digests of the configs as Docker wrote them"
    );

    // What the docker CLI reads of them, typed as dockerd would show it.
    let out = ok(d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Cmd}}|{{json .Config.Env}}|{{.Config.WorkingDir}}|{{json .Config.ExposedPorts}}|{{json .Config.Volumes}}|{{json .Config.Labels}}|{{.DockerVersion}}|{{len .RootFS.Layers}}|{{.Created}}",
        "built:classic",
    ]));
    assert_eq!(
        out.trim(),
        r#"["cat","/greeting.txt"]|["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","GREETING=hello"]|/srv|{"8080/tcp":{}}|{"/data":{}}|{"org.example.kind":"test"}|20.10.24+dfsg1|3|2026-12-07T16:42:44.023780584Z"#
    );
    let out = ok(d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Env}}|{{json .Config.Labels}}|{{json .Config.Entrypoint}}",
        "hello-world",
    ]));
    assert_eq!(
        out.trim(),
        r#"["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]|null|null"#
    );
    let out = ok(d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Created}}",
        "hello-world:offset",
    ]));
    assert_eq!(out.trim(), "2024-05-01T12:34:56.123456789+02:00");
    // `docker images` places the offset time right (10:34:56 UTC).
    let (_, body) = d.http("GET", "/v1.47/images/json");
    let list: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    let offset = list.iter().find(|i| i["Id"] == ids[2].as_str()).unwrap();
    assert_eq!(offset["Created"], 1_714_559_696);

    // The history as dockerd's: eight steps, the empty ones without size.
    let out = ok(d.docker(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Size}}",
        "built:classic",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 8, "{out}");
    assert_eq!(
        lines[0],
        r#"/bin/sh -c #(nop)  CMD ["cat" "/greeting.txt"]|0B"#
    );
    assert!(
        lines[4].starts_with(r#"/bin/sh -c echo "$GREETING" > /greeting.txt|"#),
        "{out}"
    );
    assert!(!lines[4].ends_with("|0B"), "{out}");

    // They run: the build's command, as its config says, and the scratch
    // hello-world's static binary.
    assert_eq!(ok(d.docker(&["run", "--rm", "built:classic"])), "hello\n");
    let out = ok(d.docker(&[
        "run",
        "--rm",
        "built:classic",
        "sh",
        "-c",
        "pwd; echo $GREETING",
    ]));
    assert_eq!(out, "/srv\nhello\n");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(
            ok(d.docker(&["run", "--rm", "hello-world"])),
            "Hello from Docker!\n"
        );
    }

    // save → rmi → load: the same ids.
    let saved = d.dir.path().join("resaved.tar");
    ok(d.docker(&[
        "save",
        "-o",
        saved.to_str().unwrap(),
        "built:classic",
        "hello-world:latest",
        "hello-world:offset",
    ]));
    ok(d.docker(&[
        "rmi",
        "built:classic",
        "hello-world:latest",
        "hello-world:offset",
    ]));
    assert_eq!(ok(d.docker(&["images", "-q"])).trim(), "");
    ok(d.docker(&["load", "-i", saved.to_str().unwrap()]));
    assert_eq!(
        [
            id_of("built:classic"),
            id_of("hello-world:latest"),
            id_of("hello-world:offset")
        ],
        [ids[0].clone(), ids[1].clone(), ids[2].clone()]
    );
}

/// The raw manifest of `repo_tag` (`skopeo inspect --raw`).
fn raw_manifest(r: &Registry, repo_tag: &str) -> serde_json::Value {
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/{repo_tag}", r.host))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn docker_made_images_pull_and_push_with_the_same_digests() {
    let d = Daemon::start();
    let reg = Registry::start(Options::default());
    let built = classic_build(&d);
    let id = sha256(built.config.as_bytes());
    let archive = d.dir.path().join("built.tar");
    docker_20_10_archive(&archive, &[built]);
    // skopeo reads the docker-archive and pushes it as Docker's schema 2
    // (gzip layers, the config's bytes as they are).
    reg.push(
        &format!("docker-archive:{}:built:classic", archive.display()),
        "docker/built:classic",
        &[],
    );
    let pushed = raw_manifest(&reg, "docker/built:classic");
    assert_eq!(pushed["config"]["digest"], id.as_str());

    let name = format!("{}/docker/built:classic", reg.host);
    ok(d.docker(&["pull", &name]));
    let out = ok(d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Id}}|{{json .RepoDigests}}",
        &name,
    ]));
    assert_eq!(
        out.trim(),
        format!(
            r#"{id}|["{}/docker/built@{}"]"#,
            reg.host,
            reg.digest("docker/built:classic", &[])
        )
    );
    assert_eq!(ok(d.docker(&["run", "--rm", &name])), "hello\n");

    // Pushed on by berth: the same config and layers, so the same digests.
    let again = format!("{}/again/built:classic", reg.host);
    ok(d.docker(&["tag", &name, &again]));
    ok(d.docker(&["push", &again]));
    let repushed = raw_manifest(&reg, "again/built:classic");
    assert_eq!(repushed["config"], pushed["config"]);
    assert_eq!(repushed["layers"], pushed["layers"]);
    // And pulled back into a clean store: the same image.
    ok(d.docker(&["rmi", &name, &again]));
    ok(d.docker(&["pull", &again]));
    assert_eq!(
        ok(d.docker(&["image", "inspect", "-f", "{{.Id}}", &again])).trim(),
        id
    );
}
