//! The client against Debian's `docker-registry` (distribution) with
//! htpasswd basic auth, filled by `skopeo copy` from an OCI layout this test
//! writes: the basic challenge answered, a manifest resolved, blobs
//! streamed and checked.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use registry::{Client, Config, Credentials, Platform};
use sha2::Digest;
use store::reference::Reference;

fn sha256(b: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(b))
}

fn put_blob(layout: &Path, bytes: &[u8]) -> serde_json::Value {
    let d = sha256(bytes);
    std::fs::write(layout.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
    serde_json::json!({"digest": d, "size": bytes.len()})
}

/// An OCI layout with one image: one layer (a tar of one file) and its config.
fn write_layout(layout: &Path) -> (Vec<u8>, Vec<u8>) {
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_path("hello").unwrap();
    h.set_size(6);
    h.set_mode(0o644);
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, &b"hello\n"[..]).unwrap();
    let layer = b.into_inner().unwrap();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]},
    }))
    .unwrap();
    let mut c = put_blob(layout, &config);
    c["mediaType"] = "application/vnd.oci.image.config.v1+json".into();
    let mut l = put_blob(layout, &layer);
    l["mediaType"] = "application/vnd.oci.image.layer.v1.tar".into();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": c, "layers": [l],
    }))
    .unwrap();
    let mut m = put_blob(layout, &manifest);
    m["mediaType"] = "application/vnd.oci.image.manifest.v1+json".into();
    m["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "v1"});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [m]})).unwrap(),
    )
    .unwrap();
    (layer, config)
}

/// docker-registry with htpasswd auth (bcrypt through python3's crypt).
struct Distribution(std::process::Child);

impl Drop for Distribution {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path) -> (Distribution, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    let line = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt; print('u:' + crypt.crypt('p', crypt.mksalt(crypt.METHOD_BLOWFISH)))",
        ])
        .output()
        .unwrap();
    assert!(line.status.success());
    std::fs::write(dir.join("htpasswd"), line.stdout).unwrap();
    let cfg = dir.join("config.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\nauth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
            dir.join("data").display(),
            dir.join("htpasswd").display()
        ),
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
    (Distribution(child), host)
}

#[tokio::test]
async fn basic_auth_resolve_and_verified_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let (_reg, host) = start(dir.path());
    let layout = dir.path().join("layout");
    let (_layer, config) = write_layout(&layout);
    let out = Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--dest-creds",
            "u:p",
        ])
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("docker://{host}/lib/img:v1"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client = Client::new(Config::default());
    let reference = Reference::parse(&format!("{host}/lib/img:v1")).unwrap();
    // No credentials: Docker's words.
    let anonymous = client
        .session(&reference, Credentials::default())
        .await
        .unwrap();
    let err = anonymous
        .resolve("v1", &Platform::host())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no basic auth credentials"),
        "{err}"
    );
    let creds = Credentials {
        username: "u".into(),
        password: "p".into(),
        ..Default::default()
    };
    let session = client.session(&reference, creds).await.unwrap();
    assert_eq!(session.base(), format!("http://{host}"));
    let resolved = session.resolve("v1", &Platform::host()).await.unwrap();
    assert_eq!(resolved.config.digest, sha256(&config));
    // (skopeo may have compressed the layer on the way.)
    // A blob streams in, checked at its end.
    let mut s = session.blob(&resolved.layers[0]).await.unwrap();
    let mut got = Vec::new();
    while let Some(c) = s.next().await.unwrap() {
        got.extend_from_slice(&c);
    }
    assert_eq!(sha256(&got), resolved.layers[0].digest);
    assert_eq!(got.len() as u64, resolved.layers[0].size);
    // The same bytes announced with another size: refused.
    let mut lie = resolved.layers[0].clone();
    lie.size += 1;
    let err = session.blob_bytes(&lie, 1 << 20).await.unwrap_err();
    assert_eq!(err.kind(), registry::Kind::Invalid, "{err}");
    // A tag that is not there.
    let err = session.resolve("v2", &Platform::host()).await.unwrap_err();
    assert_eq!(err.kind(), registry::Kind::NotFound, "{err}");
    assert!(err.to_string().starts_with("manifest unknown"), "{err}");
}
