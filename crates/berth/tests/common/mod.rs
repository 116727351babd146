//! A berthd on its own temporary roots, and the real `berth` binary pointed
//! at it; shared by the berth CLI's test files. berthd, berth-shim and
//! berth-runtime come from the same target directory (`cargo build
//! --workspace` first).

#![allow(dead_code)]

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Daemon {
    child: Child,
    pub dir: tempfile::TempDir,
    /// Its own default bridge, when it has one (removed on drop, with its
    /// nftables table).
    pub bridge: Option<String>,
}

/// What a run of `berth` gave: exit code, stdout, stderr.
pub type Output = (i32, String, String);

impl Daemon {
    pub fn start() -> Daemon {
        Self::spawn(None)
    }

    /// A daemon with a default bridge of its own, `bc<pid>x<n>` on
    /// 10.97.<n>.1/24 (the berthd tests use 10.1xx and 10.2xx), so that its
    /// user-defined networks share berth's nftables table with no other
    /// daemon's.
    pub fn with_bridge() -> Daemon {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("bc{}x{n}", std::process::id() % 100_000);
        Self::spawn(Some((name, format!("10.97.{n}.1/24"))))
    }

    fn spawn(bridge: Option<(String, String)>) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        // berthd is built beside berth in the same target directory.
        let berthd = Path::new(env!("CARGO_BIN_EXE_berth")).with_file_name("berthd");
        assert!(
            berthd.exists(),
            "build berthd first (cargo build --workspace)"
        );
        let sock = dir.path().join("berth.sock");
        let mut cmd = Command::new(berthd);
        match &bridge {
            Some((name, bip)) => cmd.args(["--bridge", name, "--bip", bip]),
            // Daemons run side by side here: none may share a bridge (each
            // would sweep the others' veths). The berthd tests cover networks.
            None => cmd.args(["--bridge", "none"]),
        };
        let child = cmd
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&sock).is_err() {
            assert!(Instant::now() < deadline, "berthd did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Daemon {
            child,
            dir,
            bridge: bridge.map(|b| b.0),
        }
    }

    /// A daemon with busybox imported as `busybox` (`CMD ["sh"]`).
    pub fn with_busybox() -> Daemon {
        Self::import_busybox(Daemon::start())
    }

    /// [`Daemon::with_bridge`] with busybox imported.
    pub fn with_bridge_and_busybox() -> Daemon {
        Self::import_busybox(Daemon::with_bridge())
    }

    fn import_busybox(d: Daemon) -> Daemon {
        let tar = busybox_tar();
        d.ok(&[
            "import",
            "-c",
            r#"CMD ["sh"]"#,
            tar.to_str().unwrap(),
            "busybox",
        ]);
        d
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("berth.sock").display())
    }

    /// `berth -H <this daemon> args...`.
    pub fn berth(&self, args: &[&str]) -> Output {
        let host = self.host();
        let mut all = vec!["-H", host.as_str()];
        all.extend_from_slice(args);
        berth(&all, None)
    }

    /// `berth args...` that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.berth(args);
        assert_eq!(code, 0, "berth {args:?}: {err}");
        out
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Containers outlive the daemon by design: remove them first.
        let (_, ids, _) = self.berth(&["ps", "-aq"]);
        for id in ids.split_whitespace() {
            let _ = self.berth(&["rm", "-f", id]);
        }
        if self.bridge.is_some() {
            let _ = self.berth(&["network", "prune", "-f"]);
        }
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        if let Some(b) = &self.bridge {
            let _ = Command::new("ip")
                .args(["link", "del", b])
                .stderr(Stdio::null())
                .status();
            let _ = Command::new("nft")
                .args(["delete", "table", "ip", &format!("berth_{b}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub fn berth(args: &[&str], host_env: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.args(args).env_remove("BERTH_HOST").stdin(Stdio::null());
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

/// A busybox root filesystem tar made once with the project's script, kept
/// in cargo's scratch directory for integration tests.
pub fn busybox_tar() -> PathBuf {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let tar = base.join("berth-cli-busybox.tar");
        if tar.exists() {
            return tar;
        }
        let work = tempfile::tempdir_in(base).unwrap();
        let root = work.path().join("root");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/busybox-rootfs.sh");
        let st = Command::new("bash")
            .arg(script)
            .arg(&root)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let part = work.path().join("busybox.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&part)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::rename(&part, &tar).unwrap();
        tar
    })
    .clone()
}

/// Polls `f` until it is true (or fails the test after five seconds).
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Debian's `docker-registry` on a free loopback port (`.2` is its
/// `host:port`), stopped on drop.
pub struct TestRegistry(pub std::process::Child, pub tempfile::TempDir, pub String);

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A registry without auth.
pub fn test_registry() -> TestRegistry {
    test_registry_with(None)
}

/// With `user:password` htpasswd basic auth when asked (bcrypt by python3's
/// crypt).
pub fn test_registry_with(basic: Option<(&str, &str)>) -> TestRegistry {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    let cfg = dir.path().join("config.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\n",
            dir.path().join("data").display()
        ) + &basic
            .map(|(user, password)| {
                let out = Command::new("python3")
                    .args(["-W", "ignore", "-c", "import crypt,sys; print(sys.argv[1] + ':' + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH)))", user, password])
                    .output()
                    .unwrap();
                assert!(out.status.success());
                std::fs::write(dir.path().join("htpasswd"), out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                    dir.path().join("htpasswd").display()
                )
            })
            .unwrap_or_default(),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry is installed");
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(&host).is_err() {
        assert!(Instant::now() < deadline, "docker-registry did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    TestRegistry(child, dir, host)
}
