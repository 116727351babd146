//! The embedded DNS server of user-defined networks, as Docker's
//! (moby `libnetwork/resolver.go`): every container on a user network finds
//! a server at `127.0.0.11:53` (UDP and TCP) in its own network namespace,
//! which answers the names, short ids and aliases of the containers that
//! share a network with it (A and AAAA records), the reverse lookups of
//! their addresses (PTR, `name.network` as Docker answers), a container's
//! legacy links (`--link target:alias` on a user network: `alias` resolves
//! for it alone), and forwards every other query to the host's resolvers,
//! but for a container whose networks are all `--internal`: nothing leaves
//! those, so it gets SERVFAIL.
//!
//! How: the listening sockets are made by a short-lived thread that
//! `setns(2)`s into the container's namespace (a socket stays in the
//! namespace it was made in), then handed to one small tokio runtime on a
//! thread of its own, which stays in the host's namespace: forwarded
//! queries leave from the host, so loopback resolvers (`127.0.0.53`) work
//! as they do for Docker. No iptables redirect and no process inside the
//! container is needed.
//!
//! Who may see which name is the [`Names`] table's: the engine keeps it,
//! this module only reads it.

pub mod wire;

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use wire::Rcode;

/// Where the server listens inside each namespace, as Docker's.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// Largest query read over UDP or TCP: a question is at most 255 bytes of
/// name and a header; EDNS options make it longer, never this long.
const MAX_QUERY: usize = 4096;
/// Largest upstream reply relayed over TCP (the length prefix's maximum).
const MAX_REPLY: usize = 65535;
/// Queries of one container being forwarded at once: a container that
/// floods the server waits for its own, and holds no more sockets.
const MAX_INFLIGHT: usize = 64;
/// TCP connections of one container served at once.
const MAX_TCP: usize = 16;
/// How long an upstream has to answer before the next one is tried.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a TCP connection may sit idle.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// One container's names on one network.
#[derive(Debug, Clone)]
struct Entry {
    container: String,
    names: Vec<String>,
    ip: Ipv4Addr,
    ip6: Option<Ipv6Addr>,
    /// What a reverse lookup answers: `name.network`.
    ptr: String,
}

/// One container's endpoint on a network, as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint<'a> {
    /// The network's id (the key of its names).
    pub network: &'a str,
    /// The network's name (for reverse lookups' answers).
    pub network_name: &'a str,
    /// Its names there (name, short id, aliases, hostname; matched without
    /// regard to case); the first is the one reverse lookups answer.
    pub names: &'a [String],
    /// Its IPv4 address.
    pub ip: Ipv4Addr,
    /// Its IPv6 address, on a network with IPv6.
    pub ip6: Option<Ipv6Addr>,
}

/// Names of containers by network: what the server answers. Kept by the
/// engine as containers attach and leave; read on every query.
#[derive(Debug, Default)]
pub struct Names {
    by_network: RwLock<HashMap<String, Vec<Entry>>>,
    /// Legacy links by container: alias -> the target's name.
    links: RwLock<HashMap<String, Vec<(String, String)>>>,
    /// Containers whose every network is internal: nothing is forwarded.
    internal: RwLock<HashSet<String>>,
}

impl Names {
    /// Container `container` is on `network` at `ip`, known by `names`
    /// (its name, short id, aliases; matched without regard to case).
    /// Replaces what it had there.
    pub fn set(&self, network: &str, container: &str, names: &[String], ip: Ipv4Addr) {
        self.set_endpoint(
            container,
            &Endpoint {
                network,
                network_name: network,
                names,
                ip,
                ip6: None,
            },
        );
    }

    /// Container `container` has endpoint `ep`; replaces what it had on
    /// that network.
    pub fn set_endpoint(&self, container: &str, ep: &Endpoint<'_>) {
        let mut m = self.by_network.write().unwrap_or_else(|p| p.into_inner());
        let list = m.entry(ep.network.to_string()).or_default();
        list.retain(|e| e.container != container);
        let ptr = format!(
            "{}.{}",
            ep.names.first().map_or("", |n| n.as_str()),
            ep.network_name
        );
        list.push(Entry {
            container: container.to_string(),
            names: ep.names.iter().map(|n| n.to_ascii_lowercase()).collect(),
            ip: ep.ip,
            ip6: ep.ip6,
            ptr,
        });
    }

    /// Container `container`'s legacy links: `(alias, target name)`.
    pub fn set_links(&self, container: &str, links: Vec<(String, String)>) {
        let mut m = self.links.write().unwrap_or_else(|p| p.into_inner());
        if links.is_empty() {
            m.remove(container);
        } else {
            let links = links
                .into_iter()
                .map(|(a, t)| (a.to_ascii_lowercase(), t.to_ascii_lowercase()))
                .collect();
            m.insert(container.to_string(), links);
        }
    }

    /// Whether container `container` is on internal networks only (its
    /// queries for other names are then not forwarded).
    pub fn set_internal(&self, container: &str, internal: bool) {
        let mut s = self.internal.write().unwrap_or_else(|p| p.into_inner());
        if internal {
            s.insert(container.to_string());
        } else {
            s.remove(container);
        }
    }

    fn forwards(&self, container: &str) -> bool {
        !self
            .internal
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(container)
    }

    /// Container `container` left `network` (`None`: every network).
    pub fn remove(&self, network: Option<&str>, container: &str) {
        let mut m = self.by_network.write().unwrap_or_else(|p| p.into_inner());
        for (n, list) in m.iter_mut() {
            if network.is_none_or(|w| w == n) {
                list.retain(|e| e.container != container);
            }
        }
        m.retain(|_, l| !l.is_empty());
        if network.is_none() {
            self.set_links(container, Vec::new());
            self.set_internal(container, false);
        }
    }

    /// The IPv4 addresses `name` has for container `asking`: on the
    /// networks `asking` is on, only. Empty when it is no container's name
    /// there.
    pub fn lookup(&self, asking: &str, name: &str) -> Vec<Ipv4Addr> {
        self.lookup_all(asking, name).0
    }

    /// The IPv4 and IPv6 addresses `name` has for container `asking`, a
    /// link's alias of `asking` standing for its target's name.
    pub fn lookup_all(&self, asking: &str, name: &str) -> (Vec<Ipv4Addr>, Vec<Ipv6Addr>) {
        let target = self
            .links
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(asking)
            .and_then(|l| l.iter().find(|(a, _)| a == name).map(|(_, t)| t.clone()));
        let name = target.as_deref().unwrap_or(name);
        let m = self.by_network.read().unwrap_or_else(|p| p.into_inner());
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for list in m.values() {
            if !list.iter().any(|e| e.container == asking) {
                continue;
            }
            for e in list {
                if e.names.iter().any(|n| n == name) {
                    if !v4.contains(&e.ip) {
                        v4.push(e.ip);
                    }
                    if let Some(ip6) = e.ip6.filter(|a| !v6.contains(a)) {
                        v6.push(ip6);
                    }
                }
            }
        }
        (v4, v6)
    }

    /// The name of the container at `ip` on a network `asking` is on
    /// (`name.network`), for a reverse lookup.
    pub fn reverse(&self, asking: &str, ip: IpAddr) -> Option<String> {
        let m = self.by_network.read().unwrap_or_else(|p| p.into_inner());
        m.values()
            .filter(|list| list.iter().any(|e| e.container == asking))
            .flatten()
            .find(|e| match ip {
                IpAddr::V4(a) => e.ip == a,
                IpAddr::V6(a) => e.ip6 == Some(a),
            })
            .map(|e| e.ptr.clone())
    }
}

/// The nameservers of a `resolv.conf` text, port 53.
pub fn upstreams_of(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some("nameserver")).then(|| f.next())?
        })
        .filter_map(|a| a.parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// What to do with one packet from a container.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Send this back.
    Reply(Vec<u8>),
    /// Not a container's name: ask upstream.
    Forward,
    /// Say nothing (not a query).
    Drop,
}

fn decide(names: &Names, asking: &str, pkt: &[u8]) -> Verdict {
    let q = match wire::parse_query(pkt) {
        Ok(q) => q,
        Err(wire::WireError::Opcode(_)) => {
            return wire::error_reply(pkt, Rcode::NotImp).map_or(Verdict::Drop, Verdict::Reply)
        }
        Err(_) => {
            return wire::error_reply(pkt, Rcode::FormErr).map_or(Verdict::Drop, Verdict::Reply)
        }
    };
    let forward = || {
        if names.forwards(asking) {
            Verdict::Forward
        } else {
            // Internal networks only: nothing leaves them, names included.
            Verdict::Reply(wire::reply(&q, Rcode::ServFail, &[]))
        }
    };
    if q.qclass != wire::CLASS_IN && q.qclass != wire::CLASS_ANY {
        return forward();
    }
    if q.qtype == wire::TYPE_PTR {
        return match wire::reverse_ip(&q.name).and_then(|ip| names.reverse(asking, ip)) {
            Some(name) => Verdict::Reply(wire::reply_records(
                &q,
                Rcode::NoError,
                &[wire::Record::Ptr(name)],
            )),
            None => forward(),
        };
    }
    let (v4, v6) = names.lookup_all(asking, &q.name);
    if v4.is_empty() && v6.is_empty() {
        return forward();
    }
    // A container's name asked for another type: the name exists, with no
    // record of that type (NODATA), as Docker answers.
    let mut records = Vec::new();
    if q.qtype == wire::TYPE_A || q.qtype == wire::TYPE_ANY {
        records.extend(v4.into_iter().map(wire::Record::A));
    }
    if q.qtype == wire::TYPE_AAAA || q.qtype == wire::TYPE_ANY {
        records.extend(v6.into_iter().map(wire::Record::Aaaa));
    }
    Verdict::Reply(wire::reply_records(&q, Rcode::NoError, &records))
}

/// The server: one runtime thread and the listeners of each container.
pub struct Server {
    names: Arc<Names>,
    upstreams: Arc<Vec<SocketAddr>>,
    handle: tokio::runtime::Handle,
    listeners: Mutex<HashMap<String, Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("upstreams", &self.upstreams)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Starts the server's thread, answering from `names` and forwarding
    /// the rest to `upstreams` in turn.
    pub fn start(names: Arc<Names>, upstreams: Vec<SocketAddr>) -> io::Result<Server> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let handle = rt.handle().clone();
        std::thread::Builder::new()
            .name("berth-dns".into())
            .spawn(move || rt.block_on(std::future::pending::<()>()))?;
        Ok(Server {
            names,
            upstreams: Arc::new(upstreams),
            handle,
            listeners: Mutex::new(HashMap::new()),
        })
    }

    /// The names it answers from.
    pub fn names(&self) -> &Arc<Names> {
        &self.names
    }

    /// Listens on `127.0.0.11:53` (UDP and TCP) in the namespace kept at
    /// `netns`, answering as container `container`. A second call for the
    /// same container replaces the first.
    pub fn listen(&self, container: &str, netns: &Path) -> io::Result<()> {
        self.listen_with(container, netns, Vec::new())
    }

    /// [`Server::listen`], forwarding to `upstreams` for this container
    /// (its own `--dns`); empty: the server's.
    pub fn listen_with(
        &self,
        container: &str,
        netns: &Path,
        upstreams: Vec<SocketAddr>,
    ) -> io::Result<()> {
        self.stop(container);
        let upstreams = if upstreams.is_empty() {
            self.upstreams.clone()
        } else {
            Arc::new(upstreams)
        };
        let ns = std::fs::File::open(netns)?;
        let (udp, tcp) = std::thread::spawn(move || -> io::Result<_> {
            // This thread alone enters the namespace, and ends there.
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(io::Error::from)?;
            let udp = std::net::UdpSocket::bind((ADDRESS, 53))?;
            let tcp = std::net::TcpListener::bind((ADDRESS, 53))?;
            udp.set_nonblocking(true)?;
            tcp.set_nonblocking(true)?;
            Ok((udp, tcp))
        })
        .join()
        .map_err(|_| io::Error::other("the namespace thread panicked"))??;
        let _rt = self.handle.enter();
        let udp = Arc::new(tokio::net::UdpSocket::from_std(udp)?);
        let tcp = tokio::net::TcpListener::from_std(tcp)?;
        let who = container.to_string();
        let tasks = vec![
            self.handle.spawn(serve_udp(
                udp,
                who.clone(),
                self.names.clone(),
                upstreams.clone(),
            )),
            self.handle
                .spawn(serve_tcp(tcp, who, self.names.clone(), upstreams)),
        ];
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(container.to_string(), tasks);
        Ok(())
    }

    /// Stops listening for `container` (its sockets close).
    pub fn stop(&self, container: &str) {
        let tasks = self
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(container);
        for t in tasks.into_iter().flatten() {
            t.abort();
        }
    }

    /// Whether it listens for `container`.
    pub fn listening(&self, container: &str) -> bool {
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(container)
    }
}

async fn serve_udp(
    sock: Arc<tokio::net::UdpSocket>,
    who: String,
    names: Arc<Names>,
    upstreams: Arc<Vec<SocketAddr>>,
) {
    let inflight = Arc::new(Semaphore::new(MAX_INFLIGHT));
    let mut buf = vec![0u8; MAX_QUERY];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let pkt = &buf[..n];
        match decide(&names, &who, pkt) {
            Verdict::Reply(r) => {
                let _ = sock.send_to(&r, from).await;
            }
            Verdict::Drop => {}
            Verdict::Forward => {
                let Ok(permit) = inflight.clone().acquire_owned().await else {
                    continue;
                };
                let (sock, upstreams, pkt) = (sock.clone(), upstreams.clone(), pkt.to_vec());
                tokio::spawn(async move {
                    let r = forward_udp(&upstreams, &pkt)
                        .await
                        .unwrap_or_else(|| servfail(&pkt));
                    let _ = sock.send_to(&r, from).await;
                    drop(permit);
                });
            }
        }
    }
}

fn servfail(pkt: &[u8]) -> Vec<u8> {
    match wire::parse_query(pkt) {
        Ok(q) => wire::reply(&q, Rcode::ServFail, &[]),
        Err(_) => wire::error_reply(pkt, Rcode::ServFail).unwrap_or_default(),
    }
}

/// Asks each upstream in turn over UDP; the first reply with the query's id.
async fn forward_udp(upstreams: &[SocketAddr], pkt: &[u8]) -> Option<Vec<u8>> {
    let id = wire::id_of(pkt)?;
    for up in upstreams {
        let bind: SocketAddr = if up.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let Ok(s) = tokio::net::UdpSocket::bind(bind).await else {
            continue;
        };
        if s.connect(up).await.is_err() || s.send(pkt).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; MAX_REPLY];
        let got = tokio::time::timeout(UPSTREAM_TIMEOUT, async {
            loop {
                let n = s.recv(&mut buf).await.ok()?;
                if wire::id_of(&buf[..n]) == Some(id) {
                    return Some(buf[..n].to_vec());
                }
            }
        })
        .await;
        if let Ok(Some(r)) = got {
            return Some(r);
        }
    }
    None
}

/// Asks each upstream in turn over TCP.
async fn forward_tcp(upstreams: &[SocketAddr], pkt: &[u8]) -> Option<Vec<u8>> {
    for up in upstreams {
        let got = tokio::time::timeout(UPSTREAM_TIMEOUT, async {
            let mut s = tokio::net::TcpStream::connect(up).await.ok()?;
            let len = u16::try_from(pkt.len()).ok()?;
            s.write_all(&len.to_be_bytes()).await.ok()?;
            s.write_all(pkt).await.ok()?;
            let n = usize::from(s.read_u16().await.ok()?);
            let mut buf = vec![0u8; n];
            s.read_exact(&mut buf).await.ok()?;
            Some(buf)
        })
        .await;
        if let Ok(Some(r)) = got {
            return Some(r);
        }
    }
    None
}

async fn serve_tcp(
    listener: tokio::net::TcpListener,
    who: String,
    names: Arc<Names>,
    upstreams: Arc<Vec<SocketAddr>>,
) {
    let conns = Arc::new(Semaphore::new(MAX_TCP));
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            continue;
        };
        let Ok(permit) = conns.clone().try_acquire_owned() else {
            continue; // dropped: too many at once
        };
        let (who, names, upstreams) = (who.clone(), names.clone(), upstreams.clone());
        tokio::spawn(async move {
            loop {
                let Ok(Ok(len)) = tokio::time::timeout(TCP_IDLE, s.read_u16()).await else {
                    break;
                };
                let len = usize::from(len);
                if len > MAX_QUERY {
                    break;
                }
                let mut pkt = vec![0u8; len];
                if !matches!(
                    tokio::time::timeout(TCP_IDLE, s.read_exact(&mut pkt)).await,
                    Ok(Ok(_))
                ) {
                    break;
                }
                let r = match decide(&names, &who, &pkt) {
                    Verdict::Reply(r) => r,
                    Verdict::Drop => break,
                    Verdict::Forward => forward_tcp(&upstreams, &pkt)
                        .await
                        .unwrap_or_else(|| servfail(&pkt)),
                };
                let Ok(n) = u16::try_from(r.len()) else { break };
                if s.write_all(&n.to_be_bytes()).await.is_err() || s.write_all(&r).await.is_err() {
                    break;
                }
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.').filter(|l| !l.is_empty()) {
            p.push(u8::try_from(l.len()).unwrap());
            p.extend_from_slice(l.as_bytes());
        }
        p.extend_from_slice(&[0, 0, qtype as u8, 0, 1]);
        p
    }

    #[test]
    fn names_seen_only_on_shared_networks() {
        let n = Names::default();
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        n.set("a", "c1", &["web".into(), "Alias".into()], ip("10.0.0.2"));
        n.set("a", "c2", &["db".into()], ip("10.0.0.3"));
        n.set("b", "c3", &["other".into()], ip("10.1.0.2"));
        n.set("b", "c2", &["db".into()], ip("10.1.0.3"));
        assert_eq!(n.lookup("c2", "web"), vec![ip("10.0.0.2")]);
        assert_eq!(n.lookup("c2", "alias"), vec![ip("10.0.0.2")]);
        assert_eq!(n.lookup("c1", "other"), Vec::<Ipv4Addr>::new());
        assert_eq!(n.lookup("c3", "other"), vec![ip("10.1.0.2")]);
        assert_eq!(n.lookup("c3", "db"), vec![ip("10.1.0.3")]);
        n.remove(Some("b"), "c2");
        assert_eq!(n.lookup("c3", "db"), Vec::<Ipv4Addr>::new());
        assert_eq!(n.lookup("c1", "db"), vec![ip("10.0.0.3")]);
        n.remove(None, "c1");
        assert_eq!(n.lookup("c2", "web"), Vec::<Ipv4Addr>::new());
    }

    #[test]
    fn verdicts() {
        let n = Names::default();
        n.set("a", "c1", &["web".into()], "10.0.0.2".parse().unwrap());
        let Verdict::Reply(r) = decide(&n, "c1", &query("WEB", 1)) else {
            panic!()
        };
        assert_eq!(&r[6..8], &[0, 1]);
        let Verdict::Reply(r) = decide(&n, "c1", &query("web", 28)) else {
            panic!()
        };
        assert_eq!((r[3] & 0xf, r[7]), (0, 0), "AAAA of a container: NODATA");
        assert_eq!(decide(&n, "c1", &query("example.com", 1)), Verdict::Forward);
        assert_eq!(decide(&n, "other", &query("web", 1)), Verdict::Forward);
        let mut resp = query("web", 1);
        resp[2] |= 0x80;
        assert_eq!(decide(&n, "c1", &resp), Verdict::Drop);
        let Verdict::Reply(r) = decide(&n, "c1", &query("web", 1)[..14]) else {
            panic!()
        };
        assert_eq!(r[3] & 0xf, 1, "FORMERR");
    }

    #[test]
    fn aaaa_ptr_links_and_internal() {
        let n = Names::default();
        let names = ["web".to_string(), "www".to_string()];
        n.set_endpoint(
            "c1",
            &Endpoint {
                network: "id1",
                network_name: "front",
                names: &names,
                ip: "10.0.0.2".parse().unwrap(),
                ip6: Some("fd00::2".parse().unwrap()),
            },
        );
        n.set("id1", "c2", &["cli".into()], "10.0.0.3".parse().unwrap());
        let Verdict::Reply(r) = decide(&n, "c2", &query("web", 28)) else {
            panic!()
        };
        assert_eq!(&r[6..8], &[0, 1], "one AAAA");
        let ptr = |name: &str| {
            let mut p = query(name, 12);
            let l = p.len();
            p[l - 3] = 12;
            p
        };
        let Verdict::Reply(r) = decide(&n, "c2", &ptr("2.0.0.10.in-addr.arpa")) else {
            panic!()
        };
        assert!(r.ends_with(b"\x03web\x05front\x00"));
        assert_eq!(
            decide(&n, "c2", &ptr("9.0.0.10.in-addr.arpa")),
            Verdict::Forward
        );
        n.set_links("c2", vec![("db".into(), "web".into())]);
        assert_eq!(
            n.lookup("c2", "db"),
            vec!["10.0.0.2".parse::<Ipv4Addr>().unwrap()]
        );
        assert!(
            n.lookup("c1", "db").is_empty(),
            "a link is its container's alone"
        );
        n.set_internal("c2", true);
        let Verdict::Reply(r) = decide(&n, "c2", &query("example.com", 1)) else {
            panic!()
        };
        assert_eq!(
            r[3] & 0xf,
            2,
            "SERVFAIL: nothing leaves an internal network"
        );
        n.remove(None, "c2");
        assert_eq!(decide(&n, "c2", &query("example.com", 1)), Verdict::Forward);
    }

    #[test]
    fn upstreams_from_resolv_conf() {
        assert_eq!(
            upstreams_of("search x\nnameserver 127.0.0.53\nnameserver ::1\nnameserver bad\n"),
            vec![
                "127.0.0.53:53".parse().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
    }
}
