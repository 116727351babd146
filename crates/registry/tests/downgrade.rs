//! Issue 15, item 11: a registry on HTTPS that redirects a blob to plain
//! HTTP on its own host and port kept receiving the `Authorization` header,
//! in clear. The test's registry speaks both on one port (TLS when the
//! first byte is a handshake's), as a downgrading attacker's would.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use registry::{Client, Config, Credentials, Platform};
use sha2::Digest;
use store::reference::Reference;

fn sha256(b: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(b))
}

/// A self-signed certificate and its key, DER, made by openssl.
fn cert(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    let out = std::process::Command::new("sh")
        .arg("-ec")
        .arg(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
               -keyout key.pem -out cert.pem -days 2 -subj /CN=registry \
               -addext subjectAltName=IP:127.0.0.1 2>/dev/null
             openssl x509 -in cert.pem -outform DER -out cert.der
             openssl pkcs8 -topk8 -nocrypt -in key.pem -outform DER -out key.der",
        )
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read(dir.join("cert.der")).unwrap(),
        std::fs::read(dir.join("key.der")).unwrap(),
    )
}

/// Reads one request's head; (path, whether it carried Authorization).
fn request(s: &mut impl Read) -> Option<(String, bool)> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).ok()? != 1 {
            return None;
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let path = text.split_whitespace().nth(1)?.to_string();
    Some((path, text.contains("\r\nauthorization:")))
}

fn answer(s: &mut impl Write, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut r = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    let _ = s.write_all(r.as_bytes());
    let _ = s.write_all(body);
    let _ = s.flush();
}

#[tokio::test]
async fn issue15_no_authorization_after_a_redirect_to_http() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = cert(tmp.path());
    let tls = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(cert)],
            rustls::pki_types::PrivateKeyDer::try_from(key).unwrap(),
        )
        .unwrap(),
    );
    let layer = b"layer bytes".to_vec();
    let config = br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": sha256(&layer), "size": layer.len()}],
    }))
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let leaked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (l, h, seen) = (layer.clone(), host.clone(), leaked.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (tls, layer, config, manifest, host, seen) = (
                tls.clone(),
                l.clone(),
                config.clone(),
                manifest.clone(),
                h.clone(),
                seen.clone(),
            );
            std::thread::spawn(move || {
                let mut first = [0u8; 1];
                if stream.peek(&mut first).ok() != Some(1) {
                    return;
                }
                if first[0] != 0x16 {
                    // Plain HTTP: where the blob was sent.
                    let mut s: TcpStream = stream;
                    let Some((_, auth)) = request(&mut s) else {
                        return;
                    };
                    if auth {
                        seen.store(true, std::sync::atomic::Ordering::SeqCst);
                        return answer(&mut s, 403, &[], b"leaked authorization");
                    }
                    return answer(&mut s, 200, &[], &layer);
                }
                let conn = rustls::ServerConnection::new(tls).unwrap();
                let mut s = rustls::StreamOwned::new(conn, stream);
                let Some((path, auth)) = request(&mut s) else {
                    return;
                };
                if !auth {
                    let c = ("WWW-Authenticate", "Basic realm=\"test\"".to_string());
                    return answer(&mut s, 401, &[c], b"");
                }
                let blob = |d: &[u8]| format!("/v2/me/img/blobs/{}", sha256(d));
                if path == "/v2/me/img/manifests/v1" {
                    let t = "application/vnd.docker.distribution.manifest.v2+json";
                    answer(&mut s, 200, &[("Content-Type", t.to_string())], &manifest)
                } else if path == blob(&config) {
                    answer(&mut s, 200, &[], &config)
                } else if path == blob(&layer) {
                    let to = format!("http://{host}{}", blob(&layer));
                    answer(&mut s, 307, &[("Location", to)], b"")
                } else {
                    answer(&mut s, 404, &[], b"")
                }
            });
        }
    });
    let client = Client::new(Config::default());
    let reference = Reference::parse(&format!("{host}/me/img:v1")).unwrap();
    let creds = Credentials {
        username: "u".into(),
        password: "p".into(),
        ..Default::default()
    };
    let session = client.session(&reference, creds).await.unwrap();
    assert_eq!(session.base(), format!("https://{host}"));
    let resolved = session.resolve("v1", &Platform::host()).await.unwrap();
    let got = session.blob_bytes(&resolved.layers[0], 1 << 20).await;
    assert!(
        !leaked.load(std::sync::atomic::Ordering::SeqCst),
        "the credentials went over plain HTTP: {got:?}"
    );
    assert_eq!(got.unwrap(), layer);
}
