//! The websocket wire of `GET /containers/{id}/attach/ws` (RFC 6455), as
//! dockerd serves it with `golang.org/x/net/websocket`: every write of the
//! container's output is one frame (binary from API 1.28, text before),
//! never multiplexed; what the client sends is the container's input.
//!
//! Only what an attach needs: the handshake's accept key, unmasked frames
//! out, masked frames in (fragments joined, pings answered, a close ends
//! the input), each bounded.

use base64::Engine as _;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt};

/// RFC 6455's GUID, appended to the client's key for the accept key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Largest frame (or message of fragments) read from a client: input to a
/// container comes in keystrokes or lines, never megabytes at once.
pub const MAX_MESSAGE: u64 = 1 << 20;

/// Opcodes.
pub const TEXT: u8 = 0x1;
/// A binary frame.
pub const BINARY: u8 = 0x2;
/// A close frame.
pub const CLOSE: u8 = 0x8;
/// A ping.
pub const PING: u8 = 0x9;
/// A pong.
pub const PONG: u8 = 0xA;

/// `Sec-WebSocket-Accept` for the client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// One unmasked, final frame of `opcode` (a server's frames are never
/// masked).
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

/// What a client sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    /// Text or binary data (fragments joined).
    Data(Vec<u8>),
    /// A ping, to answer with a pong of the same payload.
    Ping(Vec<u8>),
    /// A close (or the connection's end).
    Close,
}

/// Reads the next message; `data` keeps the fragments of a message that a
/// ping interrupted (pass the same one each time). A protocol error or an
/// oversized message is an `InvalidData` error (the caller closes).
pub async fn read_message(
    r: &mut (impl AsyncRead + Unpin),
    data: &mut Vec<u8>,
) -> std::io::Result<Message> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string());
    loop {
        let mut head = [0u8; 2];
        match r.read_exact(&mut head).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(Message::Close),
            Err(e) => return Err(e),
        }
        let (fin, opcode) = (head[0] & 0x80 != 0, head[0] & 0x0F);
        if head[1] & 0x80 == 0 {
            return Err(bad("a client frame must be masked"));
        }
        let len = match head[1] & 0x7F {
            126 => u64::from(r.read_u16().await?),
            127 => r.read_u64().await?,
            n => u64::from(n),
        };
        if len + data.len() as u64 > MAX_MESSAGE {
            return Err(bad("websocket message larger than 1 MiB"));
        }
        let mut mask = [0u8; 4];
        r.read_exact(&mut mask).await?;
        let mut payload = vec![0u8; len as usize];
        r.read_exact(&mut payload).await?;
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        match opcode {
            CLOSE => return Ok(Message::Close),
            PING => return Ok(Message::Ping(payload)),
            PONG => continue,
            // Data, or a continuation of it.
            0x0 | TEXT | BINARY => {
                data.extend_from_slice(&payload);
                if fin {
                    return Ok(Message::Data(std::mem::take(data)));
                }
            }
            _ => return Err(bad("unknown websocket opcode")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_of_the_rfc_example() {
        // RFC 6455, section 1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn frame_lengths() {
        assert_eq!(frame(BINARY, b"hi"), [0x82, 2, b'h', b'i']);
        assert_eq!(&frame(TEXT, &[0; 200])[..4], [0x81, 126, 0, 200]);
        assert_eq!(
            &frame(BINARY, &[0; 70000])[..10],
            [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]
        );
    }

    fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut out = vec![
            if fin { 0x80 } else { 0 } | opcode,
            0x80 | payload.len() as u8,
        ];
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[tokio::test]
    async fn messages_in() {
        let mut wire = masked(false, TEXT, b"hel");
        wire.extend(masked(true, PING, b"p"));
        wire.extend(masked(true, 0, b"lo"));
        let mut r = &wire[..];
        let mut d = Vec::new();
        // A ping between fragments is answered; the fragments join.
        assert_eq!(
            read_message(&mut r, &mut d).await.unwrap(),
            Message::Ping(b"p".to_vec())
        );
        assert_eq!(
            read_message(&mut r, &mut d).await.unwrap(),
            Message::Data(b"hello".to_vec())
        );
        let mut r = &masked(true, CLOSE, b"")[..];
        assert_eq!(read_message(&mut r, &mut d).await.unwrap(), Message::Close);
        let mut r: &[u8] = &[];
        assert_eq!(read_message(&mut r, &mut d).await.unwrap(), Message::Close);
        let mut r: &[u8] = &[0x82, 0x02, b'h', b'i'];
        assert!(
            read_message(&mut r, &mut d).await.is_err(),
            "unmasked frames are refused"
        );
        let mut big = vec![0x82, 0x80 | 127];
        big.extend_from_slice(&(MAX_MESSAGE + 1).to_be_bytes());
        let mut r = &big[..];
        assert!(
            read_message(&mut r, &mut d).await.is_err(),
            "oversized frames are refused"
        );
    }
}
