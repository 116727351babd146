//! Helpers for the runtime's integration tests: busybox bundles in temporary
//! directories and a runner for the real `berth-runtime` binary.
//!
//! The tests need root and a Linux kernel with namespaces and cgroups; busybox
//! comes from Debian's `busybox-static` (`/bin/busybox`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_berth-runtime");

/// A bundle (busybox rootfs + config.json) and a private state root.
pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub config: Value,
}

pub fn busybox_rootfs(rootfs: &Path) {
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::set_permissions(
        rootfs.join("tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
        .expect("busybox-static installed at /bin/busybox");
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
        }
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
}

/// The docker-like base config: the runtime's default spec with the command.
pub fn base_config(args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(["spec", "--bundle"])
        .arg(tmp_spec_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "spec: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c: Value =
        serde_json::from_slice(&std::fs::read(tmp_spec_dir().join("config.json")).unwrap())
            .unwrap();
    let _ = std::fs::remove_dir_all(tmp_spec_dir());
    c["process"]["terminal"] = json!(false);
    c["process"]["args"] = json!(args);
    c["root"]["readonly"] = json!(false);
    c["hostname"] = json!("berth-test");
    c
}

fn tmp_spec_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "berth-spec-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

impl Bundle {
    pub fn new(args: &[&str]) -> Bundle {
        let dir = tempfile::tempdir().unwrap();
        busybox_rootfs(&dir.path().join("rootfs"));
        let root = dir.path().join("state");
        let b = Bundle {
            config: base_config(args),
            dir,
            root,
        };
        b.write();
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// Rewrites config.json from `self.config`.
    pub fn write(&self) {
        std::fs::write(
            self.dir.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) {
        f(&mut self.config);
        self.write();
    }

    /// `berth-runtime --root <state> ARGS...` with the bundle as cwd.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(self.dir.path());
        c.stdin(Stdio::null());
        c
    }

    /// Runs a command to completion and collects its output. `create` and
    /// `run --detach` hand their stdio to the container (as runc's do), so their
    /// output goes through files rather than pipes the container would hold open.
    pub fn rt(&self, args: &[&str]) -> Output {
        if !args.contains(&"create") && !args.contains(&"--detach") {
            return self.cmd(args).output().unwrap();
        }
        let n = std::sync::atomic::AtomicUsize::new(0)
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let out_path = self
            .dir
            .path()
            .join(format!("out-{}-{n}", std::process::id()));
        let err_path = self
            .dir
            .path()
            .join(format!("err-{}-{n}", std::process::id()));
        let status = self
            .cmd(args)
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .unwrap();
        Output {
            status,
            stdout: std::fs::read(&out_path).unwrap(),
            stderr: std::fs::read(&err_path).unwrap(),
        }
    }

    /// `run ID` in the foreground: (exit code, stdout, stderr).
    pub fn run(&self, id: &str) -> (i32, String, String) {
        let out = self.rt(&["run", id]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs and expects exit 0; returns stdout.
    pub fn run_ok(&self, id: &str) -> String {
        let (code, out, err) = self.run(id);
        assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
        out
    }

    pub fn state(&self, id: &str) -> Value {
        let out = self.rt(&["state", id]);
        assert!(
            out.status.success(),
            "state: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// A unique container id for this test.
pub fn id(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}
