//! Published ports: Docker's `PortBindings` keys (`80/tcp`), the forwards
//! they become, and the host ports berth holds while they are published.
//!
//! A published port is held by a bound socket in the daemon (not listening:
//! the DNAT takes every packet first). So a port is never published twice,
//! a port in use by a host program is refused with Docker's words, and
//! `-p 80` gets a free port from the kernel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One published port: traffic to `host_ip:host_port` goes to `ip:port`
/// (IPv4) or `[ip6]:port` (IPv6, when the container has an address).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Forward {
    /// Protocol.
    pub proto: Proto,
    /// The host address it is bound to; `None` is every address of both
    /// families (`0.0.0.0` and `::`).
    pub host_ip: Option<IpAddr>,
    /// The host's port.
    pub host_port: u16,
    /// The container's address.
    pub ip: Ipv4Addr,
    /// The container's port.
    pub port: u16,
    /// The container's IPv6 address, if it has one.
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
}

impl Forward {
    /// Whether IPv4 traffic to the host is forwarded (a wildcard or an
    /// IPv4 host address).
    pub fn v4(&self) -> bool {
        !matches!(self.host_ip, Some(IpAddr::V6(_)))
    }

    /// Whether IPv6 traffic to the host is taken (a wildcard or an IPv6
    /// host address).
    pub fn v6(&self) -> bool {
        !matches!(self.host_ip, Some(IpAddr::V4(_)))
    }
}

/// Parses Docker's port key, `80`, `80/tcp` or `53/udp`.
pub fn parse_key(key: &str) -> Option<(u16, Proto)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = match proto {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return None,
    };
    Some((port.parse().ok().filter(|p| *p > 0)?, proto))
}

/// Holds `host_ip:port` (port 0: a free one the kernel picks) for `proto`;
/// returns the socket and the port. Fails as Docker's port allocator does
/// when it is taken. An IPv6 address is held for IPv6 only (`IPV6_V6ONLY`),
/// so that `0.0.0.0:P` and `[::]:P` are two reservations, as Docker's.
pub fn reserve(proto: Proto, host_ip: Option<IpAddr>, port: u16) -> Result<(OwnedFd, u16), String> {
    bind(proto, host_ip, port, false)
}

/// [`reserve`] for a socket that will listen (a userland forwarder's):
/// `SO_REUSEADDR` lets it bind over connections of an earlier listener
/// still in `TIME_WAIT`, as every server does; a port another socket
/// holds is still refused.
pub fn reserve_to_listen(
    proto: Proto,
    host_ip: Option<IpAddr>,
    port: u16,
) -> Result<(OwnedFd, u16), String> {
    bind(proto, host_ip, port, proto == Proto::Tcp)
}

fn bind(
    proto: Proto,
    host_ip: Option<IpAddr>,
    port: u16,
    reuse_addr: bool,
) -> Result<(OwnedFd, u16), String> {
    match host_ip {
        Some(IpAddr::V6(ip)) => reserve6(proto, ip, port, reuse_addr),
        Some(IpAddr::V4(ip)) => reserve4(proto, ip, port, reuse_addr),
        None => reserve4(proto, Ipv4Addr::UNSPECIFIED, port, reuse_addr),
    }
}

/// Sets a boolean socket option (best effort: a socket without it still
/// works, only less well).
fn set_flag(fd: &OwnedFd, level: i32, name: i32) {
    let one: libc::c_int = 1;
    // SAFETY: a valid int option of its size on an open socket we own.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const one).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

fn socket_type(proto: Proto) -> i32 {
    match proto {
        Proto::Tcp => libc::SOCK_STREAM,
        Proto::Udp => libc::SOCK_DGRAM,
    }
}

fn reserve6(
    proto: Proto,
    ip: Ipv6Addr,
    port: u16,
    reuse_addr: bool,
) -> Result<(OwnedFd, u16), String> {
    // SAFETY: socket(2) with constant arguments returns a new fd or -1.
    let raw = unsafe { libc::socket(libc::AF_INET6, socket_type(proto) | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(format!(
            "a socket for port {port}: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: raw was just returned by socket(2) and is owned by no one else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_flag(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY);
    if reuse_addr {
        set_flag(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR);
    }
    let mut sa = libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: port.to_be(),
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr {
            s6_addr: ip.octets(),
        },
        sin6_scope_id: 0,
    };
    let len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    // SAFETY: sa is a valid sockaddr_in6 and len its size.
    if unsafe { libc::bind(fd.as_raw_fd(), (&raw const sa).cast(), len) } < 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EADDRINUSE) {
            format!("Bind for [{ip}]:{port} failed: port is already allocated")
        } else {
            format!("Bind for [{ip}]:{port} failed: {e}")
        });
    }
    let mut got_len = len;
    // SAFETY: sa is writable for got_len bytes, which getsockname updates.
    if unsafe { libc::getsockname(fd.as_raw_fd(), (&raw mut sa).cast(), &mut got_len) } < 0 {
        return Err(format!(
            "the port bound for [{ip}]:{port}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok((fd, u16::from_be(sa.sin6_port)))
}

fn reserve4(
    proto: Proto,
    ip: Ipv4Addr,
    port: u16,
    reuse_addr: bool,
) -> Result<(OwnedFd, u16), String> {
    let typ = socket_type(proto);
    // SAFETY: socket(2) with constant arguments returns a new fd or -1.
    let raw = unsafe { libc::socket(libc::AF_INET, typ | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(format!(
            "a socket for port {port}: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: raw was just returned by socket(2) and is owned by no one else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if reuse_addr {
        let one: libc::c_int = 1;
        // SAFETY: fd is a socket we own; `one` is a c_int alive for the call
        // and its size is passed with it.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                (&raw const one).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(format!(
                "SO_REUSEADDR for port {port}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    let mut sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: sa is a valid sockaddr_in and len its size.
    if unsafe { libc::bind(fd.as_raw_fd(), (&raw const sa).cast(), len) } < 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EADDRINUSE) {
            format!("Bind for {ip}:{port} failed: port is already allocated")
        } else {
            format!("Bind for {ip}:{port} failed: {e}")
        });
    }
    let mut got_len = len;
    // SAFETY: sa is writable for got_len bytes, which getsockname updates.
    if unsafe { libc::getsockname(fd.as_raw_fd(), (&raw mut sa).cast(), &mut got_len) } < 0 {
        return Err(format!(
            "the port bound for {ip}:{port}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok((fd, u16::from_be(sa.sin_port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(parse_key("80/tcp"), Some((80, Proto::Tcp)));
        assert_eq!(parse_key("53/udp"), Some((53, Proto::Udp)));
        assert_eq!(parse_key("8080"), Some((8080, Proto::Tcp)));
        assert_eq!(parse_key("1/sctp"), None);
        assert_eq!(parse_key("x/tcp"), None);
    }

    #[test]
    fn a_held_port_is_refused_and_zero_picks_one() {
        let (_a, p) = reserve(Proto::Tcp, Some(Ipv4Addr::LOCALHOST.into()), 0).unwrap();
        assert!(p > 0);
        let e = reserve(Proto::Tcp, None, p).unwrap_err();
        assert_eq!(
            e,
            format!("Bind for 0.0.0.0:{p} failed: port is already allocated")
        );
        // UDP is another space.
        assert!(reserve(Proto::Udp, Some(Ipv4Addr::LOCALHOST.into()), p).is_ok());
        // IPv6 is a space of its own too, and held like IPv4.
        let (_b, p6) = reserve(Proto::Tcp, Some(Ipv6Addr::UNSPECIFIED.into()), p).unwrap();
        assert_eq!(p6, p);
        let e = reserve(Proto::Tcp, Some(Ipv6Addr::LOCALHOST.into()), p).unwrap_err();
        assert!(
            e.contains("[::1]") && e.contains("already allocated"),
            "{e}"
        );
    }
}
