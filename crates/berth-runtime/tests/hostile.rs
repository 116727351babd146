//! Bundles are untrusted: escapes through the rootfs path, mount destinations
//! and symlinks planted in the image are refused or kept inside, and the
//! runtime binary cannot be overwritten from inside (CVE-2019-5736).

mod common;

use common::{id, Bundle};
use serde_json::json;

fn run_err(b: &Bundle, name: &str) -> String {
    let (code, out, err) = b.run(name);
    assert_ne!(code, 0, "expected a failure; stdout: {out}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn rootfs_symlink_to_host_root_is_refused() {
    let b = Bundle::new(&["true"]);
    std::fs::remove_dir_all(b.rootfs()).unwrap();
    std::os::unix::fs::symlink("/", b.rootfs()).unwrap();
    let err = run_err(&b, &id("rootlink"));
    assert!(err.contains("host's root"), "{err}");
    assert!(
        !b.root.join(id("rootlink")).exists(),
        "no state left behind"
    );
}

#[test]
fn malformed_configs_get_clear_errors() {
    let cases: &[(&str, serde_json::Value, &str)] = &[
        (
            "dotdot",
            json!({"destination": "/a/../../etc", "type": "tmpfs", "source": "tmpfs"}),
            "contains '..'",
        ),
        (
            "relative",
            json!({"destination": "etc", "type": "tmpfs", "source": "tmpfs"}),
            "not absolute",
        ),
    ];
    for (name, mount, want) in cases {
        let mut b = Bundle::new(&["true"]);
        b.edit(|c| c["mounts"].as_array_mut().unwrap().push(mount.clone()));
        let err = run_err(&b, &id(name));
        assert!(err.contains(want), "{name}: {err}");
    }
    let b = Bundle::new(&["true"]);
    std::fs::write(b.path().join("config.json"), "{ not json").unwrap();
    let err = run_err(&b, &id("badjson"));
    assert!(err.contains("config.json"), "{err}");
    let b = Bundle::new(&["true"]);
    std::fs::write(b.path().join("config.json"), vec![b' '; 5 << 20]).unwrap();
    let err = run_err(&b, &id("huge"));
    assert!(err.contains("limit"), "{err}");
}

/// A symlink in the image pointing at a host directory: mounts through it land
/// inside the rootfs, and the host directory is untouched.
#[test]
fn mount_through_planted_symlink_stays_inside() {
    let host = tempfile::tempdir().unwrap();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "ls -d /evil/mnt && grep ' /evil/mnt ' /proc/mounts | wc -l",
    ]);
    std::os::unix::fs::symlink(host.path(), b.rootfs().join("evil")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../..", b.rootfs().join("up")).unwrap();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/evil/mnt", "type": "tmpfs", "source": "tmpfs"}));
        m.push(json!({"destination": "/up/tmp/x", "type": "tmpfs", "source": "tmpfs"}));
    });
    b.run_ok(&id("planted"));
    assert_eq!(
        std::fs::read_dir(host.path()).unwrap().count(),
        0,
        "nothing created on the host"
    );
    let inside = b
        .rootfs()
        .join(host.path().strip_prefix("/").unwrap())
        .join("mnt");
    assert!(
        inside.is_dir(),
        "created inside the rootfs at {}",
        inside.display()
    );
    assert!(b.rootfs().join("tmp/x").is_dir());
    assert!(!std::path::Path::new("/tmp/x").exists() || std::fs::read_dir("/tmp/x").is_ok());
}

/// The init, before its exec, runs from a sealed memfd. A container process
/// that grabs it then (as in CVE-2019-5736) can never write to it, and the
/// host's binary is not what it grabbed.
#[test]
fn runtime_binary_cannot_be_overwritten_from_the_container() {
    use std::io::Write;
    let b = Bundle::new(&["true"]);
    let name = id("cve");
    let out = b.rt(&["create", &name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = b.state(&name)["pid"].as_i64().unwrap();
    let exe = format!("/proc/{pid}/exe");
    assert!(std::fs::read_link(&exe)
        .unwrap()
        .to_string_lossy()
        .starts_with("/memfd:berth-runtime"));
    // Hold it (the attacker's O_PATH), let the init exec and exit, then write.
    let held = std::fs::File::open(&exe).unwrap();
    assert!(b.rt(&["start", &name]).status.success());
    for _ in 0..500 {
        if b.state(&name)["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    use std::os::fd::AsRawFd;
    let reopened = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{}", held.as_raw_fd()));
    let denied = match reopened {
        Err(e) => e.raw_os_error() == Some(libc::EPERM),
        Ok(mut f) => f.write_all(b"pwned").map_err(|e| e.raw_os_error()) == Err(Some(libc::EPERM)),
    };
    assert!(denied, "writes to the sealed copy are refused");
    let _ = b.rt(&["delete", "--force", &name]);
}
