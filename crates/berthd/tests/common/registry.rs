//! Debian's `docker-registry` (distribution) on a free loopback port, with
//! its storage in a temporary directory; optionally with htpasswd basic auth
//! or TLS. Filled with `skopeo copy`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running registry, stopped on drop.
pub struct Registry {
    child: Child,
    pub dir: tempfile::TempDir,
    /// `127.0.0.1:PORT` (or the address asked for).
    pub host: String,
}

/// How the registry is served.
#[derive(Default)]
pub struct Options<'a> {
    /// `(user, password)`: htpasswd basic auth.
    pub htpasswd: Option<(&'a str, &'a str)>,
    /// `(cert, key)` PEM files: serve HTTPS.
    pub tls: Option<(&'a Path, &'a Path)>,
    /// Listen address (default 127.0.0.1).
    pub ip: Option<&'a str>,
}

/// A free TCP port on `ip` (the listener is closed again: a small race).
pub fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bcrypt htpasswd line, through python3's `crypt` (glibc's libxcrypt
/// knows `$2b$`, which distribution's bcrypt accepts).
pub fn htpasswd_line(user: &str, password: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt,sys; print(sys.argv[1] + ':' + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
            user,
            password,
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Registry {
    pub fn start(opts: Options) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let ip = opts.ip.unwrap_or("127.0.0.1");
        let port = free_port(ip);
        let host = if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        };
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        if let Some((cert, key)) = opts.tls {
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
        }
        if let Some((user, password)) = opts.htpasswd {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, htpasswd_line(user, password) + "\n").unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                file.display()
            ));
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .expect("docker-registry is installed");
        let r = Registry { child, dir, host };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(&r.host).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start: {}",
                std::fs::read_to_string(r.dir.path().join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        r
    }

    /// `skopeo copy` of `source` (`docker-archive:…`, `oci:…`) to
    /// `repo_tag` here; `extra` flags (`--all`, `--dest-creds`…).
    pub fn push(&self, source: &str, repo_tag: &str, extra: &[&str]) {
        let out = Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .args(extra)
            .arg(source)
            .arg(format!("docker://{}/{repo_tag}", self.host))
            .output()
            .expect("skopeo is installed");
        assert!(
            out.status.success(),
            "skopeo copy: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The manifest digest of `repo_tag` here (`skopeo inspect`).
    pub fn digest(&self, repo_tag: &str, extra: &[&str]) -> String {
        let out = Command::new("skopeo")
            .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
            .args(extra)
            .arg(format!("docker://{}/{repo_tag}", self.host))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `docker save` archive of busybox (imported with `CMD ["sh"]`, so it
/// runs), made by a daemon of its own.
pub fn busybox_archive(d: &super::Daemon, dir: &Path) -> PathBuf {
    let tar = super::busybox_tar(dir);
    let (code, out, err) = d.docker(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        tar.to_str().unwrap(),
        "busybox-for-push",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let archive = dir.join("busybox-save.tar");
    let (code, out, err) = d.docker(&["save", "-o", archive.to_str().unwrap(), "busybox-for-push"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = d.docker(&["rmi", "busybox-for-push"]);
    assert_eq!(code, 0, "{out}{err}");
    archive
}
