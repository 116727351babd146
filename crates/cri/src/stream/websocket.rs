//! The WebSocket upgrade of a streaming URL: the subprotocol is chosen in
//! the client's order of preference (none given: binary channels, as the
//! kubelet's `wsstream` takes it), the session runs over [`super::ws`].

use std::sync::Arc;

use hyper::{Request, Response, StatusCode};

use super::ws::{self, Channels, Framing};
use super::{plain, portforward, remotecommand, spdy, switching, Body, Pending};
use crate::{api, Cri};

/// Exec and attach subprotocols, ours; the SPDY protocol whose rules
/// (status format, resize) each follows.
const REMOTECOMMAND: [(&str, Framing, &str); 6] = [
    ("v5.channel.k8s.io", Framing::Binary, "v4.channel.k8s.io"),
    ("v4.channel.k8s.io", Framing::Binary, "v4.channel.k8s.io"),
    (
        "v4.base64.channel.k8s.io",
        Framing::Base64,
        "v4.channel.k8s.io",
    ),
    ("channel.k8s.io", Framing::Binary, "v3.channel.k8s.io"),
    (
        "base64.channel.k8s.io",
        Framing::Base64,
        "v3.channel.k8s.io",
    ),
    ("", Framing::Binary, "v3.channel.k8s.io"),
];
/// Port-forward subprotocols: the SPDY tunnel, or channels.
const TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";
const PORTFORWARD: [(&str, Framing); 3] = [
    ("v4.channel.k8s.io", Framing::Binary),
    ("v4.base64.channel.k8s.io", Framing::Base64),
    ("", Framing::Binary),
];

/// Channels of exec and attach.
const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;

/// The client's subprotocols, in its order (`[""]` when it names none).
fn offered(req: &Request<hyper::body::Incoming>) -> Vec<String> {
    let list: Vec<String> = req
        .headers()
        .get_all(hyper::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if list.is_empty() {
        vec![String::new()]
    } else {
        list
    }
}

fn headers(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// What runs once upgraded.
type Run = Box<dyn FnOnce(hyper::upgrade::Upgraded) -> Session + Send>;
/// A session over the upgraded connection.
type Session = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
/// The subprotocol answered and what runs once upgraded, or the refusal.
type Chosen = Result<(&'static str, Run), Refused>;

/// An upgrade refused: the status and the message answered ([`plain`]).
struct Refused(StatusCode, String);

impl Refused {
    /// A refusal answering `msg` with `status`.
    fn new(status: StatusCode, msg: &str) -> Refused {
        Refused(status, msg.to_string())
    }
}

/// Answers a WebSocket upgrade of `/KIND/TOKEN`.
pub fn handle(
    cri: Arc<Cri>,
    mut req: Request<hyper::body::Incoming>,
    kind: &str,
    token: &str,
) -> Response<Body> {
    let accept = match accept_key(&req) {
        Ok(accept) => accept,
        Err(Refused(status, msg)) => return plain(status, &msg),
    };
    let offered = offered(&req);
    let Some(pending) = cri.streams.take(token) else {
        return plain(StatusCode::NOT_FOUND, "unknown or expired streaming token");
    };
    let chosen = match (pending, kind) {
        (p @ (Pending::Exec(_) | Pending::Attach(_)), "exec" | "attach") => {
            remotecommand_session(cri, p, &offered)
        }
        (Pending::PortForward(r), "portforward") => portforward_session(cri, r, &offered),
        _ => return plain(StatusCode::NOT_FOUND, "unknown streaming request"),
    };
    let (chosen, run) = match chosen {
        Ok(chosen) => chosen,
        Err(Refused(status, msg)) => return plain(status, &msg),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(up) = on_upgrade.await {
            run(up).await;
        }
    });
    switching("websocket", |h| {
        if let Ok(v) = accept.parse() {
            h.insert(hyper::header::SEC_WEBSOCKET_ACCEPT, v);
        }
        if !chosen.is_empty() {
            if let Ok(v) = chosen.parse() {
                h.insert(hyper::header::SEC_WEBSOCKET_PROTOCOL, v);
            }
        }
    })
}

/// The `Sec-WebSocket-Accept` answering the request's key; a 400 when the
/// request is no version 13 handshake.
fn accept_key(req: &Request<hyper::body::Incoming>) -> Result<String, Refused> {
    let h = req.headers();
    if h.get(hyper::header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        != Some("13")
    {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "WebSocket version 13 only (Sec-WebSocket-Version: 13)",
        ));
    }
    let Some(key) = h
        .get(hyper::header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "no Sec-WebSocket-Key",
        ));
    };
    Ok(ws::accept_key(key))
}

/// An exec or attach (`p`) over the first of the client's subprotocols
/// that [`REMOTECOMMAND`] knows.
fn remotecommand_session(cri: Arc<Cri>, p: Pending, offered: &[String]) -> Chosen {
    let Some(&(name, framing, rules)) = offered
        .iter()
        .find_map(|o| REMOTECOMMAND.iter().find(|(n, ..)| *n == o.as_str()))
    else {
        return Err(refuse(&REMOTECOMMAND.map(|(n, ..)| n)));
    };
    let (stdin, stdout, stderr, tty) = match &p {
        Pending::Exec(r) => (r.stdin, r.stdout, r.stderr, r.tty),
        Pending::Attach(r) => (r.stdin, r.stdout, r.stderr, r.tty),
        Pending::PortForward(_) => unreachable!("matched above"),
    };
    let shape = remotecommand_channels(stdin, stdout, stderr, tty, name == "v5.channel.k8s.io");
    let run: Run = Box::new(move |up| {
        let conn = ws::channels(hyper_util::rt::TokioIo::new(up), framing, shape);
        Box::pin(async move {
            match p {
                Pending::Exec(r) => remotecommand::exec(cri, conn, r, rules).await,
                Pending::Attach(r) => remotecommand::attach(cri, conn, r, rules).await,
                Pending::PortForward(_) => {}
            }
        })
    });
    Ok((name, run))
}

/// The channels of an exec or attach: error always, stdin, stdout, stderr
/// and resize as asked.
fn remotecommand_channels(
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
    v5: bool,
) -> Channels {
    let stream = |t: &str| headers(&[("streamtype", t.to_string())]);
    let mut streams = vec![(ERROR, stream("error"), false)];
    for (on, ch, t) in [
        (stdin, STDIN, "stdin"),
        (stdout, STDOUT, "stdout"),
        (stderr, STDERR, "stderr"),
        (tty, RESIZE, "resize"),
    ] {
        if on {
            streams.push((ch, stream(t), ch == STDIN || ch == RESIZE));
        }
    }
    // An empty message on the first channel we write tells the
    // client the session is up (the kubelet's).
    let first = if stdout {
        STDOUT
    } else if stderr {
        STDERR
    } else {
        ERROR
    };
    Channels {
        streams,
        first: vec![(first, Vec::new())],
        close_after: Vec::new(),
        v5,
    }
}

/// A port forward (`r`): the SPDY tunnel when the client offers it, else
/// the first of its subprotocols that [`PORTFORWARD`] knows.
fn portforward_session(cri: Arc<Cri>, r: api::PortForwardRequest, offered: &[String]) -> Chosen {
    if offered.iter().any(|o| o == TUNNEL) {
        let run: Run = Box::new(move |up| {
            let io = ws::tunnel(hyper_util::rt::TokioIo::new(up));
            let conn = spdy::Conn::start(io);
            Box::pin(portforward::run(cri, conn, r))
        });
        return Ok((TUNNEL, run));
    }
    let Some(&(name, framing)) = offered
        .iter()
        .find_map(|o| PORTFORWARD.iter().find(|(n, _)| *n == o.as_str()))
    else {
        let mut ours = vec![TUNNEL];
        ours.extend(PORTFORWARD.map(|(n, _)| n));
        return Err(refuse(&ours));
    };
    if r.port.is_empty() || r.port.len() > 64 {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "port forwarding over WebSocket channels needs the request's ports (1 to 64)",
        ));
    }
    let shape = portforward_channels(&r.port);
    let run: Run = Box::new(move |up| {
        let conn = ws::channels(hyper_util::rt::TokioIo::new(up), framing, shape);
        Box::pin(portforward::run(cri, conn, r))
    });
    Ok((name, run))
}

/// The channels of a port forward: for the `i`th port, an error channel
/// `2i + 1` and a data channel `2i`, each opened with the port number.
fn portforward_channels(ports: &[i32]) -> Channels {
    let mut shape = Channels::default();
    for (i, port) in ports.iter().enumerate() {
        let (data, error) = ((2 * i) as u8, (2 * i + 1) as u8);
        let port = u16::try_from(*port).unwrap_or(0);
        for (ch, t, readable) in [(error, "error", false), (data, "data", true)] {
            shape.streams.push((
                ch,
                headers(&[
                    ("streamtype", t.to_string()),
                    ("requestid", i.to_string()),
                    ("port", port.to_string()),
                ]),
                readable,
            ));
            shape.first.push((ch, port.to_le_bytes().to_vec()));
        }
        shape.close_after.push(error);
    }
    shape
}

/// None of the client's subprotocols is one of `ours`.
fn refuse(ours: &[&str]) -> Refused {
    Refused(
        StatusCode::FORBIDDEN,
        format!("none of the client's WebSocket subprotocols is supported: {ours:?}"),
    )
}
