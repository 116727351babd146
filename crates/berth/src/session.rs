//! An attached session on an upgraded connection (`attach`, `exec`): the
//! output to our stdout and stderr, our stdin to the container, and, for a
//! TTY, our terminal in raw mode with its size kept in step (SIGWINCH →
//! `POST …/resize`). The detach keys are matched by the daemon, which then
//! closes the connection: the caller tells a detach from an end by asking
//! whether the container (or exec) still runs.

use anyhow::Result;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::client::{Client, Query};
use crate::stream::{self, Copied};
use crate::term;

/// What is relayed.
#[derive(Debug, Clone, Copy)]
pub struct Streams {
    /// Our stdin goes to the container.
    pub stdin: bool,
    /// Its output comes to our stdout and stderr (attach asks for these).
    pub stdout: bool,
    pub stderr: bool,
    /// The container has a terminal: raw bytes both ways.
    pub tty: bool,
}

/// Our stdin, read on a thread of its own (a read that blocks there never
/// keeps the process from exiting), in chunks; the channel closes at EOF.
fn read_stdin() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(8);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = vec![0u8; 32 * 1024];
        let mut stdin = std::io::stdin().lock();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    });
    rx
}

/// Tells the daemon our terminal's size (`resize` is `/containers/{id}/resize`
/// or `/exec/{id}/resize`). A failure is not worth stopping a session for.
pub async fn resize(client: &Client, path: &str) {
    if let Some((h, w)) = term::size(term::STDOUT) {
        let q = Query::new()
            .add("h", &h.to_string())
            .add("w", &w.to_string());
        let _ = client.post(&format!("{path}{q}")).await;
    }
}

/// Relays until the daemon ends the stream (or nobody reads our stdout).
pub async fn relay(
    client: &Client,
    io: TokioIo<hyper::upgrade::Upgraded>,
    s: Streams,
    resize_path: &str,
) -> Result<Copied> {
    // Raw only while keys are ours to send; restored on every way out.
    let _raw = if s.tty && s.stdin {
        term::Raw::enter(term::STDIN)
    } else {
        None
    };
    let (mut rd, mut wr) = tokio::io::split(io);
    // Input on a task of its own: a container that does not read its stdin
    // must not stop its output from reaching us.
    let feeding = s.stdin.then(|| {
        let mut input = read_stdin();
        let tty = s.tty;
        tokio::spawn(async move {
            while let Some(b) = input.recv().await {
                if wr.write_all(&b).await.is_err() {
                    return;
                }
            }
            // Our EOF is the container's (`echo x | berth run -i`); a
            // terminal is never closed by us.
            if !tty {
                let _ = wr.shutdown().await;
            }
            // Else the write half stays open until the stream ends.
            std::future::pending::<()>().await;
        })
    });
    let mut winch = if s.tty && term::is_terminal(term::STDOUT) {
        resize(client, resize_path).await;
        Some(tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::window_change(),
        )?)
    } else {
        None
    };
    let copy = stream::copy_attached(&mut rd, s.tty);
    tokio::pin!(copy);
    let r = loop {
        tokio::select! {
            r = &mut copy => break r,
            _ = async { winch.as_mut().expect("guarded").recv().await }, if winch.is_some() => {
                resize(client, resize_path).await;
            }
        }
    };
    if let Some(f) = feeding {
        f.abort();
    }
    r
}
