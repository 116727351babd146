//! berth's streaming server: `Exec`, `Attach` and `PortForward` answer with
//! a one-time URL on it (`http://127.0.0.1:PORT/exec/<token>`), as the
//! kubelet's streaming server does for containerd and CRI-O. The client
//! (the kubelet's proxy, crictl, critest) connects and upgrades the HTTP
//! connection to SPDY/3.1 with the protocol it speaks in
//! `X-Stream-Protocol-Version`: `v4.channel.k8s.io` (down to
//! `v2.channel.k8s.io`) for exec and attach (streams `error`, `stdin`,
//! `stdout`, `stderr`, `resize`), `portforward.k8s.io` for port forwarding
//! (a `data` and an `error` stream per connection, named by `port` and
//! `requestID`). Or it upgrades to WebSocket ([`ws`]) with a subprotocol in
//! `Sec-WebSocket-Protocol`: `v5.channel.k8s.io`, `v4.channel.k8s.io`
//! (and the older `channel.k8s.io`, and `base64.` variants) for exec and
//! attach; for port forwarding `SPDY/3.1+portforward.k8s.io` (a SPDY
//! session tunnelled in binary messages, as client-go's newer
//! port-forward does) or `v4.channel.k8s.io` (a data and an error channel
//! per port of the request, as the kubelet's).

pub mod portforward;
pub mod remotecommand;
pub mod spdy;
pub mod ws;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};

use crate::api;
use crate::error::{CriError, Kind, Result};
use crate::records::Live;
use crate::Cri;

/// A URL not used within this long expires (the kubelet's default).
pub const TOKEN_TTL: Duration = Duration::from_secs(60);
/// Requests waiting to be used, at most (older ones are dropped).
const MAX_PENDING: usize = 1024;

/// What a token stands for.
#[derive(Debug, Clone)]
pub enum Pending {
    /// An exec.
    Exec(api::ExecRequest),
    /// An attach.
    Attach(api::AttachRequest),
    /// A port forward to a pod.
    PortForward(api::PortForwardRequest),
}

/// The requests handed out as URLs, by token.
#[derive(Debug, Default)]
pub struct Sessions {
    pending: Mutex<HashMap<String, (Instant, Pending)>>,
}

impl Sessions {
    fn put(&self, p: Pending) -> String {
        let token: String = crate::random_id().chars().take(32).collect();
        let mut m = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        m.retain(|_, (t, _)| now.duration_since(*t) < TOKEN_TTL);
        if m.len() >= MAX_PENDING {
            if let Some(oldest) = m
                .iter()
                .min_by_key(|(_, (t, _))| *t)
                .map(|(k, _)| k.clone())
            {
                m.remove(&oldest);
            }
        }
        m.insert(token.clone(), (now, p));
        token
    }

    /// Takes the request of `token` (once).
    fn take(&self, token: &str) -> Option<Pending> {
        let mut m = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let (t, p) = m.remove(token)?;
        (t.elapsed() < TOKEN_TTL).then_some(p)
    }
}

impl Cri {
    fn running_container(&self, id: &str) -> Result<String> {
        let c = self.container(id)?;
        if !matches!(self.container_live(&c), Live::Running(_)) {
            return Err(CriError::new(
                Kind::State,
                format!("container {} is not running", c.id),
            ));
        }
        Ok(c.id)
    }

    /// `Exec`: a URL for the request.
    pub fn stream_exec(&self, mut req: api::ExecRequest) -> Result<String> {
        if req.cmd.is_empty() {
            return Err(CriError::invalid("exec needs a command"));
        }
        if !(req.stdin || req.stdout || req.stderr) {
            return Err(CriError::invalid(
                "one of stdin, stdout, or stderr must be set",
            ));
        }
        if req.tty && req.stderr {
            // A terminal has one output, as the kubelet rules.
            req.stderr = false;
        }
        req.container_id = self.running_container(&req.container_id)?;
        let token = self.streams.put(Pending::Exec(req));
        Ok(format!("{}/exec/{token}", self.stream_base()))
    }

    /// `Attach`: a URL for the request.
    pub fn stream_attach(&self, mut req: api::AttachRequest) -> Result<String> {
        if !(req.stdin || req.stdout || req.stderr) {
            return Err(CriError::invalid(
                "one of stdin, stdout, or stderr must be set",
            ));
        }
        if req.tty && req.stderr {
            req.stderr = false;
        }
        req.container_id = self.running_container(&req.container_id)?;
        let token = self.streams.put(Pending::Attach(req));
        Ok(format!("{}/attach/{token}", self.stream_base()))
    }

    /// `PortForward`: a URL for the request.
    pub fn stream_port_forward(&self, mut req: api::PortForwardRequest) -> Result<String> {
        let s = self.sandbox(&req.pod_sandbox_id)?;
        if !self.sandbox_ready(&s) {
            return Err(CriError::new(
                Kind::State,
                format!("pod sandbox {} is not ready", s.id),
            ));
        }
        req.pod_sandbox_id = s.id;
        let token = self.streams.put(Pending::PortForward(req));
        Ok(format!("{}/portforward/{token}", self.stream_base()))
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

fn plain(status: StatusCode, msg: &str) -> Response<Body> {
    use http_body_util::BodyExt;
    let mut r = Response::new(Full::new(Bytes::from(format!("{msg}\n"))).boxed());
    *r.status_mut() = status;
    r
}

/// The protocol of the client's list that we speak, in the client's order
/// of preference.
fn negotiate<'a>(req: &Request<hyper::body::Incoming>, ours: &[&'a str]) -> Option<&'a str> {
    let theirs: Vec<String> = req
        .headers()
        .get_all("x-stream-protocol-version")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .collect();
    theirs
        .iter()
        .find_map(|t| ours.iter().find(|o| **o == t.as_str()).copied())
}

/// Serves the streaming server on `listener`.
pub async fn serve(cri: Arc<Cri>, listener: tokio::net::TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let cri = cri.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let cri = cri.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(cri, req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .with_upgrades()
                .await
            {
                tracing::debug!("serve a streaming connection: {e}");
            }
        });
    }
}

async fn handle(cri: Arc<Cri>, mut req: Request<hyper::body::Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (kind, token) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let upgrade = req
        .headers()
        .get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if upgrade == "websocket" {
        return websocket::handle(cri, req, kind, token);
    }
    if upgrade != "spdy/3.1" {
        return plain(
            StatusCode::BAD_REQUEST,
            "this streaming server speaks SPDY/3.1 (Upgrade: SPDY/3.1) and WebSocket",
        );
    }
    let Some(pending) = cri.streams.take(token) else {
        return plain(StatusCode::NOT_FOUND, "unknown or expired streaming token");
    };
    let ours: &[&str] = match (&pending, kind) {
        (Pending::Exec(_), "exec") | (Pending::Attach(_), "attach") => &remotecommand::PROTOCOLS,
        (Pending::PortForward(_), "portforward") => &[portforward::PROTOCOL],
        _ => return plain(StatusCode::NOT_FOUND, "unknown streaming request"),
    };
    let Some(protocol) = negotiate(&req, ours) else {
        return plain(
            StatusCode::FORBIDDEN,
            &format!("none of the client's stream protocols is supported: {ours:?}"),
        );
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let conn = spdy::Conn::start(hyper_util::rt::TokioIo::new(upgraded));
        match pending {
            Pending::Exec(r) => remotecommand::exec(cri, conn, r, protocol).await,
            Pending::Attach(r) => remotecommand::attach(cri, conn, r, protocol).await,
            Pending::PortForward(r) => portforward::run(cri, conn, r).await,
        }
    });
    switching("SPDY/3.1", |h| {
        if let Ok(v) = protocol.parse() {
            h.insert("X-Stream-Protocol-Version", v);
        }
    })
}

/// A `101 Switching Protocols` to `to`, with more headers from `more`.
fn switching(to: &str, more: impl FnOnce(&mut hyper::HeaderMap)) -> Response<Body> {
    use http_body_util::BodyExt;
    let mut r = Response::new(Full::new(Bytes::new()).boxed());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONNECTION,
        "Upgrade".parse().expect("header"),
    );
    if let Ok(v) = to.parse() {
        h.insert(hyper::header::UPGRADE, v);
    }
    more(h);
    r
}

mod websocket;
