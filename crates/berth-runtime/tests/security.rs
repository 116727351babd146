//! Issue 15, item 11: the runtime's own surfaces towards a container's root
//! and towards the host's other users.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{id, Bundle};

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Deletes the container when the test ends, passed or not.
struct Delete<'a>(&'a Bundle, String);

impl Drop for Delete<'_> {
    fn drop(&mut self) {
        let _ = self.0.rt(&["delete", "--force", &self.1]);
    }
}

/// A process joining a container (`exec`) stayed dumpable until its
/// execve: in the container's pid namespace, still the runtime with the
/// host's descriptors and environment, the container's root (without
/// CAP_SYS_PTRACE) could read its `/proc/PID/environ` and `mem`
/// (CVE-2016-9962's class). strace holds the exec'd process just before its
/// execve for two seconds; from inside, a probe tries to read it.
#[test]
fn issue15_an_exec_is_not_dumpable_before_its_execve() {
    let b = Bundle::new(&["sleep", "100"]);
    std::fs::write(
        b.rootfs().join("probe.sh"),
        r#"for p in /proc/[0-9]*; do
  c=$(tr '\0' ' ' < $p/cmdline 2>/dev/null)
  case "$c" in *--root*)
    if cat $p/environ >/dev/null 2>&1; then echo "READ $p"; else echo "DENIED $p"; fi;;
  esac
done
"#,
    )
    .unwrap();
    let name = id("dumpable");
    ok(b.rt(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &name,
    ]));
    let _delete = Delete(&b, name.clone());
    let mut held = Command::new("strace");
    held.args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=execve"])
        .args(["-e", "inject=execve:delay_enter=2000000", "-P", "/bin/true"])
        .arg(common::BIN)
        .arg("--root")
        .arg(&b.root)
        .args(["exec", &name, "/bin/true"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut held = held.spawn().expect("strace is installed");
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        seen = ok(b.rt(&["exec", &name, "sh", "/probe.sh"]));
    }
    let _ = held.wait();
    assert!(!seen.is_empty(), "the held exec was never seen");
    assert!(
        seen.lines().all(|l| l.starts_with("DENIED")),
        "the container read an exec's environment before its execve: {seen}"
    );
}

/// `exec.fifo` is written by any user (the container's user opens it,
/// through a descriptor); it sat in a 0755 directory, so any host user
/// could open it. Now the container's state directory is root's alone.
#[test]
fn issue15_host_users_cannot_reach_the_exec_fifo() {
    let b = Bundle::new(&["true"]);
    let name = id("fifo");
    ok(b.rt(&["create", "--bundle", b.path().to_str().unwrap(), &name]));
    let _delete = Delete(&b, name.clone());
    // The test's own directory is private: open it as /run is.
    for p in [b.path(), &b.root] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let fifo = b.root.join(&name).join("exec.fifo");
    assert!(fifo.exists());
    let out = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .args([
            "--",
            "timeout",
            "2",
            "sh",
            "-c",
            "echo 0 > \"$0\"",
            fifo.to_str().unwrap(),
        ])
        .output()
        .expect("setpriv (util-linux) is installed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("Permission denied"),
        "a host user opened exec.fifo: {:?} {err}",
        out.status.code()
    );
    // The runtime itself starts it as ever.
    ok(b.rt(&["start", &name]));
}
