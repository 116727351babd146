//! A userland TCP relay for the published-port connections DNAT cannot
//! carry, as Docker's `docker-proxy` carries them:
//!
//! - to `[::1]:PORT`: the kernel never routes a packet from IPv6 loopback
//!   out of `lo` (there is no `route_localnet` for IPv6), so a DNAT to a
//!   container's address is dropped;
//! - over IPv6 to a container that has no IPv6 address (a container on an
//!   IPv4-only network still answers on the host's IPv6 addresses).
//!
//! Everything else goes through the nftables DNAT (`nft`), in the kernel.
//! The relay's listening socket is the one berth holds to reserve the
//! port, so it is never bound twice; its tasks run on one small runtime on
//! a thread of its own.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// Connections relayed at once per published port: a client that opens
/// many waits for its own, and holds no more sockets.
const MAX_CONNECTIONS: usize = 1024;

/// The relay: one runtime thread and each container's listeners.
pub struct Proxy {
    handle: tokio::runtime::Handle,
    tasks: Mutex<HashMap<String, Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").finish_non_exhaustive()
    }
}

impl Proxy {
    /// Starts the relay's thread.
    pub fn start() -> io::Result<Proxy> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let handle = rt.handle().clone();
        std::thread::Builder::new()
            .name("berth-proxy".into())
            .spawn(move || rt.block_on(std::future::pending::<()>()))?;
        Ok(Proxy {
            handle,
            tasks: Mutex::new(HashMap::new()),
        })
    }

    /// Listens on `socket` (a bound TCP socket, made to listen here) for
    /// container `key` and relays each connection to `to`.
    pub fn serve(&self, key: &str, socket: OwnedFd, to: SocketAddr) -> io::Result<()> {
        let std_listener = std::net::TcpListener::from(socket);
        // SAFETY: listen(2) on a socket this function owns; its backlog is
        // the kernel's default maximum.
        if unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&std_listener), 4096) } < 0 {
            return Err(io::Error::last_os_error());
        }
        std_listener.set_nonblocking(true)?;
        let _rt = self.handle.enter();
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let task = self.handle.spawn(relay(listener, to));
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_string())
            .or_default()
            .push(task);
        Ok(())
    }

    /// Stops relaying for `key`: its listeners close (open connections end
    /// with them).
    pub fn stop(&self, key: &str) {
        let tasks = self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        for t in tasks.into_iter().flatten() {
            t.abort();
        }
    }
}

async fn relay(listener: tokio::net::TcpListener, to: SocketAddr) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        // Reap what finished, so that the set stays as large as what runs.
        while conns.try_join_next().is_some() {}
        // In the set, the connections end when the listener's task is
        // aborted (a container's stop).
        conns.spawn(async move {
            let _ = client.set_nodelay(true);
            if let Ok(mut server) = tokio::net::TcpStream::connect(to).await {
                let _ = server.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
            drop(permit);
        });
    }
}
