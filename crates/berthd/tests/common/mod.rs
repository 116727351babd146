//! A berthd on a private socket and roots, driven by the real docker CLI.

#![allow(dead_code)]

pub mod registry;
pub mod tls;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The data root's name: long on purpose, so that every test runs with
/// container directories deeper than a unix socket's path may be (107
/// bytes), as a deep `--data-root` on a real host makes them.
pub const DATA_ROOT: &str = "data-root-long-enough-to-pass-the-socket-path-limit";

/// A berthd on a private socket and roots, stopped on drop.
pub struct Daemon {
    child: Child,
    pub dir: tempfile::TempDir,
    /// Its own default bridge (daemons run side by side: none may share one).
    pub bridge: String,
    /// The bridge's gateway and prefix, `10.x.y.1/24`.
    pub bip: String,
    /// More flags for berthd (kept for a restart).
    pub extra: Vec<String>,
    /// The network namespace it runs in (`ip netns exec`), if not the host's.
    pub netns: Option<String>,
    /// More environment for berthd (kept for a restart).
    pub env: Vec<(String, String)>,
}

/// A bridge name and a /24 no route and no other test daemon uses: the
/// second octet from the process, the third from a counter, checked
/// against the host's routes.
fn private_bridge() -> (String, String) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let pid = std::process::id();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let (b, c) = (100 + (pid + n / 250) % 100, 1 + n % 250);
        let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
        // /proc/net/route has the destination in hex, in host (little-endian) order.
        let dst = format!("{:02X}{:02X}{:02X}{:02X}", 0, c, b, 10);
        if routes.contains(&dst) {
            continue;
        }
        return (
            format!("bt{}x{n}", pid % 100_000),
            format!("10.{b}.{c}.1/24"),
        );
    }
}

impl Daemon {
    pub fn start() -> Daemon {
        Self::start_with(&[])
    }

    /// A daemon with more flags.
    pub fn start_with(extra: &[&str]) -> Daemon {
        Self::start_with_env(extra, &[])
    }

    /// A daemon with more flags and environment variables.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let (bridge, bip) = private_bridge();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let child = Self::spawn(dir.path(), &bridge, &bip, &extra, &env, None);
        let d = Daemon {
            child,
            dir,
            bridge,
            bip,
            extra,
            netns: None,
            env,
        };
        d.wait_ready();
        d
    }

    /// A daemon with busybox, run in network namespace `netns` (made by the
    /// caller, who deletes it after the daemon: its bridges and nftables
    /// tables go with it), with its default bridge on `bip`.
    pub fn with_busybox_in(netns: &str, bip: &str, extra: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let (bridge, _) = private_bridge();
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let child = Self::spawn(dir.path(), &bridge, bip, &extra, &[], Some(netns));
        let d = Daemon {
            child,
            dir,
            bridge,
            bip: bip.to_string(),
            extra,
            netns: Some(netns.to_string()),
            env: Vec::new(),
        };
        d.wait_ready();
        d.import_busybox();
        d
    }

    fn import_busybox(&self) {
        let tar = busybox_tar(self.dir.path());
        let (code, out, err) = self.docker(&[
            "import",
            "-c",
            "CMD [\"sh\"]",
            tar.to_str().unwrap(),
            "busybox",
        ]);
        assert_eq!(code, 0, "import: {out}{err}");
    }

    /// The nftables table of this daemon's bridge.
    pub fn nft_table(&self) -> String {
        format!("berth_{}", self.bridge)
    }

    /// A daemon with busybox imported as `busybox` (`CMD ["sh"]`).
    pub fn with_busybox() -> Daemon {
        Self::with_busybox_and(&[])
    }

    /// [`Daemon::with_busybox`] with more flags for berthd.
    pub fn with_busybox_and(extra: &[&str]) -> Daemon {
        let d = Daemon::start_with(extra);
        d.import_busybox();
        d
    }

    fn spawn(
        dir: &std::path::Path,
        bridge: &str,
        bip: &str,
        extra: &[String],
        env: &[(String, String)],
        netns: Option<&str>,
    ) -> Child {
        // Only the network namespace: the host's mounts (its cgroups) stay
        // in view, as `ip netns exec`'s fresh /sys would hide them.
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{ns}"))
                    .arg(env!("CARGO_BIN_EXE_berthd"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_berthd")),
        };
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        // A test's own `--bridge` (`none`) replaces the private one.
        if !extra.iter().any(|a| a == "--bridge") {
            cmd.args(["--bridge", bridge, "--bip", bip]);
        }
        cmd.args(extra)
            .arg("-H")
            .arg(format!("unix://{}", dir.join("berth.sock").display()))
            .arg("--data-root")
            .arg(dir.join(DATA_ROOT))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .spawn()
            .unwrap()
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(self.socket()).is_err() {
            assert!(Instant::now() < deadline, "berthd did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `kill -9` of the daemon: its containers and shims live on.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A new daemon on the same roots and socket.
    pub fn restart(&mut self) {
        self.child = Self::spawn(
            self.dir.path(),
            &self.bridge,
            &self.bip,
            &self.extra,
            &self.env,
            self.netns.as_deref(),
        );
        self.wait_ready();
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("berth.sock")
    }

    /// The docker CLI, pointed at this daemon.
    pub fn docker_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker");
        cmd.args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.socket().display()))
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"));
        cmd
    }

    pub fn docker(&self, args: &[&str]) -> (i32, String, String) {
        let out = self
            .docker_command(args)
            .output()
            .expect("the docker CLI is installed");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// One raw HTTP/1.1 request; returns the status line and headers, and the body.
    pub fn http(&self, method: &str, path: &str) -> (String, String) {
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

impl Daemon {
    /// One API request through curl with `body` (sent as is) and extra
    /// headers; returns the status and the body (de-chunked).
    pub fn curl(&self, method: &str, path: &str, headers: &[&str], body: &[u8]) -> (u16, Vec<u8>) {
        let (status, _, body) = self.curl_head(method, path, headers, body);
        (status, body)
    }

    /// [`Daemon::curl`] with the response's headers (lower-cased names).
    pub fn curl_head(
        &self,
        method: &str,
        path: &str,
        headers: &[&str],
        body: &[u8],
    ) -> (u16, String, Vec<u8>) {
        use std::process::Stdio;
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "-D",
            "/dev/stderr",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "--unix-socket",
        ])
        .arg(self.socket())
        .args(["-X", method]);
        for h in headers {
            cmd.args(["-H", h]);
        }
        if !body.is_empty() {
            cmd.args(["--data-binary", "@-"]);
        }
        let mut child = cmd
            .arg(format!("http://berth{path}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("curl is installed");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(body).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "curl {method} {path}");
        let mut text = out.stdout;
        let nl = text.iter().rposition(|b| *b == b'\n').unwrap();
        let status = std::str::from_utf8(&text[nl + 1..])
            .unwrap()
            .parse()
            .unwrap();
        text.truncate(nl);
        let head = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
        (status, head, text)
    }

    /// A JSON-lines stream (build, pull, load) decoded line by line.
    pub fn curl_lines(
        &self,
        method: &str,
        path: &str,
        headers: &[&str],
        body: &[u8],
    ) -> (u16, Vec<serde_json::Value>) {
        let (status, text) = self.curl(method, path, headers, body);
        let lines = text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                serde_json::from_slice(l)
                    .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l)))
            })
            .collect();
        (status, lines)
    }
}

/// A tar of `(name, bytes)` files, for request bodies.
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Containers outlive the daemon by design: remove them first.
        let (_, ids, _) = self.docker(&["ps", "-aq"]);
        for id in ids.split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        // User-defined networks' bridges go with their networks.
        let _ = self.docker(&["network", "prune", "-f"]);
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        // The bridge and the table stay after a daemon, as Docker's do: the
        // test's go with it.
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(std::process::Stdio::null())
            .status();
        for family in ["ip", "ip6"] {
            let _ = Command::new("nft")
                .args(["delete", "table", family, &self.nft_table()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// A deterministic busybox root filesystem tar, made from Debian's
/// busybox-static with the project's script.
pub fn busybox_tar(dir: &std::path::Path) -> PathBuf {
    let root = dir.join("bbroot");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/busybox-rootfs.sh");
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
    let tar = dir.join("busybox.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    tar
}

/// Polls `f` for up to ten seconds.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `cmd` with `input` on its stdin; (exit code, stdout, stderr).
pub fn run_with_stdin(cmd: &mut std::process::Command, input: &str) -> (i32, String, String) {
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

/// A static binary compiled here from C with `gcc -static` (build-essential),
/// to put into busybox containers or run as a probe.
pub fn static_c(dir: &std::path::Path, name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let bin = dir.join(name);
    let out = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("gcc (build-essential) is installed");
    assert!(
        out.status.success(),
        "gcc -static {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// Runs `args` on the host as the unprivileged user `nobody` (65534, no
/// supplementary groups); (exit code, stdout, stderr). Through a shell: setpriv
/// keeps its capabilities until its own `execve`, so the command's path would
/// be looked up with root's powers; the shell's lookup is nobody's.
pub fn as_nobody(args: &[&str]) -> (i32, String, String) {
    let out = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .args(["--", "/bin/sh", "-c", "exec \"$@\"", "sh"])
        .args(args)
        .output()
        .expect("setpriv (util-linux) is installed");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
