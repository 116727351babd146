//! `/containers/{id}/logs` and `/containers/{id}/attach` (hijacked or
//! over a websocket): output read from the shim's json-file log and its
//! attach stream; without a terminal it goes out in Docker's multiplexed
//! frames (8-byte header: stream, 0, 0, 0, size); input through the shim's
//! `stdin`, with the detach keys.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::channel::Channel;
use http_body_util::BodyExt;
use hyper::Response;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::containers::frame;
use super::query::Query;
use super::ws;
use super::{blocking, ApiError, Body};
use crate::daemon::phases::Phase;
use crate::Daemon;

/// How often waiting and following poll the shim's files.
const POLL: Duration = Duration::from_millis(10);
/// How long a hijacked attach holds output that is there at once (the
/// log's replay) after its 101, so that the head travels alone.
const HEAD_ALONE: Duration = Duration::from_millis(20);

fn tty(c: &engine::container::ContainerRecord) -> bool {
    c.config.config.tty
}

/// What `logs` and `attach` read from the log.
#[derive(Clone, Default)]
struct LogOptions {
    stdout: bool,
    stderr: bool,
    /// Keep going until the container exits (or is removed).
    follow: bool,
    /// Only lines after / before these times (seconds since the epoch).
    since: Option<f64>,
    until: Option<f64>,
    /// The last N lines of what is already there.
    tail: Option<usize>,
    /// Prefix each line with its RFC 3339 time.
    timestamps: bool,
}

impl LogOptions {
    fn from_query(q: &Query) -> Result<LogOptions, ApiError> {
        let time = |k: &str| -> Result<Option<f64>, ApiError> {
            match q.get(k) {
                "" | "0" => Ok(None),
                t => t
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| ApiError::bad_request(format!("invalid value for {k}: {t:?}"))),
            }
        };
        let tail = match q.get("tail") {
            "" | "all" => None,
            t => Some(
                t.parse::<usize>()
                    .map_err(|_| ApiError::bad_request(format!("invalid value for tail: {t:?}")))?,
            ),
        };
        let o = LogOptions {
            stdout: q.flag("stdout"),
            stderr: q.flag("stderr"),
            follow: q.flag("follow"),
            since: time("since")?,
            until: time("until")?,
            tail,
            timestamps: q.flag("timestamps"),
        };
        if !o.stdout && !o.stderr {
            return Err(ApiError::bad_request(
                "Bad parameters: you must choose at least one stream",
            ));
        }
        Ok(o)
    }

    fn keep(&self, l: &engine::container::LogLine) -> bool {
        let t = || engine::time::unix_seconds_f64(&l.time);
        (if l.stream == 2 {
            self.stderr
        } else {
            self.stdout
        }) && self.since.is_none_or(|s| t() >= s)
            && self.until.is_none_or(|u| t() <= u)
    }
}

/// Streams a container's output into `send` from the start of its log
/// (or its end), once or until it has exited and everything was sent.
async fn pump(
    d: Arc<Daemon>,
    c: engine::container::ContainerRecord,
    o: LogOptions,
    mut send: impl FnMut(Vec<u8>) -> bool,
) {
    let raw = tty(&c);
    let mut phase = d.phases.subscribe(&c.id);
    let encode = |l: &engine::container::LogLine| {
        let mut data = Vec::with_capacity(l.data.len() + 32);
        if o.timestamps {
            data.extend_from_slice(l.time.as_bytes());
            data.push(b' ');
        }
        data.extend_from_slice(&l.data);
        if raw {
            data
        } else {
            frame(l.stream, &data)
        }
    };
    // (lines, next offset, the exit's time if exited, removed)
    let read = |offset: u64| {
        let (e, c2) = (d.engine.clone(), c.clone());
        tokio::task::spawn_blocking(move || {
            let finished = match e.state(&c2) {
                engine::container::State::Exited(_, at) => Some(at),
                _ => None,
            };
            let removed = e.find_container(&c2.id).is_err();
            let (l, n) = e.container_log(&c2, offset);
            (l, n, finished, removed)
        })
    };
    let Ok((first, mut offset, before, removed)) = read(0).await else {
        return;
    };
    let ended = |finished: &Option<String>, removed: bool| removed || finished.is_some();
    let mut exited = ended(&before, removed);
    let lines: Vec<_> = first.into_iter().filter(|l| o.keep(l)).collect();
    let skip = o.tail.map_or(0, |n| lines.len().saturating_sub(n));
    for l in &lines[skip..] {
        if !send(encode(l)) {
            return;
        }
    }
    while o.follow && !exited {
        // The next poll, or at once when the monitor publishes the exit.
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            r = phase.changed() => if r.is_err() { tokio::time::sleep(POLL).await },
        }
        let Ok((lines, next, finished, removed)) = read(offset).await else {
            return;
        };
        offset = next;
        exited = ended(&finished, removed);
        for l in lines.iter().filter(|l| o.keep(l)) {
            if !send(encode(l)) {
                return;
            }
        }
    }
    if o.follow {
        // The shim writes the last lines before it records the exit.
        if let Ok((lines, ..)) = read(offset).await {
            for l in lines.iter().filter(|l| o.keep(l)) {
                // The client hung up: the rest has no one to go to.
                let _ = send(encode(l));
            }
        }
    }
}

/// `GET /containers/{id}/logs?stdout=&stderr=&follow=&since=&until=&timestamps=&tail=`.
pub async fn logs(d: &Arc<Daemon>, name: String, q: &Query) -> Result<Response<Body>, ApiError> {
    let e = d.engine.clone();
    let c = blocking(move || e.find_container(&name)).await?;
    engine::Engine::check_log_readable(&c)?;
    let o = LogOptions::from_query(q)?;
    let (mut tx, body) = Channel::<Bytes, std::io::Error>::new(64);
    let ctype = if tty(&c) {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let d = d.clone();
    tokio::spawn(async move {
        let (btx, mut brx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        let pumping = tokio::spawn(pump(d, c, o, move |b| btx.send(b).is_ok()));
        while let Some(b) = brx.recv().await {
            if tx.send_data(Bytes::from(b)).await.is_err() {
                break;
            }
        }
        // The pump's end is the stream's: its own errors were the client's going away.
        let _ = pumping.await;
    });
    let mut r = Response::new(body.boxed());
    r.headers_mut().insert(
        "Content-Type",
        hyper::header::HeaderValue::from_static(ctype),
    );
    Ok(r)
}

/// How an attach's streams travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// The hijacked HTTP connection: raw for a TTY, else Docker's frames.
    Hijacked,
    /// A websocket (`/attach/ws`): never multiplexed, one frame per write,
    /// binary frames from API 1.28 (text before), as dockerd's.
    WebSocket {
        /// Binary rather than text frames.
        binary: bool,
    },
}

pub async fn attach(
    d: &Arc<Daemon>,
    name: String,
    q: &Query,
    upgrade: hyper::upgrade::OnUpgrade,
    wire: Wire,
    answer: impl FnOnce(bool) -> Response<Body>,
) -> Result<Response<Body>, ApiError> {
    let keys = match q.get("detachKeys") {
        "" => crate::detach::DEFAULT.to_vec(),
        k => crate::detach::parse(k).map_err(ApiError::bad_request)?,
    };
    let e = d.engine.clone();
    let c = blocking(move || e.find_container(&name)).await?;
    // attach replays the log with `logs`, then streams what the container
    // writes from now on with `stream` (from its shim, not the log).
    let replay = LogOptions {
        stdout: q.flag("stdout"),
        stderr: q.flag("stderr"),
        ..Default::default()
    };
    let (replay_wanted, live) = (q.flag("logs"), q.flag("stream"));
    if replay_wanted {
        engine::Engine::check_log_readable(&c)?;
    }
    let d = d.clone();
    let raw = tty(&c);
    // Counted from now: an --rm container waits for this stream to drain,
    // and a start that comes next waits for it to join the shim.
    let attached = d.phases.attach(&c.id);
    let waiting = live.then(|| d.phases.wait_for_shim(&c.id));
    d.events.container(&c, "attach", &[]);
    let want_stdin = q.flag("stdin") && c.config.config.open_stdin;
    // The client's EOF closes the container's stdin when it asked for that
    // (`docker run -i`); a pty is never closed by a client.
    let close_at_eof = c.config.config.stdin_once && !raw;
    let session = AttachSession {
        d,
        c,
        wire,
        raw,
        keys,
        want_stdin,
        close_at_eof,
        replay,
        replay_wanted,
        waiting,
    };
    tokio::spawn(async move {
        let _attached = attached;
        let Ok(upgraded) = upgrade.await else { return };
        session.run(upgraded).await;
    });
    Ok(answer(raw))
}

/// What an attach's connection does once it is upgraded, as the request
/// asked it.
struct AttachSession {
    d: Arc<Daemon>,
    c: engine::container::ContainerRecord,
    wire: Wire,
    /// A TTY's raw stream (no Docker frames).
    raw: bool,
    /// The detach keys.
    keys: Vec<u8>,
    /// The client's input goes to the container's stdin.
    want_stdin: bool,
    /// The client's EOF closes the container's stdin.
    close_at_eof: bool,
    /// Which streams the log's replay takes.
    replay: LogOptions,
    /// `logs`: the log is replayed first.
    replay_wanted: bool,
    /// `stream`: the live stream, once the shim takes it.
    waiting: Option<crate::daemon::phases::Attached>,
}

/// The client's input, as bytes.
type ClientInput = Box<dyn tokio::io::AsyncRead + Send + Unpin>;

impl AttachSession {
    /// Input in, output out, until the container's output ends, the
    /// client goes or detaches.
    async fn run(self, upgraded: hyper::upgrade::Upgraded) {
        let (rd, wr) = tokio::io::split(TokioIo::new(upgraded));
        let (input, control) = wire_input(rd, self.wire);
        // Input goes in once the output stream has joined the shim, so that
        // what the input makes the container write reaches this client.
        let (joined_tx, joined) = tokio::sync::oneshot::channel::<()>();
        let detached = self.spawn_input(input, joined);
        let (btx, brx) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
        let (wire, raw) = (self.wire, self.raw);
        let producing = tokio::spawn(self.produce(btx, joined_tx));
        let wr = relay(wr, brx, control, detached, wire, raw).await;
        producing.abort();
        close(wr, wire).await;
    }

    /// Copies the client's input to the container's stdin (watching for
    /// the detach keys), or drains it; the receiver hears of a detach.
    fn spawn_input(
        &self,
        input: ClientInput,
        joined: tokio::sync::oneshot::Receiver<()>,
    ) -> tokio::sync::oneshot::Receiver<()> {
        let (detached_tx, detached) = tokio::sync::oneshot::channel::<()>();
        if self.want_stdin {
            let (d, id) = (self.d.clone(), self.c.id.clone());
            let keys = self.keys.clone();
            let (raw, close_at_eof) = (self.raw, self.close_at_eof);
            tokio::spawn(async move {
                // As Docker: the keys detach from a terminal only; other
                // input is data, copied as it is.
                let watch = crate::detach::Watch::new(if raw { keys } else { Vec::new() });
                // A dropped sender (no live stream, or it ended) lets it go.
                let _ = joined.await;
                if feed_stdin(d, id, input, watch, close_at_eof).await == Input::Detached {
                    // The attach may be over already: no one waits for the detach.
                    let _ = detached_tx.send(());
                }
            });
        } else {
            // Nothing to read; keep the half open until the stream ends.
            tokio::spawn(async move {
                let mut input = input;
                let mut sink = [0u8; 512];
                while matches!(input.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
        detached
    }

    /// The output, into `btx`: the log's replay (with `logs`), then the
    /// live stream from the shim (with `stream`); `joined_tx` says when
    /// the live stream has joined.
    async fn produce(
        self,
        btx: tokio::sync::mpsc::Sender<Vec<u8>>,
        joined_tx: tokio::sync::oneshot::Sender<()>,
    ) {
        let AttachSession {
            d,
            c,
            wire,
            replay,
            replay_wanted,
            waiting,
            ..
        } = self;
        if replay_wanted && wire == Wire::Hijacked {
            // The log is there at once: given a moment, the client has
            // read the 101's head before it comes. A client that reads
            // the head through a buffer and then takes the bare socket
            // (docker-py's attach(stream=False, logs=True)) lost the
            // bytes that came with the head.
            tokio::time::sleep(HEAD_ALONE).await;
        }
        if replay_wanted {
            // The log as it is (not followed), then the live stream.
            let (utx, mut urx) = tokio::sync::mpsc::unbounded_channel();
            pump(d.clone(), c.clone(), replay.clone(), move |b| {
                utx.send(b).is_ok()
            })
            .await;
            while let Ok(b) = urx.try_recv() {
                if btx.send(b).await.is_err() {
                    return;
                }
            }
        }
        if let Some(waiting) = waiting {
            follow_shim(&d, &c, &replay, waiting, &btx, joined_tx).await;
        }
    }
}

/// The client's input as bytes: the hijacked connection itself, or a
/// websocket's frames decoded into a pipe, its pings and close coming
/// back on the receiver.
fn wire_input(
    rd: impl tokio::io::AsyncRead + Send + Unpin + 'static,
    wire: Wire,
) -> (
    ClientInput,
    Option<tokio::sync::mpsc::Receiver<ws::Message>>,
) {
    match wire {
        Wire::Hijacked => (Box::new(rd), None),
        Wire::WebSocket { .. } => {
            let (pipe_in, pipe_out) = tokio::io::duplex(64 * 1024);
            let (ctl_tx, ctl_rx) = tokio::sync::mpsc::channel(8);
            tokio::spawn(websocket_input(rd, pipe_in, ctl_tx));
            (Box::new(pipe_out), Some(ctl_rx))
        }
    }
}

/// Writes the output to the client (as websocket frames on a websocket,
/// answering its pings) until it ends, the client closes, or `detached`
/// fires. Returns the writer.
async fn relay<W: tokio::io::AsyncWrite + Unpin>(
    mut wr: W,
    mut brx: tokio::sync::mpsc::Receiver<Vec<u8>>,
    mut control: Option<tokio::sync::mpsc::Receiver<ws::Message>>,
    detached: tokio::sync::oneshot::Receiver<()>,
    wire: Wire,
    raw: bool,
) -> W {
    // Only a detach ends the output early; a dropped sender never does.
    let detached = async {
        if detached.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(detached);
    loop {
        tokio::select! {
            b = brx.recv() => {
                let Some(b) = b else { break };
                let b = match wire {
                    Wire::Hijacked => b,
                    // Each chunk is one write of the container (one
                    // Docker frame, whose header goes, unless a TTY's).
                    Wire::WebSocket { binary } => {
                        let data = if raw { &b[..] } else { &b[b.len().min(8)..] };
                        ws::frame(if binary { ws::BINARY } else { ws::TEXT }, data)
                    }
                };
                if wr.write_all(&b).await.is_err() {
                    break;
                }
                // The stream's peer may be gone: nothing is owed to it.
                let _ = wr.flush().await;
            }
            m = async { control.as_mut().unwrap().recv().await }, if control.is_some() => match m {
                Some(ws::Message::Ping(p)) => {
                    if wr.write_all(&ws::frame(ws::PONG, &p)).await.is_err() {
                        break;
                    }
                }
                // The client closed (or broke the protocol): the attach ends.
                _ => break,
            },
            _ = &mut detached => break,
        }
    }
    wr
}

/// Ends the connection (a websocket's with its normal closure).
async fn close(mut wr: impl tokio::io::AsyncWrite + Unpin, wire: Wire) {
    if matches!(wire, Wire::WebSocket { .. }) {
        // Normal closure (1000).
        // The stream's peer may be gone: the closing frame is a courtesy.
        let _ = wr
            .write_all(&ws::frame(ws::CLOSE, &1000u16.to_be_bytes()))
            .await;
    }
    let _ = wr.shutdown().await;
}

/// Decodes a websocket client's messages: data into `pipe` (the attach's
/// input), pings and the end to `control`. The pipe closes with the
/// websocket, which the input sees as the client's EOF.
async fn websocket_input(
    mut rd: impl tokio::io::AsyncRead + Unpin,
    mut pipe: tokio::io::DuplexStream,
    control: tokio::sync::mpsc::Sender<ws::Message>,
) {
    let mut partial = Vec::new();
    loop {
        match ws::read_message(&mut rd, &mut partial).await {
            Ok(ws::Message::Data(b)) => {
                if pipe.write_all(&b).await.is_err() {
                    // Nobody reads the input: keep answering pings.
                    continue;
                }
            }
            Ok(ws::Message::Ping(p)) => {
                // The socket may be gone: the reader below ends with it.
                let _ = control.send(ws::Message::Ping(p)).await;
            }
            Ok(ws::Message::Close) | Err(_) => {
                let _ = control.send(ws::Message::Close).await;
                return;
            }
        }
    }
}

/// Streams what the container writes from now on, read from its shim
/// (`attach` on the control socket): this run's if it runs, else the next
/// run's, joined before it starts (`waiting` counts this stream until then).
/// Ends when the container has exited (the shim closes), was removed, or
/// the client went. `joined` is told once the shim has taken this stream
/// (the client's input waits for it).
async fn follow_shim(
    d: &Arc<Daemon>,
    c: &engine::container::ContainerRecord,
    o: &LogOptions,
    waiting: crate::daemon::phases::Attached,
    out: &tokio::sync::mpsc::Sender<Vec<u8>>,
    joined: tokio::sync::oneshot::Sender<()>,
) {
    let dir = d.engine.container_dir(&c.id);
    let mut phase = d.phases.subscribe(&c.id);
    phase.borrow_and_update();
    let since = std::time::Instant::now();
    let mut conn = loop {
        if let Ok(mut s) = crate::ctl::connect(&dir).await {
            if let Ok(shim_proto::Reply::Ok(_)) =
                crate::ctl::ask(&mut s, shim_proto::Command::Attach).await
            {
                break s;
            }
        }
        // A start is usually right behind the attach (`run`): look often
        // at first, then less.
        let pause = match since.elapsed().as_millis() {
            0..=300 => Duration::from_millis(1),
            301..=5000 => POLL,
            _ => Duration::from_millis(100),
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            r = phase.changed() => {
                let gone = r.is_err()
                    || matches!(*phase.borrow_and_update(), Phase::Exited(_) | Phase::Removed(_));
                if gone {
                    return;
                }
            }
        }
        if out.is_closed() {
            return;
        }
    };
    drop(waiting);
    // The waiter may be gone: it no longer needs to hear.
    let _ = joined.send(());
    let raw = tty(c);
    let mut head = [0u8; shim_proto::Frame::HEAD];
    let mut data = Vec::new();
    while conn.read_exact(&mut head).await.is_ok() {
        let head = shim_proto::Frame::decode(head);
        let len = head.len as usize;
        // The shim reads at most 64 KiB at a time.
        if len > 1 << 20 {
            return;
        }
        data.resize(len, 0);
        if conn.read_exact(&mut data).await.is_err() {
            return;
        }
        let stderr = head.stream == shim_proto::Stream::Stderr as u8;
        let wanted = if stderr { o.stderr } else { o.stdout };
        if !wanted {
            continue;
        }
        let b = if raw {
            data.clone()
        } else {
            frame(head.stream, &data)
        };
        if out.send(b).await.is_err() {
            return;
        }
    }
}

/// How a client's input ended.
#[derive(Debug, PartialEq, Eq)]
enum Input {
    /// It closed its side (or the container went).
    Ended,
    /// It typed the detach keys.
    Detached,
}

/// Copies what the client sends into the container's stdin, through the
/// shim's control socket (the shim holds the pipe or the pty, so this works
/// across a daemon restart). The socket appears when the container starts,
/// which may be after the attach (`docker run -i`). The client's EOF ends
/// the copy and, with `close_at_eof`, closes the container's stdin; the
/// detach keys end it and leave stdin open.
async fn feed_stdin(
    d: Arc<Daemon>,
    id: String,
    mut rd: impl tokio::io::AsyncRead + Unpin,
    mut watch: crate::detach::Watch,
    close_at_eof: bool,
) -> Input {
    let dir = d.engine.container_dir(&id);
    let mut phase = d.phases.subscribe(&id);
    // What is published now may be an earlier run's exit (`start -ai` of
    // an exited container): only an exit from here on ends the wait.
    phase.borrow_and_update();
    let mut conn = loop {
        // A socket left by an earlier run refuses: wait for this run's shim.
        if let Ok(c) = crate::ctl::connect(&dir).await {
            break c;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            r = phase.changed() => {
                let gone = r.is_err()
                    || matches!(*phase.borrow_and_update(), Phase::Exited(_) | Phase::Removed(_));
                if gone {
                    return Input::Ended;
                }
            }
        }
    };
    if !matches!(
        crate::ctl::ask(&mut conn, shim_proto::Command::Stdin).await,
        Ok(shim_proto::Reply::Ok(_))
    ) {
        return Input::Ended;
    }
    let mut buf = vec![0u8; 32 * 1024];
    let how = loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break Input::Ended,
            Ok(n) => n,
        };
        let (data, how) = match watch.feed(&buf[..n]) {
            crate::detach::Seen::Send(b) => (b, None),
            crate::detach::Seen::Detach(b) => (b, Some(Input::Detached)),
        };
        if conn.write_all(&data).await.is_err() {
            return Input::Ended;
        }
        if let Some(how) = how {
            break how;
        }
    };
    // The shim says "done" when all of it is in the pipe.
    // The shim may be gone already: then its output is all in the pipe.
    let _ = conn.shutdown().await;
    let mut done = Vec::new();
    let _ = conn.read_to_end(&mut done).await;
    if how == Input::Ended && close_at_eof {
        if let Ok(mut c) = crate::ctl::connect(&dir).await {
            // The shim may be gone already: then its output is all in the pipe.
            let _ = c
                .write_all(shim_proto::Command::CloseStdin.line().as_bytes())
                .await;
            let _ = c.read_to_end(&mut done).await;
        }
    }
    how
}
