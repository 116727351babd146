//! Port forwarding over SPDY (`portforward.k8s.io`), as the kubelet serves
//! it: for each connection the client opens an `error` and a `data`
//! stream with the same `requestID` and the `port`; the server connects to
//! that port on the pod's loopback (inside its network namespace) and
//! relays until either side ends.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::spdy::{Conn, Out, Stream};
use crate::api;
use crate::Cri;

/// The protocol served.
pub const PROTOCOL: &str = "portforward.k8s.io";
/// How long a connection to the pod's port may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves a port-forward connection.
pub async fn run(cri: Arc<Cri>, mut conn: Conn, req: api::PortForwardRequest) {
    let netns = match cri.sandbox(&req.pod_sandbox_id) {
        Ok(s) => s.netns,
        Err(_) => {
            // The connection may be gone: nothing is owed to it.
            let _ = conn.out.send(Out::Close).await;
            return;
        }
    };
    let errors: Arc<Mutex<HashMap<String, u32>>> = Default::default();
    while let Some(stream) = conn.streams.recv().await {
        let request = stream.header("requestid").to_string();
        match stream.header("streamtype") {
            "error" => {
                errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(request, stream.id);
            }
            "data" => {
                let port: u16 = stream.header("port").parse().unwrap_or(0);
                let out = conn.out.clone();
                let (errors, netns) = (errors.clone(), netns.clone());
                tokio::spawn(async move {
                    let e = forward(&netns, port, stream, out.clone()).await;
                    let id = errors
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&request);
                    if let Some(id) = id {
                        if let Err(msg) = e {
                            // The connection may be gone: nothing is owed to it.
                            let _ = out.send(Out::Data(id, false, Bytes::from(msg))).await;
                        }
                        let _ = out.send(Out::Data(id, true, Bytes::new())).await;
                    }
                });
            }
            _ => {}
        }
    }
    // The connection may be gone: nothing is owed to it.
    let _ = conn.out.send(Out::Close).await;
}

/// Connects to `127.0.0.1:port` inside the network namespace at `netns`
/// (the host's when empty), from a thread of its own: a socket keeps the
/// namespace it was made in, the thread ends with the switch.
fn connect_in(netns: &str, port: u16) -> std::io::Result<std::net::TcpStream> {
    let netns = netns.to_string();
    std::thread::spawn(move || {
        if !netns.is_empty() {
            let f = std::fs::File::open(&netns)?;
            nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(std::io::Error::from)?;
        }
        std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            CONNECT_TIMEOUT,
        )
    })
    .join()
    .map_err(|_| std::io::Error::other("the connecting thread panicked"))?
}

async fn forward(
    netns: &str,
    port: u16,
    stream: Stream,
    out: mpsc::Sender<Out>,
) -> Result<(), String> {
    let id = stream.id;
    let fail = |e: std::io::Error| format!("error forwarding port {port} to pod: {e}");
    let tcp = connect_in(netns, port).map_err(fail)?;
    tcp.set_nonblocking(true).map_err(fail)?;
    let tcp = tokio::net::TcpStream::from_std(tcp).map_err(fail)?;
    let (mut r, mut w) = tcp.into_split();
    let mut data = stream.data;
    let upstream = async move {
        while let Some(b) = data.recv().await {
            if w.write_all(&b).await.is_err() {
                break;
            }
        }
        // The peer may be gone: nothing is owed to it.
        let _ = w.shutdown().await;
    };
    let out2 = out.clone();
    let downstream = async move {
        let mut buf = vec![0u8; 32 << 10];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out2
                        .send(Out::Data(id, false, Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        // The connection may be gone: nothing is owed to it.
        let _ = out2.send(Out::Data(id, true, Bytes::new())).await;
    };
    tokio::join!(upstream, downstream);
    Ok(())
}
