//! The network's part of a container's `/etc`: `hosts` and `resolv.conf`
//! as Docker writes them (moby `libnetwork/etchosts`, `internal/resolvconf`
//! and `sandbox_dns_unix.go`): the container's own addresses of both
//! families under its host name (and `host.domain`), `--add-host` entries,
//! legacy links' entries, and `--dns`, `--dns-search`, `--dns-option` (the
//! container's, else the daemon's, else the host's).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use super::EtcNet;

/// Docker's base `/etc/hosts`.
pub const BASE_HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// What goes into `hosts` and `resolv.conf` besides what [`EtcNet`] says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcExtra {
    /// The container's IPv6 address (dual-stack networks).
    pub ip6: Option<Ipv6Addr>,
    /// `--domainname`: the host name's entry is `host.domain host`.
    pub domainname: String,
    /// More lines: `--add-host` entries and legacy links' (`IP\tnames`).
    pub hosts: Vec<(IpAddr, String)>,
    /// Nameservers (`--dns`, or the daemon's); empty: the host's.
    pub dns: Vec<String>,
    /// Search domains (`--dns-search`); empty: the host's.
    pub dns_search: Vec<String>,
    /// Resolver options (`--dns-option`); empty: the host's.
    pub dns_options: Vec<String>,
}

/// The names of the host name's entry: `host.domain host`, or `host`.
fn own_names(hostname: &str, domainname: &str) -> String {
    if domainname.is_empty() {
        hostname.to_string()
    } else {
        format!("{hostname}.{domainname} {hostname}")
    }
}

/// The `hosts` file of a container at `ip` (and `extra.ip6`).
pub fn hosts(hostname: &str, ip: Option<Ipv4Addr>, extra: &EtcExtra) -> String {
    let mut out = BASE_HOSTS.to_string();
    for (a, names) in &extra.hosts {
        out.push_str(&format!("{a}\t{names}\n"));
    }
    let names = own_names(hostname, &extra.domainname);
    match ip {
        Some(ip) => out.push_str(&format!("{ip}\t{names}\n")),
        None => out.push_str(&format!("127.0.1.1\t{names}\n")),
    }
    if let Some(ip6) = extra.ip6 {
        out.push_str(&format!("{ip6}\t{names}\n"));
    }
    out
}

/// Replaces the `search`/`domain` and `options` lines of `resolv` with the
/// given ones, when given.
fn with_search_and_options(resolv: &str, extra: &EtcExtra) -> String {
    let mut out = String::new();
    for line in resolv.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        let replaced = match first {
            "search" | "domain" => !extra.dns_search.is_empty(),
            "options" => !extra.dns_options.is_empty(),
            _ => false,
        };
        if !replaced {
            out.push_str(line);
            out.push('\n');
        }
    }
    // `--dns-search .`: no search domain at all, as Docker reads it.
    let search: Vec<&String> = extra.dns_search.iter().filter(|d| *d != ".").collect();
    if !search.is_empty() {
        let search: Vec<&str> = search.iter().map(|s| s.as_str()).collect();
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !extra.dns_options.is_empty() {
        out.push_str(&format!("options {}\n", extra.dns_options.join(" ")));
    }
    out
}

/// The `resolv.conf` of a container: `host` is the host's.
pub fn resolv_conf(net: &EtcNet, host: &str, extra: &EtcExtra) -> String {
    let base = match net {
        EtcNet::Embedded(_) => super::embedded_resolv_conf(host),
        EtcNet::Address(_) if extra.dns.is_empty() => super::container_resolv_conf(host),
        _ if extra.dns.is_empty() => host.to_string(),
        // Its own nameservers replace the host's.
        _ => {
            let mut out: String = host
                .lines()
                .filter(|l| l.split_whitespace().next() != Some("nameserver"))
                .map(|l| format!("{l}\n"))
                .collect();
            for d in &extra.dns {
                out.push_str(&format!("nameserver {d}\n"));
            }
            out
        }
    };
    let mut out = with_search_and_options(&base, extra);
    if matches!(net, EtcNet::Embedded(_)) && !out.contains("ndots:") {
        // The embedded server answers single names: no search domain is
        // tried first (Docker's `ndots:0`, unless one was asked for).
        out = match out.find("\noptions ") {
            Some(i) => {
                let end = out[i + 1..].find('\n').map_or(out.len(), |e| i + 1 + e);
                format!("{} ndots:0{}", &out[..end], &out[end..])
            }
            None if out.starts_with("options ") => {
                let end = out.find('\n').unwrap_or(out.len());
                format!("{} ndots:0{}", &out[..end], &out[end..])
            }
            None => format!("{out}options ndots:0\n"),
        };
    }
    out
}

/// Docker's `--add-host` entries, `name:ip` or `name=ip` (an IPv6 address
/// may be in brackets), `host-gateway` standing for `gateway`.
pub fn extra_hosts(
    entries: &[String],
    gateway: Option<IpAddr>,
) -> Result<Vec<(IpAddr, String)>, String> {
    let mut out = Vec::new();
    for e in entries {
        let (name, ip) = e
            .split_once('=')
            .or_else(|| e.split_once(':'))
            .ok_or_else(|| format!("invalid extra host: {e}"))?;
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        let ip = if ip == "host-gateway" {
            gateway.ok_or_else(|| {
                "unable to derive the IP value for host-gateway: berthd has no default bridge; set host-gateway-ip".to_string()
            })?
        } else {
            ip.parse()
                .map_err(|_| format!("invalid IP address in add-host: {ip:?}"))?
        };
        if name.is_empty() {
            return Err(format!("invalid extra host: {e}"));
        }
        out.push((ip, name.to_string()));
    }
    Ok(out)
}

/// Writes the files bound into the container's `/etc`: `hostname`, and
/// `hosts` and `resolv.conf` as its network gives them (Docker's: the
/// container's address and name in `hosts`; the host's resolvers without
/// loopback ones on a bridge; the host's files on the host's network; the
/// other container's files when it joins another's network).
pub fn write_etc_files(etc_dir: &Path, hostname: &str, net: &EtcNet) -> std::io::Result<()> {
    write_etc_files_with(etc_dir, hostname, net, &Default::default())
}

/// [`write_etc_files`] with the network's extras: the container's IPv6
/// address, `--add-host`, links, `--dns*`, `--domainname`.
pub fn write_etc_files_with(
    etc_dir: &Path,
    hostname: &str,
    net: &EtcNet,
    extra: &EtcExtra,
) -> std::io::Result<()> {
    // The directory is root's; the files are bound into the container,
    // whose users read them.
    crate::perms::private_dir(etc_dir)?;
    std::fs::write(etc_dir.join("hostname"), format!("{hostname}\n"))?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let (hosts, resolv) = match net {
        EtcNet::Loopback => (
            hosts(hostname, None, extra),
            resolv_conf(net, &host_resolv, extra),
        ),
        EtcNet::Address(ip) | EtcNet::Embedded(ip) => (
            hosts(hostname, Some(*ip), extra),
            resolv_conf(net, &host_resolv, extra),
        ),
        EtcNet::Host => (
            std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| BASE_HOSTS.to_string()),
            resolv_conf(net, &host_resolv, extra),
        ),
        EtcNet::Shared(other) => (
            std::fs::read_to_string(other.join("hosts")).unwrap_or_else(|_| BASE_HOSTS.to_string()),
            std::fs::read_to_string(other.join("resolv.conf")).unwrap_or(host_resolv),
        ),
    };
    std::fs::write(etc_dir.join("hosts"), hosts)?;
    std::fs::write(etc_dir.join("resolv.conf"), resolv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_both_families_and_extras() {
        let extra = EtcExtra {
            ip6: Some("fd00::2".parse().unwrap()),
            domainname: "example.com".into(),
            hosts: extra_hosts(
                &[
                    "db:10.0.0.9".into(),
                    "gw:host-gateway".into(),
                    "six=[fd00::9]".into(),
                ],
                Some("172.17.0.1".parse().unwrap()),
            )
            .unwrap(),
            ..Default::default()
        };
        let h = hosts("web", Some("172.17.0.2".parse().unwrap()), &extra);
        assert!(h.starts_with(BASE_HOSTS));
        assert!(
            h.contains("\n10.0.0.9\tdb\n172.17.0.1\tgw\nfd00::9\tsix\n"),
            "{h}"
        );
        assert!(h.ends_with("172.17.0.2\tweb.example.com web\nfd00::2\tweb.example.com web\n"));
        assert!(extra_hosts(&["nocolon".into()], None).is_err());
        assert!(extra_hosts(&["x:300.1.1.1".into()], None).is_err());
        assert!(extra_hosts(&["x:host-gateway".into()], None).is_err());
    }

    #[test]
    fn resolv_conf_flags_replace_the_hosts_parts() {
        let host = "search lan\nnameserver 10.0.0.2\noptions edns0\n";
        let none = EtcExtra::default();
        assert_eq!(
            resolv_conf(&EtcNet::Address("172.17.0.2".parse().unwrap()), host, &none),
            host
        );
        let flags = EtcExtra {
            dns: vec!["9.9.9.9".into()],
            dns_search: vec!["example.com".into()],
            dns_options: vec!["ndots:2".into(), "timeout:1".into()],
            ..Default::default()
        };
        let r = resolv_conf(
            &EtcNet::Address("172.17.0.2".parse().unwrap()),
            host,
            &flags,
        );
        assert_eq!(
            r,
            "nameserver 9.9.9.9\nsearch example.com\noptions ndots:2 timeout:1\n"
        );
        let r = resolv_conf(&EtcNet::Embedded("10.1.0.2".parse().unwrap()), host, &flags);
        assert!(r.starts_with("nameserver 127.0.0.11\n"), "{r}");
        assert!(!r.contains("9.9.9.9"), "the embedded server forwards to it");
        assert!(r.contains("search example.com\n") && r.contains("options ndots:2 timeout:1\n"));
        let daemon = EtcExtra {
            dns_options: vec!["attempts:3".into()],
            ..Default::default()
        };
        let none = EtcExtra {
            dns_search: vec![".".into()],
            ..Default::default()
        };
        let r = resolv_conf(&EtcNet::Address("10.1.0.2".parse().unwrap()), host, &none);
        assert!(!r.contains("search"), "{r}");
        let r = resolv_conf(
            &EtcNet::Embedded("10.1.0.2".parse().unwrap()),
            host,
            &daemon,
        );
        assert!(r.ends_with("options attempts:3 ndots:0\n"), "{r}");
    }
}
