//! berthd's system endpoints, judged by the real docker CLI and by raw HTTP.

mod common;

use std::process::Command;

use common::Daemon;

#[test]
fn docker_cli_negotiates_and_reads_version_and_info() {
    let d = Daemon::start();
    let (code, out, err) = d.docker(&[
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Os}}",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1.47 linux");
    let (code, out, err) = d.docker(&[
        "info",
        "--format",
        "{{.Driver}} {{.CgroupDriver}} {{.Containers}}",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "overlay2 cgroupfs 0");
}

#[test]
fn ping_headers_errors_and_socket_mode() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start();
    let mode = std::fs::metadata(d.socket()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o660);
    let (head, body) = d.http("GET", "/_ping");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("api-version: 1.47"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("builder-version: 1"),
        "{head}"
    );
    assert_eq!(body, "OK");
    let (head, body) = d.http("GET", "/v1.47/no/such/route");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert_eq!(body, r#"{"message":"page not found"}"#);
    let (head, body) = d.http("GET", "/v1.12/version");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(body.contains("too old"), "{body}");
    // A second daemon on the same socket refuses to start.
    let out = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .arg("-H")
        .arg(format!("unix://{}", d.socket().display()))
        .arg("--data-root")
        .arg(d.dir.path().join("data2"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("another daemon"));
}
