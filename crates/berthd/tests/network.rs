//! Networks through berthd on the real kernel, driven by the docker CLI:
//! the default bridge (address, route, `/etc` files), containers reaching
//! each other, the host and (masqueraded) another network, published ports
//! from the host, its own address and another namespace, the network modes,
//! and addresses kept apart across a daemon's `kill -9`.
//!
//! Each daemon has its own bridge and nftables table (see `common`), removed
//! when it is dropped; the "outside" namespace some tests make is removed by
//! its own guard, on failure too.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::{eventually, Daemon};

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout: {}\nstderr: {}", r.1, r.2);
    r.1
}

fn inspect(d: &Daemon, name: &str, format: &str) -> String {
    ok(d.docker(&["inspect", "-f", format, name]))
        .trim()
        .to_string()
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

/// The gateway's address of the daemon's bridge.
fn gateway(d: &Daemon) -> Ipv4Addr {
    d.bip.split('/').next().unwrap().parse().unwrap()
}

/// One HTTP GET through `s`; the body.
fn http_get(mut s: TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(text)
}

fn connect(addr: &str) -> std::io::Result<TcpStream> {
    TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(3))
}

/// Another network namespace joined to the host by a veth pair, as a
/// second machine on a link: the host is `.1`, the namespace `.2` of a /30.
/// Removed on drop.
struct Outside {
    name: String,
    host: Ipv4Addr,
    addr: Ipv4Addr,
}

impl Outside {
    fn new(d: &Daemon) -> Outside {
        // The daemon's /24 is 10.B.C.0: the outside takes 10.99.C.0/30 with
        // B folded in, apart from every test daemon's.
        let parts: Vec<u8> = gateway(d).octets().to_vec();
        let third = parts[2];
        let fourth = (parts[1] % 60) * 4;
        let host = Ipv4Addr::new(10, 99, third, fourth + 1);
        let addr = Ipv4Addr::new(10, 99, third, fourth + 2);
        let name = format!("bo{}", &d.bridge[2..]);
        let o = Outside { name, host, addr };
        let n = &o.name;
        sh(&format!(
            "ip netns add {n} && ip link add {n} type veth peer name eth0 netns {n} && \
             ip addr add {host}/30 dev {n} && ip link set {n} up && \
             ip -n {n} addr add {addr}/30 dev eth0 && ip -n {n} link set eth0 up && ip -n {n} link set lo up"
        ));
        o
    }

    /// Runs `f` on a thread inside the namespace.
    fn within<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let ns = std::fs::File::open(format!("/run/netns/{}", self.name)).unwrap();
        std::thread::spawn(move || {
            // SAFETY: setns with an open namespace fd; it moves only this thread.
            let r =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&ns), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap()
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
fn a_container_on_the_bridge_has_an_address_a_route_and_its_files() {
    let d = Daemon::with_busybox();
    let gw = gateway(&d);
    let out = ok(d.docker(&[
        "run",
        "--rm",
        "--hostname",
        "box",
        "busybox",
        "sh",
        "-c",
        "ip -o -4 addr show eth0; cat /proc/net/route; cat /etc/hosts /etc/resolv.conf",
    ]));
    let prefix = format!("{}.{}.{}.", gw.octets()[0], gw.octets()[1], gw.octets()[2]);
    assert!(
        out.contains(&format!("inet {prefix}")) && out.contains("/24"),
        "{out}"
    );
    // The default route (destination 0) through the gateway, in the
    // kernel's hex.
    let gw_hex = format!(
        "{:02X}{:02X}{:02X}{:02X}",
        gw.octets()[3],
        gw.octets()[2],
        gw.octets()[1],
        gw.octets()[0]
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("eth0\t00000000\t") && l.contains(&gw_hex)),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with(&prefix) && l.ends_with("\tbox")),
        "/etc/hosts names the container's address: {out}"
    );
    assert!(
        !out.contains("nameserver 127."),
        "no loopback resolver: {out}"
    );
    // The MTU is the bridge's and the MAC Docker's form.
    let link = ok(d.docker(&["run", "--rm", "busybox", "ip", "link", "show", "eth0"]));
    assert!(
        link.contains("mtu 1500") && link.contains("link/ether 02:42:"),
        "{link}"
    );
    // The bridge on the host, with the gateway's address.
    let br = sh(&format!("ip -o -4 addr show {}", d.bridge));
    assert!(br.contains(&d.bip), "{br}");
}

#[test]
fn containers_reach_each_other_and_the_host_and_go_out_masqueraded() {
    let d = Daemon::with_busybox();
    ok(d.docker(&["run", "-d", "--name", "a", "busybox", "sleep", "60"]));
    ok(d.docker(&["run", "-d", "--name", "b", "busybox", "sleep", "60"]));
    let ip_a = inspect(&d, "a", "{{.NetworkSettings.IPAddress}}");
    let ip_b = inspect(&d, "b", "{{.NetworkSettings.IPAddress}}");
    assert_ne!(ip_a, ip_b);
    // Ping needs CAP_NET_RAW, which Docker's default set has.
    ok(d.docker(&["exec", "b", "ping", "-c", "1", "-W", "3", &ip_a]));
    ok(d.docker(&["exec", "a", "ping", "-c", "1", "-W", "3", &ip_b]));

    // A TCP server of the test's on the gateway: the container's address
    // arrives unchanged (the host is on the bridge).
    let gw = gateway(&d);
    let l = TcpListener::bind((gw, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut s, peer) = l.accept().unwrap();
        let mut got = String::new();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.read_to_string(&mut got);
        (peer.ip().to_string(), got)
    });
    ok(d.docker(&[
        "exec",
        "a",
        "sh",
        "-c",
        &format!("echo hi | nc -w 3 {gw} {port}"),
    ]));
    let (peer, got) = t.join().unwrap();
    assert_eq!((peer.as_str(), got.as_str()), (ip_a.as_str(), "hi\n"));

    // Another network (a namespace behind a veth): the container's
    // connection leaves the host masqueraded, from the host's address.
    let outside = Outside::new(&d);
    let (oaddr, ohost) = (outside.addr, outside.host);
    let l = outside.within(move || TcpListener::bind((oaddr, 9000)).unwrap());
    let t = std::thread::spawn(move || {
        let (mut s, peer) = l.accept().unwrap();
        let mut got = String::new();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.read_to_string(&mut got);
        (peer.ip().to_string(), got)
    });
    ok(d.docker(&[
        "exec",
        "a",
        "sh",
        "-c",
        &format!("echo out | nc -w 3 {oaddr} 9000"),
    ]));
    let (peer, got) = t.join().unwrap();
    assert_eq!((peer, got.as_str()), (ohost.to_string(), "out\n"));
}

#[test]
fn published_ports_from_the_host_its_address_and_another_namespace() {
    let d = Daemon::with_busybox();
    // A free port of the host's for the fixed binding.
    let hp = TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let web = format!("{hp}:80");
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &web,
        "-p",
        "80",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo hello > /www/index.html && httpd -f -p 80 -h /www",
    ]));
    // `-p 80`: a port chosen, in `docker port`, `ps` and inspect.
    let ports = ok(d.docker(&["port", "web", "80/tcp"]));
    let chosen: u16 = ports
        .lines()
        .filter_map(|l| l.rsplit(':').next())
        .filter_map(|p| p.trim().parse().ok())
        .find(|p| *p != hp)
        .unwrap_or_else(|| panic!("no chosen port: {ports}"));
    assert!(ports.contains(&format!("0.0.0.0:{hp}")), "{ports}");
    let ps = ok(d.docker(&["ps", "--format", "{{.Ports}}"]));
    assert!(
        ps.contains(&format!("0.0.0.0:{hp}->80/tcp"))
            && ps.contains(&format!("0.0.0.0:{chosen}->80/tcp")),
        "{ps}"
    );
    let local = format!("127.0.0.1:{hp}");
    eventually("httpd answers on 127.0.0.1", || {
        connect(&local).is_ok_and(|s| http_get(s) == "hello\n")
    });
    assert_eq!(
        http_get(connect(&format!("127.0.0.1:{chosen}")).unwrap()),
        "hello\n"
    );
    // The host's own non-loopback address.
    let route = sh("ip -o -4 route get 192.0.2.123 || ip -o -4 route get 8.8.8.8");
    let src = route
        .split_whitespace()
        .skip_while(|w| *w != "src")
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(
        http_get(connect(&format!("{src}:{hp}")).unwrap()),
        "hello\n"
    );
    // Another machine (a namespace behind a veth) through the host's address
    // on that link: the prerouting DNAT.
    let outside = Outside::new(&d);
    let target = format!("{}:{hp}", outside.host);
    let body = outside.within(move || http_get(connect(&target).unwrap()));
    assert_eq!(body, "hello\n");
    // Containers reach it through the host's address too: another one, and
    // the publishing container itself (hairpin). busybox's wget crashes
    // when statically linked, so nc speaks HTTP.
    let get =
        format!("printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {src} {hp} | tail -1");
    assert_eq!(
        ok(d.docker(&["run", "--rm", "busybox", "sh", "-c", &get])),
        "hello\n"
    );
    assert_eq!(ok(d.docker(&["exec", "web", "sh", "-c", &get])), "hello\n");
    // A taken port is refused with Docker's words.
    let (code, _, err) = d.docker(&["run", "-d", "-p", &web, "busybox", "sleep", "5"]);
    assert_ne!(code, 0);
    assert!(err.contains("port is already allocated"), "{err}");

    // Stopped: the ports are free again and the table holds no forward.
    ok(d.docker(&["stop", "-t", "0", "web"]));
    assert!(
        TcpListener::bind(("0.0.0.0", hp)).is_ok(),
        "port {hp} is free"
    );
    assert!(TcpListener::bind(("0.0.0.0", chosen)).is_ok());
    let rules = sh(&format!("nft list chain ip {} ports", d.nft_table()));
    assert!(!rules.contains("dnat"), "{rules}");
    assert_eq!(
        inspect(&d, "web", "{{json .NetworkSettings.Ports}}"),
        r#"{"80/tcp":null}"#
    );
    // And published again at the next start.
    ok(d.docker(&["start", "web"]));
    eventually("httpd answers again", || {
        connect(&local).is_ok_and(|s| http_get(s) == "hello\n")
    });
}

#[test]
fn network_modes_none_host_and_container() {
    let d = Daemon::with_busybox();
    let out = ok(d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ip",
        "-o",
        "link",
    ]));
    let links: Vec<&str> = out.lines().collect();
    assert_eq!(links.len(), 1, "{out}");
    assert!(links[0].contains("lo:") && links[0].contains("UP"), "{out}");

    // The host's network: the test's bridge is in sight.
    let out = ok(d.docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "ip",
        "-o",
        "link",
    ]));
    assert!(out.contains(&format!("{}:", d.bridge)), "{out}");
    // And the host's name and hosts file.
    let out = ok(d.docker(&["run", "--rm", "--network", "host", "busybox", "hostname"]));
    assert_eq!(out.trim(), sh("hostname").trim());

    ok(d.docker(&["run", "-d", "--name", "x", "busybox", "sleep", "60"]));
    let ip = inspect(&d, "x", "{{.NetworkSettings.IPAddress}}");
    let out = ok(d.docker(&[
        "run",
        "--rm",
        "--network",
        "container:x",
        "busybox",
        "ip",
        "-o",
        "-4",
        "addr",
        "show",
        "eth0",
    ]));
    assert!(out.contains(&format!("inet {ip}/")), "{out}");
    // X's name and /etc/hosts (which names X's address) come along.
    let out = ok(d.docker(&[
        "run",
        "--rm",
        "--network",
        "container:x",
        "busybox",
        "sh",
        "-c",
        "hostname; cat /etc/hosts",
    ]));
    let x_host = inspect(&d, "x", "{{.Config.Hostname}}");
    assert!(out.starts_with(&format!("{x_host}\n")), "{out}");
    assert!(out.contains(&format!("{ip}\t{x_host}")), "{out}");
    assert_eq!(inspect(&d, "x", "{{.HostConfig.NetworkMode}}"), "bridge");

    ok(d.docker(&["create", "--name", "idle", "busybox", "true"]));
    let (code, _, err) = d.docker(&[
        "run",
        "--rm",
        "--network",
        "container:idle",
        "busybox",
        "true",
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot join network of a non running container: idle"),
        "{err}"
    );

    // The predefined networks, as `docker network ls` lists them.
    let ls = ok(d.docker(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]));
    assert_eq!(ls, "bridge bridge\nhost host\nnone null\n");
    let subnet = ok(d.docker(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
        "bridge",
    ]));
    assert_eq!(subnet.trim(), gateway(&d).to_string());
    let (code, _, err) = d.docker(&["network", "rm", "host"]);
    assert!(
        code != 0 && err.contains("host is a pre-defined network and cannot be removed"),
        "{err}"
    );
    let (code, _, err) = d.docker(&["network", "create", "host"]);
    assert!(
        code != 0 && err.contains("operation is not permitted on predefined host network"),
        "{err}"
    );
}

#[test]
fn addresses_stay_unique_across_a_kill_9() {
    let mut d = Daemon::with_busybox();
    for n in ["a", "b", "c"] {
        ok(d.docker(&["run", "-d", "--name", n, "busybox", "sleep", "60"]));
    }
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo up > /www/index.html && httpd -f -p 80 -h /www",
    ]));
    let published = ok(d.docker(&["port", "web", "80"])).trim().to_string();
    assert!(published.starts_with("127.0.0.1:"), "{published}");
    let victim_pid = inspect(&d, "c", "{{.State.Pid}}");
    let victim_ip = inspect(&d, "c", "{{.NetworkSettings.IPAddress}}");
    let victim_id = inspect(&d, "c", "{{.Id}}");
    d.kill9();
    // While the daemon is down, one container dies: what it held is stale.
    sh(&format!("kill -9 {victim_pid}"));
    d.restart();
    for n in ["d", "e", "f"] {
        ok(d.docker(&["run", "-d", "--name", n, "busybox", "sleep", "60"]));
    }
    let mut ips: Vec<String> = ["a", "b", "d", "e", "f"]
        .iter()
        .map(|n| inspect(&d, n, "{{.NetworkSettings.IPAddress}}"))
        .collect();
    assert!(ips.iter().all(|ip| !ip.is_empty()), "{ips:?}");
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 5, "no address twice: {ips:?}");
    // The dead one's veth and namespace are gone, its address is free.
    eventually("the stale veth goes", || {
        !sh("ip -o link").contains(&format!("veth{}", &victim_id[..11]))
    });
    let members = ok(d.docker(&["network", "inspect", "-f", "{{json .Containers}}", "bridge"]));
    assert!(!members.contains(&victim_id), "{members}");
    assert!(!members.contains(&format!("\"{victim_ip}/")), "{members}");
    assert!(!d.dir.path().join("exec/netns").join(&victim_id).exists());
    // The running ones still reach each other.
    let ip_a = inspect(&d, "a", "{{.NetworkSettings.IPAddress}}");
    ok(d.docker(&["exec", "f", "ping", "-c", "1", "-W", "3", &ip_a]));
    // The published port lives through the daemon's restart: forwarded,
    // and still held (a second publisher is refused).
    eventually("the published port answers", || {
        connect(&published).is_ok_and(|s| http_get(s) == "up\n")
    });
    let port = published.rsplit(':').next().unwrap();
    let (code, _, err) = d.docker(&[
        "run",
        "-d",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "true",
    ]);
    assert!(
        code != 0 && err.contains("port is already allocated"),
        "{err}"
    );
    // berth's table holds only berth's chains, and the admin's `firewall`.
    let table = sh(&format!("nft list table ip {}", d.nft_table()));
    let chains: Vec<&str> = table
        .lines()
        .filter_map(|l| l.trim().strip_prefix("chain "))
        .collect();
    assert_eq!(
        chains,
        [
            "firewall {",
            "localnet {",
            "published {",
            "prerouting {",
            "output {",
            "ports {",
            "postrouting {",
            "forward {"
        ],
        "{table}"
    );
}

#[test]
fn publish_all_takes_the_images_exposed_ports() {
    let d = Daemon::with_busybox();
    // The tar `with_busybox` made.
    let tar = d.dir.path().join("busybox.tar");
    ok(d.docker(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        "-c",
        "EXPOSE 80 53/udp",
        tar.to_str().unwrap(),
        "web",
    ]));
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "w",
        "-P",
        "web",
        "sh",
        "-c",
        "mkdir -p /www && echo all > /www/index.html && httpd -f -p 80 -h /www",
    ]));
    let tcp = ok(d.docker(&["port", "w", "80/tcp"]));
    let udp = ok(d.docker(&["port", "w", "53/udp"]));
    assert!(
        tcp.starts_with("0.0.0.0:") && udp.starts_with("0.0.0.0:"),
        "{tcp}{udp}"
    );
    let port = tcp.lines().next().unwrap().rsplit(':').next().unwrap();
    let addr = format!("127.0.0.1:{port}");
    eventually("httpd answers on the -P port", || {
        connect(&addr).is_ok_and(|s| http_get(s) == "all\n")
    });
    // The UDP port is held by the daemon while published.
    let uport: u16 = udp.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(std::net::UdpSocket::bind(("0.0.0.0", uport)).is_err());
    let rules = sh(&format!("nft list chain ip {} ports", d.nft_table()));
    assert!(
        rules.contains(&format!("udp dport {uport} dnat to")),
        "{rules}"
    );
    // Exposed but not published: a null in inspect, bare in ps.
    ok(d.docker(&["run", "-d", "--name", "quiet", "web", "sleep", "60"]));
    assert_eq!(
        inspect(&d, "quiet", "{{json .NetworkSettings.Ports}}"),
        r#"{"53/udp":null,"80/tcp":null}"#
    );
    let ps = ok(d.docker(&["ps", "-f", "name=quiet", "--format", "{{.Ports}}"]));
    assert_eq!(ps.trim(), "53/udp, 80/tcp");
}

/// A static UDP echo server, compiled here with gcc (busybox has no UDP
/// server), to put into a container.
fn udp_echo_binary(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let src = dir.join("udp-echo.c");
    std::fs::write(
        &src,
        r#"#include <netinet/in.h>
#include <sys/socket.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(argv[1]));
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) return 1;
    for (;;) {
        char buf[2048];
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n > 0) sendto(s, buf, n, 0, (struct sockaddr *)&from, len);
    }
}
"#,
    )
    .unwrap();
    let bin = dir.join("udp-echo");
    let st = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .ok()?;
    st.success().then_some(bin)
}

#[test]
fn published_udp_ports_answer() {
    let d = Daemon::with_busybox();
    let tmp = tempfile::tempdir().unwrap();
    let bin =
        udp_echo_binary(tmp.path()).expect("gcc -static (build-essential) makes the UDP server");
    ok(d.docker(&[
        "create",
        "--name",
        "udp",
        "-p",
        "127.0.0.1::7/udp",
        "-p",
        "7/udp",
        "busybox",
        "/udp-echo",
        "7",
    ]));
    ok(d.docker(&["cp", bin.to_str().unwrap(), "udp:/udp-echo"]));
    ok(d.docker(&["start", "udp"]));
    let ports = ok(d.docker(&["port", "udp", "7/udp"]));
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut targets = Vec::new();
    for l in ports.lines() {
        let port: u16 = l.rsplit(':').next().unwrap().trim().parse().unwrap();
        targets.push(format!("127.0.0.1:{port}"));
        let own = sh("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1");
        if !own.trim().is_empty() && !l.starts_with("127.0.0.1") {
            targets.push(format!("{}:{port}", own.trim()));
        }
    }
    assert!(targets.len() >= 2, "{ports}");
    for t in &targets {
        let mut answered = false;
        for _ in 0..30 {
            sock.send_to(b"ping over udp", t).unwrap();
            let mut buf = [0u8; 64];
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                assert_eq!(&buf[..n], b"ping over udp", "{t}");
                answered = true;
                break;
            }
        }
        assert!(answered, "no UDP answer through {t} ({ports})");
    }
    // Stopped: the rules are gone, nothing answers.
    ok(d.docker(&["stop", "-t", "0", "udp"]));
    sock.send_to(b"x", &targets[0]).unwrap();
    let mut buf = [0u8; 8];
    assert!(sock.recv_from(&mut buf).is_err(), "an answer after stop");
}

/// berthd `--bridge none`: the docker CLI's `run` (which names the default
/// network `default` in its endpoints) gives a container on `none`, with
/// loopback only, as the flag's help says; not a 404 that the CLI takes
/// for a missing image and answers with a pull.
#[test]
fn without_a_default_bridge_docker_run_is_on_none() {
    let d = Daemon::with_busybox_and(&["--bridge", "none"]);
    let out = ok(d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "ls /sys/class/net | tr '\\n' ' '",
    ]));
    assert_eq!(out.trim(), "lo");
}
