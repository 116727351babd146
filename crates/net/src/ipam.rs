//! Addresses: the bridge's subnet (chosen clear of the host's routes, as
//! Docker chooses 172.17.0.0/16 unless it is taken) and the next free
//! address in it. What is taken is the caller's to persist; these are
//! pure functions over it.

use std::net::{Ipv4Addr, Ipv6Addr};

/// An IPv4 subnet: its address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subnet {
    /// The network's address (host bits zero).
    pub addr: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
}

impl Subnet {
    /// The subnet of `addr/prefix` (host bits cleared).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Subnet {
        Subnet {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        }
    }

    /// Whether `ip` lies in it.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    /// Whether the two share any address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix.min(other.prefix);
        u32::from(self.addr) & mask(p) == u32::from(other.addr) & mask(p)
    }

    /// The first host address (Docker's gateway).
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) + 1)
    }

    /// The broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask(self.prefix))
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The netmask of a prefix length.
pub fn mask(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

/// Parses `a.b.c.d/n` (Docker's `bip`: the gateway's address and prefix).
pub fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, p) = s.split_once('/')?;
    let p: u8 = p.parse().ok().filter(|p| (1..=30).contains(p))?;
    Some((a.parse().ok()?, p))
}

/// The subnets Docker's default pool offers a default bridge, in order:
/// 172.17.0.0/16 to 172.31.0.0/16, then 192.168.0.0/20 … 192.168.240.0/20.
pub fn candidates() -> Vec<Subnet> {
    let mut out: Vec<Subnet> = (17..=31)
        .map(|b| Subnet::new(Ipv4Addr::new(172, b, 0, 0), 16))
        .collect();
    out.extend((0..16).map(|i| Subnet::new(Ipv4Addr::new(192, 168, i * 16, 0), 20)));
    out
}

/// The first candidate that overlaps none of `routes` (the default route
/// left out).
pub fn choose(routes: &[Subnet]) -> Option<Subnet> {
    candidates().into_iter().find(|c| {
        !routes
            .iter()
            .filter(|r| r.prefix > 0)
            .any(|r| r.overlaps(c))
    })
}

/// The destinations of the host's IPv4 routes, from `/proc/net/route`
/// text (hex, in the kernel's byte order).
pub fn routes_from_proc(text: &str) -> Vec<Subnet> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dst = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let m = u32::from_str_radix(f.get(7)?, 16).ok()?;
            let addr = Ipv4Addr::from(u32::from_be(dst));
            let prefix = u32::from_be(m).count_ones() as u8;
            Some(Subnet::new(addr, prefix))
        })
        .collect()
}

/// The next free host address of `subnet` after `cursor` (wrapping, the
/// way Docker's allocator goes round before it reuses one), skipping the
/// network and broadcast addresses, the `gateway` and what `taken` says is
/// taken. `None` when the subnet is full.
pub fn next_free(
    subnet: Subnet,
    gateway: Ipv4Addr,
    cursor: Option<Ipv4Addr>,
    taken: &dyn Fn(Ipv4Addr) -> bool,
) -> Option<Ipv4Addr> {
    let lo = u32::from(subnet.addr) + 1;
    let hi = u32::from(subnet.broadcast()) - 1;
    if hi < lo {
        return None;
    }
    let start = cursor
        .map(u32::from)
        .filter(|c| (lo..=hi).contains(c))
        .map_or(lo, |c| if c == hi { lo } else { c + 1 });
    let n = hi - lo + 1;
    (0..n)
        .map(|i| lo + (start - lo + i) % n)
        .map(Ipv4Addr::from)
        .find(|ip| *ip != gateway && !taken(*ip))
}

/// An IPv6 subnet: its address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subnet6 {
    /// The network's address (host bits zero).
    pub addr: Ipv6Addr,
    /// Prefix length.
    pub prefix: u8,
}

/// The netmask of an IPv6 prefix length.
pub fn mask6(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

impl Subnet6 {
    /// The subnet of `addr/prefix` (host bits cleared).
    pub fn new(addr: Ipv6Addr, prefix: u8) -> Subnet6 {
        Subnet6 {
            addr: Ipv6Addr::from(u128::from(addr) & mask6(prefix)),
            prefix,
        }
    }

    /// Whether `ip` lies in it.
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & mask6(self.prefix) == u128::from(self.addr)
    }

    /// Whether the two share any address.
    pub fn overlaps(&self, other: &Subnet6) -> bool {
        let p = self.prefix.min(other.prefix);
        u128::from(self.addr) & mask6(p) == u128::from(other.addr) & mask6(p)
    }

    /// The first host address (Docker's gateway: `fd00::1` of `fd00::/64`).
    pub fn first(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.addr) + 1)
    }

    /// The last address of the subnet.
    pub fn last(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.addr) | !mask6(self.prefix))
    }
}

impl std::fmt::Display for Subnet6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A subnet of either family, as Docker's IPAM config gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnySubnet {
    /// IPv4.
    V4(Subnet),
    /// IPv6.
    V6(Subnet6),
}

/// Parses `addr/prefix` of either family, host bits cleared (dockerd 20.10
/// took `2001:db8::1/64` for `2001:db8::/64`). `None` when it is no CIDR.
pub fn parse_any(s: &str) -> Option<AnySubnet> {
    let (a, p) = s.split_once('/')?;
    let p: u8 = p.parse().ok()?;
    match a.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(a) if (1..=32).contains(&p) => Some(AnySubnet::V4(Subnet::new(a, p))),
        std::net::IpAddr::V6(a) if (1..=128).contains(&p) => {
            Some(AnySubnet::V6(Subnet6::new(a, p)))
        }
        _ => None,
    }
}

/// Parses an IPv6 `addr/prefix` as given (the gateway's address and the
/// prefix: dockerd's `fixed-cidr-v6` names the subnet).
pub fn parse_cidr6(s: &str) -> Option<(Ipv6Addr, u8)> {
    let (a, p) = s.split_once('/')?;
    let p: u8 = p.parse().ok().filter(|p| (1..=126).contains(p))?;
    Some((a.parse().ok()?, p))
}

/// Most addresses tried when looking for a free IPv6 one: a /64 has
/// 2^64, far more than any bridge holds; the search after the cursor is
/// bounded instead of exhaustive.
const MAX_V6_PROBES: u32 = 1 << 16;

/// The next free IPv6 address of `range` after `cursor`, skipping the
/// subnet-router anycast address (the range's first), the `gateway` and
/// what `taken` says is taken. `None` when none is found within
/// [`MAX_V6_PROBES`] addresses.
pub fn next_free6(
    range: Subnet6,
    gateway: Ipv6Addr,
    cursor: Option<Ipv6Addr>,
    taken: &dyn Fn(Ipv6Addr) -> bool,
) -> Option<Ipv6Addr> {
    let lo = u128::from(range.addr) + 1;
    let hi = u128::from(range.last());
    if hi < lo {
        return None;
    }
    let n = hi - lo + 1;
    let start = cursor
        .map(u128::from)
        .filter(|c| (lo..=hi).contains(c))
        .map_or(lo, |c| if c == hi { lo } else { c + 1 });
    (0..u128::from(MAX_V6_PROBES).min(n))
        .map(|i| lo + (start - lo + i) % n)
        .map(Ipv6Addr::from)
        .find(|ip| *ip != gateway && !taken(*ip))
}

/// The MAC of a container's interface, made from its address as Docker's
/// used to (`02:42` and the four bytes), unique on the bridge.
pub fn mac_of(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// A MAC as text, `02:42:ac:11:00:02`.
pub fn mac_string(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> Subnet {
        let (a, p) = t.split_once('/').unwrap();
        Subnet::new(a.parse().unwrap(), p.parse().unwrap())
    }

    #[test]
    fn chooses_clear_of_routes() {
        for (routes, want) in [
            (vec!["0.0.0.0/0", "192.0.2.0/24"], "172.17.0.0/16"),
            (vec!["172.17.5.0/24"], "172.18.0.0/16"),
            (vec!["172.16.0.0/12"], "192.168.0.0/20"),
            (vec!["172.0.0.0/8", "192.168.0.0/24"], "192.168.16.0/20"),
        ] {
            let r: Vec<Subnet> = routes.iter().map(|t| s(t)).collect();
            assert_eq!(choose(&r), Some(s(want)), "{routes:?}");
        }
    }

    #[test]
    fn proc_routes() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(
            routes_from_proc(text),
            vec![s("0.0.0.0/0"), s("192.0.2.0/24")]
        );
    }

    #[test]
    fn next_address_goes_round() {
        let sub = s("10.0.0.0/29"); // hosts .1 to .6
        let gw = sub.first();
        let none = |_: Ipv4Addr| false;
        assert_eq!(
            next_free(sub, gw, None, &none),
            Some("10.0.0.2".parse().unwrap())
        );
        assert_eq!(
            next_free(sub, gw, Some("10.0.0.2".parse().unwrap()), &none),
            Some("10.0.0.3".parse().unwrap())
        );
        assert_eq!(
            next_free(sub, gw, Some("10.0.0.6".parse().unwrap()), &none),
            Some("10.0.0.2".parse().unwrap()),
            "wraps, skipping the gateway"
        );
        let taken = |ip: Ipv4Addr| ip != "10.0.0.5".parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            next_free(sub, gw, None, &taken),
            Some("10.0.0.5".parse().unwrap())
        );
        assert_eq!(next_free(sub, gw, None, &|_| true), None);
    }

    #[test]
    fn ipv6_subnets_and_addresses() {
        let Some(AnySubnet::V6(sub)) = parse_any("2001:389::1/64") else {
            panic!()
        };
        assert_eq!(sub.to_string(), "2001:389::/64");
        assert_eq!(sub.first(), "2001:389::1".parse::<Ipv6Addr>().unwrap());
        assert!(sub.contains("2001:389::f00d".parse().unwrap()));
        assert!(!sub.contains("2001:38a::1".parse().unwrap()));
        let wide = Subnet6::new("2001:389::".parse().unwrap(), 48);
        assert!(wide.overlaps(&sub) && sub.overlaps(&wide));
        assert!(!sub.overlaps(&Subnet6::new("fd00::".parse().unwrap(), 64)));
        assert!(matches!(parse_any("10.0.0.0/8"), Some(AnySubnet::V4(_))));
        assert_eq!(parse_any("fd00::/129"), None);
        assert_eq!(parse_any("x/64"), None);
        let gw = sub.first();
        let none = |_: Ipv6Addr| false;
        assert_eq!(
            next_free6(sub, gw, None, &none),
            Some("2001:389::2".parse().unwrap())
        );
        let tiny = Subnet6::new("fd00::".parse().unwrap(), 126); // ::1 to ::3
        assert_eq!(
            next_free6(
                tiny,
                "fd00::1".parse().unwrap(),
                Some("fd00::3".parse().unwrap()),
                &none
            ),
            Some("fd00::2".parse().unwrap()),
            "wraps, skipping the gateway"
        );
        assert_eq!(next_free6(tiny, gw, None, &|_| true), None);
        assert_eq!(
            parse_cidr6("fd00:1::1/64"),
            Some(("fd00:1::1".parse().unwrap(), 64))
        );
    }

    #[test]
    fn cidr_and_mac() {
        assert_eq!(
            parse_cidr("172.17.0.1/16"),
            Some(("172.17.0.1".parse().unwrap(), 16))
        );
        assert_eq!(parse_cidr("172.17.0.1"), None);
        assert_eq!(
            mac_string(mac_of("172.17.0.2".parse().unwrap())),
            "02:42:ac:11:00:02"
        );
    }
}
