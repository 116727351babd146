//! A client of berthd's API: HTTP/1.1 over the unix socket, JSON in and out,
//! streamed bodies both ways, the attach upgrade, and Docker's error body
//! turned into an error with the daemon's message.

use std::convert::Infallible;
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::UnixStream;

/// The API version the client speaks.
pub const API_VERSION: &str = "1.47";

/// A request body: whole, or streamed from a file.
pub type Body = BoxBody<Bytes, Infallible>;

/// Where the daemon is.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

/// The daemon answered with an error status.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The daemon's message.
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Error response from daemon: {}", self.message)
    }
}

impl std::error::Error for ApiError {}

/// The daemon could not be reached.
#[derive(Debug)]
pub struct Unreachable(String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// A query string built pair by pair, percent-encoded.
#[derive(Debug, Default, Clone)]
pub struct Query(String);

impl Query {
    /// An empty query.
    pub fn new() -> Query {
        Query::default()
    }

    /// Adds `key=value`.
    pub fn add(mut self, key: &str, value: &str) -> Query {
        self.0.push(if self.0.is_empty() { '?' } else { '&' });
        self.0.push_str(&encode(key));
        self.0.push('=');
        self.0.push_str(&encode(value));
        self
    }

    /// Adds `key=value` when `value` is not empty.
    pub fn opt(self, key: &str, value: &str) -> Query {
        if value.is_empty() {
            self
        } else {
            self.add(key, value)
        }
    }

    /// Adds `key=1` when `on`.
    pub fn flag(self, key: &str, on: bool) -> Query {
        if on {
            self.add(key, "1")
        } else {
            self
        }
    }
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Percent-encodes a query key or value: all but RFC 3986's unreserved
/// characters.
pub fn encode(s: &str) -> String {
    escape(s, b"-._~")
}

/// Escapes a name put into a path (`/images/{name}/json`) as Go's
/// `url.PathEscape`-like paths do: image references keep their `/`, `:` and
/// `@`, which the daemon's router matches unescaped, as dockerd's does.
pub fn path(s: &str) -> String {
    escape(s, b"-._~/:@")
}

fn escape(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A whole body.
pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

/// A body streamed from `reader` in chunks, so that an image archive is
/// never held in memory whole.
pub fn reader_body(mut reader: impl std::io::Read + Send + 'static) -> Body {
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(4);
    tokio::spawn(async move {
        loop {
            let (r, chunk) = match tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; 256 * 1024];
                let n = reader.read(&mut buf);
                (
                    reader,
                    n.map(|n| {
                        buf.truncate(n);
                        buf
                    }),
                )
            })
            .await
            {
                Ok(x) => x,
                Err(_) => return,
            };
            reader = r;
            match chunk {
                Ok(c) if c.is_empty() => return,
                Ok(c) => {
                    if tx.send_data(Bytes::from(c)).await.is_err() {
                        return;
                    }
                }
                // A read error ends the body short; the daemon rejects it.
                Err(_) => return,
            }
        }
    });
    body.boxed()
}

impl Client {
    /// A client of the daemon listening at `host` (`unix:///path`).
    pub fn new(host: &str) -> Result<Client> {
        let path = host
            .strip_prefix("unix://")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| anyhow!("unsupported host {host:?}: use unix:///path"))?;
        Ok(Client {
            socket: PathBuf::from(path),
        })
    }

    /// Sends a request and returns the response with its body unread; an
    /// error status becomes an [`ApiError`] with the daemon's message. A
    /// daemon that cannot be reached gets Docker's wording.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body,
        content_type: &str,
    ) -> Result<Response<Incoming>> {
        let resp = self
            .send_raw(method, path, body, content_type, false)
            .await?;
        check(resp).await
    }

    /// [`Client::send`] with Docker's registry credentials header
    /// (`X-Registry-Auth`), as the docker CLI sends it on pull and push.
    pub async fn send_with_auth(
        &self,
        method: Method,
        path: &str,
        registry_auth: &str,
    ) -> Result<Response<Incoming>> {
        let resp = self
            .send_headers(
                method,
                path,
                full(Bytes::new()),
                "text/plain",
                false,
                &[("X-Registry-Auth", registry_auth)],
            )
            .await?;
        check(resp).await
    }

    async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: Body,
        content_type: &str,
        upgrade: bool,
    ) -> Result<Response<Incoming>> {
        self.send_headers(method, path, body, content_type, upgrade, &[])
            .await
    }

    async fn send_headers(
        &self,
        method: Method,
        path: &str,
        body: Body,
        content_type: &str,
        upgrade: bool,
        headers: &[(&str, &str)],
    ) -> Result<Response<Incoming>> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|e| {
            Unreachable(format!(
                "Cannot connect to the berth daemon at unix://{}. Is the berth daemon running? ({e})",
                self.socket.display()
            ))
        })?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn.with_upgrades());
        let mut req = Request::builder()
            .method(method)
            .uri(format!("/v{API_VERSION}{path}"))
            .header("Host", "berth")
            .header("Content-Type", content_type);
        if upgrade {
            req = req.header("Connection", "Upgrade").header("Upgrade", "tcp");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        sender
            .send_request(req.body(body)?)
            .await
            .context("request to berthd")
    }

    /// Sends a request without a body; returns the status and the whole
    /// body of the answer.
    pub async fn request(&self, method: Method, path: &str) -> Result<(StatusCode, Bytes)> {
        self.request_bytes(method, path, Bytes::new()).await
    }

    /// Sends `body` (a model of the API) as JSON; returns the status and
    /// the whole body of the answer.
    pub async fn request_json<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<(StatusCode, Bytes)> {
        let bytes = serde_json::to_vec(body).context("encode the request")?;
        self.request_bytes(method, path, Bytes::from(bytes)).await
    }

    async fn request_bytes(
        &self,
        method: Method,
        path: &str,
        bytes: Bytes,
    ) -> Result<(StatusCode, Bytes)> {
        let resp = self
            .send(method, path, full(bytes), "application/json")
            .await?;
        let status = resp.status();
        Ok((status, resp.into_body().collect().await?.to_bytes()))
    }

    /// GET and decode JSON as Go's `encoding/json` does (the models'
    /// rules: `null` is the zero value, keys match ignoring case).
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let (_, body) = self.request(Method::GET, path).await?;
        models::de::from_slice(&body).with_context(|| format!("decode the answer to {path}"))
    }

    /// POST without a body; returns the status (204, 304...).
    pub async fn post(&self, path: &str) -> Result<StatusCode> {
        Ok(self.request(Method::POST, path).await?.0)
    }

    /// `POST /containers/{id}/attach` or `/exec/{id}/start` (with its JSON
    /// body): expects `101 Switching Protocols` and returns the raw
    /// connection the streams go over.
    pub async fn attach<B: Serialize>(
        &self,
        path: &str,
        body: Option<&B>,
    ) -> Result<TokioIo<hyper::upgrade::Upgraded>> {
        let (body, ctype) = match body {
            Some(v) => (
                full(serde_json::to_vec(v).context("encode the request")?),
                "application/json",
            ),
            None => (full(Bytes::new()), "text/plain"),
        };
        let resp = self.send_raw(Method::POST, path, body, ctype, true).await?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            check(resp).await?;
            return Err(anyhow!("attach: the daemon did not switch protocols"));
        }
        let io = hyper::upgrade::on(resp).await.context("attach upgrade")?;
        Ok(TokioIo::new(io))
    }
}

/// An error status becomes an [`ApiError`] with the message of Docker's body.
async fn check(resp: Response<Incoming>) -> Result<Response<Incoming>> {
    let status = resp.status();
    if status.is_success() || status.is_informational() || status == StatusCode::NOT_MODIFIED {
        return Ok(resp);
    }
    let body = resp.into_body().collect().await?.to_bytes();
    let message = models::de::from_slice::<models::system::ErrorResponse>(&body)
        .ok()
        .map(|e| e.message)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
    Err(ApiError { status, message }.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded() {
        let q = Query::new()
            .add("filters", r#"{"name":["a b"]}"#)
            .opt("empty", "")
            .flag("all", true)
            .flag("size", false)
            .add("repo", "me/app");
        assert_eq!(
            q.to_string(),
            "?filters=%7B%22name%22%3A%5B%22a%20b%22%5D%7D&all=1&repo=me%2Fapp"
        );
        assert_eq!(Query::new().to_string(), "");
        assert_eq!(path("me/app:v1"), "me/app:v1");
        assert_eq!(path("a b?#"), "a%20b%3F%23");
    }
}
