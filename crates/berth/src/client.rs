//! A client of berthd's API: HTTP/1.1 over the unix socket, JSON in and out,
//! Docker's error body turned into an error with the daemon's message.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

/// The API version the client speaks.
pub const API_VERSION: &str = "1.47";

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

    /// Sends a request; returns the status and body. A daemon that cannot be
    /// reached gets Docker's wording.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(StatusCode, Bytes)> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|e| {
            anyhow!("Cannot connect to the berth daemon at unix://{}. Is the berth daemon running? ({e})", self.socket.display())
        })?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let bytes = body
            .map(|b| Bytes::from(serde_json::to_vec(&b).expect("json")))
            .unwrap_or_default();
        let req = Request::builder()
            .method(method)
            .uri(format!("/v{API_VERSION}{path}"))
            .header("Host", "berth")
            .header("Content-Type", "application/json")
            .body(Full::new(bytes))?;
        let resp = sender
            .send_request(req)
            .await
            .context("request to berthd")?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(String::from))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(ApiError { status, message }.into());
        }
        Ok((status, body))
    }

    /// GET and decode JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let (_, body) = self.request(Method::GET, path, None).await?;
        serde_json::from_slice(&body).with_context(|| format!("decode the answer to {path}"))
    }
}
