//! The berth CLI against a real berthd.

use std::os::unix::net::UnixStream;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        // berthd is built beside berth in the same target directory.
        let berthd = std::path::Path::new(env!("CARGO_BIN_EXE_berth")).with_file_name("berthd");
        assert!(
            berthd.exists(),
            "build berthd first (cargo build --workspace)"
        );
        let sock = dir.path().join("berth.sock");
        let child = Command::new(berthd)
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&sock).is_err() {
            assert!(Instant::now() < deadline, "berthd did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Daemon { child, dir }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("berth.sock").display())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn berth(args: &[&str], host_env: Option<&str>) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.args(args).env_remove("BERTH_HOST");
    if let Some(h) = host_env {
        c.env("BERTH_HOST", h);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_and_info_through_host_flag_and_env() {
    let d = Daemon::start();
    let (code, out, err) = berth(&["-H", &d.host(), "version"], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Server: berth") && out.contains("API version:\t1.47 (minimum version 1.24)"),
        "{out}"
    );
    let (code, out, err) = berth(&["info"], Some(&d.host()));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Storage Driver: overlay2"), "{out}");
}

#[test]
fn unreachable_daemon_is_one_clear_line() {
    let (code, out, err) = berth(&["-H", "unix:///nonexistent/berth.sock", "version"], None);
    assert_eq!(code, 1);
    assert!(out.starts_with("Client:"));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("Cannot connect to the berth daemon at unix:///nonexistent/berth.sock"),
        "{err}"
    );
}

/// `berth system check` finds a blob whose bytes changed on disk.
#[test]
fn system_check_finds_corrupt_blobs() {
    let d = Daemon::start();
    // An image, imported through the docker CLI (berth's own import comes later).
    let tar = d.dir.path().join("rootfs.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tar).unwrap());
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    b.append_data(&mut h, "hello", &b"hello"[..]).unwrap();
    b.finish().unwrap();
    drop(b);
    let st = Command::new("docker")
        .args(["import", tar.to_str().unwrap(), "x"])
        .env("DOCKER_HOST", d.host())
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let (code, out, err) = berth(&["-H", &d.host(), "system", "check"], None);
    assert_eq!((code, out.trim()), (0, "ok"), "{err}");
    let blobs = d.dir.path().join("data/image/blobs/sha256");
    let victim = std::fs::read_dir(&blobs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&victim, "tampered").unwrap();
    let (code, out, _) = berth(&["-H", &d.host(), "system", "check"], None);
    assert_eq!(code, 1);
    assert!(
        out.contains("digest mismatch")
            && out.contains(victim.file_name().unwrap().to_str().unwrap()),
        "{out}"
    );
}
