//! Compose against berthd (issue 18): Debian's `docker-compose` 1.29.2 (the
//! Python implementation, through docker-py 5.0.3) drives projects written
//! for these tests against one berthd the file shares, with busybox images
//! imported or built here and Debian's `docker-registry` for pull and push.
//! Every command the issue lists and every compose-file feature, asserted on
//! what runs: names resolve by service and alias on the right networks only,
//! published ports answer, volumes keep data across `down`/`up` and go with
//! `down -v`, health-gated start order holds, scaling gives N containers, a
//! changed service is recreated and an unchanged one is not. Compose v2 (the
//! Go plugin) is not installable here: `compose_v2_create_body` replays what
//! it sends (every network in `EndpointsConfig` at create, API 1.44 and
//! later) with raw requests.
//!
//! The projects run in parallel against the one daemon (each test holds it
//! through an `Arc`; the last one out stops it, and its drop removes what
//! the projects left). Subnets chosen here are `10.2{3,4}x.C.0/24`, C the
//! third octet of the daemon's own bridge.

#![recursion_limit = "256"]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use common::registry::{free_port, Options, Registry};
use common::Daemon;

/// The daemon the file's tests share: started by the first test that asks,
/// stopped when the last one lets go.
fn daemon() -> Arc<Daemon> {
    static SHARED: Mutex<Weak<Daemon>> = Mutex::new(Weak::new());
    let mut g = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = g.upgrade() {
        return d;
    }
    let d = Arc::new(Daemon::with_busybox());
    *g = Arc::downgrade(&d);
    d
}

/// A compose project in a directory of its own.
struct Project {
    d: Arc<Daemon>,
    name: String,
    dir: tempfile::TempDir,
}

type Out = (i32, String, String);

fn ok(r: Out) -> String {
    assert_eq!(r.0, 0, "stdout: {}\nstderr: {}", r.1, r.2);
    r.1
}

impl Project {
    fn new(d: &Arc<Daemon>, name: &str, yaml: &str) -> Project {
        let p = Project {
            d: d.clone(),
            name: name.to_string(),
            dir: tempfile::tempdir().unwrap(),
        };
        p.write("docker-compose.yml", yaml);
        p
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, file: &str, text: &str) {
        let f = self.path().join(file);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }

    fn env(&self, cmd: &mut Command) {
        cmd.current_dir(self.path())
            .env(
                "DOCKER_HOST",
                format!("unix://{}", self.d.socket().display()),
            )
            .env("DOCKER_CONFIG", self.d.dir.path().join("docker-config"))
            .env("PYTHONUNBUFFERED", "1");
    }

    /// `docker-compose -p NAME ARGS…` in the project's directory.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker-compose");
        cmd.args(["--ansi", "never", "-p", &self.name]).args(args);
        self.env(&mut cmd);
        cmd
    }

    fn compose(&self, args: &[&str]) -> Out {
        let out = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .expect("docker-compose is installed (Debian's package)");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A command that must succeed; its stdout and stderr together (Compose
    /// reports progress on stderr).
    fn ok(&self, args: &[&str]) -> String {
        let r = self.compose(args);
        assert_eq!(
            r.0, 0,
            "docker-compose {args:?}\nstdout: {}\nstderr: {}",
            r.1, r.2
        );
        format!("{}{}", r.1, r.2)
    }

    /// A command that must succeed; its stdout.
    fn out(&self, args: &[&str]) -> String {
        let r = self.compose(args);
        assert_eq!(
            r.0, 0,
            "docker-compose {args:?}\nstdout: {}\nstderr: {}",
            r.1, r.2
        );
        r.1
    }

    /// `docker exec` of `sh -c SCRIPT` in the service's first container
    /// (the docker CLI starts in a tenth of Compose's time; the tests of
    /// `docker-compose exec` itself are in `lifecycle_…`).
    fn sh(&self, service: &str, script: &str) -> Out {
        self.d
            .docker(&["exec", &self.c(service, 1), "sh", "-c", script])
    }

    fn docker(&self, args: &[&str]) -> String {
        ok(self.d.docker(args))
    }

    /// `docker inspect -f FORMAT NAME`, trimmed.
    fn inspect(&self, name: &str, format: &str) -> String {
        self.docker(&["inspect", "-f", format, name])
            .trim()
            .to_string()
    }

    /// The project's containers (one-off ones too): name → id.
    fn containers(&self) -> BTreeMap<String, String> {
        let out = self.docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.name),
            "--format",
            "{{.Names}} {{.ID}}",
        ]);
        out.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(n, i)| (n.to_string(), i.to_string()))
            .collect()
    }

    /// The name of the `n`th container of `service`.
    fn c(&self, service: &str, n: u32) -> String {
        format!("{}_{service}_{n}", self.name)
    }
}

/// A long-running `docker-compose ARGS…` (logs -f, events): the child and
/// its stdout's lines as they come.
fn follow(p: &Project, args: &[&str]) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = p
        .command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    (child, rx)
}

/// Reads `rx` until `f` accepts a line or `secs` pass; whether it did.
fn seen(
    rx: &std::sync::mpsc::Receiver<String>,
    secs: u64,
    mut f: impl FnMut(&str) -> bool,
) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            if f(&l) {
                return true;
            }
        }
    }
    false
}

impl Drop for Project {
    fn drop(&mut self) {
        // Also after a failed assertion: the project's containers, networks
        // and volumes go (the daemon's own drop catches the rest).
        let _ = self.compose(&["down", "-v", "-t", "0", "--remove-orphans"]);
    }
}

/// RFC 3339 with nanoseconds, as inspect writes times: comparable as
/// (seconds part, nanoseconds) whatever digits Go kept.
fn when(t: &str) -> (String, u32) {
    let t = t.trim().trim_end_matches('Z');
    let (secs, frac) = t.split_once('.').unwrap_or((t, "0"));
    let frac = format!("{frac:0<9}");
    (secs.to_string(), frac[..9].parse().unwrap())
}

/// Polls `f` for up to `secs` seconds.
fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP GET of `/` on 127.0.0.1:`port`; the body.
fn http_get(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(text)
}

/// A static UDP echo server compiled with gcc (busybox's `nc` has no `-u`).
fn udp_echo_binary(dir: &Path) -> PathBuf {
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
        .expect("gcc (build-essential)");
    assert!(st.success());
    bin
}

fn udp_echoes(port: u16) -> bool {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    for _ in 0..20 {
        sock.send_to(b"ping over udp", ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 64];
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            return &buf[..n] == b"ping over udp";
        }
    }
    false
}

/// The third octet of the daemon's bridge: unique among the test daemons
/// running at once, so subnets made from it do not clash.
fn octet(d: &Daemon) -> String {
    d.bip.split('.').nth(2).unwrap().to_string()
}

/// Two consecutive ports free on 127.0.0.1 (as far as a bind tells).
fn free_pair() -> u16 {
    loop {
        let p = free_port("127.0.0.1");
        if p < 65535 && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

#[test]
fn networks_aliases_static_addresses_network_modes_and_ports() {
    let d = daemon();
    let c = octet(&d);
    // A container outside the project, for `network_mode: container:X`.
    let ext = format!("cmpext{}", std::process::id());
    ok(d.docker(&["run", "-d", "--name", &ext, "busybox", "sleep", "1000"]));
    let (web_port, range, udp_port) = (free_port("127.0.0.1"), free_pair(), free_port("127.0.0.1"));
    let yaml = format!(
        r#"services:
  web:
    image: busybox
    entrypoint: ["sh", "-c"]
    command: ["mkdir -p /www && echo web-ok > /www/index.html && (/udp-echo 8092 &) && exec httpd -f -p 80 -h /www"]
    hostname: webhost
    domainname: example.test
    extra_hosts: ["gateway.test:192.0.2.1"]
    dns: [192.0.2.53]
    expose: ["5000"]
    volumes: ["./udp-echo:/udp-echo:ro"]
    ports:
      - "127.0.0.1:{web_port}:80"
      - "{range}-{}:8090-8091"
      - "{udp_port}:8092/udp"
    networks:
      front:
        aliases: [www]
      back:
        ipv4_address: 10.231.{c}.50
  client:
    image: busybox
    command: ["sleep", "1000"]
    networks: [front]
  db:
    image: busybox
    command: ["sleep", "1000"]
    networks:
      back:
        aliases: [database]
  sidecar:
    image: busybox
    command: ["sleep", "1000"]
    network_mode: "service:web"
  isolated:
    image: busybox
    command: ["sleep", "1000"]
    network_mode: none
  hostnet:
    image: busybox
    command: ["sleep", "1000"]
    network_mode: host
  guest:
    image: busybox
    command: ["sleep", "1000"]
    network_mode: "container:{ext}"
networks:
  front: {{}}
  back:
    ipam:
      config:
        - subnet: 10.231.{c}.0/24
"#,
        range + 1
    );
    let p = Project::new(&d, "net", &yaml);
    udp_echo_binary(p.path());
    p.ok(&["up", "-d"]);
    let (web, client, db) = (p.c("web", 1), p.c("client", 1), p.c("db", 1));

    // Names by service and alias, on the networks they share only.
    let resolves = |from: &str, name: &str| p.sh(from, &format!("nslookup {name}")).0 == 0;
    for name in ["web", "www", &web] {
        assert!(resolves("client", name), "client resolves {name}");
    }
    for name in ["db", "database"] {
        assert!(!resolves("client", name), "client must not resolve {name}");
    }
    assert!(resolves("db", "database"));
    assert!(!resolves("db", "www"), "www is web's alias on front only");
    assert!(!resolves("db", "client"));
    let (_, out, _) = p.sh("db", "nslookup web");
    assert!(out.contains(&format!("10.231.{c}.50")), "{out}");
    assert_eq!(
        p.inspect(
            &web,
            "{{(index .NetworkSettings.Networks \"net_back\").IPAddress}}"
        ),
        format!("10.231.{c}.50")
    );
    let (code, out, _) = p.sh("client", "wget -qO- http://www/");
    assert_eq!((code, out.trim()), (0, "web-ok"));

    // Published ports: a host address, a range, UDP; `expose` and `port`.
    assert_eq!(http_get(web_port).trim(), "web-ok");
    assert_eq!(
        p.out(&["port", "web", "80"]).trim(),
        format!("127.0.0.1:{web_port}")
    );
    assert_eq!(
        p.out(&["port", "web", "8091"]).trim(),
        format!("0.0.0.0:{}", range + 1)
    );
    assert_eq!(
        p.out(&["port", "--protocol", "udp", "web", "8092"]).trim(),
        format!("0.0.0.0:{udp_port}")
    );
    assert!(udp_echoes(udp_port), "no UDP echo on {udp_port}");
    let exposed = p.inspect(&web, "{{json .Config.ExposedPorts}}");
    for port in ["5000/tcp", "80/tcp", "8090/tcp", "8091/tcp", "8092/udp"] {
        assert!(exposed.contains(port), "{exposed}");
    }

    // hostname, domainname, extra_hosts, dns.
    let (_, out, _) = p.sh("web", "hostname; hostname -d; grep gateway.test /etc/hosts");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["webhost", "example.test"], "{out}");
    assert!(lines[2].starts_with("192.0.2.1"), "{out}");
    assert_eq!(
        p.inspect(&web, "{{json .HostConfig.Dns}}"),
        r#"["192.0.2.53"]"#
    );

    // network_mode: service:web shares web's namespace.
    let (code, out, _) = p.sh("sidecar", "wget -qO- http://127.0.0.1/");
    assert_eq!((code, out.trim()), (0, "web-ok"));
    // none: loopback only.
    let (_, out, _) = p.sh("isolated", "ls /sys/class/net");
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    // host: the host's interfaces (the daemon's bridge) and name.
    let (_, out, _) = p.sh("hostnet", "ls /sys/class/net; hostname");
    assert!(out.contains(&d.bridge), "{out}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(out.lines().last().unwrap(), host.trim());
    let (_, out, _) = p.sh("client", "ls /sys/class/net");
    assert!(!out.contains(&d.bridge), "{out}");
    // container:X: X's address.
    let ext_ip = ok(d.docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", &ext]));
    let (_, out, _) = p.sh("guest", "ip -4 -o addr show eth0");
    assert!(out.contains(ext_ip.trim()), "{out} / {ext_ip}");
    let _ = (client, db);

    p.ok(&["down", "-t", "0"]);
    assert!(p.containers().is_empty());
    let nets = p.docker(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        !nets.contains("net_front") && !nets.contains("net_back"),
        "{nets}"
    );
    ok(d.docker(&["rm", "-f", &ext]));
}

/// The lifecycle project: `api` prints a line at each start.
fn life_yaml(worker_sleep: u32, with_extra: bool) -> String {
    let extra = if with_extra {
        "  extra:\n    image: busybox\n    command: [\"sleep\", \"1002\"]\n    init: true\n"
    } else {
        ""
    };
    format!(
        r#"services:
  api:
    image: busybox
    command: ["sh", "-c", "echo api-started; trap 'exit 0' TERM; while :; do sleep 1; done"]
  worker:
    image: busybox
    command: ["sleep", "{worker_sleep}"]
    init: true
  once:
    image: busybox
    command: ["sh", "-c", "echo once-out; echo once-err >&2"]
    profiles: [manual]
{extra}"#
    )
}

#[test]
fn lifecycle_scale_recreate_and_every_command() {
    let d = daemon();
    let p = Project::new(&d, "life", &life_yaml(1001, true));
    let running = |c: &str| p.inspect(c, "{{.State.Status}}");

    // --scale: N containers, each labelled with its number and config hash.
    p.ok(&["up", "-d", "--scale", "worker=3"]);
    let first = p.containers();
    assert_eq!(first.len(), 5, "{first:?}");
    for n in 1..=3 {
        let w = p.c("worker", n);
        assert_eq!(running(&w), "running");
        assert_eq!(
            p.inspect(
                &w,
                "{{index .Config.Labels \"com.docker.compose.container-number\"}}"
            ),
            n.to_string()
        );
        assert_eq!(
            p.inspect(
                &w,
                "{{index .Config.Labels \"com.docker.compose.config-hash\"}}"
            )
            .len(),
            64
        );
    }
    // Idempotent: nothing changed, nothing recreated.
    let out = p.ok(&["up", "-d", "--scale", "worker=3"]);
    assert!(out.contains("is up-to-date"), "{out}");
    assert_eq!(p.containers(), first);
    // A changed service is recreated; the others are not.
    p.write("docker-compose.yml", &life_yaml(1003, true));
    let out = p.ok(&["up", "-d", "--scale", "worker=3"]);
    assert!(out.contains("Recreating"), "{out}");
    let second = p.containers();
    for (name, id) in &second {
        if name.contains("_worker_") {
            assert!(!first.values().any(|i| i == id), "{name} was not recreated");
            assert_eq!(
                p.inspect(name, "{{json .Config.Cmd}}"),
                r#"["sleep","1003"]"#
            );
        } else {
            assert_eq!(first.get(name), Some(id), "{name} was recreated");
        }
    }
    // --no-recreate keeps the containers of a changed service.
    p.write("docker-compose.yml", &life_yaml(1004, true));
    p.ok(&["up", "-d", "--no-recreate", "--scale", "worker=3"]);
    assert_eq!(p.containers(), second);
    // --force-recreate recreates them all; scaling down removes the extra.
    p.ok(&["up", "-d", "--force-recreate", "--scale", "worker=1"]);
    let third = p.containers();
    assert_eq!(third.len(), 3, "{third:?}");
    assert!(third.values().all(|id| !second.values().any(|i| i == id)));
    // A service gone from the file is an orphan until --remove-orphans.
    p.write("docker-compose.yml", &life_yaml(1004, false));
    let out = p.ok(&["up", "-d"]);
    assert!(out.contains("orphan"), "{out}");
    assert!(p.containers().contains_key(&p.c("extra", 1)));
    p.ok(&["up", "-d", "--remove-orphans"]);
    assert!(!p.containers().contains_key(&p.c("extra", 1)));

    // ps, top, port-less services, pause/unpause, kill, stop/start/restart.
    let api = p.c("api", 1);
    let out = p.out(&["ps"]);
    assert!(out.contains(&api) && out.contains("Up"), "{out}");
    let services = p.out(&["ps", "--services"]);
    assert!(
        services.contains("api") && services.contains("worker"),
        "{services}"
    );
    let id = p.out(&["ps", "-q", "api"]);
    assert!(id.starts_with(&p.containers()[&api]), "{id}");
    let out = p.out(&["top", "api"]);
    assert!(out.contains("sleep 1"), "{out}");
    p.ok(&["pause", "api"]);
    assert_eq!(running(&api), "paused");
    assert!(p.out(&["ps"]).contains("Paused"));
    p.ok(&["unpause", "api"]);
    assert_eq!(running(&api), "running");
    // events: the project's container events as they happen (Compose
    // follows the daemon's event stream with its label filter).
    let (mut events, rx) = follow(&p, &["events", "--json"]);
    let event = |l: &str| -> (String, String) {
        let e: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
        let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
        (s("service"), s("action"))
    };
    // Subscribed once a harmless signal to api (pid 1 ignores it) shows.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        ok(d.docker(&["kill", "-s", "SIGWINCH", &api]));
        if seen(&rx, 1, |l| event(l) == ("api".into(), "kill".into())) {
            break;
        }
        assert!(Instant::now() < deadline, "no events from compose");
    }
    p.ok(&["kill", "-s", "SIGKILL", "worker"]);
    wait_for("the worker's death", 10, || {
        running(&p.c("worker", 1)) == "exited"
    });
    assert_eq!(p.inspect(&p.c("worker", 1), "{{.State.ExitCode}}"), "137");
    p.ok(&["start", "worker"]);
    assert_eq!(running(&p.c("worker", 1)), "running");
    let mut actions = Vec::new();
    seen(&rx, 15, |l| {
        let (service, action) = event(l);
        if service == "worker" {
            actions.push(action);
        }
        actions.iter().any(|a| a == "start")
    });
    let _ = events.kill();
    let _ = events.wait();
    for want in ["kill", "die", "start"] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }
    p.ok(&["stop", "-t", "5", "api"]);
    assert_eq!(running(&api), "exited");
    assert_eq!(
        p.inspect(&api, "{{.State.ExitCode}}"),
        "0",
        "TERM reached the trap"
    );
    p.ok(&["start", "api"]);
    let before = p.inspect(&api, "{{.State.StartedAt}}");
    p.ok(&["restart", "-t", "5", "api"]);
    assert!(when(&p.inspect(&api, "{{.State.StartedAt}}")) > when(&before));

    // logs: --tail, -f.
    wait_for("api's third start line", 10, || {
        p.docker(&["logs", &api]).matches("api-started").count() == 3
    });
    let out = p.out(&["logs", "--no-color", "--tail", "1", "api"]);
    assert_eq!(out.matches("api-started").count(), 1, "{out}");
    let (mut follow, rx) = follow(&p, &["logs", "-f", "--no-color", "--tail", "1", "api"]);
    // The tail comes first, then a line written once `logs -f` is attached
    // must arrive while it follows.
    assert!(seen(&rx, 30, |l| l.contains("api-started")), "the tail");
    ok(d.docker(&[
        "exec",
        &api,
        "sh",
        "-c",
        "echo followed-line > /proc/1/fd/1",
    ]));
    let got = seen(&rx, 15, |l| l.contains("followed-line"));
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(got, "logs -f did not show the line");

    // exec: -T with the exit code, options, and with a terminal.
    let (code, ..) = p.compose(&["exec", "-T", "api", "sh", "-c", "exit 3"]);
    assert_eq!(code, 3);
    let out = p.out(&[
        "exec",
        "-T",
        "-e",
        "X=1",
        "-w",
        "/tmp",
        "-u",
        "65534",
        "api",
        "sh",
        "-c",
        "echo $X $(pwd) $(id -u)",
    ]);
    assert_eq!(out.trim(), "1 /tmp 65534");
    let mut script = Command::new("script");
    script.args([
        "-qec",
        &format!(
            "docker-compose --ansi never -p {} exec api sh -c 'tty; exit 4'",
            p.name
        ),
        "/dev/null",
    ]);
    p.env(&mut script);
    let out = script.stdin(Stdio::null()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/"), "{text}");
    assert_eq!(out.status.code(), Some(4), "{text}");

    // run: one-off containers, --rm, --no-deps, -T, exit codes.
    let (code, out, _) = p.compose(&[
        "run",
        "--rm",
        "--no-deps",
        "-T",
        "worker",
        "sh",
        "-c",
        "echo one-off; exit 5",
    ]);
    assert_eq!((code, out.trim()), (5, "one-off"));
    // The same through docker-py's own attach sockets and container wait
    // (Compose shells out to `docker start -a` unless told not to). Compose
    // 1.29 opens those sockets lazily (dockerpty's `sockets()` returns a
    // `map`), after its start: a command that printed at once could be done
    // before the attach on any engine, so this one waits a moment first.
    let r = p
        .command(&[
            "run",
            "--rm",
            "--no-deps",
            "-T",
            "worker",
            "sh",
            "-c",
            "sleep 1; echo via-api; exit 6",
        ])
        .env("COMPOSE_INTERACTIVE_NO_CLI", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&r.stdout);
    assert_eq!(
        (r.status.code(), text.trim()),
        (Some(6), "via-api"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let out = p.out(&["run", "-d", "worker", "sleep", "1000"]);
    let oneoff = out.trim().to_string();
    assert_eq!(
        p.inspect(
            &oneoff,
            "{{index .Config.Labels \"com.docker.compose.oneoff\"}}"
        ),
        "True"
    );
    assert!(
        !p.out(&["ps", "-q"]).contains(&oneoff[..12]),
        "one-offs are not listed"
    );

    // up without -d: attached to the service's output until it exits.
    let (code, out, err) = p.compose(&["--profile", "manual", "up", "once"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("once-out") && out.contains("once-err"),
        "{out}"
    );
    assert!(out.contains("exited with code 0"), "{out}");

    // down leaves an orphan (a service gone from the file) until
    // --remove-orphans; the others' containers (one-offs too) and the network go,
    // within -t.
    p.write("docker-compose.yml", &life_yaml(1004, true));
    p.ok(&["up", "-d", "--no-deps", "extra"]);
    p.write("docker-compose.yml", &life_yaml(1004, false));
    let t = Instant::now();
    // The orphan keeps the network: Compose fails on its removal, as on
    // dockerd.
    let (code, out, err) = p.compose(&["--profile", "manual", "down", "-t", "1"]);
    assert!(t.elapsed() < Duration::from_secs(20));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("has active endpoints"), "{err}");
    assert_eq!(
        p.containers().keys().collect::<Vec<_>>(),
        [&p.c("extra", 1)]
    );
    p.ok(&["--profile", "manual", "down", "-t", "1", "--remove-orphans"]);
    assert!(p.containers().is_empty(), "{:?}", p.containers());
    let nets = p.docker(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!nets.contains("life_default"), "{nets}");
}

#[test]
fn compose_file_features_health_gated_order_and_volumes() {
    let d = daemon();
    let yaml = r#"services:
  db:
    image: busybox
    command: ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 1000"]
    init: true
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 300ms
      timeout: 2s
      retries: 30
  seed:
    image: busybox
    command: ["sh", "-c", "sleep 1; echo seeded > /data/seed"]
    volumes: ["shared:/data"]
  side:
    image: busybox
    command: ["sleep", "1000"]
    init: true
  app:
    image: busybox
    depends_on:
      db: {condition: service_healthy}
      seed: {condition: service_completed_successfully}
      side: {condition: service_started}
    entrypoint: ["sh", "-c"]
    command: ["echo app-started; exec sleep 1000"]
    hostname: apphost
    user: "1000:1000"
    working_dir: /tmp
    environment:
      FOO: bar
      OVER: env
    env_file: [app.env]
    labels:
      com.example.x: "y"
    volumes:
      - shared:/data
      - ./data:/bind:ro
      - /anon
    tmpfs: ["/scratch:size=1m"]
    read_only: true
    cap_drop: [ALL]
    cap_add: [NET_ADMIN]
    sysctls:
      net.ipv4.ip_unprivileged_port_start: "0"
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    init: true
    stop_signal: SIGUSR1
    stop_grace_period: 7s
    restart: unless-stopped
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
    devices: ["/dev/null:/dev/mynull"]
    secrets: [sec]
    logging:
      driver: json-file
      options: {max-size: "1m", max-file: "2"}
  stubborn:
    image: busybox
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  flaky:
    image: busybox
    command: ["sh", "-c", "echo try; exit 1"]
    restart: "on-failure:2"
  bad:
    image: busybox
    command: ["sh", "-c", "exit 4"]
    profiles: [fail]
  needs_bad:
    image: busybox
    command: ["sleep", "1000"]
    profiles: [fail]
    depends_on:
      bad: {condition: service_completed_successfully}
  sick:
    image: busybox
    command: ["sleep", "1000"]
    init: true
    profiles: [fail]
    healthcheck:
      test: ["CMD-SHELL", "exit 1"]
      interval: 300ms
      retries: 2
  needs_sick:
    image: busybox
    command: ["sleep", "1000"]
    profiles: [fail]
    depends_on:
      sick: {condition: service_healthy}
secrets:
  sec:
    file: ./secret.txt
volumes:
  shared: {}
"#;
    let p = Project::new(&d, "feat", yaml);
    p.write("app.env", "FROM_FILE=yes\nOVER=file\n");
    p.write("secret.txt", "s3cret\n");
    p.write("data/f", "bound\n");
    p.ok(&["up", "-d"]);
    let (app, db, seed) = (p.c("app", 1), p.c("db", 1), p.c("seed", 1));

    // Health-gated order: app started after db was first healthy and after
    // seed had exited 0.
    assert_eq!(p.inspect(&db, "{{.State.Health.Status}}"), "healthy");
    assert!(p.out(&["ps", "db"]).contains("(healthy)"));
    let started = when(&p.inspect(&app, "{{.State.StartedAt}}"));
    let healthy = p.inspect(
        &db,
        "{{range .State.Health.Log}}{{if eq .ExitCode 0}}{{.End}}\n{{end}}{{end}}",
    );
    let first_healthy = when(healthy.lines().next().expect("a passing check"));
    assert!(started > first_healthy, "{started:?} vs {first_healthy:?}");
    assert_eq!(p.inspect(&seed, "{{.State.ExitCode}}"), "0");
    assert!(started > when(&p.inspect(&seed, "{{.State.FinishedAt}}")));

    // What the container sees.
    let (code, out, err) = p.sh(
        "app",
        "id -u; id -g; pwd; hostname; echo $FOO $OVER $FROM_FILE; cat /data/seed /bind/f /run/secrets/sec; \
         touch /x 2>/dev/null && echo rootfs-writable; touch /bind/x 2>/dev/null && echo bind-writable; \
         touch /scratch/y && grep ' /scratch ' /proc/mounts | cut -d' ' -f3; \
         grep CapBnd /proc/$(pidof sleep)/status | cut -f2; ulimit -n; ulimit -Hn; ulimit -u; \
         cat /proc/sys/net/ipv4/ip_unprivileged_port_start; stat -c %t,%T /dev/mynull; \
         cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us; \
         cat /proc/1/comm; ps -o ppid,comm | grep -c '^ *1 sleep'",
    );
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    let init = lines.get(18).copied().unwrap_or("");
    assert_eq!(
        lines,
        [
            "1000",
            "1000",
            "/tmp",
            "apphost",
            "bar env yes",
            "seeded",
            "bound",
            "s3cret",
            "tmpfs",
            "0000000000001000",
            "1024",
            "2048",
            "512",
            "0",
            "1,3",
            "67108864",
            "50",
            "50000",
            init,
            "1",
        ],
        "{out}{err}"
    );
    assert_ne!(init, "sleep", "init is pid 1");
    assert_eq!(
        p.inspect(&app, "{{index .Config.Labels \"com.example.x\"}}"),
        "y"
    );
    assert_eq!(
        p.inspect(&app, "{{.Path}} {{json .Args}}"),
        r#"sh ["-c","echo app-started; exec sleep 1000"]"#
    );
    assert_eq!(
        p.inspect(
            &app,
            "{{.HostConfig.RestartPolicy.Name}} {{.Config.StopSignal}} {{.Config.StopTimeout}}"
        ),
        "unless-stopped SIGUSR1 7"
    );
    assert_eq!(
        p.inspect(
            &app,
            "{{.HostConfig.LogConfig.Type}} {{json .HostConfig.LogConfig.Config}}"
        ),
        r#"json-file {"max-file":"2","max-size":"1m"}"#
    );
    let logs = p.out(&["logs", "--no-color", "app"]);
    assert!(logs.contains("app-started"), "{logs}");

    // restart: on-failure:2 runs it three times.
    let flaky = p.c("flaky", 1);
    wait_for("flaky's retries", 20, || {
        p.inspect(&flaky, "{{.State.Status}} {{.RestartCount}}") == "exited 2"
    });
    assert_eq!(
        p.out(&["logs", "--no-color", "flaky"])
            .matches("try")
            .count(),
        3
    );

    // stop_signal reaches the process (through init: 128 + SIGUSR1, not
    // 137: no SIGKILL after the grace period); stop_grace_period bounds a process that
    // ignores SIGTERM (busybox sleep as pid 1), then SIGKILL.
    p.ok(&["stop", "app"]);
    assert_eq!(p.inspect(&app, "{{.State.ExitCode}}"), "138", "not killed");
    let t = Instant::now();
    p.ok(&["stop", "stubborn"]);
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    // Well before Docker's default 10 s (Compose's own start takes seconds
    // on a loaded machine).
    assert!(
        t.elapsed() < Duration::from_millis(9500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(
        p.inspect(&p.c("stubborn", 1), "{{.Config.StopTimeout}}"),
        "1"
    );
    assert_eq!(p.inspect(&p.c("stubborn", 1), "{{.State.ExitCode}}"), "137");

    // Dependencies that fail stop `up` with Compose's errors.
    let (code, out, err) = p.compose(&["--profile", "fail", "up", "-d", "needs_bad"]);
    assert_ne!(code, 0);
    assert!(err.contains("exited with code 4"), "{out}{err}");
    let (code, out, err) = p.compose(&["--profile", "fail", "up", "-d", "needs_sick"]);
    assert_ne!(code, 0);
    assert!(err.contains("is unhealthy"), "{out}{err}");

    // Volumes: the named one keeps its data across down/up; down -v removes
    // it and the anonymous ones.
    p.ok(&["up", "-d", "app"]);
    ok(d.docker(&[
        "exec",
        "-u",
        "0",
        &app,
        "sh",
        "-c",
        "echo kept > /data/keep",
    ]));
    let anon = p.inspect(
        &app,
        "{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}",
    );
    assert_eq!(anon.len(), 64, "an anonymous volume: {anon}");
    p.ok(&["--profile", "fail", "down", "-t", "1"]);
    assert!(p.containers().is_empty());
    let vols = p.docker(&["volume", "ls", "-q"]);
    assert!(vols.contains("feat_shared"), "{vols}");
    assert!(
        vols.contains(&anon),
        "down without -v leaves anonymous volumes, as Docker's"
    );
    p.ok(&["up", "-d", "app"]);
    let (_, out, _) = p.sh("app", "cat /data/keep");
    assert_eq!(out.trim(), "kept");
    let anon2 = p.inspect(
        &app,
        "{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}",
    );
    p.ok(&["--profile", "fail", "down", "-v", "-t", "1"]);
    let vols = p.docker(&["volume", "ls", "-q"]);
    assert!(!vols.contains("feat_shared"), "{vols}");
    assert!(!vols.contains(&anon2), "{vols}");
    p.docker(&["volume", "rm", &anon]);
}

#[test]
fn build_push_pull_images_config_and_down_rmi() {
    let d = daemon();
    let reg = Registry::start(Options::default());
    let image = format!("{}/bld/app:v1", reg.host);
    let yaml = format!(
        r#"services:
  app:
    build:
      context: ./ctx
      dockerfile: Dockerfile.custom
      target: dev
      args:
        GREETING: hello
      labels:
        com.example.built: "yes"
    image: {image}
    volumes: ["/anon"]
  local:
    build: ./plain
    command: ["sleep", "1000"]
    init: true
"#
    );
    let p = Project::new(&d, "bld", &yaml);
    p.write(
        "ctx/Dockerfile.custom",
        "FROM busybox AS base\nARG GREETING=none\nRUN echo \"base $GREETING\" > /greet\n\
         FROM base AS final\nRUN echo final >> /greet\n\
         FROM base AS dev\nLABEL stage=dev\nRUN echo dev >> /greet\nVOLUME /imgvol\n\
         CMD [\"sh\", \"-c\", \"cat /greet; trap 'exit 0' TERM; while :; do sleep 1; done\"]\n",
    );
    p.write(
        "plain/Dockerfile",
        "FROM busybox\nRUN echo plain > /plain\n",
    );

    // up of services whose images are built.
    let out = p.ok(&["up", "-d"]);
    assert!(
        out.contains("was built because it did not already exist"),
        "{out}"
    );
    let app = p.c("app", 1);
    wait_for("app's output", 10, || {
        p.docker(&["logs", &app]).contains("dev")
    });
    let logs = p.out(&["logs", "--no-color", "app"]);
    assert!(
        logs.contains("base hello") && !logs.contains("final"),
        "{logs}"
    );
    let labels = p.docker(&["image", "inspect", "-f", "{{json .Config.Labels}}", &image]);
    assert_eq!(
        labels.trim(),
        r#"{"com.example.built":"yes","stage":"dev"}"#
    );
    let (_, out, _) = p.sh("local", "cat /plain");
    assert_eq!(out.trim(), "plain");

    // A recreated container keeps its anonymous volumes, the image's VOLUME
    // too (Compose 1.29 finds those in the image's ContainerConfig).
    ok(d.docker(&[
        "exec",
        &app,
        "sh",
        "-c",
        "echo a > /anon/f; echo i > /imgvol/f",
    ]));
    p.ok(&["up", "-d", "--force-recreate", "app"]);
    let (_, out, _) = p.sh("app", "cat /anon/f /imgvol/f");
    assert_eq!(out, "a\ni\n");

    // build again: cached.
    let out = p.ok(&["build", "app"]);
    assert!(out.contains("Using cache"), "{out}");

    // config: the resolved file.
    let cfg = p.out(&["config"]);
    assert!(
        cfg.contains("GREETING: hello") && cfg.contains("target: dev"),
        "{cfg}"
    );
    assert!(
        cfg.contains(&format!("context: {}", p.path().join("ctx").display())),
        "{cfg}"
    );
    let services = p.out(&["config", "--services"]);
    assert_eq!(
        services.split_whitespace().collect::<Vec<_>>(),
        ["app", "local"]
    );

    // images: each container's image.
    let out = p.out(&["images"]);
    assert!(
        out.contains(&format!("{}/bld/app", reg.host)) && out.contains("bld_local"),
        "{out}"
    );

    // push, then pull it back after down --rmi all.
    let built = p.docker(&["image", "inspect", "-f", "{{.Id}}", &image]);
    p.ok(&["push", "app"]);
    let mut tags = String::new();
    TcpStream::connect(&reg.host)
        .and_then(|mut s| {
            write!(
                s,
                "GET /v2/bld/app/tags/list HTTP/1.0\r\nHost: {}\r\n\r\n",
                reg.host
            )?;
            s.read_to_string(&mut tags)
        })
        .unwrap();
    assert!(tags.contains(r#""tags":["v1"]"#), "{tags}");
    // --rmi local removes only the images without a name of their own.
    p.ok(&["down", "--rmi", "local", "-t", "1"]);
    assert_ne!(d.docker(&["image", "inspect", "bld_local"]).0, 0);
    assert_eq!(d.docker(&["image", "inspect", &image]).0, 0);
    p.ok(&["up", "-d", "--no-build", "app"]);
    p.ok(&["down", "--rmi", "all", "-t", "1"]);
    assert_ne!(d.docker(&["image", "inspect", &image]).0, 0);
    p.ok(&["pull", "app"]);
    let pulled = p.docker(&["image", "inspect", "-f", "{{.Id}}", &image]);
    assert_eq!(pulled, built, "the pushed image comes back with its id");
    p.ok(&["up", "-d", "--no-build", "app"]);
    wait_for("app's output", 10, || {
        p.docker(&["logs", &app]).contains("dev")
    });
    p.ok(&["down", "--rmi", "all", "-t", "1"]);
}

/// One request with a JSON body (or none) on the daemon's socket; the
/// status code and the body (chunked bodies joined).
fn request(
    d: &Daemon,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, String) {
    let mut s = UnixStream::connect(d.socket()).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = Vec::new();
    s.read_to_end(&mut text).unwrap();
    let text = String::from_utf8_lossy(&text).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = rest;
        while let Some((len, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            rest = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        rest.to_string()
    };
    (code, body)
}

/// Regression: docker-compose 1.29 negotiates the daemon's newest API and
/// reads `ContainerConfig.Volumes` of the image when it recreates a
/// container; berthd wrote no `ContainerConfig` for an imported image (nor
/// at 1.45 and later), and every recreation failed with
/// `KeyError: 'ContainerConfig'`.
#[test]
fn regression_image_inspect_has_container_config_for_compose_1_29() {
    let d = daemon();
    for v in ["v1.41", "v1.47"] {
        let (code, body) = request(&d, "GET", &format!("/{v}/images/busybox/json"), None);
        assert_eq!(code, 200, "{body}");
        let j: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(j["ContainerConfig"].is_object(), "{v}: {body}");
        assert!(j["ContainerConfig"].get("Volumes").is_some(), "{v}: {body}");
    }
}

/// Regression: a classic build recorded no `container_config`, so Compose
/// 1.29 saw no image volumes and gave a recreated container a new, empty
/// volume for the image's `VOLUME` (its data lost).
#[test]
fn regression_build_records_container_config_volumes() {
    let d = daemon();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM busybox\nENV K=v\nVOLUME /v\nRUN true\n",
    )
    .unwrap();
    let tag = format!("cc-regression-{}", std::process::id());
    ok(d.docker(&["build", "-q", "-t", &tag, dir.path().to_str().unwrap()]));
    let cc = ok(d.docker(&["image", "inspect", "-f", "{{json .ContainerConfig}}", &tag]));
    let j: serde_json::Value = serde_json::from_str(&cc).unwrap();
    assert!(j["Volumes"].get("/v").is_some(), "{cc}");
    assert!(j["Env"].to_string().contains("K=v"), "{cc}");
    assert_eq!(j["Cmd"][0], "/bin/sh", "{cc}");
    ok(d.docker(&["rmi", &tag]));
}

/// Compose v2's labels on what it makes for project `v2`.
fn v2_labels(kind: &str, name: &str) -> serde_json::Value {
    serde_json::json!({
        kind: name,
        "com.docker.compose.project": "v2",
        "com.docker.compose.version": "2.29.7",
    })
}

/// What Compose v2 sends for a service container (moby's `CreateRequest` as
/// its Go client marshals it: every field, nulls included), its networks
/// all in `EndpointsConfig` as from API 1.44 (`defaultNetworkSettings` in
/// compose's pkg/compose/create.go), its volumes as `Mounts`.
fn v2_create_body(
    service: &str,
    cmd: &[&str],
    networks: &[(&str, &[&str])],
    mounts: serde_json::Value,
    ports: serde_json::Value,
) -> serde_json::Value {
    let name = format!("v2-{service}-1");
    let mut labels = v2_labels("com.docker.compose.service", service);
    labels["com.docker.compose.container-number"] = "1".into();
    labels["com.docker.compose.oneoff"] = "False".into();
    labels["com.docker.compose.config-hash"] = "0".repeat(64).into();
    let mut endpoints = serde_json::Map::new();
    for (net, aliases) in networks {
        let mut all = vec![name.clone(), service.to_string()];
        all.extend(aliases.iter().map(|a| a.to_string()));
        endpoints.insert(
            format!("v2_{net}"),
            serde_json::json!({
                "IPAMConfig": {"IPv4Address": "", "IPv6Address": "", "LinkLocalIPs": null},
                "Links": null, "Aliases": all, "MacAddress": "", "DriverOpts": null,
                "GwPriority": 0, "NetworkID": "", "EndpointID": "", "Gateway": "",
                "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0, "DNSNames": null
            }),
        );
    }
    let exposed: serde_json::Map<String, serde_json::Value> = ports
        .as_object()
        .map(|m| {
            m.keys()
                .map(|k| (k.clone(), serde_json::json!({})))
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
        "AttachStdout": true, "AttachStderr": true, "ExposedPorts": exposed, "Tty": false,
        "OpenStdin": false, "StdinOnce": false, "Env": ["FROM_V2=1"], "Cmd": cmd,
        "Image": "busybox", "Volumes": null, "WorkingDir": "", "Entrypoint": null,
        "OnBuild": null, "Labels": labels,
        "HostConfig": {
            "Binds": null, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": null},
            "NetworkMode": format!("v2_{}", networks[0].0), "PortBindings": ports,
            "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}, "AutoRemove": false,
            "VolumeDriver": "", "VolumesFrom": null, "ConsoleSize": [0, 0], "Annotations": null,
            "CapAdd": null, "CapDrop": null, "CgroupnsMode": "", "Dns": null, "DnsOptions": null,
            "DnsSearch": null, "ExtraHosts": [], "GroupAdd": null, "IpcMode": "", "Cgroup": "",
            "Links": null, "OomScoreAdj": 0, "PidMode": "", "Privileged": false,
            "PublishAllPorts": false, "ReadonlyRootfs": false, "SecurityOpt": null,
            "UTSMode": "", "UsernsMode": "", "ShmSize": 0, "Isolation": "", "CpuShares": 0,
            "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
            "BlkioWeightDevice": null, "BlkioDeviceReadBps": null, "BlkioDeviceWriteBps": null,
            "BlkioDeviceReadIOps": null, "BlkioDeviceWriteIOps": null, "CpuPeriod": 0,
            "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "",
            "CpusetMems": "", "Devices": null, "DeviceCgroupRules": null, "DeviceRequests": null,
            "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": null,
            "OomKillDisable": false, "PidsLimit": null, "Ulimits": null, "CpuCount": 0,
            "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "Mounts": mounts,
            "MaskedPaths": null, "ReadonlyPaths": null, "Init": null
        },
        "NetworkingConfig": {"EndpointsConfig": endpoints}
    })
}

/// Compose v2 (`docker compose`, not installable here) at API 1.47: its
/// networks and volume, then containers created with every network in
/// `EndpointsConfig` (no connect calls), volumes, secrets and file configs
/// as `Mounts` (Compose 1.29 drops `configs`: it leaves them to swarm),
/// listed with its label filters, started; names and aliases resolve on the
/// networks they were given, the port answers, the mounts are there.
#[test]
fn compose_v2_create_body() {
    let d = daemon();
    /// What Compose v2's `down` removes, also when an assertion fails.
    struct Down<'a>(&'a Daemon);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = self.0.docker(&["rm", "-f", "v2-web-1", "v2-client-1"]);
            let _ = self.0.docker(&["network", "rm", "v2_front", "v2_back"]);
            let _ = self.0.docker(&["volume", "rm", "v2_data"]);
        }
    }
    let _down = Down(&d);
    // Compose v2 takes the path below when the daemon announces API 1.44 or
    // later (before, it connects the other networks after create, as 1.29
    // does: the other tests).
    let (code, out) = request(&d, "GET", "/version", None);
    assert_eq!(code, 200, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let minor: u32 = v["ApiVersion"]
        .as_str()
        .and_then(|s| s.strip_prefix("1."))
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(minor >= 44, "{out}");
    let c = octet(&d);
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("token.txt");
    std::fs::write(&secret, "v2-secret\n").unwrap();
    let config = dir.path().join("app.conf");
    std::fs::write(&config, "v2-config\n").unwrap();
    for (net, k) in [("front", 2), ("back", 3)] {
        let body = serde_json::json!({
            "Name": format!("v2_{net}"), "Driver": "bridge", "Scope": "", "EnableIPv6": null,
            "IPAM": {"Driver": "", "Options": null,
                     "Config": [{"Subnet": format!("10.23{k}.{c}.0/24")}]},
            "Internal": false, "Attachable": false, "Ingress": false, "ConfigOnly": false,
            "ConfigFrom": null, "Options": null,
            "Labels": v2_labels("com.docker.compose.network", net)
        });
        let (code, out) = request(&d, "POST", "/v1.47/networks/create", Some(&body));
        assert_eq!(code, 201, "{out}");
    }
    let body = serde_json::json!({"Name": "v2_data", "Driver": "local", "DriverOpts": null,
                                  "Labels": v2_labels("com.docker.compose.volume", "data")});
    let (code, out) = request(&d, "POST", "/v1.47/volumes/create", Some(&body));
    assert_eq!(code, 201, "{out}");

    let port = free_port("127.0.0.1");
    let web = v2_create_body(
        "web",
        &[
            "sh",
            "-c",
            "mkdir -p /www && echo v2-ok > /www/index.html && exec httpd -f -p 80 -h /www",
        ],
        &[("front", &["www"]), ("back", &[])],
        serde_json::json!([
            {"Type": "volume", "Source": "v2_data", "Target": "/data", "VolumeOptions": {}},
            {"Type": "bind", "Source": secret, "Target": "/run/secrets/token", "ReadOnly": true,
             "BindOptions": {"CreateMountpoint": true}},
            {"Type": "bind", "Source": config, "Target": "/app.conf", "ReadOnly": true,
             "BindOptions": {"CreateMountpoint": true}}
        ]),
        serde_json::json!({"80/tcp": [{"HostIp": "", "HostPort": port.to_string()}]}),
    );
    let client = v2_create_body(
        "client",
        &["sleep", "1000"],
        &[("back", &[])],
        serde_json::json!([]),
        serde_json::json!({}),
    );
    for (name, body) in [("v2-web-1", &web), ("v2-client-1", &client)] {
        let (code, out) = request(
            &d,
            "POST",
            &format!("/v1.47/containers/create?name={name}"),
            Some(body),
        );
        assert_eq!(code, 201, "{name}: {out}");
    }
    let filters = "%7B%22label%22%3A%7B%22com.docker.compose.project%3Dv2%22%3Atrue%2C%22com.docker.compose.oneoff%3DFalse%22%3Atrue%7D%7D";
    let (code, out) = request(
        &d,
        "GET",
        &format!("/v1.47/containers/json?all=1&filters={filters}"),
        None,
    );
    assert_eq!(code, 200, "{out}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().map(|l| l.len()), Some(2), "{out}");
    for name in ["v2-web-1", "v2-client-1"] {
        let (code, out) = request(&d, "POST", &format!("/v1.47/containers/{name}/start"), None);
        assert_eq!(code, 204, "{name}: {out}");
    }

    let nets = ok(d.docker(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{join $v.Aliases \",\"}} {{end}}",
        "v2-web-1",
    ]));
    assert!(
        nets.contains("v2_front=") && nets.contains("v2_back="),
        "{nets}"
    );
    let resolves = |from: &str, name: &str| d.docker(&["exec", from, "nslookup", name]).0 == 0;
    for name in ["web", "v2-web-1"] {
        assert!(
            resolves("v2-client-1", name),
            "client resolves {name} on back"
        );
    }
    assert!(
        !resolves("v2-client-1", "www"),
        "www is web's alias on front only"
    );
    assert_eq!(http_get(port).trim(), "v2-ok");
    let (code, out, err) = d.docker(&[
        "exec",
        "v2-web-1",
        "sh",
        "-c",
        "cat /run/secrets/token /app.conf; echo $FROM_V2; touch /data/x",
    ]);
    assert_eq!(
        (code, out.as_str()),
        (0, "v2-secret\nv2-config\n1\n"),
        "{err}"
    );
    let vol = ok(d.docker(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{if eq .Destination \"/data\"}}{{.Name}}{{end}}{{end}}",
        "v2-web-1",
    ]));
    assert_eq!(vol.trim(), "v2_data");

    // Compose v2's `down`: containers, then networks and the volume.
    ok(d.docker(&["rm", "-f", "v2-web-1", "v2-client-1"]));
    ok(d.docker(&["network", "rm", "v2_front", "v2_back"]));
    ok(d.docker(&["volume", "rm", "v2_data"]));
}
