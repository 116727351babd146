//! Rootless berthd (issue 21), end to end: an ordinary user this test makes
//! (`useradd`, subordinate ranges in /etc/subuid and /etc/subgid, its own
//! `XDG_RUNTIME_DIR`) starts berthd with a clean environment and drives it
//! with the real docker CLI as itself. One daemon serves every step (a
//! rootless start and the user's setup cost a few seconds), in one test
//! so that the guard removing the user runs whatever happens.
//!
//! Needs `uidmap` (newuidmap/newgidmap), `slirp4netns`, `docker-registry`
//! and root (to make the user).

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::registry::{Options, Registry};

/// A user made for the test, removed with everything it runs on drop.
struct User {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
    /// Its `XDG_RUNTIME_DIR` (0700, its own), as pam_systemd would make.
    run: PathBuf,
    /// Where the test's files the user reads live (0755).
    share: tempfile::TempDir,
    daemon: Option<Child>,
    removed: bool,
}

/// Runs `cmd`, panicking with its output when it fails.
fn ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The first range of `name` in `file` (`/etc/subuid`): (start, count).
fn range_of(file: &str, name: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// Removes `name`'s lines from `file` (useradd's ranges, if userdel left them).
fn drop_lines(file: &str, name: &str) {
    if let Ok(text) = std::fs::read_to_string(file) {
        let prefix = format!("{name}:");
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with(&prefix))
            .map(|l| format!("{l}\n"))
            .collect();
        if kept != text {
            let _ = std::fs::write(file, kept);
        }
    }
}

impl User {
    fn create() -> User {
        let name = format!("brl{}", std::process::id());
        ok(Command::new("useradd").args(["-m", "-s", "/bin/sh", &name]));
        // From here on the guard removes it, whatever fails.
        let mut u = User {
            uid: 0,
            gid: 0,
            home: PathBuf::new(),
            run: PathBuf::from(format!("/tmp/{name}-run")),
            share: tempfile::tempdir().unwrap(),
            name,
            daemon: None,
            removed: false,
        };
        let user = nix::unistd::User::from_name(&u.name).unwrap().unwrap();
        (u.uid, u.gid, u.home) = (user.uid.as_raw(), user.gid.as_raw(), user.dir);
        // Debian's useradd allocates ranges (login.defs' SUB_UID_*); say so
        // plainly if this one did not.
        for f in ["/etc/subuid", "/etc/subgid"] {
            assert!(
                range_of(f, &u.name).is_some(),
                "useradd gave {} no range in {f}",
                u.name
            );
        }
        ok(Command::new("install")
            .args(["-d", "-m", "0700", "-o", &u.name, "-g", &u.name])
            .arg(&u.run));
        std::fs::set_permissions(
            u.share.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        u
    }

    /// `program args` as the user, with a clean environment (what a login
    /// gives: no root's variables leak into the daemon or the client).
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            &self.uid.to_string(),
            "--regid",
            &self.gid.to_string(),
        ])
        .args(["--init-groups", "--", "env", "-i"])
        .env_clear()
        .arg(format!("HOME={}", self.home.display()))
        .arg(format!("USER={}", self.name))
        .arg(format!("LOGNAME={}", self.name))
        .arg("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .arg(format!("XDG_RUNTIME_DIR={}", self.run.display()))
        .arg(format!(
            "DOCKER_HOST=unix://{}/berth.sock",
            self.run.display()
        ))
        .arg("DOCKER_BUILDKIT=0")
        .arg(program);
        c
    }

    /// Starts berthd as the user with Docker rootless's defaults (socket
    /// and exec root under XDG_RUNTIME_DIR, data under ~/.local/share).
    fn start_daemon(&mut self, extra: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.share.path().join("berthd.log"))
            .unwrap();
        let child = self
            .command(env!("CARGO_BIN_EXE_berthd"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemon = Some(child);
        let sock = self.run.join("berth.sock");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
                return;
            }
            if let Some(st) = self.daemon.as_mut().unwrap().try_wait().unwrap() {
                panic!("rootless berthd exited ({st}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "rootless berthd did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.share.path().join("berthd.log")).unwrap_or_default()
    }

    fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().unwrap().id()
    }

    /// `kill -9` of the daemon (setpriv execs it: the child is berthd).
    fn kill9_daemon(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The docker CLI as the user: (exit code, stdout, stderr).
    fn docker(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command("docker").args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The docker CLI, which must succeed: its stdout, trimmed.
    fn docker_ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.docker(args);
        assert_eq!(
            code,
            0,
            "docker {args:?}: {out}{err}\nberthd: {}",
            self.log()
        );
        out.trim().to_string()
    }

    /// The user's processes on the host, by pid.
    fn processes(&self) -> Vec<u32> {
        let mut v = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            // The real uid (/proc/PID's owner is root for a process that
            // is not dumpable); a container's root is the user's uid, its
            // other users the user's subordinate ids.
            let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
            let uid = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok());
            if uid.is_some_and(|id| id == self.uid || self.subordinate(id, "/etc/subuid")) {
                v.push(pid);
            }
        }
        v
    }

    fn subordinate(&self, id: u32, file: &str) -> bool {
        range_of(file, &self.name).is_some_and(|(s, n)| (s..s + n).contains(&id))
    }

    /// Kills everything the user runs (the daemon, its namespaces' holder,
    /// slirp4netns, shims, containers), by pid, until none is left.
    fn kill_all(&mut self) {
        self.kill9_daemon();
        for _ in 0..50 {
            let pids = self.processes();
            if pids.is_empty() {
                return;
            }
            for p in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Removes the user, its home, runtime dir and ranges.
    fn remove(&mut self) {
        if self.removed {
            return;
        }
        self.kill_all();
        let _ = Command::new("userdel")
            .args(["-r", &self.name])
            .stderr(Stdio::null())
            .status();
        drop_lines("/etc/subuid", &self.name);
        drop_lines("/etc/subgid", &self.name);
        let _ = std::fs::remove_dir_all(&self.run);
        let _ = std::fs::remove_dir_all(&self.home);
        self.removed = true;
    }
}

impl Drop for User {
    fn drop(&mut self) {
        self.remove();
    }
}

/// One HTTP GET of `path` on 127.0.0.1:`port` from the host; the body.
fn http_get(port: u16, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(text)
}

/// The host port `docker port` shows for `c`'s `spec` (`80/tcp`).
fn host_port(u: &User, c: &str, spec: &str) -> u16 {
    let out = u.docker_ok(&["port", c, spec]);
    let line = out
        .lines()
        .find(|l| l.starts_with("0.0.0.0:") || l.starts_with("127.0.0.1:"))
        .unwrap_or(&out);
    line.rsplit(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("docker port: {out}"))
}

/// Every file under `root` (not following links) whose owner or group is
/// neither the user's nor in its subordinate ranges.
fn foreign_owned(u: &User, root: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let uid_ok = m.uid() == u.uid || u.subordinate(m.uid(), "/etc/subuid");
        let gid_ok = m.gid() == u.gid || u.subordinate(m.gid(), "/etc/subgid");
        if !uid_ok || !gid_ok {
            bad.push(format!("{} {}:{}", p.display(), m.uid(), m.gid()));
        }
        if m.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        }
    }
    bad
}

/// Lines of /proc/self/mountinfo (the host's mount namespace) naming `p`.
fn host_mounts_under(p: &Path) -> Vec<String> {
    let needle = p.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

/// cgroup directories named after `ids` (full container ids) anywhere in
/// the host's hierarchies.
fn cgroups_of(ids: &BTreeSet<String>) -> Vec<String> {
    let out = Command::new("find")
        .args(["/sys/fs/cgroup", "-maxdepth", "6", "-type", "d"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| ids.iter().any(|id| l.contains(id.as_str())))
        .map(str::to_string)
        .collect()
}

#[test]
fn rootless_daemon_end_to_end() {
    let registry = Registry::start(Options::default());
    let mut u = User::create();
    u.start_daemon(&[]);
    let mut ids = BTreeSet::new();

    // /info says what it is, in dockerd rootless's words.
    let info = u.docker_ok(&[
        "info",
        "--format",
        "{{json .SecurityOptions}} {{.CgroupDriver}} {{.DockerRootDir}}",
    ]);
    assert!(info.contains("name=rootless"), "{info}");
    assert!(
        info.contains(&format!("{}/.local/share/berth", u.home.display())),
        "{info}"
    );

    // busybox, imported by the user from a tar it can read.
    let tar = common::busybox_tar(u.share.path());
    std::fs::set_permissions(&tar, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    u.docker_ok(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        tar.to_str().unwrap(),
        "busybox",
    ]);

    // run --rm: the container's root is the user's uid on the host.
    let out = u.docker_ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"), "{out}");
    let map: Vec<String> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        map.iter().any(|l| l == &format!("0 {} 1", u.uid)),
        "uid 0 is not the user's: {map:?}"
    );

    // run -d + exec + logs.
    let id = u.docker_ok(&[
        "run",
        "-d",
        "--name",
        "d1",
        "busybox",
        "sh",
        "-c",
        "echo started; exec sleep 1000",
    ]);
    ids.insert(id);
    assert_eq!(
        u.docker_ok(&["exec", "d1", "echo", "from-exec"]),
        "from-exec"
    );
    common::eventually("logs", || u.docker(&["logs", "d1"]).1.contains("started"));

    // commit: the container's changes (a file, a removed one: a whiteout
    // made with the user namespace's overlay xattrs) become an image.
    u.docker_ok(&[
        "exec",
        "d1",
        "sh",
        "-c",
        "echo c > /committed && rm /etc/group",
    ]);
    u.docker_ok(&["commit", "d1", "rlcommit"]);
    let got = u.docker_ok(&[
        "run",
        "--rm",
        "rlcommit",
        "sh",
        "-c",
        "cat /committed; test -e /etc/group || echo gone",
    ]);
    assert_eq!(got, "c\ngone");

    // -p: a published port answers on the host.
    let web = "mkdir -p /w && echo hello-rootless > /w/index.html && exec httpd -f -p 80 -h /w";
    let id = u.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sh",
        "-c",
        web,
    ]);
    ids.insert(id);
    let port = host_port(&u, "web", "80/tcp");
    let mut body = String::new();
    common::eventually("the published port", || {
        body = std::panic::catch_unwind(|| http_get(port, "/")).unwrap_or_default();
        body.contains("hello-rootless")
    });

    // A user network: names resolve, traffic flows.
    u.docker_ok(&["network", "create", "rlnet"]);
    let id = u.docker_ok(&[
        "run",
        "-d",
        "--network",
        "rlnet",
        "--name",
        "srv",
        "busybox",
        "sh",
        "-c",
        web,
    ]);
    ids.insert(id);
    let got = u.docker_ok(&[
        "run", "--rm", "--network", "rlnet", "busybox", "sh", "-c",
        "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://srv/ && exit 0; sleep 0.3; done; exit 1",
    ]);
    assert_eq!(got, "hello-rootless");

    // The way out (slirp4netns): a container reaches a server on the
    // host's own address, as the user's connection.
    if let Some(host_ip) = common::tls::global_ipv4() {
        let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf);
            c.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello-host").unwrap();
        });
        // nc, not wget: busybox-static 1.35's wget crashes on an address
        // with a port, on the host as well.
        let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 10 {host_ip} {port}");
        let got = u.docker_ok(&["run", "--rm", "busybox", "sh", "-c", &script]);
        assert!(got.ends_with("hello-host"), "{got}");
        server.join().unwrap();
    }

    // A restart policy and a healthcheck, as for root.
    let id = u.docker_ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2; exit 3",
    ]);
    ids.insert(id);
    common::eventually("two restarts", || {
        u.docker(&["inspect", "-f", "{{.RestartCount}}", "flaky"])
            .1
            .trim()
            == "2"
    });
    let id = u.docker_ok(&[
        "run",
        "-d",
        "--name",
        "healthy",
        "--health-cmd",
        "test -e /proc/1",
        "--health-interval",
        "1s",
        "busybox",
        "sleep",
        "1000",
    ]);
    ids.insert(id);
    common::eventually("healthy", || {
        u.docker(&["inspect", "-f", "{{.State.Health.Status}}", "healthy"])
            .1
            .trim()
            == "healthy"
    });

    // A volume keeps data across containers.
    u.docker_ok(&["volume", "create", "rlvol"]);
    u.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "rlvol:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f; chown 1234:1234 /data/f",
    ]);
    let got = u.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "rlvol:/data",
        "busybox",
        "sh",
        "-c",
        "cat /data/f; stat -c %u /data/f",
    ]);
    assert_eq!(got, "kept\n1234");

    // A build (classic builder): RUN, COPY with a chown inside the range.
    let ctx = u.share.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo built > /b && chown 4321:4321 /b\nCOPY --chown=4321:4321 f /f\n",
    )
    .unwrap();
    std::fs::write(ctx.join("f"), "copied\n").unwrap();
    for p in [ctx.clone(), ctx.join("Dockerfile"), ctx.join("f")] {
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }
    u.docker_ok(&["build", "-q", "-t", "rlbuilt", ctx.to_str().unwrap()]);
    let got = u.docker_ok(&[
        "run",
        "--rm",
        "rlbuilt",
        "sh",
        "-c",
        "cat /b /f; stat -c %u /b /f",
    ]);
    assert_eq!(got, "built\ncopied\n4321\n4321");

    // Push to and pull from the local registry (reached from the host's
    // network namespace: 127.0.0.1 is the host's).
    let remote = format!("{}/rootless/bb:1", registry.host);
    u.docker_ok(&["tag", "busybox", &remote]);
    u.docker_ok(&["push", &remote]);
    u.docker_ok(&["rmi", &remote]);
    u.docker_ok(&["pull", &remote]);
    assert_eq!(
        u.docker_ok(&["run", "--rm", &remote, "echo", "pulled"]),
        "pulled"
    );

    // cgroups: nothing is delegated on a v1/hybrid host; a limit asked for
    // is dropped with one warning naming it (Podman's behaviour), never
    // silently. The docker CLI prints the daemon's warnings on stderr.
    let (code, out, err) = u.docker(&[
        "run",
        "--rm",
        "--memory",
        "64m",
        "--pids-limit",
        "50",
        "busybox",
        "echo",
        "limited",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "limited");
    let warn: Vec<&str> = err.lines().filter(|l| l.contains("rootless")).collect();
    assert_eq!(warn.len(), 1, "one warning expected: {err}");
    assert!(
        warn[0].contains("--memory") && warn[0].contains("--pids-limit"),
        "{err}"
    );

    // kill -9 of berthd with containers running: they live on, and a new
    // daemon sees them, execs into them and serves their port again.
    let pid: u32 = u
        .docker_ok(&["inspect", "-f", "{{.State.Pid}}", "d1"])
        .parse()
        .unwrap();
    let old = u.daemon_pid();
    u.kill9_daemon();
    assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(old as i32), None).is_err());
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "the container died with the daemon"
    );
    u.start_daemon(&[]);
    assert_eq!(
        u.docker_ok(&["inspect", "-f", "{{.State.Running}} {{.State.Pid}}", "d1"]),
        format!("true {pid}")
    );
    assert_eq!(u.docker_ok(&["exec", "d1", "echo", "again"]), "again");
    common::eventually("the published port after a restart", || {
        std::panic::catch_unwind(|| http_get(port, "/"))
            .unwrap_or_default()
            .contains("hello-rootless")
    });

    // Files under the data root are the user's or its subordinate ids'.
    let data_root = u.home.join(".local/share/berth");
    assert!(data_root.join("engine-id").exists());
    let bad = foreign_owned(&u, &data_root);
    assert!(bad.is_empty(), "owned by others: {bad:?}");
    let bad = foreign_owned(&u, &u.run.clone());
    assert!(bad.is_empty(), "owned by others: {bad:?}");

    // Cleanup through the API, then nothing left: processes, mounts on the
    // host, cgroups, the user.
    let all = u.docker_ok(&["ps", "-aq", "--no-trunc"]);
    ids.extend(all.lines().map(str::to_string));
    // `berth`, run by the user with no DOCKER_HOST, finds its daemon.
    let berth = Path::new(env!("CARGO_BIN_EXE_berthd")).with_file_name("berth");
    if berth.exists() {
        let out = ok(u
            .command("env")
            .args(["-u", "DOCKER_HOST"])
            .arg(&berth)
            .args(["ps", "-q"]));
        assert!(
            !String::from_utf8_lossy(&out.stdout).trim().is_empty(),
            "berth ps found no container"
        );
    }
    for c in ["d1", "web", "srv", "flaky", "healthy"] {
        u.docker_ok(&["rm", "-f", c]);
    }
    u.docker_ok(&["network", "rm", "rlnet"]);
    u.docker_ok(&["volume", "rm", "rlvol"]);
    u.kill_all();
    assert!(
        u.processes().is_empty(),
        "processes left: {:?}",
        u.processes()
    );
    assert!(host_mounts_under(&u.home).is_empty() && host_mounts_under(&u.run).is_empty());
    assert!(
        cgroups_of(&ids).is_empty(),
        "cgroups left: {:?}",
        cgroups_of(&ids)
    );
    let (name, home, run) = (u.name.clone(), u.home.clone(), u.run.clone());
    u.remove();
    assert!(nix::unistd::User::from_name(&name).unwrap().is_none());
    assert!(!home.exists() && !run.exists());
    assert!(range_of("/etc/subuid", &name).is_none() && range_of("/etc/subgid", &name).is_none());
}
