//! Pushes through berthd to a real registry (Debian's `docker-registry`),
//! driven by the real docker CLI: plain HTTP on loopback, chunked uploads,
//! cross-repository mounts, htpasswd basic auth with `docker login`, TLS
//! with a CA of the test's own; and a hostile registry of the test's own.

mod common;

use common::registry::{Options, Registry};
use common::Daemon;

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout: {}\nstderr: {}", r.1, r.2);
    r.1
}

fn image_id(d: &Daemon, name: &str) -> String {
    ok(d.docker(&["inspect", "-f", "{{.Id}}", name]))
        .trim()
        .to_string()
}

/// The `TAG: digest: sha256:… size: N` line's digest.
fn pushed_digest(out: &str, tag: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{tag}: digest: sha256:")))
        .unwrap_or_else(|| panic!("no digest line in:\n{out}"));
    line.split_whitespace().nth(2).unwrap().to_string()
}

#[test]
fn push_then_pull_elsewhere_gives_the_same_image_then_layers_exist() {
    let reg = Registry::start(Options::default());
    let d = Daemon::with_busybox();
    let name = format!("{}/bb:1", reg.host);
    ok(d.docker(&["tag", "busybox", &name]));
    let out = ok(d.docker(&["push", &name]));
    for want in [
        format!("The push refers to repository [{}/bb]", reg.host),
        ": Pushed".to_string(),
    ] {
        assert!(out.contains(&want), "{want:?} in:\n{out}");
    }
    let digest = pushed_digest(&out, "1");
    // The registry (skopeo) sees it under that digest.
    assert_eq!(reg.digest("bb:1", &[]), digest);
    let out = ok(d.docker(&["inspect", "-f", "{{json .RepoDigests}}", &name]));
    assert!(out.contains(&format!("{}/bb@{digest}", reg.host)), "{out}");
    // Another daemon pulls the very same image.
    let d2 = Daemon::start();
    let out = ok(d2.docker(&["pull", &name]));
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert_eq!(image_id(&d2, &name), image_id(&d, &name));
    assert_eq!(
        ok(d2.docker(&["run", "--rm", &name, "echo", "round", "trip"])).trim(),
        "round trip"
    );
    // Again: every layer is there, the digest unchanged.
    let out = ok(d.docker(&["push", &name]));
    assert!(out.contains(": Layer already exists"), "{out}");
    assert!(!out.contains(": Pushed"), "{out}");
    assert_eq!(pushed_digest(&out, "1"), digest);
    // What the pulling daemon pushes elsewhere is the same manifest.
    let again = format!("{}/copy:1", reg.host);
    ok(d2.docker(&["tag", &name, &again]));
    let out = ok(d2.docker(&["push", &again]));
    assert_eq!(pushed_digest(&out, "1"), digest);
}

#[test]
fn a_layer_in_another_repository_is_mounted() {
    let reg = Registry::start(Options::default());
    let d = Daemon::with_busybox();
    let one = format!("{}/team/one:1", reg.host);
    let two = format!("{}/team/two:1", reg.host);
    ok(d.docker(&["tag", "busybox", &one]));
    ok(d.docker(&["push", &one]));
    ok(d.docker(&["tag", "busybox", &two]));
    let out = ok(d.docker(&["push", &two]));
    assert!(out.contains(": Mounted from team/one"), "{out}");
    assert!(!out.contains(": Pushed"), "{out}");
    // The mounted layer is really there for a puller.
    let d2 = Daemon::start();
    ok(d2.docker(&["pull", &two]));
    assert_eq!(image_id(&d2, &two), image_id(&d, &one));
}

#[test]
fn large_blobs_go_up_in_chunks() {
    let reg = Registry::start(Options::default());
    let d = Daemon::with_busybox_and(&["--push-chunk-size", "65536"]);
    let name = format!("{}/chunked", reg.host);
    ok(d.docker(&["tag", "busybox", &format!("{name}:1")]));
    // Through the API, to see the per-chunk progress the CLI hides.
    let (head, body) = d.http("POST", &format!("/images/{name}/push?tag=1"));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    assert!(
        body.contains(r#""current":65536"#) && body.contains(r#""current":131072"#),
        "{body}"
    );
    assert!(body.contains(r#""aux":{"#), "{body}");
    let d2 = Daemon::start();
    ok(d2.docker(&["pull", &format!("{name}:1")]));
    assert_eq!(image_id(&d2, &format!("{name}:1")), image_id(&d, "busybox"));
}

#[test]
fn zstd_on_request_gives_an_oci_manifest() {
    let reg = Registry::start(Options::default());
    let d = Daemon::with_busybox_and(&["--push-compression", "zstd"]);
    let name = format!("{}/z:1", reg.host);
    ok(d.docker(&["tag", "busybox", &name]));
    ok(d.docker(&["push", &name]));
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{name}"))
        .output()
        .unwrap();
    let raw = String::from_utf8_lossy(&out.stdout);
    assert!(
        raw.contains("application/vnd.oci.image.manifest.v1+json") && raw.contains("tar+zstd"),
        "{raw}"
    );
    let d2 = Daemon::start();
    ok(d2.docker(&["pull", &name]));
    assert_eq!(image_id(&d2, &name), image_id(&d, "busybox"));
}
