//! A small rtnetlink client (`NETLINK_ROUTE`): just the requests berth
//! needs (make a bridge and veth pairs, set links up, attach them to the
//! bridge, add addresses and routes, list links and addresses). Messages
//! are built by hand as the kernel's `linux/rtnetlink.h` lays them out:
//! a `nlmsghdr`, a fixed header (`ifinfomsg`, `ifaddrmsg`, `rtmsg`), then
//! attributes (`rtattr`, 4-byte aligned, nested where the kernel nests).
//!
//! A socket is bound to the network namespace it was opened in: one opened
//! on a thread inside a container's namespace configures that namespace
//! from anywhere afterwards.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_MULTI: u16 = 2;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_PROTINFO: u16 = 12;
const IFLA_BRPORT_MODE: u16 = 4;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const NLA_F_NESTED: u16 = 0x8000;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
/// No duplicate address detection: the address is usable at once (the
/// bridge's subnet is berth's to hand out, so no one else has it).
const IFA_F_NODAD: u32 = 0x02;

const RTA_GATEWAY: u16 = 5;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RTN_UNICAST: u8 = 1;

const IFF_UP: u32 = 1;

/// Largest reply read at once (a dump comes in several).
const RECV_BUFFER: usize = 64 * 1024;

/// A link as a dump lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Interface index.
    pub index: i32,
    /// Name.
    pub name: String,
    /// Index of its master (a bridge), 0 if none.
    pub master: i32,
}

/// An rtnetlink socket.
#[derive(Debug)]
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

/// A message being built: the header's length is fixed up at the end.
struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    fn new(typ: u16, flags: u16, header: &[u8]) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&typ.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // seq, set at send
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        buf.extend_from_slice(header);
        Msg {
            buf,
            nests: Vec::new(),
        }
    }

    fn align(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn attr(&mut self, typ: u16, data: &[u8]) -> &mut Msg {
        self.align();
        let len = u16::try_from(4 + data.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&typ.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self
    }

    fn str_attr(&mut self, typ: u16, s: &str) -> &mut Msg {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        self.attr(typ, &d)
    }

    fn u32_attr(&mut self, typ: u16, v: u32) -> &mut Msg {
        self.attr(typ, &v.to_ne_bytes())
    }

    fn begin(&mut self, typ: u16) -> &mut Msg {
        self.align();
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(typ | NLA_F_NESTED).to_ne_bytes());
        self
    }

    /// Raw bytes inside the current nest (a peer's `ifinfomsg`).
    fn raw(&mut self, data: &[u8]) -> &mut Msg {
        self.align();
        self.buf.extend_from_slice(data);
        self
    }

    fn end(&mut self) -> &mut Msg {
        if let Some(at) = self.nests.pop() {
            let len = u16::try_from(self.buf.len() - at).unwrap_or(u16::MAX);
            self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }
}

/// `struct ifinfomsg`.
fn ifinfo(index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0] = libc::AF_UNSPEC as u8;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

/// The attributes after a fixed header of `skip` bytes: (type, data).
fn attrs(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([b[0], b[1]]));
        let typ = u16::from_ne_bytes([b[2], b[3]]) & !NLA_F_NESTED;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((typ, &b[4..len]));
        let next = (len + 3) & !3;
        b = b.get(next..).unwrap_or(&[]);
    }
    out
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Netlink> {
        // SAFETY: socket(2) with constant arguments returns a new fd or -1.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just returned by socket(2) and is owned by no one else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Netlink { fd, seq: 0 })
    }

    fn send(&mut self, m: &mut Msg) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let len = u32::try_from(m.buf.len()).unwrap_or(u32::MAX);
        m.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        m.buf[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        // SAFETY: the buffer is valid for its length; a netlink socket with
        // no address sends to the kernel.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), m.buf.as_ptr().cast(), m.buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(self.seq)
    }

    /// Reads replies to `seq` until the ack or the dump's end; each other
    /// message's (type, payload) goes to `each`.
    fn recv(&mut self, seq: u32, mut each: impl FnMut(u16, &[u8])) -> io::Result<()> {
        let mut buf = vec![0u8; RECV_BUFFER];
        loop {
            // SAFETY: the buffer is valid and writable for its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let mut b = &buf[..n as usize];
            while b.len() >= 16 {
                let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
                let typ = u16::from_ne_bytes([b[4], b[5]]);
                let flags = u16::from_ne_bytes([b[6], b[7]]);
                let mseq = u32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
                if len < 16 || len > b.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a netlink reply cut short",
                    ));
                }
                let payload = &b[16..len];
                b = b.get((len + 3) & !3..).unwrap_or(&[]);
                if mseq != seq {
                    continue;
                }
                match typ {
                    NLMSG_ERROR => {
                        let code = payload
                            .get(0..4)
                            .map(|e| i32::from_ne_bytes([e[0], e[1], e[2], e[3]]))
                            .unwrap_or(0);
                        return if code == 0 {
                            Ok(())
                        } else {
                            Err(io::Error::from_raw_os_error(-code))
                        };
                    }
                    NLMSG_DONE => return Ok(()),
                    _ => {
                        each(typ, payload);
                        if flags & NLM_F_MULTI == 0 {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    fn request(&mut self, m: &mut Msg) -> io::Result<()> {
        let seq = self.send(m)?;
        self.recv(seq, |_, _| {})
    }

    /// Makes a bridge named `name` (EEXIST if it is there).
    pub fn add_bridge(&mut self, name: &str, mtu: u32) -> io::Result<()> {
        let mut m = Msg::new(
            RTM_NEWLINK,
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &ifinfo(0, 0, 0),
        );
        m.str_attr(IFLA_IFNAME, name).u32_attr(IFLA_MTU, mtu);
        m.begin(IFLA_LINKINFO)
            .str_attr(IFLA_INFO_KIND, "bridge")
            .end();
        self.request(&mut m)
    }

    /// Makes a veth pair: `host` here, attached to bridge `master`, and its
    /// peer named `peer` with MAC `mac` directly inside the namespace `netns`.
    pub fn add_veth(
        &mut self,
        host: &str,
        master: i32,
        peer: &str,
        netns: RawFd,
        mac: [u8; 6],
        mtu: u32,
    ) -> io::Result<()> {
        let mut m = Msg::new(
            RTM_NEWLINK,
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &ifinfo(0, 0, 0),
        );
        m.str_attr(IFLA_IFNAME, host)
            .u32_attr(IFLA_MTU, mtu)
            .u32_attr(IFLA_MASTER, master as u32);
        m.begin(IFLA_LINKINFO)
            .str_attr(IFLA_INFO_KIND, "veth")
            .begin(IFLA_INFO_DATA)
            .begin(VETH_INFO_PEER)
            .raw(&ifinfo(0, 0, 0))
            .str_attr(IFLA_IFNAME, peer)
            .u32_attr(IFLA_MTU, mtu)
            .attr(IFLA_ADDRESS, &mac)
            .u32_attr(IFLA_NET_NS_FD, netns as u32)
            .end()
            .end()
            .end();
        self.request(&mut m)
    }

    /// Deletes link `name`.
    pub fn del_link(&mut self, name: &str) -> io::Result<()> {
        let mut m = Msg::new(RTM_DELLINK, NLM_F_ACK, &ifinfo(0, 0, 0));
        m.str_attr(IFLA_IFNAME, name);
        self.request(&mut m)
    }

    /// Deletes link `index`.
    pub fn del_index(&mut self, index: i32) -> io::Result<()> {
        let mut m = Msg::new(RTM_DELLINK, NLM_F_ACK, &ifinfo(index, 0, 0));
        self.request(&mut m)
    }

    /// The index of link `name`.
    pub fn index(&mut self, name: &str) -> io::Result<i32> {
        let mut m = Msg::new(RTM_GETLINK, 0, &ifinfo(0, 0, 0));
        m.str_attr(IFLA_IFNAME, name);
        let seq = self.send(&mut m)?;
        let mut index = 0;
        self.recv(seq, |_, p| {
            if p.len() >= 8 {
                index = i32::from_ne_bytes([p[4], p[5], p[6], p[7]]);
            }
        })?;
        Ok(index)
    }

    /// Sets link `index` up.
    pub fn set_up(&mut self, index: i32) -> io::Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_ACK, &ifinfo(index, IFF_UP, IFF_UP));
        self.request(&mut m)
    }

    /// Turns hairpin mode on for bridge port `index` (what `bridge link
    /// set dev X hairpin on` sends): a frame may leave by the port it came
    /// in by. By netlink rather than `/sys/class/net/X/brport`, which shows
    /// the links of the namespace sysfs was mounted in, not the caller's.
    pub fn set_hairpin(&mut self, index: i32) -> io::Result<()> {
        let mut h = ifinfo(index, 0, 0);
        h[0] = libc::AF_BRIDGE as u8;
        let mut m = Msg::new(RTM_SETLINK, NLM_F_ACK, &h);
        m.begin(IFLA_PROTINFO).attr(IFLA_BRPORT_MODE, &[1]).end();
        self.request(&mut m)
    }

    /// Every link.
    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let mut m = Msg::new(RTM_GETLINK, NLM_F_DUMP, &ifinfo(0, 0, 0));
        let seq = self.send(&mut m)?;
        let mut out = Vec::new();
        self.recv(seq, |typ, p| {
            if typ != RTM_NEWLINK || p.len() < 16 {
                return;
            }
            let index = i32::from_ne_bytes([p[4], p[5], p[6], p[7]]);
            let mut link = Link {
                index,
                name: String::new(),
                master: 0,
            };
            for (t, d) in attrs(&p[16..]) {
                match t {
                    IFLA_IFNAME => link.name = cstr(d),
                    IFLA_MASTER if d.len() >= 4 => {
                        link.master = i32::from_ne_bytes([d[0], d[1], d[2], d[3]])
                    }
                    _ => {}
                }
            }
            out.push(link);
        })?;
        Ok(out)
    }

    /// The IPv4 addresses of link `index`, with their prefix lengths.
    pub fn addresses(&mut self, index: i32) -> io::Result<Vec<(Ipv4Addr, u8)>> {
        let mut m = Msg::new(
            RTM_GETADDR,
            NLM_F_DUMP,
            &[libc::AF_INET as u8, 0, 0, 0, 0, 0, 0, 0],
        );
        let seq = self.send(&mut m)?;
        let mut out = Vec::new();
        self.recv(seq, |_, p| {
            if p.len() < 8 || i32::from_ne_bytes([p[4], p[5], p[6], p[7]]) != index {
                return;
            }
            for (t, d) in attrs(&p[8..]) {
                if t == IFA_LOCAL && d.len() == 4 {
                    out.push((Ipv4Addr::new(d[0], d[1], d[2], d[3]), p[1]));
                }
            }
        })?;
        Ok(out)
    }

    /// Adds `addr/prefix` to link `index`.
    pub fn add_address(&mut self, index: i32, addr: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut h = [0u8; 8];
        h[0] = libc::AF_INET as u8;
        h[1] = prefix;
        h[4..8].copy_from_slice(&index.to_ne_bytes());
        let bcast = u32::from(addr) | (u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0));
        let mut m = Msg::new(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &h);
        m.attr(IFA_LOCAL, &addr.octets())
            .attr(IFA_ADDRESS, &addr.octets())
            .attr(IFA_BROADCAST, &Ipv4Addr::from(bcast).octets());
        self.request(&mut m)
    }

    /// The IPv6 addresses of link `index` of global scope, with their
    /// prefix lengths.
    pub fn addresses6(&mut self, index: i32) -> io::Result<Vec<(Ipv6Addr, u8)>> {
        let mut m = Msg::new(
            RTM_GETADDR,
            NLM_F_DUMP,
            &[libc::AF_INET6 as u8, 0, 0, 0, 0, 0, 0, 0],
        );
        let seq = self.send(&mut m)?;
        let mut out = Vec::new();
        self.recv(seq, |_, p| {
            // Scope 0 is global; link-local addresses (scope 253) are the
            // kernel's own.
            if p.len() < 8 || i32::from_ne_bytes([p[4], p[5], p[6], p[7]]) != index || p[3] != 0 {
                return;
            }
            for (t, d) in attrs(&p[8..]) {
                if t == IFA_ADDRESS && d.len() == 16 {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(d);
                    out.push((Ipv6Addr::from(a), p[1]));
                }
            }
        })?;
        Ok(out)
    }

    /// Adds `addr/prefix` to link `index`, without duplicate address
    /// detection (usable at once).
    pub fn add_address6(&mut self, index: i32, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
        let mut h = [0u8; 8];
        h[0] = libc::AF_INET6 as u8;
        h[1] = prefix;
        h[2] = IFA_F_NODAD as u8;
        h[4..8].copy_from_slice(&index.to_ne_bytes());
        let mut m = Msg::new(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &h);
        m.attr(IFA_ADDRESS, &addr.octets())
            .u32_attr(IFA_FLAGS, IFA_F_NODAD);
        self.request(&mut m)
    }

    /// Adds an IPv6 default route through `gateway`.
    pub fn add_default_route6(&mut self, gateway: Ipv6Addr) -> io::Result<()> {
        self.add_default_route_via(libc::AF_INET6, &gateway.octets())
    }

    /// Adds a default route through `gateway`.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> io::Result<()> {
        self.add_default_route_via(libc::AF_INET, &gateway.octets())
    }

    /// A default route of `family` through the gateway's address bytes.
    fn add_default_route_via(&mut self, family: libc::c_int, gateway: &[u8]) -> io::Result<()> {
        let h = [
            family as u8,
            0, // dst_len: the default route
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            0, // RT_SCOPE_UNIVERSE
            RTN_UNICAST,
            0,
            0,
            0,
            0,
        ];
        let mut m = Msg::new(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &h);
        m.attr(RTA_GATEWAY, gateway);
        self.request(&mut m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_nest_and_align() {
        let mut m = Msg::new(RTM_NEWLINK, 0, &ifinfo(0, 0, 0));
        m.str_attr(IFLA_IFNAME, "ab");
        m.begin(IFLA_LINKINFO)
            .str_attr(IFLA_INFO_KIND, "veth")
            .end();
        let body = &m.buf[32..];
        let a = attrs(body);
        assert_eq!(a.len(), 2);
        assert_eq!(cstr(a[0].1), "ab");
        assert_eq!(a[1].0, IFLA_LINKINFO);
        let inner = attrs(a[1].1);
        assert_eq!(inner, vec![(IFLA_INFO_KIND, &b"veth\0"[..])]);
    }
}
