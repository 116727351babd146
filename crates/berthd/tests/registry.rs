//! Pulls from a real registry (Debian's `docker-registry`) through berthd,
//! driven by the real docker CLI: plain HTTP on loopback, htpasswd basic
//! auth with `docker login`, TLS with a CA of the test's own; and a hostile
//! registry of the test's own that lies about digests and sizes.

mod common;

use common::registry::{busybox_archive, Options, Registry};
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

fn run_with_stdin(cmd: &mut std::process::Command, input: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
