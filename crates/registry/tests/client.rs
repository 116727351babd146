//! The client against small registries of the test's own (std threads,
//! plain HTTP on loopback): bearer tokens fetched with basic credentials and
//! reused per scope, blobs redirected to another host without the
//! registry's authorization, digests checked.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use registry::{Client, Config, Credentials, Platform};
use sha2::Digest;
use store::reference::Reference;

/// A request as the server saw it.
struct Req {
    path: String,
    headers: HashMap<String, String>,
}

type Handler = dyn Fn(&Req) -> (u16, Vec<(String, String)>, Vec<u8>) + Send + Sync;

/// Serves `handler` on a free loopback port; returns `127.0.0.1:PORT`.
fn serve(handler: Arc<Handler>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = handler.clone();
            std::thread::spawn(move || {
                let mut s = stream;
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match s.read(&mut b) {
                        // A TLS hello (loopback is tried over HTTPS first).
                        Ok(1) if head.is_empty() && !b[0].is_ascii_uppercase() => return,
                        Ok(1) => head.push(b[0]),
                        _ => return,
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let mut lines = text.split("\r\n");
                let path = lines
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .unwrap_or("/")
                    .to_string();
                let headers = lines
                    .filter_map(|l| l.split_once(": "))
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                    .collect();
                let (status, extra, body) = handler(&Req { path, headers });
                let mut resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in extra {
                    resp.push_str(&format!("{k}: {v}\r\n"));
                }
                resp.push_str("\r\n");
                let _ = s.write_all(resp.as_bytes());
                let _ = s.write_all(&body);
            });
        }
    });
    host
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(b))
}

fn h(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

#[tokio::test]
async fn bearer_token_reused_and_blob_redirect_without_auth() {
    let layer = b"layer bytes".to_vec();
    let config = br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": sha256(&layer), "size": layer.len()}],
    }))
    .unwrap();
    // The CDN the blob redirects to: must not see the registry's token.
    let cdn_layer = layer.clone();
    let cdn = serve(Arc::new(move |r: &Req| {
        if r.headers.contains_key("authorization") {
            return (403, vec![], b"leaked authorization".to_vec());
        }
        (200, vec![], cdn_layer.clone())
    }));
    let token_hits = Arc::new(AtomicUsize::new(0));
    let hits = token_hits.clone();
    let registry_host = Arc::new(std::sync::OnceLock::<String>::new());
    let rh = registry_host.clone();
    let (m, c, l) = (manifest.clone(), config.clone(), layer.clone());
    let host = serve(Arc::new(move |r: &Req| {
        let me = rh.get().cloned().unwrap_or_default();
        if r.path.starts_with("/token") {
            hits.fetch_add(1, Ordering::SeqCst);
            // u:p in basic auth.
            if r.headers.get("authorization").map(String::as_str) != Some("Basic dTpw") {
                return (401, vec![], vec![]);
            }
            assert!(
                r.path.contains("scope=repository%3Ame%2Fimg%3Apull"),
                "{}",
                r.path
            );
            assert!(r.path.contains("service=test"), "{}", r.path);
            return (
                200,
                vec![],
                br#"{"access_token":"T0K","expires_in":300}"#.to_vec(),
            );
        }
        if r.headers.get("authorization").map(String::as_str) != Some("Bearer T0K") {
            let challenge = format!(
                "Bearer realm=\"http://{me}/token\",service=\"test\",scope=\"repository:me/img:pull\""
            );
            return (401, vec![h("WWW-Authenticate", &challenge)], vec![]);
        }
        match r.path.as_str() {
            "/v2/me/img/manifests/v1" => (
                200,
                vec![h(
                    "Content-Type",
                    "application/vnd.docker.distribution.manifest.v2+json",
                )],
                m.clone(),
            ),
            p if p == format!("/v2/me/img/blobs/{}", sha256(&c)) => (200, vec![], c.clone()),
            p if p == format!("/v2/me/img/blobs/{}", sha256(&l)) => {
                let cdn = cdn.clone();
                (
                    307,
                    vec![h("Location", &format!("http://{cdn}/blob?sig=1"))],
                    vec![],
                )
            }
            _ => (404, vec![], vec![]),
        }
    }));
    registry_host.set(host.clone()).unwrap();
    let client = Client::new(Config::default());
    let reference = Reference::parse(&format!("{host}/me/img:v1")).unwrap();
    let creds = Credentials {
        username: "u".into(),
        password: "p".into(),
        ..Default::default()
    };
    let session = client.session(&reference, creds.clone()).await.unwrap();
    assert_eq!(session.base(), format!("http://{host}"));
    let resolved = session.resolve("v1", &Platform::host()).await.unwrap();
    assert_eq!(resolved.digest, sha256(&manifest));
    assert_eq!(resolved.layers.len(), 1);
    let got = session.blob_bytes(&resolved.config, 1 << 20).await.unwrap();
    assert_eq!(got, config);
    let got = session
        .blob_bytes(&resolved.layers[0], 1 << 20)
        .await
        .unwrap();
    assert_eq!(got, layer);
    // A second session of the same client: the token is reused.
    let again = client.session(&reference, creds).await.unwrap();
    again.resolve("v1", &Platform::host()).await.unwrap();
    assert_eq!(token_hits.load(Ordering::SeqCst), 1);
    // Wrong credentials: the token server's refusal.
    let bad = Credentials {
        username: "u".into(),
        password: "wrong".into(),
        ..Default::default()
    };
    let err = client
        .session(&reference, bad)
        .await
        .unwrap()
        .resolve("v1", &Platform::host())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), registry::Kind::Unauthorized, "{err}");
    assert!(
        err.to_string().contains("incorrect username or password"),
        "{err}"
    );
}

#[tokio::test]
async fn by_digest_the_manifest_must_match() {
    let config = b"{}".to_vec();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": 2},
        "layers": [],
    }))
    .unwrap();
    let m = manifest.clone();
    let host = serve(Arc::new(move |r: &Req| match r.path.as_str() {
        "/v2/" => (200, vec![], vec![]),
        p if p.starts_with("/v2/x/manifests/") => (
            200,
            vec![h(
                "Content-Type",
                "application/vnd.oci.image.manifest.v1+json",
            )],
            m.clone(),
        ),
        _ => (404, vec![], vec![]),
    }));
    let client = Client::new(Config::default());
    let reference = Reference::parse(&format!("{host}/x")).unwrap();
    let session = client
        .session(&reference, Credentials::default())
        .await
        .unwrap();
    // Asked by its own digest: fine.
    let good = sha256(&manifest);
    assert_eq!(
        session
            .resolve(&good, &Platform::host())
            .await
            .unwrap()
            .digest,
        good
    );
    // Asked by another digest, served the same bytes: refused.
    let other = sha256(b"something else");
    let err = session
        .resolve(&other, &Platform::host())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), registry::Kind::Invalid);
    assert!(
        err.to_string().contains("manifest verification failed"),
        "{err}"
    );
}

#[tokio::test]
async fn an_index_entry_must_be_a_digest() {
    let arch = Platform::host().architecture;
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:../../../v2/other/manifests/x", "size": 10,
            "platform": {"os": "linux", "architecture": arch}}],
    }))
    .unwrap();
    let host = serve(Arc::new(move |r: &Req| match r.path.as_str() {
        "/v2/" => (200, vec![], vec![]),
        "/v2/x/manifests/latest" => (
            200,
            vec![h("Content-Type", "application/vnd.oci.image.index.v1+json")],
            index.clone(),
        ),
        other => panic!("asked for {other}"),
    }));
    let client = Client::new(Config::default());
    let reference = Reference::parse(&format!("{host}/x")).unwrap();
    let session = client
        .session(&reference, Credentials::default())
        .await
        .unwrap();
    let err = session
        .resolve("latest", &Platform::host())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), registry::Kind::Invalid, "{err}");
    assert!(err.to_string().contains("invalid digest"), "{err}");
}
