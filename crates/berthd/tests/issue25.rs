//! Issue 25: what bollard's own test suite found in berthd, one test per
//! finding, each failing on the code before its fix.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::Daemon;

/// One JSON request through curl: (status, body).
fn api(d: &Daemon, method: &str, path: &str, headers: &[&str], body: &[u8]) -> (u16, String) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sS", "--unix-socket"]).arg(d.socket()).args([
        "-X",
        method,
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
    ]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    if !body.is_empty() {
        cmd.args(["--data-binary", "@-"]);
    }
    cmd.arg(format!("http://berth{path}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let body = body.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    assert!(out.status.success(), "curl {method} {path}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_string())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Finding 1: a client that attached with stdin and keeps its socket open
/// must not make the container unkillable. The shim used to splice from
/// the control socket into the stdin pipe, holding the pipe's lock while
/// blocked on the socket; the container's `sh`, exiting, waited on that
/// lock in uninterruptible sleep until the client went away.
#[test]
fn kill_and_wait_while_an_attached_client_holds_stdin_open() {
    let d = Daemon::with_busybox();
    let (code, body) = api(
        &d,
        "POST",
        "/containers/create?name=held",
        &["Content-Type: application/json"],
        br#"{"Image":"busybox","Cmd":["sh"],"OpenStdin":true,"AttachStdin":true,"AttachStdout":true,"AttachStderr":true}"#,
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = api(&d, "POST", "/containers/held/start", &[], b"");
    assert_eq!(code, 204, "{body}");
    // A raw client: attach with stdin, send one command, then hold the
    // socket open without writing or closing.
    let mut s = UnixStream::connect(d.socket()).unwrap();
    write!(
        s,
        "POST /containers/held/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n\
         Host: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1, "attach answered nothing");
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // Before the fix, the echo already hung: the shim's next splice held
    // the pipe locked while it waited for more, so `sh` could not read.
    s.write_all(b"echo attached\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("attached") {
        let n = s.read(&mut buf).expect("the echo comes back");
        assert!(n > 0, "attach ended early");
        seen.extend_from_slice(&buf[..n]);
    }
    // The shim is now waiting for more input from the client. Kill and
    // wait: both must end promptly while the client still holds on.
    let started = Instant::now();
    let waiter = {
        let sock = d.socket();
        std::thread::spawn(move || {
            let out = std::process::Command::new("curl")
                .args(["-sS", "-m", "20", "--unix-socket"])
                .arg(sock)
                .args(["-X", "POST", "http://berth/containers/held/wait"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let (code, body) = api(&d, "POST", "/containers/held/kill", &[], b"");
    assert_eq!(code, 204, "{body}");
    let waited = waiter.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "wait took {:?} with the attach socket held open",
        started.elapsed()
    );
    assert_eq!(json(&waited)["StatusCode"], 137, "{waited}");
    // The attach stream ends with the container, as Docker's does.
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)
        .expect("the attach stream ends when the container does");
}
