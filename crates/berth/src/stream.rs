//! Container output as the daemon streams it: Docker's multiplexed frames
//! (an 8-byte header: stream 1 for stdout or 2 for stderr, three zero bytes,
//! a big-endian u32 length) or, for a terminal, raw bytes. Each payload goes
//! to our stdout or stderr as it arrives.

use std::io::Write;

use anyhow::{bail, Result};
use http_body_util::BodyExt;
use tokio::io::AsyncReadExt;

/// Largest frame accepted: the daemon sends a log line a frame, and Docker's
/// json-file lines are at most 16 KiB; the bound keeps a corrupt header from
/// making us buffer gigabytes.
const MAX_FRAME: usize = 64 << 20;

/// Splits multiplexed frames out of a byte stream fed in pieces.
#[derive(Debug, Default)]
pub struct Demux {
    buf: Vec<u8>,
}

impl Demux {
    /// Feeds bytes; calls `out(stream, payload)` for each whole frame.
    pub fn feed(&mut self, data: &[u8], mut out: impl FnMut(u8, &[u8])) -> Result<()> {
        self.buf.extend_from_slice(data);
        let mut at = 0;
        while self.buf.len() - at >= 8 {
            let h = &self.buf[at..at + 8];
            let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
            if len > MAX_FRAME {
                bail!("frame of {len} bytes exceeds {MAX_FRAME}");
            }
            if self.buf.len() - at - 8 < len {
                break;
            }
            let stream = h[0];
            out(stream, &self.buf[at + 8..at + 8 + len]);
            at += 8 + len;
        }
        self.buf.drain(..at);
        Ok(())
    }
}

/// Whether our stdout is still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    /// The stream ended.
    Ended,
    /// Our stdout was closed (`| head`): the rest is not wanted.
    StdoutClosed,
}

/// Where output goes: stdout and stderr of this process, flushed per frame.
/// Returns false once stdout is a closed pipe.
fn emit(stream: u8, data: &[u8]) -> bool {
    if stream == 2 {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(data);
        let _ = e.flush();
        return true;
    }
    let mut o = std::io::stdout().lock();
    !matches!(
        o.write_all(data).and_then(|()| o.flush()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe
    )
}

/// Feeds `data` through, raw or demultiplexed; false once stdout is closed.
fn forward(demux: &mut Demux, data: &[u8], raw: bool) -> Result<bool> {
    if raw {
        return Ok(emit(1, data));
    }
    let mut open = true;
    demux.feed(data, |s, b| open &= emit(s, b))?;
    Ok(open)
}

/// Copies an attached connection's output until the daemon closes it (or
/// nobody reads our stdout any more).
pub async fn copy_attached(
    io: &mut (impl tokio::io::AsyncRead + Unpin),
    raw: bool,
) -> Result<Copied> {
    let mut demux = Demux::default();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match io.read(&mut buf).await {
            Ok(0) => return Ok(Copied::Ended),
            Ok(n) => n,
            // The daemon closing the upgraded connection hard is the end too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(Copied::Ended),
            Err(e) => return Err(e.into()),
        };
        if !forward(&mut demux, &buf[..n], raw)? {
            return Ok(Copied::StdoutClosed);
        }
    }
}

/// Copies a response body (`logs`) the same way.
pub async fn copy_body(mut body: hyper::body::Incoming, raw: bool) -> Result<Copied> {
    let mut demux = Demux::default();
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame?.data_ref() {
            if !forward(&mut demux, data, raw)? {
                return Ok(Copied::StdoutClosed);
            }
        }
    }
    Ok(Copied::Ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
        let mut v = vec![stream, 0, 0, 0];
        v.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn frames_split_anywhere_come_out_whole() {
        let mut all = frame(1, b"hello\n");
        all.extend(frame(2, b"oops\n"));
        all.extend(frame(1, b""));
        all.extend(frame(1, b"bye\n"));
        for cut in 0..all.len() {
            let mut d = Demux::default();
            let mut got = Vec::new();
            let mut push = |s: u8, b: &[u8]| got.push((s, b.to_vec()));
            d.feed(&all[..cut], &mut push).unwrap();
            d.feed(&all[cut..], &mut push).unwrap();
            assert_eq!(
                got,
                vec![
                    (1, b"hello\n".to_vec()),
                    (2, b"oops\n".to_vec()),
                    (1, vec![]),
                    (1, b"bye\n".to_vec())
                ],
                "cut at {cut}"
            );
        }
        let mut d = Demux::default();
        assert!(d
            .feed(&[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], |_, _| {})
            .is_err());
    }
}
