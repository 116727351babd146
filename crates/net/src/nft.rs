//! berth's nftables table: NAT for the bridges' subnets, the DNAT of
//! published ports and the isolation of user-defined networks. The whole table is written at once by `nft -f -` in one
//! transaction (`table …; delete table …; table … { … }`): the ruleset is
//! never seen half applied, and no rule outside berth's table is touched.
//!
//! What the table holds, for bridge `berth0` on 172.17.0.0/16:
//!
//! ```text
//! prerouting, output (nat, dstnat): to a local address -> chain ports
//! ports:       [ip daddr HOSTIP] tcp|udp dport HOSTPORT dnat to IP:PORT
//! postrouting (nat, srcnat):
//!   from the subnet out of any other interface  -> masquerade (outbound NAT)
//!   into the bridge from 127.0.0.0/8            -> masquerade (127.0.0.1:PORT)
//!   into the bridge from the subnet, DNATed     -> masquerade (hairpin)
//!   (each bridge; an internal one has no outbound masquerade)
//! forward (filter): from one berth bridge to another -> drop;
//!   internal bridge to or from any other interface   -> drop
//! ```
//!
//! Reaching `127.0.0.1:PORT` from the host: the output chain's DNAT sends
//! the packet to the bridge with its source still 127.0.0.1, which the
//! kernel routes only with `route_localnet=1` on the bridge; the masquerade
//! then gives it the gateway's address so that the reply comes back. This
//! is what Docker does without its userland proxy (`--userland-proxy=false`).

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::ipam::Subnet;
use crate::ports::{Forward, Proto};

/// One bridge's part of the table: its name, its subnet, and whether it is
/// internal (Docker's `--internal`: no masquerade, no forwarding to or
/// from any other interface).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeRule {
    /// The bridge's name.
    pub name: String,
    /// Its subnet.
    pub subnet: Subnet,
    /// No way out.
    pub internal: bool,
}

/// The ruleset of table `table` (family `ip`) for `bridges` (the default
/// bridge and the user-defined networks' bridges): NAT, published ports,
/// and a filter chain that keeps the bridges apart, as Docker's
/// `DOCKER-ISOLATION` chains do.
pub fn ruleset(table: &str, bridges: &[BridgeRule], forwards: &[Forward]) -> String {
    let mut ports = String::new();
    for f in forwards {
        let proto = match f.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        let daddr = match f.host_ip {
            Some(ip) if ip != Ipv4Addr::UNSPECIFIED => format!("ip daddr {ip} "),
            _ => String::new(),
        };
        ports.push_str(&format!(
            "\t\t{daddr}{proto} dport {} dnat to {}:{}\n",
            f.host_port, f.ip, f.port
        ));
    }
    let mut post = String::new();
    let mut isolation = String::new();
    for b in bridges {
        let (name, subnet) = (&b.name, b.subnet);
        if !b.internal {
            post.push_str(&format!(
                "\t\tip saddr {subnet} oifname != \"{name}\" masquerade\n"
            ));
        }
        post.push_str(&format!(
            "\t\toifname \"{name}\" ip saddr 127.0.0.0/8 masquerade\n\
\t\toifname \"{name}\" ip saddr {subnet} ct status dnat masquerade\n"
        ));
        if b.internal {
            isolation.push_str(&format!(
                "\t\tiifname \"{name}\" oifname != \"{name}\" drop\n\
\t\toifname \"{name}\" iifname != \"{name}\" drop\n"
            ));
        }
        for o in bridges.iter().filter(|o| o.name != b.name) {
            isolation.push_str(&format!(
                "\t\tiifname \"{name}\" oifname \"{}\" drop\n",
                o.name
            ));
        }
    }
    format!(
        "table ip {table}\n\
delete table ip {table}\n\
table ip {table} {{\n\
\tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tfib daddr type local jump ports\n\t}}\n\
\tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n\t\tfib daddr type local jump ports\n\t}}\n\
\tchain ports {{\n{ports}\t}}\n\
\tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n{post}\t}}\n\
\tchain forward {{\n\t\ttype filter hook forward priority filter; policy accept;\n{isolation}\t}}\n\
}}\n"
    )
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

/// Removes table `table` (none is fine).
pub fn delete(table: &str) -> std::io::Result<()> {
    apply(&format!("table ip {table}\ndelete table ip {table}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_become_dnat_rules() {
        let f = [
            Forward {
                proto: Proto::Tcp,
                host_ip: None,
                host_port: 8080,
                ip: "172.17.0.2".parse().unwrap(),
                port: 80,
            },
            Forward {
                proto: Proto::Udp,
                host_ip: Some("127.0.0.1".parse().unwrap()),
                host_port: 53,
                ip: "172.17.0.3".parse().unwrap(),
                port: 5353,
            },
        ];
        let sub = Subnet::new("172.17.0.0".parse().unwrap(), 16);
        let b = |name: &str, sub, internal| BridgeRule {
            name: name.into(),
            subnet: sub,
            internal,
        };
        let r = ruleset("berth", &[b("berth0", sub, false)], &f);
        assert!(r.starts_with("table ip berth\ndelete table ip berth\n"));
        assert!(r.contains("\t\ttcp dport 8080 dnat to 172.17.0.2:80\n"));
        assert!(r.contains("ip daddr 127.0.0.1 udp dport 53 dnat to 172.17.0.3:5353\n"));
        assert!(r.contains("ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade"));
        assert!(!r.contains("drop"));
        let user = Subnet::new("172.18.0.0".parse().unwrap(), 16);
        let r = ruleset(
            "berth",
            &[b("berth0", sub, false), b("br-1", user, true)],
            &[],
        );
        assert!(r.contains("iifname \"berth0\" oifname \"br-1\" drop\n"));
        assert!(r.contains("iifname \"br-1\" oifname \"berth0\" drop\n"));
        assert!(r.contains("iifname \"br-1\" oifname != \"br-1\" drop\n"));
        assert!(!r.contains("ip saddr 172.18.0.0/16 oifname != \"br-1\" masquerade"));
    }
}
