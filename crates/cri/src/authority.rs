//! The kubelet's gRPC client of Kubernetes 1.26 (and crictl and critest of
//! that age) dials a unix socket with the socket's path as the HTTP/2
//! `:authority` (`/run/berth/cri.sock`). The `h2` crate under tonic refuses
//! such a request as malformed (RST_STREAM with PROTOCOL_ERROR; see
//! hyperium/h2#487, still open). So each connection goes through this
//! small relay, which rewrites the `:authority` of every request to
//! `localhost` (what newer clients send for unix sockets) before h2 reads
//! it. Everything else passes unchanged.
//!
//! The rewrite works on the HPACK representation (RFC 7541 §6) without
//! decoding Huffman strings: in each HEADERS frame, a literal field whose
//! name is the static table's `:authority` (index 1) gets the plain value
//! `localhost`, keeping its representation (so a field the client added to
//! its dynamic table is added, rewritten, to h2's too; later indexed
//! references then resolve to the rewritten value). h2's table holds
//! smaller entries than the client's, so it evicts no entry the client can
//! still name.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The client's connection preface.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The largest frame HTTP/2 allows (2^24 - 1).
const MAX_FRAME: usize = (1 << 24) - 1;
const HEADERS: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// The value every request's authority gets.
const LOCALHOST: &[u8] = b"localhost";

/// An HPACK integer with an `n`-bit prefix at `b[*at]`.
fn integer(b: &[u8], at: &mut usize, n: u8) -> Option<usize> {
    let mask = (1usize << n) - 1;
    let mut v = (*b.get(*at)? as usize) & mask;
    *at += 1;
    if v < mask {
        return Some(v);
    }
    let mut shift = 0;
    loop {
        let byte = *b.get(*at)?;
        *at += 1;
        v = v.checked_add(((byte & 0x7f) as usize).checked_shl(shift)?)?;
        shift += 7;
        if byte & 0x80 == 0 || shift > 28 {
            return Some(v);
        }
    }
}

/// Skips an HPACK string at `b[*at]`.
fn skip_string(b: &[u8], at: &mut usize) -> Option<()> {
    let len = integer(b, at, 7)?;
    *at = at.checked_add(len).filter(|e| *e <= b.len())?;
    Some(())
}

/// The header block with every literal `:authority` value replaced by
/// `localhost`; `None` when the block cannot be parsed (then it is passed
/// as it was).
pub fn rewrite_block(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(b.len());
    let mut at = 0;
    while at < b.len() {
        let start = at;
        let first = b[at];
        let (prefix, literal) = if first & 0x80 != 0 {
            (7, false) // indexed field
        } else if first & 0xc0 == 0x40 {
            (6, true) // literal with incremental indexing
        } else if first & 0xe0 == 0x20 {
            (5, false) // dynamic table size update
        } else {
            (4, true) // literal without indexing, or never indexed
        };
        let index = integer(b, &mut at, prefix)?;
        if !literal {
            out.extend_from_slice(&b[start..at]);
            continue;
        }
        if index == 0 {
            skip_string(b, &mut at)?;
        }
        let name_end = at;
        skip_string(b, &mut at)?;
        out.extend_from_slice(&b[start..name_end]);
        if index == 1 {
            out.push(LOCALHOST.len() as u8);
            out.extend_from_slice(LOCALHOST);
        } else {
            out.extend_from_slice(&b[name_end..at]);
        }
    }
    Some(out)
}

/// A HEADERS frame's payload with its block rewritten (padding and
/// priority dropped: they carry nothing h2 needs).
fn rewrite_headers(flags: u8, payload: &[u8]) -> Option<(u8, Vec<u8>)> {
    let mut at = 0;
    let mut end = payload.len();
    if flags & PADDED != 0 {
        let pad = *payload.first()? as usize;
        at = 1;
        end = end.checked_sub(pad)?;
    }
    if flags & PRIORITY != 0 {
        at += 5;
    }
    let block = payload.get(at..end)?;
    Some((flags & !(PADDED | PRIORITY), rewrite_block(block)?))
}

/// Relays `client`'s bytes to `server`, rewriting requests' authority.
async fn upstream(
    mut client: impl AsyncRead + Unpin,
    mut server: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    let mut preface = [0u8; 24];
    client.read_exact(&mut preface).await?;
    server.write_all(&preface).await?;
    if &preface != PREFACE {
        // Not HTTP/2 with prior knowledge: h2 will say so.
        tokio::io::copy(&mut client, &mut server).await?;
        return Ok(());
    }
    let mut head = [0u8; 9];
    loop {
        if client.read_exact(&mut head).await.is_err() {
            // The peer may be gone: nothing is owed to it.
            let _ = server.shutdown().await;
            return Ok(());
        }
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len.min(MAX_FRAME)];
        client.read_exact(&mut payload).await?;
        let (typ, flags) = (head[3], head[4]);
        if typ == HEADERS && flags & END_HEADERS != 0 {
            if let Some((flags, block)) = rewrite_headers(flags, &payload) {
                if block.len() <= MAX_FRAME {
                    let n = (block.len() as u32).to_be_bytes();
                    let mut h = head;
                    h[..3].copy_from_slice(&n[1..]);
                    h[4] = flags;
                    server.write_all(&h).await?;
                    server.write_all(&block).await?;
                    continue;
                }
            }
        }
        server.write_all(&head).await?;
        server.write_all(&payload).await?;
    }
}

/// Serves `client` through the relay: returns the end to hand to tonic.
pub fn relay(client: tokio::net::UnixStream) -> tokio::io::DuplexStream {
    let (ours, theirs) = tokio::io::duplex(64 << 10);
    let (cr, mut cw) = client.into_split();
    let (sr, sw) = tokio::io::split(ours);
    tokio::spawn(async move {
        if let Err(e) = upstream(cr, sw).await {
            tracing::debug!("proxy to the upstream: {e}");
        }
    });
    tokio::spawn(async move {
        let mut sr = sr;
        // The peer may be gone: the proxy ends with it.
        let _ = tokio::io::copy(&mut sr, &mut cw).await;
        let _ = cw.shutdown().await;
    });
    theirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_literals_become_localhost() {
        // :method GET (indexed 2), :authority "/run/x.sock" literal with
        // incremental indexing, name index 1; then a literal without
        // indexing with a literal name "te": "trailers".
        let mut b = vec![0x82, 0x41, 11];
        b.extend_from_slice(b"/run/x.sock");
        b.extend_from_slice(&[0x00, 2]);
        b.extend_from_slice(b"te");
        b.push(8);
        b.extend_from_slice(b"trailers");
        let out = rewrite_block(&b).unwrap();
        let mut want = vec![0x82, 0x41, 9];
        want.extend_from_slice(b"localhost");
        want.extend_from_slice(&[0x00, 2]);
        want.extend_from_slice(b"te");
        want.push(8);
        want.extend_from_slice(b"trailers");
        assert_eq!(out, want);
        // A Huffman-coded value (H bit) is replaced all the same.
        let out = rewrite_block(&[0x01, 0x83, 0xaa, 0xbb, 0xcc]).unwrap();
        assert_eq!(&out[..2], &[0x01, 9]);
        // Truncated input is left alone.
        assert!(rewrite_block(&[0x41, 20, b'x']).is_none());
    }

    #[test]
    fn multi_byte_integers() {
        let mut at = 0;
        // 1337 with a 5-bit prefix (RFC 7541 C.1.2).
        assert_eq!(integer(&[0x1f, 0x9a, 0x0a], &mut at, 5), Some(1337));
        assert_eq!(at, 3);
    }
}
