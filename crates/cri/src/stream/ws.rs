//! WebSocket (RFC 6455, server side) for the streaming server, as the
//! kubelet's `wsstream` speaks it, in two ways:
//!
//! - channels ([`channels`]): each binary message is one byte of channel
//!   then data (`base64.` protocols: a text message, the channel as an
//!   ASCII digit, the data in base64). Exec and attach use channels 0
//!   stdin, 1 stdout, 2 stderr, 3 error, 4 resize; `v5.channel.k8s.io`
//!   adds the message `[255, c]` by which the client closes channel `c`
//!   (its stdin's end). Port forwarding uses channels `2i` (data) and
//!   `2i+1` (error) for the request's `i`th port, each opened by the server
//!   with the port in two little-endian bytes;
//! - a tunnel ([`tunnel`], `SPDY/3.1+portforward.k8s.io`): binary messages
//!   carry a SPDY/3.1 session as bytes, as client-go's port-forward over
//!   WebSocket sends it.
//!
//! Both are turned into a [`Conn`] as the SPDY session gives one (streams
//! named by `streamtype`, data written through `out`), so the exec, attach
//! and port-forward code serves either transport.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::spdy::{Conn, Out, Stream};

/// A message (all its fragments) longer than this ends the connection.
pub const MAX_MESSAGE: usize = 1 << 20;
/// The client's end of a channel, in `v5.channel.k8s.io`.
const CLOSE_CHANNEL: u8 = 255;
/// Data buffered per channel, in messages.
const CHANNEL_BUFFER: usize = 64;

const OP_CONT: u8 = 0;
const OP_TEXT: u8 = 1;
const OP_BINARY: u8 = 2;
const OP_CLOSE: u8 = 8;
const OP_PING: u8 = 9;
const OP_PONG: u8 = 10;

/// `Sec-WebSocket-Accept` for the client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// One unmasked frame (the server's), final.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 10);
    f.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => f.push(n as u8),
        n if n <= 0xffff => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

/// A whole message from the peer.
#[derive(Debug, PartialEq)]
pub enum Message {
    /// A text message's bytes.
    Text(Vec<u8>),
    /// A binary message.
    Binary(Vec<u8>),
    /// The peer closes.
    Close,
}

/// Reads messages, answering pings through `ctl`.
pub struct Reader<R> {
    r: R,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// Over `r`.
    pub fn new(r: R) -> Reader<R> {
        Reader { r }
    }

    /// The next message; `None` at EOF. Protocol errors are errors.
    pub async fn next(&mut self, ctl: &mpsc::Sender<Vec<u8>>) -> std::io::Result<Option<Message>> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
        let mut msg: Option<(u8, Vec<u8>)> = None;
        loop {
            let mut head = [0u8; 2];
            match self.r.read_exact(&mut head).await {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && msg.is_none() => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
            let (fin, op) = (head[0] & 0x80 != 0, head[0] & 0x0f);
            if head[0] & 0x70 != 0 {
                return Err(bad("reserved bits set"));
            }
            let len = match head[1] & 0x7f {
                126 => u64::from(self.r.read_u16().await?),
                127 => self.r.read_u64().await?,
                n => u64::from(n),
            };
            if op >= 8 && (len > 125 || !fin) {
                return Err(bad("bad control frame"));
            }
            let have = msg.as_ref().map(|(_, d)| d.len()).unwrap_or(0) as u64;
            if len + have > MAX_MESSAGE as u64 {
                return Err(bad("message too long"));
            }
            let mut mask = [0u8; 4];
            if head[1] & 0x80 != 0 {
                self.r.read_exact(&mut mask).await?;
            }
            let mut data = vec![0u8; len as usize];
            self.r.read_exact(&mut data).await?;
            for (i, b) in data.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
            match op {
                OP_PING => {
                    // The peer may be gone: the reader ends with it.
                    let _ = ctl.send(frame(OP_PONG, &data)).await;
                }
                OP_PONG => {}
                OP_CLOSE => return Ok(Some(Message::Close)),
                OP_TEXT | OP_BINARY if msg.is_none() => msg = Some((op, data)),
                OP_CONT if msg.is_some() => {
                    if let Some((_, d)) = msg.as_mut() {
                        d.extend_from_slice(&data);
                    }
                }
                _ => return Err(bad("unexpected frame")),
            }
            if fin && op < 8 {
                if let Some((op, d)) = msg.take() {
                    return Ok(Some(if op == OP_TEXT {
                        Message::Text(d)
                    } else {
                        Message::Binary(d)
                    }));
                }
            }
        }
    }
}

/// Writes the frames sent on the returned sender, in order, until it is
/// dropped or a close frame went.
fn writer<W: AsyncWrite + Send + Unpin + 'static>(mut w: W) -> mpsc::Sender<Vec<u8>> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    tokio::spawn(async move {
        while let Some(f) = rx.recv().await {
            let close = f.first() == Some(&(0x80 | OP_CLOSE));
            if w.write_all(&f).await.is_err() || close {
                break;
            }
        }
        // The peer may be gone: nothing is owed to it.
        let _ = w.shutdown().await;
    });
    tx
}

/// A close frame with status 1000 (normal).
fn close_frame() -> Vec<u8> {
    frame(OP_CLOSE, &1000u16.to_be_bytes())
}

/// How channel messages are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Binary messages, a channel byte first.
    Binary,
    /// Text messages, the channel as an ASCII digit, the data in base64.
    Base64,
}

/// A stream's headers (name, value).
pub type Headers = Vec<(String, String)>;

/// A channel session's shape.
#[derive(Debug, Default)]
pub struct Channels {
    /// The streams handed out at once: channel, headers, and whether the
    /// client writes on it (the others' data is dropped).
    pub streams: Vec<(u8, Headers, bool)>,
    /// Messages written before anything else.
    pub first: Vec<(u8, Vec<u8>)>,
    /// When every one of these channels has been ended by the server, the
    /// connection closes (port forwarding); empty: only `Out::Close` does.
    pub close_after: Vec<u8>,
    /// Whether `[255, c]` from the client ends channel `c` (v5).
    pub v5: bool,
}

type Routes = std::sync::Arc<std::sync::Mutex<HashMap<u8, mpsc::Sender<Bytes>>>>;

fn routes_lock(r: &Routes) -> std::sync::MutexGuard<'_, HashMap<u8, mpsc::Sender<Bytes>>> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

fn encode(framing: Framing, ch: u8, data: &[u8]) -> Vec<u8> {
    match framing {
        Framing::Binary => {
            let mut m = Vec::with_capacity(data.len() + 1);
            m.push(ch);
            m.extend_from_slice(data);
            frame(OP_BINARY, &m)
        }
        Framing::Base64 => {
            let mut m = vec![b'0' + ch];
            m.extend(
                base64::engine::general_purpose::STANDARD
                    .encode(data)
                    .into_bytes(),
            );
            frame(OP_TEXT, &m)
        }
    }
}

fn decode(framing: Framing, msg: Message) -> Option<(u8, Vec<u8>)> {
    match (framing, msg) {
        (Framing::Binary, Message::Binary(d)) if !d.is_empty() => Some((d[0], d[1..].to_vec())),
        (Framing::Base64, Message::Text(d)) if !d.is_empty() => {
            let data = base64::engine::general_purpose::STANDARD
                .decode(&d[1..])
                .ok()?;
            Some((d[0].wrapping_sub(b'0'), data))
        }
        _ => None,
    }
}

/// Runs a channel session over `io` (after the upgrade). A channel the
/// server ends (`Out::Data` with `fin`) stops taking the client's data too
/// (the channel protocols have no half-close but v5's for the client).
pub fn channels<IO>(io: IO, framing: Framing, shape: Channels) -> Conn
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (r, w) = tokio::io::split(io);
    let frames = writer(w);
    let (out_tx, mut out_rx) = mpsc::channel::<Out>(64);
    let (streams_tx, streams_rx) = mpsc::channel::<Stream>(shape.streams.len().max(1));
    let routes: Routes = Default::default();
    for (ch, headers, readable) in shape.streams {
        let (tx, rx) = mpsc::channel(CHANNEL_BUFFER);
        if readable {
            routes_lock(&routes).insert(ch, tx);
        }
        // A full or closed queue: the stream is refused by the client's timeout, as in the kubelet.
        let _ = streams_tx.try_send(Stream {
            id: u32::from(ch),
            headers,
            data: rx,
        });
    }
    // Writer side: the first messages, then the session's.
    let w = frames.clone();
    let (first, mut pending): (Vec<_>, HashSet<u8>) =
        (shape.first, shape.close_after.into_iter().collect());
    let closing = !pending.is_empty();
    let ended = routes.clone();
    tokio::spawn(async move {
        for (ch, d) in first {
            if w.send(encode(framing, ch, &d)).await.is_err() {
                return;
            }
        }
        while let Some(o) = out_rx.recv().await {
            match o {
                Out::Data(ch, fin, d) => {
                    let ch = u8::try_from(ch).unwrap_or(u8::MAX);
                    if !d.is_empty() && w.send(encode(framing, ch, &d)).await.is_err() {
                        return;
                    }
                    if fin {
                        routes_lock(&ended).remove(&ch);
                        if closing && pending.remove(&ch) && pending.is_empty() {
                            break;
                        }
                    }
                }
                Out::Close => break,
            }
        }
        // The peer may be gone: the closing frame is a courtesy.
        let _ = w.send(close_frame()).await;
    });
    // Reader side: the peer's messages to their channel, until the peer
    // goes or our side closed.
    let v5 = shape.v5;
    tokio::spawn(async move {
        let mut reader = Reader::new(r);
        loop {
            let msg = tokio::select! {
                m = reader.next(&frames) => m,
                () = frames.closed() => break,
            };
            let Ok(Some(msg)) = msg else { break };
            if msg == Message::Close {
                // The peer may be gone: the closing frame is a courtesy.
                let _ = frames.send(close_frame()).await;
                break;
            }
            let Some((ch, data)) = decode(framing, msg) else {
                continue;
            };
            if v5 && ch == CLOSE_CHANNEL {
                if let Some(c) = data.first() {
                    routes_lock(&routes).remove(c);
                }
                continue;
            }
            let tx = routes_lock(&routes).get(&ch).cloned();
            if let (Some(tx), false) = (tx, data.is_empty()) {
                if tx.send(Bytes::from(data)).await.is_err() {
                    routes_lock(&routes).remove(&ch);
                }
            }
        }
        // The peer is gone: every stream ends, and so does the session.
        routes_lock(&routes).clear();
        drop(streams_tx);
    });
    Conn {
        streams: streams_rx,
        out: out_tx,
    }
}

/// The bytes carried by binary messages over `io`, both ways, as a duplex
/// stream (`SPDY/3.1+portforward.k8s.io`).
pub fn tunnel<IO>(io: IO) -> tokio::io::DuplexStream
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (r, w) = tokio::io::split(io);
    let frames = writer(w);
    let (ours, theirs) = tokio::io::duplex(64 << 10);
    let (mut from, mut to) = tokio::io::split(theirs);
    let f = frames.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 << 10];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if f.send(frame(OP_BINARY, &buf[..n])).await.is_err() {
                        return;
                    }
                }
            }
        }
        // The peer may be gone: the closing frame is a courtesy.
        let _ = f.send(close_frame()).await;
    });
    tokio::spawn(async move {
        let mut reader = Reader::new(r);
        loop {
            let msg = tokio::select! {
                m = reader.next(&frames) => m,
                () = frames.closed() => break,
            };
            let Ok(Some(msg)) = msg else { break };
            match msg {
                Message::Binary(d) => {
                    if to.write_all(&d).await.is_err() {
                        break;
                    }
                }
                Message::Text(_) => {}
                Message::Close => {
                    // The peer may be gone: the closing frame is a courtesy.
                    let _ = frames.send(close_frame()).await;
                    break;
                }
            }
        }
        // The peer may be gone: nothing is owed to it.
        let _ = to.shutdown().await;
    });
    ours
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_is_the_rfcs() {
        // RFC 6455 section 1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[tokio::test]
    async fn masked_fragments_make_one_message_and_pings_are_answered() {
        let mask = [1u8, 2, 3, 4];
        let masked = |fin_op: u8, data: &[u8]| {
            let mut f = vec![fin_op, 0x80 | data.len() as u8];
            f.extend_from_slice(&mask);
            f.extend(data.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
            f
        };
        let mut wire = masked(OP_BINARY, b"\x01he");
        wire.extend(masked(0x80 | OP_PING, b"p"));
        wire.extend(masked(0x80 | OP_CONT, b"llo"));
        wire.extend(masked(0x80 | OP_CLOSE, b""));
        let (tx, mut rx) = mpsc::channel(4);
        let mut r = Reader::new(wire.as_slice());
        assert_eq!(
            r.next(&tx).await.unwrap(),
            Some(Message::Binary(b"\x01hello".to_vec()))
        );
        assert_eq!(rx.recv().await.unwrap(), frame(OP_PONG, b"p"));
        assert_eq!(r.next(&tx).await.unwrap(), Some(Message::Close));
        assert_eq!(r.next(&tx).await.unwrap(), None);
    }

    #[tokio::test]
    async fn oversized_messages_are_refused() {
        let mut wire = vec![0x80 | OP_BINARY, 127];
        wire.extend_from_slice(&((MAX_MESSAGE + 1) as u64).to_be_bytes());
        let (tx, _rx) = mpsc::channel(1);
        assert!(Reader::new(wire.as_slice()).next(&tx).await.is_err());
    }

    #[test]
    fn base64_channels_round_trip() {
        let f = encode(Framing::Base64, 1, b"hi");
        assert_eq!(&f[2..], b"1aGk=");
        let msg = Message::Text(f[2..].to_vec());
        assert_eq!(decode(Framing::Base64, msg), Some((1, b"hi".to_vec())));
    }
}
