//! A plain GET of any URL (http or https), for the builder's `ADD <url>`:
//! on the registry's transport (rustls with the system's roots, timeouts),
//! redirects followed as Go's client follows them (at most 10), the body
//! streamed to a writer and bounded, never held in memory.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Uri};

use crate::error::RegistryError;
use crate::transport::{self, Tls};

/// Most redirects followed (Go's `http.Client` stops after 10).
pub const MAX_REDIRECTS: usize = 10;

fn invalid(url: &str, why: impl std::fmt::Display) -> RegistryError {
    RegistryError::Invalid(format!("{url}: {why}"))
}

/// GETs `url` and writes its body into `out`, at most `max` bytes; the URL
/// that answered (after redirects), whose last path segment names the file.
pub async fn fetch(
    url: &str,
    max: u64,
    out: &mut (impl std::io::Write + ?Sized),
) -> Result<Uri, RegistryError> {
    let mut uri: Uri = url.parse().map_err(|e| invalid(url, e))?;
    for _ in 0..=MAX_REDIRECTS {
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(invalid(
                url,
                "only http:// and https:// URLs can be fetched",
            ));
        }
        let req = Request::get(uri.clone())
            .header(hyper::header::USER_AGENT, "berth")
            .body(Full::new(Bytes::new()))
            .map_err(|e| invalid(url, e))?;
        let resp = transport::send(req, &Tls::Verify(Vec::new())).await?;
        let status = resp.status();
        if status.is_redirection() {
            let location = resp
                .headers()
                .get(hyper::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| invalid(url, format!("{status} without a Location")))?;
            uri = transport::resolve_location(&uri, location)
                .ok_or_else(|| invalid(url, format!("bad redirect to {location:?}")))?;
            continue;
        }
        if !status.is_success() {
            return Err(RegistryError::Status {
                status: status.as_u16(),
                code: String::new(),
                message: format!("{url}: the server answered {status}"),
            });
        }
        let mut body = resp.into_body();
        let mut written = 0u64;
        loop {
            let frame = tokio::time::timeout(transport::STALL_TIMEOUT, body.frame())
                .await
                .map_err(|_| invalid(url, "transfer stalled"))?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| invalid(url, e))?;
            if let Some(d) = frame.data_ref() {
                written += d.len() as u64;
                if written > max {
                    return Err(invalid(
                        url,
                        format!("larger than the limit of {max} bytes"),
                    ));
                }
                out.write_all(d).map_err(|e| invalid(url, e))?;
            }
        }
        return Ok(uri);
    }
    Err(invalid(
        url,
        format!("stopped after {MAX_REDIRECTS} redirects"),
    ))
}

/// [`fetch`] from a thread that is not async (the builder's).
pub fn fetch_blocking(
    url: &str,
    max: u64,
    out: &mut (impl std::io::Write + ?Sized),
) -> Result<Uri, RegistryError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| invalid(url, e))?;
    rt.block_on(fetch(url, max, out))
}
