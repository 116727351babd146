//! One HTTP/1.1 request over TCP or TLS, on hyper's client connection.
//!
//! A connection per request keeps this small: a pull makes a handful of
//! requests per layer, each a long transfer, so reuse would save little.
//! TLS is rustls with the ring provider; the roots are the system's
//! (`rustls-native-certs`) plus a registry's own CA files.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use crate::error::RegistryError;

/// How long a TCP connect or TLS handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a registry may take to send response headers.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a body may stall between two chunks.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Makes a TCP connection to a host and port, blocking: how a daemon whose
/// threads are not in the host's network namespace (rootless berthd) still
/// reaches registries from the host's, loopback registries included.
pub type Dialer = fn(&str, u16) -> std::io::Result<std::net::TcpStream>;

static DIALER: OnceLock<Dialer> = OnceLock::new();

/// Makes every later connection (registries, and the builder's `ADD`
/// through [`connect_blocking`]) through `dialer`. Set once, at start.
pub fn set_dialer(dialer: Dialer) {
    let _ = DIALER.set(dialer);
}

/// A connection to `host:port`, through the dialer if one is set.
pub async fn dial(host: &str, port: u16) -> std::io::Result<TcpStream> {
    match DIALER.get() {
        None => TcpStream::connect((host, port)).await,
        Some(d) => {
            let (d, host) = (*d, host.to_string());
            let s = tokio::task::spawn_blocking(move || d(&host, port))
                .await
                .map_err(std::io::Error::other)??;
            s.set_nonblocking(true)?;
            TcpStream::from_std(s)
        }
    }
}

/// A blocking connection to `host:port`, through the dialer if one is set.
pub fn connect_blocking(host: &str, port: u16) -> std::io::Result<std::net::TcpStream> {
    match DIALER.get() {
        None => std::net::TcpStream::connect((host, port)),
        Some(d) => d(host, port),
    }
}

/// How to check the server's certificate.
#[derive(Debug, Clone)]
pub enum Tls {
    /// The system's roots plus these CA files.
    Verify(Vec<PathBuf>),
    /// No verification (an insecure registry).
    Unverified,
}

fn system_roots() -> &'static Vec<CertificateDer<'static>> {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_config(tls: &Tls) -> Result<rustls::ClientConfig, String> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let mut config = match tls {
        Tls::Verify(files) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add_parsable_certificates(system_roots().iter().cloned());
            for f in files {
                let certs = CertificateDer::pem_file_iter(f)
                    .map_err(|e| format!("{}: {e}", f.display()))?;
                for c in certs {
                    let c = c.map_err(|e| format!("{}: {e}", f.display()))?;
                    roots.add(c).map_err(|e| format!("{}: {e}", f.display()))?;
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Tls::Unverified => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider())))
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Accepts any certificate: only for registries the admin declared
/// insecure (Docker's `InsecureSkipVerify`). Signatures are still checked,
/// so the handshake itself is sound.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Go's words for a method, as Docker's errors print it (`Get "url": …`).
pub fn method_word(m: &hyper::Method) -> &'static str {
    match *m {
        hyper::Method::HEAD => "Head",
        hyper::Method::POST => "Post",
        hyper::Method::PUT => "Put",
        _ => "Get",
    }
}

/// Docker's (Go's) text for a TLS failure, so that users recognise it.
fn tls_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    let inner = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .cloned();
    match inner {
        Some(rustls::Error::InvalidCertificate(c)) => {
            let why = match c {
                rustls::CertificateError::UnknownIssuer => {
                    "x509: certificate signed by unknown authority".to_string()
                }
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. } => {
                    format!("x509: certificate is not valid for this host ({text})")
                }
                rustls::CertificateError::Expired
                | rustls::CertificateError::ExpiredContext { .. } => {
                    "x509: certificate has expired or is not yet valid".to_string()
                }
                other => format!("x509: {other:?}"),
            };
            format!("tls: failed to verify certificate: {why}")
        }
        _ => format!("tls: {text}"),
    }
}

/// Sends one request; the connection lives as long as the response body.
pub async fn send(
    mut req: Request<Full<Bytes>>,
    tls: &Tls,
) -> Result<Response<Incoming>, RegistryError> {
    let uri = req.uri().clone();
    let method = method_word(req.method());
    let fail = |why: String| RegistryError::Transport {
        method,
        url: uri.to_string(),
        why,
    };
    let host = uri
        .host()
        .ok_or_else(|| fail("no host in URL".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, dial(&host, port))
        .await
        .map_err(|_| fail("dial tcp: i/o timeout".into()))?
        .map_err(|e| fail(format!("dial tcp {host}:{port}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    // Straight to the origin: the request line carries the path only.
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    if let Ok(v) = hyper::header::HeaderValue::from_str(&authority) {
        req.headers_mut().insert(hyper::header::HOST, v);
    }
    if let Some(pq) = uri.path_and_query() {
        if let Ok(origin) = pq.as_str().parse() {
            *req.uri_mut() = origin;
        }
    }
    let resp = if https {
        let config = tls_config(tls).map_err(fail)?;
        let name = ServerName::try_from(host.clone())
            .map_err(|e| fail(format!("server name {host}: {e}")))?;
        let stream = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
        )
        .await
        .map_err(|_| fail("net/http: TLS handshake timeout".into()))?
        .map_err(|e| fail(tls_error_text(&e)))?;
        exchange(TokioIo::new(stream), req).await
    } else {
        exchange(TokioIo::new(tcp), req).await
    };
    resp.map_err(fail)
}

async fn exchange<T>(io: T, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    tokio::time::timeout(RESPONSE_TIMEOUT, sender.send_request(req))
        .await
        .map_err(|_| "timeout awaiting response headers".to_string())?
        .map_err(|e| e.to_string())
}

/// Reads a whole body of at most `max` bytes.
pub async fn read_body(
    resp: Response<Incoming>,
    max: u64,
    what: &str,
) -> Result<Bytes, RegistryError> {
    let mut body = resp.into_body();
    let mut out = Vec::new();
    loop {
        let frame = tokio::time::timeout(STALL_TIMEOUT, body.frame())
            .await
            .map_err(|_| RegistryError::Invalid(format!("{what}: transfer stalled")))?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| RegistryError::Invalid(format!("{what}: {e}")))?;
        if let Some(d) = frame.data_ref() {
            if (out.len() + d.len()) as u64 > max {
                return Err(RegistryError::Invalid(format!(
                    "{what} is larger than the limit of {max} bytes"
                )));
            }
            out.extend_from_slice(d);
        }
    }
    Ok(Bytes::from(out))
}

/// Resolves a `Location` header against the URL it answered.
pub fn resolve_location(base: &Uri, location: &str) -> Option<Uri> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.parse().ok();
    }
    let scheme = base.scheme_str()?;
    let authority = base.authority()?;
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}").parse().ok();
    }
    let path = base.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    format!("{scheme}://{authority}{dir}{location}")
        .parse()
        .ok()
}
