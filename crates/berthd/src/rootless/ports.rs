//! The builtin port driver: a published port is a socket berthd holds in
//! the host's network namespace (made by the host thread, `hostnet.rs`),
//! and its traffic is carried to the container's address by berthd's own
//! tasks, in the daemon's namespace, as RootlessKit's `builtin` driver does
//! for Docker rootless (its default).
//!
//! What a container sees as a client's address: the address of the bridge
//! it is on (its gateway), since the connection to it is berthd's; the
//! client's own address is in no packet that reaches it. (Docker rootless
//! with the builtin driver shows the same; its slirp4netns driver shows the
//! slirp gateway 10.0.2.2.)
//!
//! A port is held from the container's start to its stop; a restart
//! publishes it again towards the container's new address. While berthd
//! is down (a `kill -9`), published ports do not answer; the next berthd
//! holds them again for the containers that still run.

use std::collections::HashMap;
use std::net::{SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use engine::net::{Forward, Proto};
use engine::rootless::{Held, PortDriver};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

use super::hostnet;

/// A UDP flow with no datagram either way for this long is forgotten (as
/// docker-proxy's UDP timeout).
const UDP_IDLE: Duration = Duration::from_secs(90);
/// Most UDP flows per published port: past it the oldest goes.
const MAX_UDP_FLOWS: usize = 1024;
/// Copy buffers of a TCP connection, each way.
const TCP_BUFFER: usize = 256 * 1024;
/// The listen backlog of a published TCP port.
const BACKLOG: i32 = 1024;

/// The builtin driver; tasks run on the daemon's runtime.
#[derive(Debug)]
pub struct Builtin {
    rt: tokio::runtime::Handle,
}

impl Builtin {
    /// A driver whose forwarders run on `rt`.
    pub fn new(rt: tokio::runtime::Handle) -> Builtin {
        Builtin { rt }
    }
}

/// A published port being forwarded; dropping it closes the host's socket.
#[derive(Debug)]
struct Forwarding(JoinHandle<()>);

impl Drop for Forwarding {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl PortDriver for Builtin {
    fn expose(&self, f: &Forward) -> Result<(Box<dyn Held>, u16), String> {
        let (proto, host_ip, port) = (f.proto, f.host_ip, f.host_port);
        let (fd, port) = hostnet::run(move || -> Result<(OwnedFd, u16), String> {
            check_privileged(proto, host_ip, port)?;
            engine::net::ports::reserve_to_listen(proto, host_ip, port)
        })
        .map_err(|e| e.to_string())??;
        let target = SocketAddrV4::new(f.ip, f.port);
        let _in_rt = self.rt.enter();
        let task = match proto {
            Proto::Tcp => {
                // SAFETY: fd is a bound TCP socket we own; listen(2) takes
                // plain integers.
                if unsafe { libc::listen(fd.as_raw_fd(), BACKLOG) } < 0 {
                    return Err(format!("listen: {}", std::io::Error::last_os_error()));
                }
                let l = std::net::TcpListener::from(fd);
                l.set_nonblocking(true).map_err(|e| e.to_string())?;
                let l = TcpListener::from_std(l).map_err(|e| e.to_string())?;
                self.rt.spawn(tcp(l, target))
            }
            Proto::Udp => {
                let s = std::net::UdpSocket::from(fd);
                s.set_nonblocking(true).map_err(|e| e.to_string())?;
                let s = UdpSocket::from_std(s).map_err(|e| e.to_string())?;
                self.rt.spawn(udp(s, target))
            }
        };
        Ok((Box::new(Forwarding(task)), port))
    }
}

/// Refuses a port below the host's `net.ipv4.ip_unprivileged_port_start`
/// with RootlessKit's explanation (what Docker rootless answers). Runs in
/// the host's namespace: the sysctl is per namespace.
fn check_privileged(
    proto: Proto,
    host_ip: Option<std::net::IpAddr>,
    port: u16,
) -> Result<(), String> {
    let start: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024);
    if port == 0 || port >= start {
        return Ok(());
    }
    let (family, addr) = match host_ip {
        Some(std::net::IpAddr::V6(ip)) => ("6", format!("[{ip}]:{port}")),
        Some(std::net::IpAddr::V4(ip)) => ("4", format!("{ip}:{port}")),
        None => ("4", format!("0.0.0.0:{port}")),
    };
    Err(format!(
        "error while calling PortManager.AddPort(): cannot expose privileged port {port}, \
         you can add 'net.ipv4.ip_unprivileged_port_start={port}' to /etc/sysctl.conf \
         (currently {start}), or choose a larger port number (>= {start}): \
         listen {}{family} {addr}: bind: permission denied",
        proto.as_str()
    ))
}

async fn tcp(l: TcpListener, target: SocketAddrV4) {
    loop {
        let mut inbound = match l.accept().await {
            Ok((s, _)) => s,
            // Out of descriptors or the like: let it pass, do not spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let Ok(mut out) = TcpStream::connect(target).await else {
                return;
            };
            if let Err(e) = inbound.set_nodelay(true) {
                tracing::debug!("TCP_NODELAY on a forwarded connection: {e}");
            }
            if let Err(e) = out.set_nodelay(true) {
                tracing::debug!("TCP_NODELAY on a forwarded connection: {e}");
            }
            // The connection ends when either side ends it, however it ends.
            let _ = tokio::io::copy_bidirectional_with_sizes(
                &mut inbound,
                &mut out,
                TCP_BUFFER,
                TCP_BUFFER,
            )
            .await;
        });
    }
}

/// One client's UDP flow: a socket connected to the container, and the
/// task sending its answers back; dropping it ends the task.
struct Flow {
    sock: Arc<UdpSocket>,
    back: JoinHandle<()>,
    last: tokio::time::Instant,
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.back.abort();
    }
}

async fn udp(host: UdpSocket, target: SocketAddrV4) {
    let host = Arc::new(host);
    let mut flows: HashMap<SocketAddr, Flow> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, from)) = host.recv_from(&mut buf).await else {
            continue;
        };
        let now = tokio::time::Instant::now();
        flows.retain(|_, f| !f.back.is_finished() && now - f.last < UDP_IDLE);
        if !flows.contains_key(&from) {
            if flows.len() >= MAX_UDP_FLOWS {
                if let Some(oldest) = flows.iter().min_by_key(|(_, f)| f.last).map(|(a, _)| *a) {
                    flows.remove(&oldest);
                }
            }
            let Ok(sock) = UdpSocket::bind("0.0.0.0:0").await else {
                continue;
            };
            if sock.connect(target).await.is_err() {
                continue;
            }
            let sock = Arc::new(sock);
            let (s, h) = (sock.clone(), host.clone());
            let back = tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                while let Ok(Ok(n)) = tokio::time::timeout(UDP_IDLE, s.recv(&mut buf)).await {
                    // UDP is lossy by contract: a datagram that cannot be sent is dropped.
                    let _ = h.send_to(&buf[..n], from).await;
                }
            });
            flows.insert(
                from,
                Flow {
                    sock,
                    back,
                    last: now,
                },
            );
        }
        if let Some(f) = flows.get_mut(&from) {
            f.last = now;
            // UDP is lossy by contract: a datagram that cannot be sent is dropped.
            let _ = f.sock.send(&buf[..n]).await;
        }
    }
}
