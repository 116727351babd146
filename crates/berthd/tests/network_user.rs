//! User-defined networks through berthd on the real kernel, driven by the
//! docker CLI (issue 8, part 2): names, aliases and short ids resolved by
//! the embedded DNS server, other names forwarded to a resolver the test
//! runs on loopback, isolation between networks, `--internal`, connect and
//! disconnect of running and created containers, static addresses, `rm`
//! refused while in use, prune, and a daemon's `kill -9`.
//!
//! Subnets are 10.20K.C.0/24, C the third octet of the daemon's own bridge
//! (unique among the test's daemons); the daemon's drop prunes networks, so
//! their bridges go with it; the "outside" namespace has its own guard.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;

use common::Daemon;

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout: {}\nstderr: {}", r.1, r.2);
    r.1
}

fn fails(r: (i32, String, String)) -> String {
    assert_ne!(r.0, 0, "unexpected success: {}", r.1);
    r.2
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Subnet `k` of this daemon's, `10.20k.C.0/24`.
fn subnet(d: &Daemon, k: u8) -> String {
    let c = d.bip.split('.').nth(2).unwrap();
    format!("10.{}.{c}.0/24", 200 + k)
}

fn ip_in(d: &Daemon, c: &str, net: &str) -> String {
    ok(d.docker(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
        c,
    ]))
    .trim()
    .to_string()
}

fn exec(d: &Daemon, c: &str, cmd: &str) -> (i32, String, String) {
    d.docker(&["exec", c, "sh", "-c", cmd])
}

fn bridge_of(d: &Daemon, net: &str) -> String {
    let id = ok(d.docker(&["network", "inspect", "-f", "{{.Id}}", net]));
    format!("br-{}", &id.trim()[..12])
}

/// A DNS responder on loopback: `outside.test` is 192.0.2.7, every other
/// name NXDOMAIN. Returns its port.
fn responder() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let q = &buf[..n];
            if n < 17 {
                continue;
            }
            // The question ends at its name's zero byte, then type and class.
            let Some(end) = q[12..].iter().position(|&b| b == 0).map(|i| 12 + i + 5) else {
                continue;
            };
            let name = &q[12..end - 4];
            let qtype = u16::from_be_bytes([q[end - 4], q[end - 3]]);
            let known = name == b"\x07outside\x04test\x00";
            let mut r = q[..end].to_vec();
            r[2] = 0x81;
            r[3] = if known { 0x80 } else { 0x83 };
            r[6..12].copy_from_slice(&[0, u8::from(known && qtype == 1), 0, 0, 0, 0]);
            if known && qtype == 1 {
                r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
            }
            let _ = s.send_to(&r, from);
        }
    });
    port
}

#[test]
fn names_aliases_and_ids_resolve_and_other_names_are_forwarded() {
    let port = responder();
    let d = Daemon::with_busybox_and(&["--dns", &format!("127.0.0.1:{port}")]);
    let sub = subnet(&d, 0);
    ok(d.docker(&[
        "network", "create", "--subnet", &sub, "--label", "k=v", "front",
    ]));
    assert!(fails(d.docker(&["network", "create", "front"])).contains("already exists"));
    assert!(
        fails(d.docker(&["network", "create", "--subnet", &sub, "other"]))
            .contains("Pool overlaps")
    );
    let ls = ok(d.docker(&[
        "network",
        "ls",
        "--filter",
        "label=k=v",
        "--format",
        "{{.Name}}",
    ]));
    assert_eq!(ls.trim(), "front");
    let custom = ok(d.docker(&[
        "network",
        "ls",
        "-f",
        "type=custom",
        "--format",
        "{{.Name}}",
    ]));
    assert_eq!(custom.trim(), "front");
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "front",
        "--network-alias",
        "www",
        "busybox",
        "sleep",
        "300",
    ]));
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "cli",
        "--network",
        "front",
        "busybox",
        "sleep",
        "300",
    ]));
    let web_ip = ip_in(&d, "web", "front");
    let net: Ipv4Addr = sub.split('/').next().unwrap().parse().unwrap();
    assert!(
        web_ip.starts_with(&net.to_string()[..net.to_string().len() - 1]),
        "{web_ip}"
    );
    let resolv = ok(exec(&d, "cli", "cat /etc/resolv.conf"));
    assert!(resolv.starts_with("nameserver 127.0.0.11\n"), "{resolv}");
    assert!(ok(exec(&d, "web", "cat /etc/hosts")).contains(&web_ip));
    // By name, by alias, by short id; the answer is web's address.
    let id12 = &ok(d.docker(&["inspect", "-f", "{{.Id}}", "web"]))[..12];
    for name in ["web", "www", "WEB", id12] {
        let out = ok(exec(&d, "cli", &format!("nslookup {name}")));
        assert!(out.contains(&web_ip), "{name}: {out}");
    }
    ok(exec(&d, "cli", "ping -c1 -W3 web"));
    ok(exec(&d, "cli", "ping -c1 -W3 www"));
    // Not a container's name: the test's resolver answers.
    let out = ok(exec(&d, "cli", "nslookup outside.test"));
    assert!(out.contains("192.0.2.7"), "{out}");
    let (code, out, err) = exec(&d, "cli", "nslookup nothing.test");
    assert_ne!(code, 0);
    assert!(format!("{out}{err}").contains("NXDOMAIN"), "{out}{err}");
    // TCP too (what a resolver does after a truncated answer).
    let out = ok(exec(&d, "web", "nslookup -type=a cli 127.0.0.11 && echo"));
    assert!(out.contains(&ip_in(&d, "cli", "front")), "{out}");
    // The default bridge has no embedded DNS, as Docker's.
    ok(d.docker(&["run", "-d", "--name", "plain", "busybox", "sleep", "300"]));
    let resolv = ok(exec(&d, "plain", "cat /etc/resolv.conf"));
    assert!(!resolv.contains("127.0.0.11"), "{resolv}");
    // Inspect: the members with their addresses; rm refused meanwhile.
    let members = ok(d.docker(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}}={{.IPv4Address}} {{end}}",
        "front",
    ]));
    assert!(members.contains(&format!("web={web_ip}/24")), "{members}");
    assert!(members.contains("cli="), "{members}");
    let err = fails(d.docker(&["network", "rm", "front"]));
    assert!(err.contains("has active endpoints"), "{err}");
    // A published port on the user network's address.
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "front",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sh",
        "-c",
        "echo hello > /i && httpd -f -p 80 -h /",
    ]));
    let hp = ok(d.docker(&["port", "srv", "80"]));
    let addr = hp.lines().next().unwrap().trim().to_string();
    common::eventually("the published port", || {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(3)));
        let _ = s.write_all(b"GET /i HTTP/1.0\r\n\r\n");
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text.contains("hello")
    });
}

/// Another namespace joined to the host by a veth: "outside", where an
/// internal network must not reach and a plain one does (masqueraded).
struct Outside {
    name: String,
    addr: Ipv4Addr,
}

impl Outside {
    fn new(d: &Daemon) -> Outside {
        let c: u8 = d.bip.split('.').nth(2).unwrap().parse().unwrap();
        let name = format!("bu{}", &d.bridge[2..]);
        let (host, addr) = (Ipv4Addr::new(10, 98, c, 1), Ipv4Addr::new(10, 98, c, 2));
        let o = Outside { name, addr };
        let n = &o.name;
        sh(&format!(
            "ip netns add {n} && ip link add {n} type veth peer name eth0 netns {n} && \
             ip addr add {host}/30 dev {n} && ip link set {n} up && \
             ip -n {n} addr add {addr}/30 dev eth0 && ip -n {n} link set eth0 up"
        ));
        o
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn networks_are_isolated_and_internal_ones_have_no_way_out() {
    let d = Daemon::with_busybox();
    let out = Outside::new(&d);
    ok(d.docker(&["network", "create", "--subnet", &subnet(&d, 1), "one"]));
    ok(d.docker(&["network", "create", "--subnet", &subnet(&d, 2), "two"]));
    ok(d.docker(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        &subnet(&d, 3),
        "closed",
    ]));
    for (c, n) in [("a", "one"), ("a2", "one"), ("b", "two"), ("i", "closed")] {
        ok(d.docker(&[
            "run",
            "-d",
            "--name",
            c,
            "--network",
            n,
            "busybox",
            "sleep",
            "300",
        ]));
    }
    ok(exec(&d, "a", "ping -c1 -W3 a2"));
    let b_ip = ip_in(&d, "b", "two");
    fails(exec(&d, "a", &format!("ping -c1 -W1 {b_ip}")));
    fails(exec(&d, "a", "nslookup b"));
    // Out of a plain network: masqueraded to the outside namespace; not
    // out of an internal one, which has no default route either.
    ok(exec(&d, "a", &format!("ping -c1 -W3 {}", out.addr)));
    fails(exec(&d, "i", &format!("ping -c1 -W1 {}", out.addr)));
    let routes = ok(exec(&d, "i", "ip route"));
    assert!(!routes.contains("default"), "{routes}");
    let table = sh(&format!("nft list table ip {}", d.nft_table()));
    let (one, closed) = (bridge_of(&d, "one"), bridge_of(&d, "closed"));
    assert!(
        table.contains(&format!("iifname \"{one}\" oifname \"{closed}\" drop")),
        "{table}"
    );
}

#[test]
fn connect_disconnect_static_addresses_and_prune() {
    let d = Daemon::with_busybox();
    let (s1, s2) = (subnet(&d, 4), subnet(&d, 5));
    ok(d.docker(&["network", "create", "--subnet", &s1, "n1"]));
    ok(d.docker(&["network", "create", "--subnet", &s2, "n2"]));
    // A network's name is anything but blank (libnetwork's rule, not a
    // container's: dockerd creates docker-py's "test 01").
    let s3 = subnet(&d, 6);
    ok(d.docker(&["network", "create", "--subnet", &s3, "test 01"]));
    assert_eq!(
        ok(d.docker(&["network", "inspect", "-f", "{{.Name}}", "test 01"])).trim(),
        "test 01"
    );
    ok(d.docker(&["network", "rm", "test 01"]));
    let (status, body) = d.curl(
        "POST",
        "/networks/create",
        &["Content-Type: application/json"],
        br#"{"Name":" "}"#,
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("invalid name"));
    let fixed = s1.replace(".0/24", ".50");
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "n1",
        "--ip",
        &fixed,
        "busybox",
        "sleep",
        "300",
    ]));
    assert_eq!(ip_in(&d, "c1", "n1"), fixed);
    let err = fails(d.docker(&[
        "run",
        "-d",
        "--name",
        "dup",
        "--network",
        "n1",
        "--ip",
        &fixed,
        "busybox",
        "true",
    ]));
    assert!(err.contains("Address already in use"), "{err}");
    ok(d.docker(&["rm", "-f", "dup"]));
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "c2",
        "--network",
        "n2",
        "busybox",
        "sleep",
        "300",
    ]));
    fails(exec(&d, "c2", "nslookup c1"));
    // Connect a running container: eth1 appears, c1 resolves.
    ok(d.docker(&["network", "connect", "--alias", "second", "n1", "c2"]));
    let c2_n1 = ip_in(&d, "c2", "n1");
    assert!(ok(exec(&d, "c2", "ip -4 addr show eth1")).contains(&c2_n1));
    ok(exec(&d, "c2", "ping -c1 -W3 c1"));
    ok(exec(&d, "c1", "ping -c1 -W3 second"));
    // Disconnect it: eth1 and the name go.
    ok(d.docker(&["network", "disconnect", "n1", "c2"]));
    fails(exec(&d, "c2", "ip addr show eth1"));
    fails(exec(&d, "c2", "nslookup c1"));
    fails(exec(&d, "c1", "nslookup second"));
    // A created container connected before its start gets both.
    ok(d.docker(&[
        "create",
        "--name",
        "c3",
        "--network",
        "n2",
        "busybox",
        "sleep",
        "300",
    ]));
    ok(d.docker(&["network", "connect", "--alias", "third", "n1", "c3"]));
    ok(d.docker(&["start", "c3"]));
    ok(exec(&d, "c1", "ping -c1 -W3 third"));
    ok(exec(&d, "c3", "ping -c1 -W3 c2"));
    // Addresses come back when containers go; prune removes unused networks.
    let b1 = bridge_of(&d, "n1");
    for c in ["c1", "c2", "c3"] {
        ok(d.docker(&["rm", "-f", c]));
    }
    let pruned = ok(d.docker(&["network", "prune", "-f"]));
    assert!(pruned.contains("n1") && pruned.contains("n2"), "{pruned}");
    assert!(!Command::new("ip")
        .args(["link", "show", &b1])
        .output()
        .unwrap()
        .status
        .success());
    let left = ok(d.docker(&["network", "ls", "--format", "{{.Name}}"]));
    assert_eq!(
        left.split_whitespace().collect::<Vec<_>>(),
        ["bridge", "host", "none"]
    );
}

#[test]
fn names_and_addresses_survive_a_kill9() {
    let mut d = Daemon::with_busybox();
    // A subnet of the daemon's choosing: clear of the host's routes.
    ok(d.docker(&["network", "create", "auto"]));
    let sub = ok(d.docker(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Subnet}}",
        "auto",
    ]));
    let sub = sub.trim();
    assert!(
        sub.starts_with("172.") || sub.starts_with("192.168."),
        "{sub}"
    );
    let routes = sh("ip -4 route show");
    assert_eq!(routes.matches(sub).count(), 1, "{routes}");
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "a",
        "--network",
        "auto",
        "busybox",
        "sleep",
        "300",
    ]));
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "b",
        "--network",
        "auto",
        "busybox",
        "sleep",
        "300",
    ]));
    d.kill9();
    d.restart();
    ok(exec(&d, "b", "ping -c1 -W3 a"));
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "c",
        "--network",
        "auto",
        "busybox",
        "sleep",
        "300",
    ]));
    let ips: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|c| ip_in(&d, c, "auto"))
        .collect();
    assert!(
        ips[0] != ips[1] && ips[1] != ips[2] && ips[0] != ips[2],
        "{ips:?}"
    );
    ok(exec(&d, "c", "ping -c1 -W3 a"));
    ok(exec(&d, "a", "nslookup c"));
}
