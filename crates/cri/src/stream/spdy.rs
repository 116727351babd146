//! SPDY/3.1 framing, the transport of the kubelet's streaming protocols
//! (`kubectl exec`, `crictl exec`, critest's streaming specs: client-go's
//! SPDY executor over moby/spdystream). Written from the SPDY/3 draft
//! (draft-mbelshe-httpbis-spdy-00): 8-byte frame headers, control frames
//! (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS,
//! WINDOW_UPDATE) and data frames; name/value header blocks compressed with
//! zlib against the spec's dictionary, one compression context per
//! direction for the whole connection. No flow control: spdystream has
//! none, and WINDOW_UPDATE frames are read and ignored.
//!
//! [`Conn::start`] runs a connection: a reader task that answers every
//! SYN_STREAM with a SYN_REPLY and hands the new stream to the session,
//! routes data frames to their stream, answers PINGs; and a writer task
//! that owns the compressor.

use std::collections::HashMap;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// A frame's payload larger than this ends the connection (the protocol
/// allows 16 MiB; clients send at most 32 KiB).
pub const MAX_FRAME: usize = 1 << 20;
/// A header block that inflates past this ends the connection.
pub const MAX_HEADERS: usize = 64 << 10;
/// Streams a connection may open.
pub const MAX_STREAMS: usize = 1024;
/// Data chunks buffered per stream before the reader waits.
const STREAM_BUFFER: usize = 64;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const FLAG_FIN: u8 = 0x01;

/// The SPDY/3 header dictionary (section 2.6.10.1): each name or value
/// length-prefixed (32-bit big-endian), then a run of literal text.
const WORDS: &[&str] = &[
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];
const TAIL: &str = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

/// The dictionary's bytes.
pub fn dictionary() -> Vec<u8> {
    let mut d = Vec::with_capacity(1423);
    for w in WORDS {
        d.extend_from_slice(&(w.len() as u32).to_be_bytes());
        d.extend_from_slice(w.as_bytes());
    }
    d.extend_from_slice(TAIL.as_bytes());
    d
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// A frame, as read.
#[derive(Debug)]
pub enum Frame {
    /// Data on a stream; `fin` closes the sender's side.
    Data {
        /// The stream.
        stream: u32,
        /// The last frame from that side.
        fin: bool,
        /// The bytes.
        data: Bytes,
    },
    /// A new stream from the peer.
    SynStream {
        /// Its id.
        stream: u32,
        /// No data will follow from the peer.
        fin: bool,
        /// Its headers (names lower-case).
        headers: Vec<(String, String)>,
    },
    /// The peer resets a stream.
    Reset(u32),
    /// A ping to answer with the same id.
    Ping(u32),
    /// The peer goes away.
    GoAway,
    /// Anything else (SETTINGS, WINDOW_UPDATE, HEADERS, SYN_REPLY).
    Other,
}

/// Reads frames, inflating header blocks.
pub struct Reader<R> {
    r: R,
    inflate: Decompress,
    dict: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// A reader over `r`.
    pub fn new(r: R) -> Reader<R> {
        Reader {
            r,
            inflate: Decompress::new(true),
            dict: dictionary(),
        }
    }

    /// The next frame; `None` at a clean end of the connection.
    pub async fn next(&mut self) -> std::io::Result<Option<Frame>> {
        let mut head = [0u8; 8];
        match self.r.read_exact(&mut head).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let flags = head[4];
        let len = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
        if len > MAX_FRAME {
            return Err(bad(format!("spdy frame of {len} bytes")));
        }
        let mut body = vec![0u8; len];
        self.r.read_exact(&mut body).await?;
        if head[0] & 0x80 == 0 {
            let stream = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) & 0x7fff_ffff;
            return Ok(Some(Frame::Data {
                stream,
                fin: flags & FLAG_FIN != 0,
                data: Bytes::from(body),
            }));
        }
        let version = u16::from_be_bytes([head[0], head[1]]) & 0x7fff;
        if version != 3 {
            return Err(bad(format!("spdy version {version}")));
        }
        let typ = u16::from_be_bytes([head[2], head[3]]);
        let word = |at: usize| -> std::io::Result<u32> {
            body.get(at..at + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| bad("short spdy control frame"))
        };
        Ok(Some(match typ {
            SYN_STREAM => {
                let stream = word(0)? & 0x7fff_ffff;
                let block = body.get(10..).ok_or_else(|| bad("short SYN_STREAM"))?;
                let headers = self.headers(block)?;
                Frame::SynStream {
                    stream,
                    fin: flags & FLAG_FIN != 0,
                    headers,
                }
            }
            SYN_REPLY => {
                // Inflated all the same: the context runs across frames.
                if let Some(block) = body.get(4..) {
                    self.headers(block)?;
                }
                Frame::Other
            }
            8 => {
                // HEADERS: likewise.
                if let Some(block) = body.get(4..) {
                    self.headers(block)?;
                }
                Frame::Other
            }
            RST_STREAM => Frame::Reset(word(0)? & 0x7fff_ffff),
            PING => Frame::Ping(word(0)?),
            GOAWAY => Frame::GoAway,
            _ => Frame::Other,
        }))
    }

    /// Inflates one header block (the zlib stream goes on from the last
    /// one) and parses its name/value pairs.
    fn headers(&mut self, block: &[u8]) -> std::io::Result<Vec<(String, String)>> {
        let mut out = Vec::with_capacity(block.len() * 4);
        let mut input = block;
        loop {
            if out.len() >= MAX_HEADERS {
                return Err(bad("spdy header block too large"));
            }
            out.reserve(4096);
            let before_in = self.inflate.total_in();
            let r = self
                .inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync);
            let used = (self.inflate.total_in() - before_in) as usize;
            input = &input[used..];
            match r {
                Ok(Status::StreamEnd) => break,
                Ok(_) if input.is_empty() && out.capacity() > out.len() => break,
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(&self.dict)
                        .map_err(|e| bad(format!("spdy dictionary: {e}")))?;
                }
                Err(e) => return Err(bad(format!("spdy header block: {e}"))),
            }
        }
        parse_block(&out)
    }
}

/// A length-prefixed word of a header block at `*at`.
fn read_word<'a>(b: &'a [u8], at: &mut usize) -> std::io::Result<&'a [u8]> {
    let short = || bad("short spdy header block");
    let n = b.get(*at..*at + 4).ok_or_else(short)?;
    let n = u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize;
    let w = b.get(*at + 4..*at + 4 + n).ok_or_else(short)?;
    *at += 4 + n;
    Ok(w)
}

/// The name/value pairs of an inflated header block.
fn parse_block(b: &[u8]) -> std::io::Result<Vec<(String, String)>> {
    let c = b.get(0..4).ok_or_else(|| bad("short spdy header block"))?;
    let count = u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize;
    let mut at = 4;
    let mut out = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let name = String::from_utf8_lossy(read_word(b, &mut at)?).to_ascii_lowercase();
        let value = String::from_utf8_lossy(read_word(b, &mut at)?).into_owned();
        out.push((name, value));
    }
    Ok(out)
}

/// Encodes frames, deflating header blocks.
pub struct Writer {
    deflate: Compress,
}

impl Default for Writer {
    fn default() -> Writer {
        let mut deflate = Compress::new(Compression::default(), true);
        // The dictionary is SPDY's constant: setting it on a new stream cannot fail.
        let _ = deflate.set_dictionary(&dictionary());
        Writer { deflate }
    }
}

fn control(typ: u16, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + body.len());
    f.extend_from_slice(&[0x80, 0x03]);
    f.extend_from_slice(&typ.to_be_bytes());
    f.push(flags);
    f.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    f.extend_from_slice(body);
    f
}

impl Writer {
    fn block(&mut self, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut raw = Vec::new();
        raw.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (k, v) in headers {
            for w in [k.as_bytes(), v.as_bytes()] {
                raw.extend_from_slice(&(w.len() as u32).to_be_bytes());
                raw.extend_from_slice(w);
            }
        }
        let mut out = Vec::with_capacity(raw.len() + 64);
        let mut input = raw.as_slice();
        loop {
            out.reserve(256);
            let before = self.deflate.total_in();
            // Sync flush into a vector with room cannot fail; progress is read from the counters.
            let _ = self
                .deflate
                .compress_vec(input, &mut out, FlushCompress::Sync);
            input = &input[(self.deflate.total_in() - before) as usize..];
            if input.is_empty() && out.capacity() > out.len() {
                break;
            }
        }
        out
    }

    /// A SYN_REPLY accepting `stream`.
    pub fn syn_reply(&mut self, stream: u32, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut body = stream.to_be_bytes().to_vec();
        body.extend(self.block(headers));
        control(SYN_REPLY, 0, &body)
    }

    /// A data frame.
    pub fn data(stream: u32, fin: bool, data: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(8 + data.len());
        f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        f.push(if fin { FLAG_FIN } else { 0 });
        f.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
        f.extend_from_slice(data);
        f
    }

    /// A PING answer.
    pub fn ping(id: u32) -> Vec<u8> {
        control(PING, 0, &id.to_be_bytes())
    }

    /// A RST_STREAM (status 5: cancel).
    pub fn reset(stream: u32) -> Vec<u8> {
        let mut body = stream.to_be_bytes().to_vec();
        body.extend_from_slice(&5u32.to_be_bytes());
        control(RST_STREAM, 0, &body)
    }

    /// A GOAWAY (status 0: OK).
    pub fn goaway(last: u32) -> Vec<u8> {
        let mut body = last.to_be_bytes().to_vec();
        body.extend_from_slice(&0u32.to_be_bytes());
        control(GOAWAY, 0, &body)
    }
}

/// What the session writes.
#[derive(Debug)]
pub enum Out {
    /// Data on a stream (`fin`: the last from us).
    Data(u32, bool, Bytes),
    /// End the connection.
    Close,
}

/// What the reader asks the writer to send.
enum Ctl {
    /// A SYN_REPLY accepting a stream.
    Reply(u32),
    /// A frame as is.
    Raw(Vec<u8>),
    /// The connection ended.
    Stop,
}

/// A stream the peer opened.
#[derive(Debug)]
pub struct Stream {
    /// Its id.
    pub id: u32,
    /// Its headers.
    pub headers: Vec<(String, String)>,
    /// Its data; closed at the peer's FIN or reset.
    pub data: mpsc::Receiver<Bytes>,
}

impl Stream {
    /// A header's value (names compare case-insensitively).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// A running connection: streams the peer opens come on `streams`; what
/// the session writes goes through `out`.
pub struct Conn {
    /// New streams.
    pub streams: mpsc::Receiver<Stream>,
    /// Frames to write.
    pub out: mpsc::Sender<Out>,
}

impl Conn {
    /// Runs the connection over `io` (after the HTTP upgrade).
    pub fn start<IO>(io: IO) -> Conn
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (r, mut w) = tokio::io::split(io);
        let (out_tx, mut out_rx) = mpsc::channel::<Out>(64);
        let (raw_tx, mut raw_rx) = mpsc::channel::<Ctl>(64);
        let (streams_tx, streams_rx) = mpsc::channel::<Stream>(16);
        // Writer: session frames and the reader's control answers, one
        // compressor.
        tokio::spawn(async move {
            let mut writer = Writer::default();
            loop {
                let frame = tokio::select! {
                    o = out_rx.recv() => match o {
                        Some(Out::Data(s, fin, d)) => Writer::data(s, fin, &d),
                        Some(Out::Close) | None => break,
                    },
                    r = raw_rx.recv() => match r {
                        Some(Ctl::Reply(id)) => writer.syn_reply(id, &[]),
                        Some(Ctl::Raw(f)) => f,
                        Some(Ctl::Stop) | None => break,
                    },
                };
                if w.write_all(&frame).await.is_err() {
                    break;
                }
            }
            // The peer may be gone: the goaway is a courtesy.
            let _ = w.write_all(&Writer::goaway(0)).await;
            let _ = w.shutdown().await;
        });
        // Reader.
        tokio::spawn(async move {
            let mut reader = Reader::new(r);
            let mut routes: HashMap<u32, mpsc::Sender<Bytes>> = HashMap::new();
            let mut opened = 0usize;
            loop {
                let frame = match reader.next().await {
                    Ok(Some(f)) => f,
                    _ => break,
                };
                match frame {
                    Frame::SynStream {
                        stream,
                        fin,
                        headers,
                    } => {
                        opened += 1;
                        if opened > MAX_STREAMS {
                            // The writer may be gone: the connection is closing.
                            let _ = raw_tx.send(Ctl::Raw(Writer::reset(stream))).await;
                            continue;
                        }
                        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
                        if !fin {
                            routes.insert(stream, tx);
                        }
                        // Accepted: the writer answers (the compressor is
                        // the writer's).
                        if raw_tx.send(Ctl::Reply(stream)).await.is_err() {
                            break;
                        }
                        if streams_tx
                            .send(Stream {
                                id: stream,
                                headers,
                                data: rx,
                            })
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Frame::Data { stream, fin, data } => {
                        if let Some(tx) = routes.get(&stream) {
                            if !data.is_empty() && tx.send(data).await.is_err() {
                                routes.remove(&stream);
                            }
                        }
                        if fin {
                            routes.remove(&stream);
                        }
                    }
                    Frame::Reset(stream) => {
                        routes.remove(&stream);
                    }
                    Frame::Ping(id) => {
                        // The writer may be gone: the connection is closing.
                        let _ = raw_tx.send(Ctl::Raw(Writer::ping(id))).await;
                    }
                    Frame::GoAway => break,
                    Frame::Other => {}
                }
            }
            // The peer is gone: every stream ends, and the writer stops.
            routes.clear();
            // The writer may be gone: the connection is closing.
            let _ = raw_tx.send(Ctl::Stop).await;
        });
        Conn {
            streams: streams_rx,
            out: out_tx,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_is_the_specs() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        // zlib's dictionary id (adler32) of SPDY/3's dictionary.
        let mut a: u32 = 1;
        let mut b: u32 = 0;
        for x in &d {
            a = (a + u32::from(*x)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!((b << 16) | a, 0xe3c6_a7c2);
    }

    #[tokio::test]
    async fn header_blocks_round_trip_across_frames() {
        let mut w = Writer::default();
        let mut wire = Vec::new();
        // Two SYN_STREAMs as a client would write them (one zlib stream).
        for (id, typ) in [(1u32, "error"), (3, "stdout")] {
            let mut body = id.to_be_bytes().to_vec();
            body.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            body.extend(w.block(&[("streamtype", typ), ("port", "80")]));
            wire.extend(control(SYN_STREAM, 0, &body));
        }
        wire.extend(Writer::data(3, true, b"hi"));
        let mut r = Reader::new(wire.as_slice());
        for (id, typ) in [(1u32, "error"), (3, "stdout")] {
            match r.next().await.unwrap().unwrap() {
                Frame::SynStream {
                    stream, headers, ..
                } => {
                    assert_eq!(stream, id);
                    assert_eq!(
                        headers,
                        vec![
                            ("streamtype".into(), typ.into()),
                            ("port".into(), "80".into())
                        ]
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        match r.next().await.unwrap().unwrap() {
            Frame::Data { stream, fin, data } => {
                assert_eq!((stream, fin, &data[..]), (3, true, &b"hi"[..]));
            }
            other => panic!("{other:?}"),
        }
        assert!(r.next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn oversized_frames_are_refused() {
        let mut wire = vec![0, 0, 0, 1, 0];
        wire.extend_from_slice(&((MAX_FRAME + 1) as u32).to_be_bytes()[1..]);
        let mut r = Reader::new(wire.as_slice());
        assert!(r.next().await.is_err());
    }
}
