//! `berth login`, `logout`, `push` and `pull` with saved credentials, in a
//! `DOCKER_CONFIG` of the test's own: the entry written as the docker CLI
//! writes it (`auths.<server>.auth`), used by push and pull as
//! `X-Registry-Auth`, removed by logout; and a credential helper
//! (`credsStore`) called instead when configured.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{test_registry_with, Daemon, Output, TestRegistry};

/// Debian's `docker-registry` with htpasswd basic auth on a free loopback
/// port, stopped on drop.
fn registry(user: &str, password: &str) -> TestRegistry {
    test_registry_with(Some((user, password)))
}

/// `berth -H d args…` with `DOCKER_CONFIG=config`, `PATH` led by `path`,
/// `input` on stdin.
fn berth(d: &Daemon, config: &Path, path: Option<&Path>, args: &[&str], input: &str) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.arg("-H")
        .arg(d.host())
        .args(args)
        .env_remove("BERTH_HOST")
        .env("DOCKER_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = path {
        let old = std::env::var("PATH").unwrap_or_default();
        c.env("PATH", format!("{}:{old}", p.display()));
    }
    let mut child = c.spawn().unwrap();
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

fn config_json(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap_or_default())
        .unwrap_or_default()
}

#[test]
fn login_saves_as_docker_push_and_pull_use_it_logout_removes_it() {
    let reg = registry("tester", "s3cret");
    let host = reg.2.clone();
    let d = Daemon::with_busybox();
    let cfg = tempfile::tempdir().unwrap();
    // A key of the user's own survives every rewrite.
    std::fs::write(
        cfg.path().join("config.json"),
        r#"{"psFormat":"table {{.ID}}"}"#,
    )
    .unwrap();
    let name = format!("{host}/me/bb:1");
    d.ok(&["tag", "busybox", &name]);
    let run = |args: &[&str], input: &str| berth(&d, cfg.path(), None, args, input);
    let (code, out, err) = run(&["push", &name], "");
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("no basic auth credentials"), "{err}");
    // A wrong password: refused, nothing saved.
    let (code, _, err) = run(
        &["login", "-u", "tester", "--password-stdin", &host],
        "nope\n",
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("401 Unauthorized"), "{err}");
    assert!(config_json(cfg.path())["auths"][&host].is_null());
    let (code, out, err) = run(
        &["login", "-u", "tester", "--password-stdin", &host],
        "s3cret\n",
    );
    assert_eq!((code, out.as_str()), (0, "Login Succeeded\n"), "{err}");
    let saved = config_json(cfg.path());
    // base64("tester:s3cret"), as docker writes it.
    assert_eq!(saved["auths"][&host]["auth"], "dGVzdGVyOnMzY3JldA==");
    assert_eq!(saved["psFormat"], "table {{.ID}}");
    let mode = std::fs::metadata(cfg.path().join("config.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Push with it: Docker's lines, no progress bars off a terminal.
    let (code, out, err) = run(&["push", &name], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!("The push refers to repository [{host}/me/bb]\n")),
        "{out}"
    );
    assert!(
        out.contains(": Pushed\n") && out.contains("1: digest: sha256:"),
        "{out}"
    );
    assert!(!out.contains("Pushing") && !out.contains("MB/"), "{out}");
    // Pull with it, into a daemon without the image.
    let d2 = Daemon::start();
    let (code, out, err) = berth(&d2, cfg.path(), None, &["pull", &name], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Downloaded newer image"), "{out}");
    // Logout: the entry goes, the rest stays; push is refused again.
    let (code, out, _) = run(&["logout", &host], "");
    assert_eq!(
        (code, out),
        (0, format!("Removing login credentials for {host}\n"))
    );
    let saved = config_json(cfg.path());
    assert!(saved["auths"][&host].is_null(), "{saved}");
    assert_eq!(saved["psFormat"], "table {{.ID}}");
    let (_, out, _) = run(&["logout", &host], "");
    assert_eq!(out, format!("Not logged in to {host}\n"));
    let (code, _, err) = run(&["push", &name], "");
    assert_eq!(code, 1, "{err}");
}

#[test]
fn a_credential_helper_is_called_when_configured() {
    let reg = registry("helper", "h3lp");
    let host = reg.2.clone();
    let d = Daemon::with_busybox();
    let cfg = tempfile::tempdir().unwrap();
    std::fs::write(
        cfg.path().join("config.json"),
        r#"{"credsStore":"berthtest"}"#,
    )
    .unwrap();
    // A helper that keeps one secret in a file beside itself.
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-berthtest");
    std::fs::write(
        &helper,
        "#!/bin/sh\nd=$(dirname \"$0\")\necho \"$1\" >> \"$d/calls\"\ncase \"$1\" in\n\
         store) cat > \"$d/stored.json\";;\n\
         get) read s; [ -f \"$d/stored.json\" ] || { echo 'credentials not found in native keychain'; exit 1; }; cat \"$d/stored.json\";;\n\
         erase) read s; rm -f \"$d/stored.json\";;\nesac\n",
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |args: &[&str], input: &str| berth(&d, cfg.path(), Some(bin.path()), args, input);
    let (code, out, err) = run(
        &["login", "-u", "helper", "--password-stdin", &host],
        "h3lp\n",
    );
    assert_eq!(code, 0, "{out}{err}");
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bin.path().join("stored.json")).unwrap()).unwrap();
    assert_eq!(stored["ServerURL"], host.as_str());
    assert_eq!(stored["Username"], "helper");
    assert_eq!(stored["Secret"], "h3lp");
    // Nothing in config.json itself.
    assert!(config_json(cfg.path())["auths"][&host].is_null());
    let name = format!("{host}/helped:1");
    d.ok(&["tag", "busybox", &name]);
    let (code, out, err) = run(&["push", &name], "");
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run(&["logout", &host], "");
    assert_eq!(code, 0, "{err}");
    assert!(!bin.path().join("stored.json").exists());
    let calls = std::fs::read_to_string(bin.path().join("calls")).unwrap();
    assert!(
        calls.contains("store") && calls.contains("get") && calls.contains("erase"),
        "{calls}"
    );
}
