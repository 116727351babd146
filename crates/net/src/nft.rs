//! berth's nftables tables: NAT for the bridges' subnets, the DNAT of
//! published ports, the isolation of user-defined networks, and a hook
//! for the host's firewall. One table per family, `ip T` and `ip6 T` (the
//! IPv6 one only once a bridge has IPv6), each written by `nft -f -` in
//! one transaction: never seen half applied, and no rule outside berth's
//! tables is touched.
//!
//! What a table holds, for bridge `berth0` on 172.17.0.0/16:
//!
//! ```text
//! localnet (filter, prerouting, raw): to 127.0.0.0/8 not from lo -> drop
//! firewall:    THE ADMIN'S. berth makes it empty once and never writes it
//!              again (see "The host's firewall" below)
//! published (filter, prerouting, priority dstnat - 10, before the DNAT):
//!              to a local address, on a published host port -> jump firewall
//! prerouting, output (nat, dstnat): to a local address -> chain ports
//! ports:       [ip daddr HOSTIP] tcp|udp dport HOSTPORT dnat to IP:PORT
//! postrouting (nat, srcnat):
//!   from the subnet out of any other interface  -> masquerade (outbound NAT,
//!                                                  unless internal or
//!                                                  enable_ip_masquerade=false)
//!   into the bridge from 127.0.0.0/8            -> masquerade (127.0.0.1:PORT)
//!   into the bridge from the subnet, DNATed     -> masquerade (hairpin)
//! forward (filter): from one berth bridge to another -> drop;
//!   internal bridge to or from any other interface   -> drop
//! ```
//!
//! Reaching `127.0.0.1:PORT` from the host: the output chain's DNAT sends
//! the packet to the bridge with its source still 127.0.0.1, which the
//! kernel routes only with `route_localnet=1` on the bridge; the masquerade
//! then gives it the gateway's address so that the reply comes back. This
//! is what Docker does without its userland proxy (`--userland-proxy=false`).
//! IPv6 has no such switch: `[::1]:PORT` is left out of the IPv6 output
//! chain's DNAT and reaches berth's relay (`proxy`) instead.
//!
//! # The host's firewall
//!
//! Published ports are DNATed before the host's `input` chains see them,
//! so rules there (ufw's, firewalld's) never apply to them: moby issue
//! 4737. berth sends every new packet for a published port, before its
//! DNAT and with the host's port still in it, through the chain
//! `firewall` of its table, which belongs to the host's administrator:
//! berth creates it if it is missing and otherwise leaves it alone, so
//! its rules outlive berthd's restarts and every rewrite of berth's own
//! chains. A `drop` there drops the packet; anything else lets it on.
//! For example, `nft add rule ip berth firewall tcp dport 8080 drop`, and
//! the same in `ip6 berth` (docs/NETWORKING.md has ufw's and firewalld's
//! ways to the same chain).
//!
//! `route_localnet=1` also lets the kernel accept, on the bridge, a packet
//! *to* 127.0.0.1: a container with CAP_NET_RAW (a default capability)
//! could hand the gateway such a frame and reach the host's loopback-only
//! services (CVE-2020-8558). The `localnet` chain drops every packet for
//! 127.0.0.0/8 that arrives on an interface other than `lo`, as kube-proxy's
//! fix and Docker's do. It runs at the raw priority, before conntrack: the
//! replies of `127.0.0.1:PORT` connections arrive addressed to the gateway
//! (masqueraded) and become 127.0.0.1 only later, so they pass.

use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use crate::ipam::{Subnet, Subnet6};
use crate::ports::{Forward, Proto};

/// The admin's chain, which berth never writes once it exists.
pub const FIREWALL_CHAIN: &str = "firewall";

/// One bridge's part of the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeRule {
    /// The bridge's name.
    pub name: String,
    /// Its subnet.
    pub subnet: Subnet,
    /// Its IPv6 subnet, if it has one.
    pub subnet6: Option<Subnet6>,
    /// No way out (Docker's `--internal`: no masquerade, no forwarding to
    /// or from any other interface).
    pub internal: bool,
    /// Containers on it may talk to each other
    /// (`com.docker.network.bridge.enable_icc`).
    pub icc: bool,
    /// Outbound traffic is masqueraded
    /// (`com.docker.network.bridge.enable_ip_masquerade`).
    pub masquerade: bool,
}

/// The address family of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `table ip`.
    V4,
    /// `table ip6`.
    V6,
}

impl Family {
    fn table(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        }
    }
}

/// Berth's chains: declared (a no-op when they exist), flushed and filled
/// at each write. The admin's `firewall` is only declared.
const CHAINS: [(&str, &str); 7] = [
    (
        "localnet",
        "type filter hook prerouting priority raw; policy accept;",
    ),
    (
        "published",
        "type filter hook prerouting priority -110; policy accept;",
    ),
    (
        "prerouting",
        "type nat hook prerouting priority dstnat; policy accept;",
    ),
    (
        "output",
        "type nat hook output priority -100; policy accept;",
    ),
    ("ports", ""),
    (
        "postrouting",
        "type nat hook postrouting priority srcnat; policy accept;",
    ),
    (
        "forward",
        "type filter hook forward priority filter; policy accept;",
    ),
];

fn proto(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    }
}

/// The rules of each chain of berth's table of `family`.
fn chain_rules(
    family: Family,
    bridges: &[BridgeRule],
    forwards: &[Forward],
) -> Vec<(&'static str, String)> {
    let (mut published, mut ports, mut post, mut forward) =
        (String::new(), String::new(), String::new(), String::new());
    for f in forwards {
        let daddr = match (family, f.host_ip) {
            (Family::V4, Some(IpAddr::V4(ip))) if !ip.is_unspecified() => {
                format!("ip daddr {ip} ")
            }
            (Family::V6, Some(IpAddr::V6(ip))) if !ip.is_unspecified() => {
                format!("ip6 daddr {ip} ")
            }
            (_, Some(ip)) if !ip.is_unspecified() => continue, // the other family's
            _ => String::new(),
        };
        let p = proto(f.proto);
        published.push_str(&format!(
            "\t\tfib daddr type local {daddr}{p} dport {} jump {FIREWALL_CHAIN}\n",
            f.host_port
        ));
        let to = match family {
            Family::V4 => format!("{}:{}", f.ip, f.port),
            Family::V6 => match f.ip6 {
                Some(ip6) => format!("[{ip6}]:{}", f.port),
                // No IPv6 address: berth's relay takes it.
                None => continue,
            },
        };
        ports.push_str(&format!(
            "\t\t{daddr}{p} dport {} dnat to {to}\n",
            f.host_port
        ));
    }
    let v4 = family == Family::V4;
    let names: Vec<&str> = bridges
        .iter()
        .filter(|b| v4 || b.subnet6.is_some())
        .map(|b| b.name.as_str())
        .collect();
    for b in bridges {
        let subnet = match (family, b.subnet6) {
            (Family::V4, _) => format!("ip saddr {}", b.subnet),
            (Family::V6, Some(s6)) => format!("ip6 saddr {s6}"),
            (Family::V6, None) => continue,
        };
        let name = &b.name;
        if !b.internal && b.masquerade {
            post.push_str(&format!("\t\t{subnet} oifname != \"{name}\" masquerade\n"));
        }
        if v4 {
            post.push_str(&format!(
                "\t\toifname \"{name}\" ip saddr 127.0.0.0/8 masquerade\n"
            ));
        }
        post.push_str(&format!(
            "\t\toifname \"{name}\" {subnet} ct status dnat masquerade\n"
        ));
        if b.internal {
            forward.push_str(&format!(
                "\t\tiifname \"{name}\" oifname != \"{name}\" drop\n\
\t\toifname \"{name}\" iifname != \"{name}\" drop\n"
            ));
        }
        if !b.icc {
            // Bridged frames reach this hook through br_netfilter, which
            // Docker needs for the same rule.
            forward.push_str(&format!("\t\tiifname \"{name}\" oifname \"{name}\" drop\n"));
        }
        for o in names.iter().filter(|o| **o != name.as_str()) {
            forward.push_str(&format!("\t\tiifname \"{name}\" oifname \"{o}\" drop\n"));
        }
    }
    let output = match family {
        Family::V4 => "\t\tfib daddr type local jump ports\n".to_string(),
        Family::V6 => "\t\tfib daddr type local ip6 daddr != ::1 jump ports\n".to_string(),
    };
    // CVE-2020-8558 (see the module's doc); IPv6 never routes ::1 off lo.
    let localnet = match family {
        Family::V4 => "\t\tiifname != \"lo\" ip daddr 127.0.0.0/8 drop\n".to_string(),
        Family::V6 => String::new(),
    };
    vec![
        ("localnet", localnet),
        ("published", published),
        ("prerouting", "\t\tfib daddr type local jump ports\n".into()),
        ("output", output),
        ("ports", ports),
        ("postrouting", post),
        ("forward", forward),
    ]
}

/// The text that writes table `table` of `family` for `bridges` (the
/// default bridge and the user-defined networks' bridges) and `forwards`:
/// chains declared, berth's flushed and filled, the admin's kept.
pub fn ruleset_of(
    family: Family,
    table: &str,
    bridges: &[BridgeRule],
    forwards: &[Forward],
) -> String {
    let fam = family.table();
    let mut out = format!("table {fam} {table} {{\n\tchain {FIREWALL_CHAIN} {{\n\t}}\n");
    for (name, head) in CHAINS {
        out.push_str(&format!("\tchain {name} {{\n\t\t{head}\n\t}}\n"));
    }
    out.push_str("}\n");
    for (name, _) in CHAINS {
        out.push_str(&format!("flush chain {fam} {table} {name}\n"));
    }
    out.push_str(&format!("table {fam} {table} {{\n"));
    for (name, rules) in chain_rules(family, bridges, forwards) {
        out.push_str(&format!("\tchain {name} {{\n{rules}\t}}\n"));
    }
    out.push_str("}\n");
    out
}

/// [`ruleset_of`] for IPv4 (kept for the callers that write one family).
pub fn ruleset(table: &str, bridges: &[BridgeRule], forwards: &[Forward]) -> String {
    ruleset_of(Family::V4, table, bridges, forwards)
}

/// Writes the table of `family`. A table left by another layout of
/// berth's chains (a chain declared with another hook) is replaced whole,
/// the admin's chain with it: nothing else would apply.
pub fn apply_family(
    family: Family,
    table: &str,
    bridges: &[BridgeRule],
    forwards: &[Forward],
) -> std::io::Result<()> {
    let text = ruleset_of(family, table, bridges, forwards);
    match apply(&text) {
        Ok(()) => Ok(()),
        Err(_) => {
            let fam = family.table();
            apply(&format!(
                "table {fam} {table}\ndelete table {fam} {table}\n{text}"
            ))
        }
    }
}

/// Writes berth's IPv4 table, and its IPv6 one when a bridge has IPv6.
pub fn apply_all(table: &str, bridges: &[BridgeRule], forwards: &[Forward]) -> std::io::Result<()> {
    apply_family(Family::V4, table, bridges, forwards)?;
    if bridges.iter().any(|b| b.subnet6.is_some()) {
        apply_family(Family::V6, table, bridges, forwards)?;
    }
    Ok(())
}

/// Feeds `text` to `nft -f -`.
pub fn apply(text: &str) -> std::io::Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                std::io::Error::new(
                    e.kind(),
                    "the nft program is missing (package nftables): berth's networks need it; install it, or start berthd with --bridge none",
                )
            } else {
                e
            }
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "nft: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Removes berth's tables `table` of both families (none is fine).
pub fn delete(table: &str) -> std::io::Result<()> {
    apply(&format!(
        "table ip {table}\ndelete table ip {table}\ntable ip6 {table}\ndelete table ip6 {table}\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(name: &str, sub: &str, internal: bool) -> BridgeRule {
        let (a, p) = sub.split_once('/').unwrap();
        BridgeRule {
            name: name.into(),
            subnet: Subnet::new(a.parse().unwrap(), p.parse().unwrap()),
            subnet6: None,
            internal,
            icc: true,
            masquerade: true,
        }
    }

    #[test]
    fn ports_become_dnat_rules() {
        let f = [
            Forward {
                proto: Proto::Tcp,
                host_ip: None,
                host_port: 8080,
                ip: "172.17.0.2".parse().unwrap(),
                port: 80,
                ip6: None,
            },
            Forward {
                proto: Proto::Udp,
                host_ip: Some("127.0.0.1".parse().unwrap()),
                host_port: 53,
                ip: "172.17.0.3".parse().unwrap(),
                port: 5353,
                ip6: None,
            },
        ];
        let r = ruleset("berth", &[b("berth0", "172.17.0.0/16", false)], &f);
        assert!(r.starts_with("table ip berth {\n\tchain firewall {\n\t}\n"));
        assert!(r.contains("flush chain ip berth ports\n"));
        assert!(!r.contains("flush chain ip berth firewall"), "the admin's");
        assert!(!r.contains("delete"), "the table is kept: {r}");
        assert!(r.contains("\t\ttcp dport 8080 dnat to 172.17.0.2:80\n"));
        assert!(r.contains("ip daddr 127.0.0.1 udp dport 53 dnat to 172.17.0.3:5353\n"));
        assert!(r.contains("fib daddr type local tcp dport 8080 jump firewall\n"));
        assert!(r.contains("fib daddr type local ip daddr 127.0.0.1 udp dport 53 jump firewall\n"));
        assert!(r.contains("ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade"));
        // CVE-2020-8558: nothing reaches 127.0.0.0/8 from outside lo.
        assert!(r.contains("\tchain localnet {\n\t\tiifname != \"lo\" ip daddr 127.0.0.0/8 drop\n"));
        let forward = r.split("chain forward").last().unwrap();
        assert!(!forward.contains("drop"), "{forward}");
        let r = ruleset(
            "berth",
            &[
                b("berth0", "172.17.0.0/16", false),
                b("br-1", "172.18.0.0/16", true),
            ],
            &[],
        );
        assert!(r.contains("iifname \"berth0\" oifname \"br-1\" drop\n"));
        assert!(r.contains("iifname \"br-1\" oifname \"berth0\" drop\n"));
        assert!(r.contains("iifname \"br-1\" oifname != \"br-1\" drop\n"));
        assert!(!r.contains("ip saddr 172.18.0.0/16 oifname != \"br-1\" masquerade"));
    }

    #[test]
    fn ipv6_table_and_options() {
        let mut v6 = b("br-6", "10.9.0.0/24", false);
        v6.subnet6 = Some(Subnet6::new("fd00:9::".parse().unwrap(), 64));
        let mut quiet = b("br-q", "10.8.0.0/24", false);
        quiet.icc = false;
        quiet.masquerade = false;
        let f = [
            Forward {
                proto: Proto::Tcp,
                host_ip: None,
                host_port: 8080,
                ip: "10.9.0.2".parse().unwrap(),
                port: 80,
                ip6: Some("fd00:9::2".parse().unwrap()),
            },
            Forward {
                proto: Proto::Tcp,
                host_ip: Some("::1".parse().unwrap()),
                host_port: 9090,
                ip: "10.8.0.2".parse().unwrap(),
                port: 90,
                ip6: None,
            },
        ];
        let bridges = [v6, quiet];
        let r6 = ruleset_of(Family::V6, "berth", &bridges, &f);
        assert!(r6.contains("table ip6 berth {"));
        assert!(
            r6.contains("\t\ttcp dport 8080 dnat to [fd00:9::2]:80\n"),
            "{r6}"
        );
        assert!(!r6.contains("9090 dnat"), "no IPv6 address: the relay's");
        assert!(r6.contains("ip6 daddr ::1 tcp dport 9090 jump firewall"));
        assert!(r6.contains("ip6 saddr fd00:9::/64 oifname != \"br-6\" masquerade"));
        assert!(r6.contains("ip6 daddr != ::1 jump ports"));
        assert!(!r6.contains("br-q"), "an IPv4-only bridge is not in ip6");
        let r4 = ruleset_of(Family::V4, "berth", &bridges, &f);
        assert!(!r4.contains("9090"), "an IPv6 host address is not in ip");
        assert!(!r4.contains("ip saddr 10.8.0.0/24 oifname != \"br-q\" masquerade"));
        assert!(r4.contains("iifname \"br-q\" oifname \"br-q\" drop"));
    }
}
