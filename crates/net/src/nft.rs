//! berth's nftables table: NAT for the bridge's subnet and the DNAT of
//! published ports. The whole table is written at once by `nft -f -` in one
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

/// The ruleset of table `table` (family `ip`) for `bridge` on `subnet`.
pub fn ruleset(table: &str, bridge: &str, subnet: Subnet, forwards: &[Forward]) -> String {
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
    format!(
        "table ip {table}\n\
delete table ip {table}\n\
table ip {table} {{\n\
\tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tfib daddr type local jump ports\n\t}}\n\
\tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n\t\tfib daddr type local jump ports\n\t}}\n\
\tchain ports {{\n{ports}\t}}\n\
\tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\
\t\tip saddr {subnet} oifname != \"{bridge}\" masquerade\n\
\t\toifname \"{bridge}\" ip saddr 127.0.0.0/8 masquerade\n\
\t\toifname \"{bridge}\" ip saddr {subnet} ct status dnat masquerade\n\t}}\n\
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
        .spawn()?;
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
        let r = ruleset("berth", "berth0", sub, &f);
        assert!(r.starts_with("table ip berth\ndelete table ip berth\n"));
        assert!(r.contains("\t\ttcp dport 8080 dnat to 172.17.0.2:80\n"));
        assert!(r.contains("ip daddr 127.0.0.1 udp dport 53 dnat to 172.17.0.3:5353\n"));
        assert!(r.contains("ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade"));
    }
}
