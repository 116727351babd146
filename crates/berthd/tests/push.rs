//! Pushes through berthd to a real registry (Debian's `docker-registry`),
//! driven by the real docker CLI: plain HTTP on loopback, chunked uploads,
//! cross-repository mounts, htpasswd basic auth with `docker login`, TLS
//! with a CA of the test's own; and a hostile registry of the test's own.

mod common;

use common::run_with_stdin;

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
    // Pulled from `bb`: its layers are mounted from there, not sent again.
    assert!(out.contains(": Mounted from bb"), "{out}");
    assert_eq!(pushed_digest(&out, "1"), digest);
}

#[test]
fn all_tags_pushes_every_tag_of_the_repository() {
    let reg = Registry::start(Options::default());
    let d = Daemon::with_busybox();
    let repo = format!("{}/multi", reg.host);
    for t in ["a", "b"] {
        ok(d.docker(&["tag", "busybox", &format!("{repo}:{t}")]));
    }
    let out = ok(d.docker(&["push", "--all-tags", &repo]));
    let (a, b) = (pushed_digest(&out, "a"), pushed_digest(&out, "b"));
    assert_eq!(a, b);
    assert_eq!(reg.digest("multi:a", &[]), a);
    assert_eq!(reg.digest("multi:b", &[]), b);
    // A repository with no tag here: Docker's words.
    let (code, _, err) = d.docker(&["push", "--all-tags", &format!("{}/none", reg.host)]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("An image does not exist locally with the tag"),
        "{err}"
    );
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

#[test]
fn htpasswd_registry_refuses_then_takes_a_login() {
    let reg = Registry::start(Options {
        htpasswd: Some(("tester", "s3cret")),
        ..Default::default()
    });
    let d = Daemon::with_busybox();
    let name = format!("{}/secret/bb:1", reg.host);
    ok(d.docker(&["tag", "busybox", &name]));
    let (code, out, err) = d.docker(&["push", &name]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("no basic auth credentials"), "{out}{err}");
    // Nothing recorded for a push that did not happen.
    let rd = ok(d.docker(&["inspect", "-f", "{{json .RepoDigests}}", &name]));
    assert_eq!(rd.trim(), "[]");
    let mut login = d.docker_command(&["login", "-u", "tester", "--password-stdin", &reg.host]);
    let (code, out, err) = run_with_stdin(&mut login, "s3cret");
    assert_eq!(code, 0, "{out}{err}");
    let out = ok(d.docker(&["push", &name]));
    let digest = pushed_digest(&out, "1");
    assert_eq!(
        reg.digest("secret/bb:1", &["--creds", "tester:s3cret"]),
        digest
    );
}

#[test]
#[allow(clippy::print_stderr)]
fn tls_registry_with_the_test_ca() {
    use common::tls::{global_ipv4, make_certs};
    let Some(ip) = global_ipv4() else {
        eprintln!("skipped: no global IPv4 address to serve a non-loopback registry on");
        return;
    };
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path(), &[&ip]);
    let (cert, key) = (
        certs.path().join("server.crt"),
        certs.path().join("server.key"),
    );
    let reg = Registry::start(Options {
        tls: Some((&cert, &key)),
        ip: Some(&ip),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(&reg.host)).unwrap();
    std::fs::copy(
        certs.path().join("ca.crt"),
        dir.path().join(&reg.host).join("ca.crt"),
    )
    .unwrap();
    let certs_dir = dir.path().to_str().unwrap();
    let d = Daemon::with_busybox_and(&["--certs-dir", certs_dir]);
    let name = format!("{}/bb:tls", reg.host);
    ok(d.docker(&["tag", "busybox", &name]));
    let out = ok(d.docker(&["push", &name]));
    let digest = pushed_digest(&out, "tls");
    let d2 = Daemon::start_with(&["--certs-dir", certs_dir]);
    let out = ok(d2.docker(&["pull", &name]));
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    // Without the CA: refused in the words users know.
    let empty = tempfile::tempdir().unwrap();
    let d3 = Daemon::with_busybox_and(&["--certs-dir", empty.path().to_str().unwrap()]);
    ok(d3.docker(&["tag", "busybox", &name]));
    let (code, _, err) = d3.docker(&["push", &name]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("x509: certificate signed by unknown authority"),
        "{err}"
    );
}

/// What the hostile registry answers: status, headers.
type Answer = (u16, Vec<(&'static str, String)>);

/// A registry of the test's own: plain HTTP on loopback, each request
/// answered by `f(method, path)`; bodies read and dropped.
fn hostile(f: impl Fn(&str, &str, &str) -> Answer + Send + Sync + 'static) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let f = std::sync::Arc::new(f);
    let h = host.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (f, host) = (f.clone(), h.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                // A TLS hello (berth tries HTTPS first): hang up.
                if r.fill_buf()
                    .map(|b| b.is_empty() || !b[0].is_ascii_uppercase())
                    .unwrap_or(true)
                {
                    return;
                }
                r.read_line(&mut first).unwrap_or(0);
                let mut len = 0usize;
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                        break;
                    }
                    if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; len];
                let _ = r.read_exact(&mut body);
                let mut parts = first.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let target = parts.next().unwrap_or("/").to_string();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let (status, headers) = if path == "/v2/" {
                    (200, vec![])
                } else {
                    f(&method, path, query)
                };
                let mut s = stream;
                let mut resp = format!(
                    "HTTP/1.1 {status} X\r\nConnection: close\r\nDocker-Distribution-Api-Version: registry/2.0\r\n"
                );
                let mut has_len = false;
                for (k, v) in headers {
                    has_len |= k.eq_ignore_ascii_case("content-length");
                    resp.push_str(&format!("{k}: {}\r\n", v.replace("HOST", &host)));
                }
                if !has_len {
                    resp.push_str("Content-Length: 0\r\n");
                }
                resp.push_str("\r\n");
                let _ = s.write_all(resp.as_bytes());
            });
        }
    });
    host
}

/// Pushes `name:1` (busybox) through `d` and expects exit 1 and `want`.
fn push_fails(d: &Daemon, name: &str, want: &str) {
    ok(d.docker(&["tag", "busybox", &format!("{name}:1")]));
    let (code, out, err) = d.docker(&["push", &format!("{name}:1")]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains(want), "{want:?} in:\n{out}{err}");
    let rd = ok(d.docker(&[
        "inspect",
        "-f",
        "{{json .RepoDigests}}",
        &format!("{name}:1"),
    ]));
    assert_eq!(rd.trim(), "[]", "nothing recorded");
}

#[test]
fn hostile_registries_fail_clearly_and_change_nothing() {
    let d = Daemon::with_busybox();
    // HEAD says the blob is there, with another size.
    let liar = hostile(|m, p, _| match m {
        "HEAD" if p.contains("/blobs/") => (200, vec![("Content-Length", "7".into())]),
        _ => (404, vec![]),
    });
    push_fails(&d, &format!("{liar}/liar"), "bytes, it is");
    // Blobs go up; the manifest PUT answers 500.
    let broken = hostile(|m, p, _| match m {
        "HEAD" => (404, vec![]),
        "POST" => (202, vec![("Location", "/v2/up/1".into())]),
        "PUT" if p.contains("/manifests/") => (500, vec![]),
        "PUT" => (201, vec![]),
        _ => (404, vec![]),
    });
    push_fails(&d, &format!("{broken}/broken"), "500");
    // The upload redirects to itself forever.
    let looping = hostile(|m, _, _| match m {
        "HEAD" => (404, vec![]),
        "POST" => (
            307,
            vec![("Location", "http://HOST/v2/loop/blobs/uploads/".into())],
        ),
        _ => (404, vec![]),
    });
    push_fails(&d, &format!("{looping}/loop"), "redirects");
    // The image is untouched and still runs.
    assert_eq!(
        ok(d.docker(&["run", "--rm", "busybox", "echo", "intact"])).trim(),
        "intact"
    );
}
