//! Pulls from a real registry (Debian's `docker-registry`) through berthd,
//! driven by the real docker CLI: plain HTTP on loopback, htpasswd basic
//! auth with `docker login`, TLS with a CA of the test's own; and a hostile
//! registry of the test's own that lies about digests and sizes.

mod common;

use common::run_with_stdin;

use common::registry::{busybox_archive, Options, Registry};
use common::tls::{global_ipv4, make_certs};
use common::Daemon;

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout: {}\nstderr: {}", r.1, r.2);
    r.1
}

/// A registry holding busybox as `bb:latest`, and a daemon (empty).
fn setup(opts: Options, push_extra: &[&str]) -> (Registry, Daemon) {
    let reg = Registry::start(opts);
    let maker = Daemon::start();
    let archive = busybox_archive(&maker, reg.dir.path());
    reg.push(
        &format!("docker-archive:{}", archive.display()),
        "bb:latest",
        push_extra,
    );
    drop(maker);
    (reg, Daemon::start())
}

#[test]
fn pull_run_by_tag_and_digest_then_up_to_date() {
    let (reg, d) = setup(Options::default(), &[]);
    let name = format!("{}/bb", reg.host);
    let digest = reg.digest("bb:latest", &[]);
    let out = ok(d.docker(&["pull", &format!("{name}:latest")]));
    for want in [
        "latest: Pulling from bb",
        ": Pull complete",
        &format!("Digest: {digest}"),
        &format!("Status: Downloaded newer image for {name}:latest"),
    ] {
        assert!(out.contains(want), "{want:?} in:\n{out}");
    }
    assert_eq!(
        ok(d.docker(&["run", "--rm", &name, "echo", "pulled"])).trim(),
        "pulled"
    );
    let out = ok(d.docker(&[
        "images",
        "--digests",
        "--format",
        "{{.Repository}} {{.Tag}} {{.Digest}}",
    ]));
    assert_eq!(out.trim(), format!("{name} latest {digest}"));
    let out = ok(d.docker(&["inspect", "-f", "{{json .RepoDigests}}", &name]));
    assert_eq!(out.trim(), format!("[\"{name}@{digest}\"]"));
    // Again: nothing to fetch.
    let out = ok(d.docker(&["pull", &name]));
    assert!(
        out.contains(&format!("Status: Image is up to date for {name}:latest"))
            && !out.contains("Pull complete"),
        "{out}"
    );
    // By digest, into a daemon without it.
    let d2 = Daemon::start();
    let by_digest = format!("{name}@{digest}");
    let out = ok(d2.docker(&["pull", &by_digest]));
    assert!(out.contains(&format!("{digest}: Pulling from bb")), "{out}");
    assert_eq!(
        ok(d2.docker(&["run", "--rm", &by_digest, "echo", "by", "digest"])).trim(),
        "by digest"
    );
    let out = ok(d2.docker(&["pull", &by_digest]));
    assert!(out.contains("Image is up to date"), "{out}");
}

#[test]
fn missing_tag_and_repository_fail_clearly() {
    let (reg, d) = setup(Options::default(), &[]);
    let before = ok(d.docker(&["images", "-q"]));
    let (code, _, err) = d.docker(&["pull", &format!("{}/bb:nope", reg.host)]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "manifest for {}/bb:nope not found: manifest unknown",
            reg.host
        )),
        "{err}"
    );
    let (code, _, err) = d.docker(&["pull", &format!("{}/nothing/here", reg.host)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not found"), "{err}");
    // An API client sees 404 before any stream.
    let (head, body) = d.http(
        "POST",
        &format!("/images/create?fromImage={}/bb&tag=nope", reg.host),
    );
    assert!(head.starts_with("HTTP/1.1 404"), "{head}\n{body}");
    assert_eq!(ok(d.docker(&["images", "-q"])), before);
}

/// `~/.docker`-style config of the daemon's docker CLI: what `login` saved.
fn saved_auths(d: &Daemon) -> String {
    std::fs::read_to_string(d.dir.path().join("docker-config/config.json")).unwrap_or_default()
}

#[test]
fn basic_auth_login_and_pull() {
    let (reg, d) = setup(
        Options {
            htpasswd: Some(("tester", "s3cret")),
            ..Default::default()
        },
        &["--dest-creds", "tester:s3cret"],
    );
    let name = format!("{}/bb:latest", reg.host);
    // No credentials: refused, before any stream.
    let (code, _, err) = d.docker(&["pull", &name]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no basic auth credentials"), "{err}");
    // A wrong password: `docker login` fails with the registry's status.
    let mut login = d.docker_command(&["login", "-u", "tester", "--password-stdin", &reg.host]);
    let (code, _, err) = run_with_stdin(&mut login, "wrong");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("401 Unauthorized"), "{err}");
    let mut login = d.docker_command(&["login", "-u", "tester", "--password-stdin", &reg.host]);
    let (code, out, err) = run_with_stdin(&mut login, "s3cret");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Login Succeeded"), "{out}");
    assert!(saved_auths(&d).contains(&reg.host));
    // Now the CLI sends X-Registry-Auth.
    let out = ok(d.docker(&["pull", &name]));
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(
        ok(d.docker(&["run", "--rm", &name, "echo", "authed"])).trim(),
        "authed"
    );
}

#[test]
#[allow(clippy::print_stderr)]
fn tls_with_the_registrys_ca_and_without() {
    let Some(ip) = global_ipv4() else {
        eprintln!("skipped: no global IPv4 address to serve a non-loopback registry on");
        return;
    };
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path(), &[&ip, "127.0.0.1"]);
    let (cert, key) = (
        certs.path().join("server.crt"),
        certs.path().join("server.key"),
    );
    let reg = Registry::start(Options {
        tls: Some((&cert, &key)),
        ip: Some(&ip),
        ..Default::default()
    });
    let maker = Daemon::start();
    let archive = busybox_archive(&maker, reg.dir.path());
    reg.push(
        &format!("docker-archive:{}", archive.display()),
        "bb:latest",
        &[],
    );
    drop(maker);
    let name = format!("{}/bb:latest", reg.host);
    // Without the CA: refused, in the words users know.
    let empty = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(&["--certs-dir", empty.path().to_str().unwrap()]);
    let (code, _, err) = d.docker(&["pull", &name]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("x509: certificate signed by unknown authority")
            && err.contains(&format!("https://{}/v2/", reg.host)),
        "{err}"
    );
    assert_eq!(ok(d.docker(&["images", "-q"])), "");
    drop(d);
    // With it under <certs-dir>/<host:port>/ca.crt: pulled and verified.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(&reg.host)).unwrap();
    std::fs::copy(
        certs.path().join("ca.crt"),
        dir.path().join(&reg.host).join("ca.crt"),
    )
    .unwrap();
    let d = Daemon::start_with(&["--certs-dir", dir.path().to_str().unwrap()]);
    let out = ok(d.docker(&["pull", &name]));
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(
        ok(d.docker(&["run", "--rm", &name, "echo", "tls"])).trim(),
        "tls"
    );
}

/// What the hostile registry answers for a path.
#[derive(Clone)]
enum Answer {
    Body(&'static str, Vec<u8>),
    Redirect(String),
    /// A body sent 16 KiB at a time, 20 ms apart (counted in SLOW_NOW).
    Slow(Vec<u8>),
    /// A body cut off halfway at the first request; later requests get
    /// what their `Range` asks for (206) when the flag says so, else all
    /// of it again (200). Counted in FLAKY_206 / FLAKY_200.
    Flaky(Vec<u8>, bool),
}

static FLAKY_CUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static FLAKY_206: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static FLAKY_200: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Slow answers being sent now, and the most at once.
static SLOW_NOW: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static SLOW_MAX: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A registry of the test's own that says what the test tells it to: plain
/// HTTP on loopback, one thread per connection, `Connection: close`.
fn hostile(routes: std::collections::HashMap<String, Answer>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let routes = std::sync::Arc::new(routes);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let routes = routes.clone();
            std::thread::spawn(move || {
                let mut s = stream;
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                    match s.read(&mut b) {
                        // A TLS hello (berth tries HTTPS first on loopback):
                        // hang up, as an HTTP server answers garbage.
                        Ok(1) if head.is_empty() && !b[0].is_ascii_uppercase() => return,
                        Ok(1) => head.push(b[0]),
                        _ => return,
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let path = text.split_whitespace().nth(1).unwrap_or("/");
                let path = path.split('?').next().unwrap_or(path).to_string();
                let (status, ctype, body, location) = match routes.get(&path) {
                    _ if path == "/v2/" => ("200 OK", "application/json", b"{}".to_vec(), None),
                    Some(Answer::Body(t, b)) => ("200 OK", *t, b.clone(), None),
                    Some(Answer::Slow(b)) => {
                        use std::sync::atomic::Ordering::SeqCst;
                        let now = SLOW_NOW.fetch_add(1, SeqCst) + 1;
                        SLOW_MAX.fetch_max(now, SeqCst);
                        let _ = write!(
                            s,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len()
                        );
                        // Sleep before each chunk, so that the count drops
                        // before the client can have the last byte.
                        for chunk in b.chunks(16 << 10) {
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            if s.write_all(chunk).is_err() {
                                break;
                            }
                        }
                        SLOW_NOW.fetch_sub(1, SeqCst);
                        return;
                    }
                    Some(Answer::Flaky(b, honor)) => {
                        use std::sync::atomic::Ordering::SeqCst;
                        let range = text.lines().find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("range")
                                .then(|| v.trim().to_string())
                        });
                        let from = range
                            .as_deref()
                            .and_then(|r| r.strip_prefix("bytes="))
                            .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
                        if !FLAKY_CUT.swap(true, SeqCst) {
                            // Promise it all, send half, hang up.
                            let _ = write!(
                                s,
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                b.len()
                            );
                            let _ = s.write_all(&b[..b.len() / 2]);
                            return;
                        }
                        match from {
                            Some(f) if *honor && f < b.len() => {
                                FLAKY_206.fetch_add(1, SeqCst);
                                let _ = write!(
                                    s,
                                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {f}-{}/{}\r\nConnection: close\r\n\r\n",
                                    b.len() - f,
                                    b.len() - 1,
                                    b.len()
                                );
                                let _ = s.write_all(&b[f..]);
                            }
                            _ => {
                                FLAKY_200.fetch_add(1, SeqCst);
                                let _ = write!(
                                    s,
                                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                    b.len()
                                );
                                let _ = s.write_all(b);
                            }
                        }
                        return;
                    }
                    Some(Answer::Redirect(to)) => (
                        "307 Temporary Redirect",
                        "text/plain",
                        vec![],
                        Some(to.clone()),
                    ),
                    None => (
                        "404 Not Found",
                        "application/json",
                        br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#
                            .to_vec(),
                        None,
                    ),
                };
                let mut resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                if let Some(l) = location {
                    resp.push_str(&format!("Location: {l}\r\n"));
                }
                resp.push_str("\r\n");
                let _ = s.write_all(resp.as_bytes());
                let _ = s.write_all(&body);
            });
        }
    });
    host
}

fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{:x}", sha2::Sha256::digest(b))
}

/// A layer tar with one file; `name` as raw bytes (so it can be hostile).
fn layer_tar(name: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_size(3);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, &b"hi\n"[..]).unwrap();
    b.into_inner().unwrap()
}

/// A manifest and config for one layer whose bytes are `served`, announced
/// as `announced`; routes for repository `repo`.
fn image_routes(
    routes: &mut std::collections::HashMap<String, Answer>,
    repo: &str,
    announced: &[u8],
    served: &[u8],
) {
    let layer_digest = sha256(announced);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(served)]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": served.len()}],
    }))
    .unwrap();
    let oci = "application/vnd.oci.image.manifest.v1+json";
    routes.insert(
        format!("/v2/{repo}/manifests/latest"),
        Answer::Body(oci, manifest),
    );
    routes.insert(
        format!("/v2/{repo}/blobs/{}", sha256(&config)),
        Answer::Body("application/octet-stream", config),
    );
    routes.insert(
        format!("/v2/{repo}/blobs/{layer_digest}"),
        Answer::Body("application/octet-stream", served.to_vec()),
    );
}

/// Nothing of a failed pull may remain: no image, no layer, no blob.
fn assert_nothing_stored(d: &Daemon) {
    assert_eq!(ok(d.docker(&["images", "-aq"])), "");
    let root = d.dir.path().join(common::DATA_ROOT).join("image");
    for sub in ["layers", "blobs/sha256", "ingest"] {
        let left: Vec<_> = std::fs::read_dir(root.join(sub))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{sub}: {left:?}");
    }
}

#[test]
fn hostile_registry_is_refused_and_leaves_nothing() {
    let good = layer_tar(b"hello");
    let other = layer_tar(b"other");
    let mut routes = std::collections::HashMap::new();
    // Announces one layer, serves another of the same size.
    image_routes(&mut routes, "evil/mismatch", &good, &other);
    // A layer that climbs out of its directory, digests all correct.
    let escape = layer_tar(b"../../escape");
    image_routes(&mut routes, "evil/dotdot", &escape, &escape);
    // A manifest of 5 MiB.
    routes.insert(
        "/v2/evil/huge/manifests/latest".into(),
        Answer::Body(
            "application/vnd.oci.image.manifest.v1+json",
            vec![b' '; 5 << 20],
        ),
    );
    // A manifest type nobody knows.
    routes.insert(
        "/v2/evil/strange/manifests/latest".into(),
        Answer::Body("application/vnd.example.thing+json", b"{}".to_vec()),
    );
    // A layer whose blob redirects forever.
    image_routes(&mut routes, "evil/loop", &good, &good);
    let looping = format!("/v2/evil/loop/blobs/{}", sha256(&good));
    routes.insert(looping.clone(), Answer::Redirect(looping));
    let host = hostile(routes);
    let d = Daemon::start();
    for (repo, want) in [
        ("evil/mismatch", "verification failed"),
        ("evil/dotdot", "contains '..'"),
        ("evil/huge", "limit of 4194304"),
        ("evil/strange", "unsupported manifest media type"),
        ("evil/loop", "redirects"),
    ] {
        let (code, out, err) = d.docker(&["pull", &format!("{host}/{repo}")]);
        assert_eq!(code, 1, "{repo}: {out}{err}");
        assert!(err.contains(want), "{repo}: {want:?} in {err}");
        assert_nothing_stored(&d);
    }
    // The escape did not happen either.
    assert!(!d.dir.path().join(common::DATA_ROOT).join("escape").exists());
}

/// The raw manifest of `repo_tag` (`skopeo inspect --raw`).
fn raw_manifest(reg: &Registry, repo_tag: &str) -> Vec<u8> {
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/{repo_tag}", reg.host))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn multi_platform_index_picks_the_platform() {
    let (reg, d) = setup(Options::default(), &[]);
    // A second image, different config, pushed as bb:other.
    let maker = Daemon::start();
    let tar = common::busybox_tar(maker.dir.path());
    ok(maker.docker(&[
        "import",
        "-c",
        "CMD [\"echo\", \"other\"]",
        tar.to_str().unwrap(),
        "other",
    ]));
    let archive = maker.dir.path().join("other.tar");
    ok(maker.docker(&["save", "-o", archive.to_str().unwrap(), "other"]));
    reg.push(
        &format!("docker-archive:{}", archive.display()),
        "bb:other",
        &[],
    );
    let host_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    let foreign = if host_arch == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let mut entries = Vec::new();
    let mut config_of = std::collections::HashMap::new();
    for (tag, arch) in [("other", foreign), ("latest", host_arch)] {
        let raw = raw_manifest(&reg, &format!("bb:{tag}"));
        let doc: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        config_of.insert(arch, doc["config"]["digest"].as_str().unwrap().to_string());
        entries.push(serde_json::json!({
            "mediaType": doc["mediaType"], "digest": sha256(&raw), "size": raw.len(),
            "platform": {"os": "linux", "architecture": arch},
        }));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }))
    .unwrap();
    let file = reg.dir.path().join("index.json");
    std::fs::write(&file, &index).unwrap();
    let out = std::process::Command::new("curl")
        .args([
            "-sSf",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.index.v1+json",
            "--data-binary",
        ])
        .arg(format!("@{}", file.display()))
        .arg(format!("http://{}/v2/bb/manifests/multi", reg.host))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let name = format!("{}/bb:multi", reg.host);
    let id = |d: &Daemon| {
        ok(d.docker(&["inspect", "-f", "{{.Id}}", &name]))
            .trim()
            .to_string()
    };
    // The host's platform by default; the index's digest is the repo digest.
    let out = ok(d.docker(&["pull", &name]));
    assert!(
        out.contains(&format!("Digest: {}", sha256(&index))),
        "{out}"
    );
    assert_eq!(id(&d), config_of[host_arch]);
    // Another platform on request: the tag moves to it.
    let out = ok(d.docker(&["pull", "--platform", &format!("linux/{foreign}"), &name]));
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(id(&d), config_of[foreign]);
    let (code, _, err) = d.docker(&["pull", "--platform", "linux/s390x", &name]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no matching manifest for linux/s390x"),
        "{err}"
    );
}

#[test]
#[allow(clippy::print_stderr)]
fn insecure_registries_from_daemon_json() {
    let Some(ip) = global_ipv4() else {
        eprintln!("skipped: no global IPv4 address to serve a non-loopback registry on");
        return;
    };
    let reg = Registry::start(Options {
        ip: Some(&ip),
        ..Default::default()
    });
    let maker = Daemon::start();
    let archive = busybox_archive(&maker, reg.dir.path());
    reg.push(
        &format!("docker-archive:{}", archive.display()),
        "bb:latest",
        &[],
    );
    drop(maker);
    let name = format!("{}/bb:latest", reg.host);
    // Not on loopback, not declared: HTTPS only, which a plain HTTP
    // registry cannot speak.
    let d = Daemon::start();
    let (code, _, err) = d.docker(&["pull", &name]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("https://{}/v2/", reg.host)), "{err}");
    drop(d);
    let cfg = reg.dir.path().join("daemon.json");
    std::fs::write(
        &cfg,
        serde_json::json!({"insecure-registries": [format!("{ip}/32")]}).to_string(),
    )
    .unwrap();
    let d = Daemon::start_with(&["--config-file", cfg.to_str().unwrap()]);
    let out = ok(d.docker(&["pull", &name]));
    assert!(out.contains("Downloaded newer image"), "{out}");
}

/// A layer tar holding one file `name` of `len` pseudo-random bytes.
fn big_layer(name: &str, len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ name.len() as u64;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut h = tar::Header::new_gnu();
    h.set_path(name).unwrap();
    h.set_size(len as u64);
    h.set_mode(0o644);
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, data.as_slice()).unwrap();
    b.into_inner().unwrap()
}

/// Routes of an image of `layers` (plain tars), each served slowly.
fn slow_image_routes(
    routes: &mut std::collections::HashMap<String, Answer>,
    repo: &str,
    layers: &[Vec<u8>],
) {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| sha256(l)).collect::<Vec<_>>()},
    }))
    .unwrap();
    let descs: Vec<_> = layers
        .iter()
        .map(|l| serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(l), "size": l.len()}))
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    routes.insert(
        format!("/v2/{repo}/manifests/latest"),
        Answer::Body("application/vnd.oci.image.manifest.v1+json", manifest),
    );
    routes.insert(
        format!("/v2/{repo}/blobs/{}", sha256(&config)),
        Answer::Body("application/octet-stream", config),
    );
    for l in layers {
        routes.insert(
            format!("/v2/{repo}/blobs/{}", sha256(l)),
            Answer::Slow(l.clone()),
        );
    }
}

#[test]
fn layers_download_three_at_a_time_and_a_kill_9_leaves_nothing() {
    let mut routes = std::collections::HashMap::new();
    let five: Vec<Vec<u8>> = (0..5)
        .map(|i| big_layer(&format!("f{i}"), 160 << 10))
        .collect();
    slow_image_routes(&mut routes, "slow/five", &five);
    slow_image_routes(&mut routes, "slow/big", &[big_layer("big", 2 << 20)]);
    let host = hostile(routes);
    let mut d = Daemon::start();
    let out = ok(d.docker(&["pull", &format!("{host}/slow/five")]));
    assert_eq!(out.matches("Pull complete").count(), 5, "{out}");
    assert!(out.matches(": Waiting").count() == 2, "{out}");
    let max = SLOW_MAX.load(std::sync::atomic::Ordering::SeqCst);
    assert!((2..=3).contains(&max), "{max} layers at once");
    let images = ok(d.docker(&["images", "-q"]));
    // A pull killed in the middle of a layer: nothing of it after a restart.
    let mut pull = d
        .docker_command(&["pull", &format!("{host}/slow/big")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let image = d.dir.path().join(common::DATA_ROOT).join("image");
    common::eventually("the layer to be half written", || {
        std::fs::read_dir(image.join("ingest"))
            .map(|mut r| r.next().is_some())
            .unwrap_or(false)
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    d.kill9();
    let _ = pull.wait();
    d.restart();
    assert_eq!(ok(d.docker(&["images", "-q"])), images);
    for sub in ["ingest", "layers"] {
        let temp: Vec<_> = std::fs::read_dir(image.join(sub))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.') || sub == "ingest")
            .collect();
        assert!(temp.is_empty(), "{sub}: {temp:?}");
    }
    // And the pull goes through afterwards.
    let out = ok(d.docker(&["pull", &format!("{host}/slow/big")]));
    assert!(out.contains("Pull complete"), "{out}");
}

#[test]
fn all_tags() {
    let (reg, d) = setup(Options::default(), &[]);
    let source = format!("docker://{}/bb:latest", reg.host);
    reg.push(&source, "bb:v2", &["--src-tls-verify=false"]);
    let name = format!("{}/bb", reg.host);
    let out = ok(d.docker(&["pull", "--all-tags", &name]));
    assert!(
        out.contains("latest: Pulling from bb")
            && out.contains("v2: Pulling from bb")
            && out.ends_with(&format!(
                "Status: Downloaded newer image for {name}\n{name}\n"
            )),
        "{out}"
    );
    let tags = ok(d.docker(&["images", "--format", "{{.Tag}}"]));
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort();
    assert_eq!(tags, ["latest", "v2"]);
    let out = ok(d.docker(&["pull", "-a", &name]));
    assert!(
        out.contains(&format!("Status: Image is up to date for {name}")),
        "{out}"
    );
}

#[test]
fn build_pulls_a_missing_base_and_with_pull_again() {
    let (reg, d) = setup(Options::default(), &[]);
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "ARG REG={}\nFROM $REG/bb:latest AS base\nRUN echo on-the-pulled-base > /m\nFROM base\nCMD [\"cat\", \"/m\"]\n",
            reg.host
        ),
    )
    .unwrap();
    let build = |extra: &[&str]| {
        let mut args = vec!["build"];
        args.extend_from_slice(extra);
        args.extend(["-t", "on-pulled", ctx.path().to_str().unwrap()]);
        let out = d
            .docker_command(&args)
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The base is not here: the build pulls it (once: the second FROM is a stage).
    let out = ok(build(&[]));
    assert!(out.contains("Pulling from bb"), "{out}");
    assert_eq!(out.matches("Pulling from").count(), 1, "{out}");
    assert_eq!(
        ok(d.docker(&["run", "--rm", "on-pulled"])).trim(),
        "on-the-pulled-base"
    );
    // Present now: no pull; with --pull the registry is asked again.
    let out = ok(build(&[]));
    assert!(!out.contains("Pulling from"), "{out}");
    let out = ok(build(&["--pull"]));
    assert!(out.contains("Image is up to date"), "{out}");
    // A base no registry has: a clear error, no image.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM {}/nope:1\n", reg.host),
    )
    .unwrap();
    let (code, out, err) = build(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn a_pull_stops_when_its_client_goes_away() {
    let mut routes = std::collections::HashMap::new();
    slow_image_routes(&mut routes, "slow/gone", &[big_layer("gone", 2 << 20)]);
    let host = hostile(routes);
    let d = Daemon::start();
    let mut pull = d
        .docker_command(&["pull", &format!("{host}/slow/gone")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let image = d.dir.path().join(common::DATA_ROOT).join("image");
    let ingest_busy = || {
        std::fs::read_dir(image.join("ingest"))
            .map(|mut r| r.next().is_some())
            .unwrap_or(false)
    };
    common::eventually("the layer to be downloading", ingest_busy);
    // ctrl-c of `docker pull`: the client's connection closes.
    let _ = pull.kill();
    let _ = pull.wait();
    common::eventually("the download to stop and clean up", || !ingest_busy());
    // Long enough for the whole layer to have arrived, had it gone on.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_nothing_stored(&d);
}

#[test]
fn an_interrupted_layer_download_is_resumed() {
    use std::sync::atomic::Ordering::SeqCst;
    // One registry honours Range (206 from where it stopped), the other
    // sends the whole blob again (its head dropped by berth).
    for honor in [true, false] {
        FLAKY_CUT.store(false, SeqCst);
        let (before_206, before_200) = (FLAKY_206.load(SeqCst), FLAKY_200.load(SeqCst));
        let layer = big_layer("resumed", 1 << 20);
        let mut routes = std::collections::HashMap::new();
        slow_image_routes(&mut routes, "flaky/img", std::slice::from_ref(&layer));
        routes.insert(
            format!("/v2/flaky/img/blobs/{}", sha256(&layer)),
            Answer::Flaky(layer.clone(), honor),
        );
        let host = hostile(routes);
        let d = Daemon::start();
        let out = ok(d.docker(&["pull", &format!("{host}/flaky/img")]));
        assert!(out.contains("Pull complete"), "{out}");
        assert!(FLAKY_CUT.load(SeqCst), "the first answer was cut");
        if honor {
            assert_eq!(FLAKY_206.load(SeqCst), before_206 + 1, "a range request");
        } else {
            assert_eq!(
                FLAKY_200.load(SeqCst),
                before_200 + 1,
                "the whole blob again"
            );
        }
        // The layer is whole: its diff id checked, the image listed.
        let ids = ok(d.docker(&["images", "-q", &format!("{host}/flaky/img")]));
        assert_eq!(ids.lines().count(), 1, "{ids}");
    }
}
