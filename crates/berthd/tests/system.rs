//! berthd's system endpoints, judged by the real docker CLI and by raw HTTP.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A berthd on a private socket and roots, stopped on drop.
struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_berthd"))
            .arg("-H")
            .arg(format!(
                "unix://{}",
                dir.path().join("berth.sock").display()
            ))
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .spawn()
            .unwrap();
        let d = Daemon { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(d.socket()).is_err() {
            assert!(Instant::now() < deadline, "berthd did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        d
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("berth.sock")
    }

    fn docker(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.socket().display()))
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .output()
            .expect("the docker CLI is installed");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// One raw HTTP/1.1 request; returns the status line and headers, and the body.
    fn http(&self, method: &str, path: &str) -> (String, String) {
        let mut s = UnixStream::connect(self.socket()).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        (head.to_string(), body.to_string())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

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
