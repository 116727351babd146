//! Issue 15: what surrounds a container (the daemon's files on the host, the
//! daemon process, the host's services and cgroups, the files it reads from
//! a container's root) against a host user, an image and a container. Each
//! test reproduces an attack that worked before its fix.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{as_nobody, static_c, Daemon, DATA_ROOT};

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout: {}\nstderr: {}", r.1, r.2);
    r.1
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// The test daemon's directory is a private tempdir (0700), which alone
/// would keep other users out: open it as a host's `/var/lib` is, so that
/// only berth's own modes stand between them and its roots.
fn open_up(d: &Daemon) -> (PathBuf, PathBuf) {
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    (d.dir.path().join(DATA_ROOT), d.dir.path().join("exec"))
}

const EUID_C: &str = r#"#include <stdio.h>
#include <unistd.h>
int main(void) { printf("euid=%d\n", (int)geteuid()); return 0; }
"#;

/// Issue 15, item 1 (CVE-2021-41091's class): a container's setuid binary,
/// run by a host user through `<data-root>/containers/<id>/rootfs`, made
/// that user root. It must still work inside the container.
#[test]
fn issue15_host_user_cannot_run_a_containers_setuid_binary() {
    let d = Daemon::with_busybox();
    let (data, _) = open_up(&d);
    let tmp = tempfile::tempdir().unwrap();
    let euid = static_c(tmp.path(), "euid", EUID_C);
    let id = ok(d.docker(&["run", "-d", "--name", "p", "busybox", "sleep", "100"]));
    let id = id.trim();
    ok(d.docker(&["cp", euid.to_str().unwrap(), "p:/euid"]));
    ok(d.docker(&["exec", "p", "sh", "-c", "chown 0:0 /euid; chmod 4755 /euid"]));
    // Inside, the setuid bit does what the image asks.
    let inside = ok(d.docker(&["exec", "-u", "65534:65534", "p", "/euid"]));
    assert_eq!(inside.trim(), "euid=0", "setuid inside the container");
    // Outside, no host user reaches it.
    let path = data.join("containers").join(id).join("rootfs/euid");
    let (code, out, err) = as_nobody(&[path.to_str().unwrap()]);
    assert!(
        code != 0 && !out.contains("euid=0"),
        "a host user ran the container's setuid binary: {code} {out} {err}"
    );
    assert!(err.contains("Permission denied"), "{err}");
}

/// Issue 15, item 1: nothing under the data root or the exec root is
/// readable, writable or traversable by a non-root host user, with a
/// container running (and an exec, a volume, its log), and the files that
/// hold configuration, environments and logs are root's alone.
#[test]
fn issue15_nothing_under_the_roots_is_reachable_by_host_users() {
    let d = Daemon::with_busybox();
    let (data, exec) = open_up(&d);
    ok(d.docker(&["volume", "create", "vol"]));
    let id = ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "s",
        "-e",
        "SECRET=hunter2",
        "-v",
        "vol:/data",
        "busybox",
        "sh",
        "-c",
        "echo started; sleep 100",
    ]));
    let id = id.trim();
    ok(d.docker(&["exec", "-e", "EXEC_SECRET=x", "s", "true"]));
    // A walk as `nobody` sees the two roots and nothing in them.
    let (_, out, err) = as_nobody(&["find", data.to_str().unwrap(), exec.to_str().unwrap()]);
    let seen: Vec<&str> = out.lines().collect();
    assert_eq!(
        seen,
        [data.to_str().unwrap(), exec.to_str().unwrap()],
        "a host user walked into berth's roots:\n{out}\n{err}"
    );
    for (path, want) in [
        (data.clone(), 0o710),
        (exec.clone(), 0o710),
        (data.join("containers"), 0o700),
        (data.join("containers").join(id), 0o700),
        (data.join("containers").join(id).join("config.json"), 0o600),
        (data.join("containers").join(id).join("ctr.log"), 0o600),
        (
            data.join("containers").join(id).join("log-opts.json"),
            0o600,
        ),
        (data.join("containers").join(id).join("shim.pid"), 0o600),
        (data.join("volumes/vol"), 0o700),
        (data.join("image"), 0o700),
        (data.join("image/meta.redb"), 0o600),
        (exec.join("execs"), 0o700),
        (exec.join("runtime"), 0o700),
        (exec.join("runtime").join(id), 0o700),
    ] {
        assert_eq!(mode(&path), want, "{} is {:o}", path.display(), mode(&path));
    }
    // Sockets: nobody else may connect to the shim's; the API's is root's
    // and group root's.
    let ctl = data.join("containers").join(id).join("ctl.sock");
    assert_eq!(mode(&ctl) & 0o077, 0, "ctl.sock is {:o}", mode(&ctl));
    assert_eq!(mode(&d.socket()), 0o660);
    // The volume's root inside containers keeps its mode.
    assert_eq!(mode(&data.join("volumes/vol/_data")), 0o755);
}

/// Issue 15, item 1: a data root made world-readable by an older berth is
/// narrowed when the daemon starts, running containers included.
#[test]
fn issue15_an_old_data_root_is_tightened_at_start() {
    let mut d = Daemon::with_busybox();
    let (data, exec) = open_up(&d);
    let id = ok(d.docker(&["run", "-d", "busybox", "sleep", "100"]));
    let dir = data.join("containers").join(id.trim());
    d.kill9();
    let set =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    for p in [&data, &exec, &data.join("containers"), &dir] {
        set(p, 0o755);
    }
    for f in ["config.json", "ctr.log"] {
        set(&dir.join(f), 0o644);
    }
    d.restart();
    // The container was adopted as it ran (and the daemon answers: its
    // engine is open).
    let running = ok(d.docker(&["inspect", "-f", "{{.State.Running}}", id.trim()]));
    assert_eq!(running.trim(), "true");
    assert_eq!(mode(&data), 0o710);
    assert_eq!(mode(&exec), 0o710);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("config.json")), 0o600);
    assert_eq!(mode(&dir.join("ctr.log")), 0o600);
}

/// A `docker load` archive of one empty layer whose config says `config`
/// (the `rootfs` is filled in), tagged `tag`.
fn image_archive(dir: &Path, tag: &str, config: serde_json::Value) -> PathBuf {
    use sha2::{Digest, Sha256};
    let mut layer = tar::Builder::new(Vec::new());
    layer.finish().unwrap();
    let layer = layer.into_inner().unwrap();
    let diff_id = format!("sha256:{:x}", Sha256::digest(&layer));
    let mut config = config;
    config["rootfs"] = serde_json::json!({"type": "layers", "diff_ids": [diff_id]});
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::json!([
        {"Config": "config.json", "RepoTags": [tag], "Layers": ["layer.tar"]}
    ]);
    let path = dir.join("image.tar");
    let mut out = tar::Builder::new(std::fs::File::create(&path).unwrap());
    for (name, bytes) in [
        ("manifest.json", serde_json::to_vec(&manifest).unwrap()),
        ("config.json", config),
        ("layer.tar", layer),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        out.append_data(&mut h, name, bytes.as_slice()).unwrap();
    }
    out.finish().unwrap();
    path
}

/// Issue 15, item 3: an image whose `created` has a multibyte character
/// at byte 19 loaded fine, then `docker images` panicked in the time
/// formatting (with `panic = "abort"`, the whole daemon, at every restart).
#[test]
fn issue15_a_hostile_image_time_breaks_nothing() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().unwrap();
    let bad = "2024-01-01T00:00:0\u{e9}\u{e9}Z";
    let tar = image_archive(
        tmp.path(),
        "hostile:1",
        serde_json::json!({
            "architecture": "amd64", "os": "linux", "created": bad,
            "config": {"Cmd": ["sh"]},
            "history": [{"created": bad, "created_by": "x"}],
        }),
    );
    ok(d.docker(&["load", "-i", tar.to_str().unwrap()]));
    let images = ok(d.docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]));
    assert!(images.contains("hostile:1"), "{images}");
    ok(d.docker(&["history", "hostile:1"]));
    ok(d.docker(&["system", "df"]));
    ok(d.docker(&["image", "ls", "-a"]));
    let created = ok(d.docker(&["inspect", "-f", "{{.Created}}", "hostile:1"]));
    assert_eq!(created.trim(), bad);
    ok(d.docker(&["version"]));
}

/// Issue 15, item 3: a panic while a request is handled (a test-only route
/// of debug builds) is answered 500 with Docker's error body, and the
/// daemon goes on serving, again and again.
#[test]
fn issue15_a_panic_in_a_request_is_a_500_and_the_daemon_goes_on() {
    let d = Daemon::start_with_env(&[], &[("BERTHD_TEST_PANIC", "1")]);
    for _ in 0..3 {
        let (head, body) = d.http("GET", "/v1.47/_berth/test/panic");
        assert!(head.starts_with("HTTP/1.1 500"), "{head}\n{body}");
        assert!(body.contains("test-only panic"), "{body}");
        let (head, body) = d.http("GET", "/_ping");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, "OK");
    }
    ok(d.docker(&["ps"]));
}

/// Issue 15, item 3: release builds unwind, so that the 500 above is what
/// a release berthd does too (with `panic = "abort"` it died); the shim and
/// the runtime abort from a panic hook.
#[test]
fn issue15_release_builds_unwind() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let release = cargo
        .split("[profile.release]")
        .nth(1)
        .expect("a release profile")
        .split("\n[")
        .next()
        .unwrap();
    let panic: Vec<&str> = release
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("panic"))
        .collect();
    assert_eq!(panic, [r#"panic = "unwind""#], "{release}");
    for main in [
        "crates/shim/src/main.rs",
        "crates/berth-runtime/src/main.rs",
    ] {
        let src = std::fs::read_to_string(root.join(main)).unwrap();
        assert!(src.contains("runtime::abort_on_panic();"), "{main}");
    }
}

/// Issue 15, item 11: a client that never finishes its request's headers
/// loses its connection (hyper's `header_read_timeout`, which needs a timer
/// berthd had not set, so there was none).
#[test]
fn issue15_slow_headers_lose_the_connection() {
    use std::io::{Read, Write};
    let d = Daemon::start_with_env(&[], &[("BERTHD_TEST_HEADER_TIMEOUT_MS", "500")]);
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: berth\r\n")
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let r = s.read_to_end(&mut buf);
    assert!(
        r.is_ok() && started.elapsed() < std::time::Duration::from_secs(4),
        "the half-sent request was held open: {r:?} after {:?}",
        started.elapsed()
    );
    // A complete request on a fresh connection is served as ever.
    let (head, _) = d.http("GET", "/_ping");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

/// The cgroup hierarchies that carry no v1 controller, as this host mounts
/// them: named ones (`name=systemd`) and, in the hybrid layout, the cgroup2
/// tree beside the v1 hierarchies. Their mount points.
fn controllerless_hierarchies() -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let v1 = info.lines().any(|l| l.contains(" - cgroup cgroup "));
    info.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let mut r = right.split(' ');
            let (fstype, _, opts) = (r.next()?, r.next()?, r.next()?);
            let point = PathBuf::from(left.split(' ').nth(4)?);
            let named = fstype == "cgroup"
                && opts.split(',').any(|o| o.starts_with("name="))
                && !opts
                    .split(',')
                    .any(|o| ["cpu", "memory", "pids", "devices", "freezer", "blkio"].contains(&o));
            (named || (fstype == "cgroup2" && v1)).then_some(point)
        })
        .collect()
}

/// A cgroup made on the host for the test's time (removed on drop).
struct HostCgroup(PathBuf);

impl Drop for HostCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Issue 15, item 5: a container saw the host's whole `name=systemd`
/// hierarchy (and the hybrid cgroup2 tree), every other engine's cgroups
/// listed, because berth placed it in the controllers' hierarchies only.
/// Now it is placed in each, as runc does; nothing is left after it.
#[test]
fn issue15_the_hosts_cgroup_tree_is_not_visible() {
    let hierarchies = controllerless_hierarchies();
    assert!(
        !hierarchies.is_empty(),
        "this host has no named or hybrid cgroup hierarchy to test"
    );
    let probes: Vec<HostCgroup> = hierarchies
        .iter()
        .map(|h| {
            let p = h.join(format!("berth-test-{}-host-only", std::process::id()));
            std::fs::create_dir(&p).unwrap();
            HostCgroup(p)
        })
        .collect();
    let d = Daemon::with_busybox();
    let id = ok(d.docker(&["run", "-d", "busybox", "sleep", "100"]));
    let id = id.trim();
    for h in &hierarchies {
        let name = h.file_name().unwrap().to_str().unwrap();
        let inside = format!("/sys/fs/cgroup/{name}");
        let seen = ok(d.docker(&["exec", id, "find", &inside, "-type", "d"]));
        assert_eq!(
            seen.trim(),
            inside,
            "the container sees the host's {name} tree:\n{seen}"
        );
        // Its own cgroup is there on the host, and holds it.
        let own = h.join("berth").join(id);
        let procs = std::fs::read_to_string(own.join("cgroup.procs")).unwrap();
        assert!(!procs.trim().is_empty(), "{}", own.display());
    }
    ok(d.docker(&["rm", "-f", id]));
    for h in &hierarchies {
        let own = h.join("berth").join(id);
        assert!(!own.exists(), "{} left behind", own.display());
    }
    drop(probes);
}

/// Issue 15, item 4 (CVE-2020-8558's class): every bridge has
/// `route_localnet=1` (for `-p 127.0.0.1:…`), so a container with
/// CAP_NET_RAW (a default one) could hand the gateway a frame addressed to
/// 127.0.0.1 and reach the host's loopback-only services. The probe sends
/// one TCP SYN through `AF_PACKET` and reports whether a SYN-ACK came back;
/// the same probe to the gateway's own address shows that it works.
#[test]
fn issue15_containers_do_not_reach_the_hosts_loopback() {
    let d = Daemon::with_busybox();
    let tmp = tempfile::tempdir().unwrap();
    let probe = static_c(tmp.path(), "probe", include_str!("probe_localnet.c"));
    let gw = d.bip.split('/').next().unwrap().to_string();
    let local = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let on_gw = std::net::TcpListener::bind((gw.as_str(), 0)).unwrap();
    ok(d.docker(&["run", "-d", "--name", "c", "busybox", "sleep", "100"]));
    // Read once the container's veth is in: a bridge takes its ports' MAC.
    let mac = std::fs::read_to_string(format!("/sys/class/net/{}/address", d.bridge)).unwrap();
    ok(d.docker(&["cp", probe.to_str().unwrap(), "c:/probe"]));
    let run =
        |ip: &str, port: u16| d.docker(&["exec", "c", "/probe", mac.trim(), ip, &port.to_string()]);
    // The control: the host's service on the gateway's address answers.
    let (code, out, err) = run(&gw, on_gw.local_addr().unwrap().port());
    assert_eq!(code, 0, "the probe does not work: {out}{err}");
    assert!(out.starts_with("reached"), "{out}");
    // The attack: the host's loopback-only service must not.
    let (code, out, err) = run("127.0.0.1", local.local_addr().unwrap().port());
    assert!(
        code == 1 && out.trim() == "blocked",
        "a container reached 127.0.0.1 on the host: {code} {out}{err}"
    );
}

/// Issue 15, item 6: `/etc/passwd` was read on the host by path, so a
/// container's symlink to a host file made berthd read the host's file:
/// here a user that exists only in a host file was found (uid 4242). It is
/// resolved inside the root now, on `exec -u` and on `run -u` alike.
#[test]
fn issue15_passwd_symlinks_stay_in_the_container() {
    let d = Daemon::with_busybox();
    let host = tempfile::tempdir().unwrap();
    let file = host.path().join("passwd");
    std::fs::write(&file, "hostuser:x:4242:4242::/:/bin/sh\n").unwrap();
    ok(d.docker(&["run", "-d", "--name", "c", "busybox", "sleep", "100"]));
    let link = format!("ln -sf {} /etc/passwd", file.display());
    ok(d.docker(&["exec", "c", "sh", "-c", &link]));
    let (code, out, err) = d.docker(&["exec", "-u", "hostuser", "c", "id", "-u"]);
    assert!(
        code != 0 && err.contains("unable to find user hostuser"),
        "exec -u read the host's file: {code} {out} {err}"
    );
    ok(d.docker(&["commit", "c", "linked"]));
    let (code, out, err) = d.docker(&["run", "--rm", "-u", "hostuser", "linked", "id", "-u"]);
    assert!(
        code != 0 && err.contains("unable to find user hostuser"),
        "run -u read the host's file: {code} {out} {err}"
    );
    // Numeric users need no file.
    let uid = ok(d.docker(&["exec", "-u", "4242", "c", "id", "-u"]));
    assert_eq!(uid.trim(), "4242");
}

/// Releases daemon threads blocked opening the FIFO (the old code's):
/// opens it for writing whenever a reader waits, until the clients are gone.
struct Unblock {
    fifo: PathBuf,
    clients: Vec<std::process::Child>,
}

impl Drop for Unblock {
    fn drop(&mut self) {
        use std::os::unix::fs::OpenOptionsExt;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut idle = 0;
        while std::time::Instant::now() < deadline && idle < 50 {
            let opened = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&self.fifo)
                .is_ok();
            let running = self
                .clients
                .iter_mut()
                .any(|c| matches!(c.try_wait(), Ok(None)));
            idle = if opened || running { 0 } else { idle + 1 };
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for c in &mut self.clients {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Issue 15, items 6 and 11: a FIFO as `/etc/passwd` hung the thread that
/// read it, and twenty `exec -u` took every blocking thread the daemon has
/// (16): then nothing else was answered. Now each is refused at once and
/// the daemon serves on.
#[test]
fn issue15_a_fifo_passwd_neither_hangs_nor_starves_the_daemon() {
    let d = Daemon::with_busybox();
    let id = ok(d.docker(&["run", "-d", "--name", "c", "busybox", "sleep", "100"]));
    ok(d.docker(&[
        "exec",
        "c",
        "sh",
        "-c",
        "rm /etc/passwd && mkfifo /etc/passwd",
    ]));
    let mut unblock = Unblock {
        fifo: d
            .dir
            .path()
            .join(DATA_ROOT)
            .join("containers")
            .join(id.trim())
            .join("rootfs/etc/passwd"),
        clients: Vec::new(),
    };
    for _ in 0..20 {
        let child = d
            .docker_command(&["exec", "-u", "someone", "c", "true"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        unblock.clients.push(child);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut refused = 0;
    for c in &mut unblock.clients {
        while matches!(c.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if let Ok(Some(status)) = c.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(c.stderr.as_mut().unwrap(), &mut err).unwrap();
            assert!(!status.success(), "exec -u someone ran");
            assert!(err.contains("not a regular file"), "{err}");
            refused += 1;
        }
    }
    assert_eq!(refused, 20, "execs hung on the FIFO");
    // The daemon still answers what needs a blocking thread.
    let mut ps = d.docker_command(&["ps", "-q"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while matches!(ps.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let answered = matches!(ps.try_wait(), Ok(Some(s)) if s.success());
    unblock.clients.push(ps);
    assert!(answered, "docker ps got no answer");
}

/// Issue 15, item 6: a symlink to `/dev/zero` as `/etc/passwd` made the
/// old code read the host's `/dev/zero` without end (the daemon grew until
/// killed; this test is not for running on it). Resolved in the root, it
/// is a missing file (the container's /dev is its own tmpfs).
#[test]
fn issue15_a_passwd_symlink_to_dev_zero_is_no_passwd() {
    let d = Daemon::with_busybox();
    ok(d.docker(&["run", "-d", "--name", "c", "busybox", "sleep", "100"]));
    ok(d.docker(&["exec", "c", "ln", "-sf", "/dev/zero", "/etc/passwd"]));
    let (code, _, err) = d.docker(&["exec", "-u", "someone", "c", "true"]);
    assert!(
        code != 0 && err.contains("unable to find user someone"),
        "{err}"
    );
    // (Not `id`: it would read the container's own /dev/zero.)
    let status = ok(d.docker(&["exec", "-u", "7", "c", "grep", "^Uid:", "/proc/self/status"]));
    assert!(status.starts_with("Uid:\t7\t"), "{status}");
}

/// The daemon's peak resident memory, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// Issue 15, item 6: a healthcheck's output was read whole before it was
/// cut to 4096 bytes: 48 MB of output were 48 MB (and more) of daemon.
#[test]
fn issue15_healthcheck_output_is_bounded_while_read() {
    let d = Daemon::with_busybox();
    let before = peak_rss_kib(d.pid());
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "h",
        "--health-cmd",
        "head -c 48000000 /dev/zero; true",
        "--health-interval",
        "1s",
        "--health-timeout",
        "30s",
        "busybox",
        "sleep",
        "100",
    ]));
    // Piping the output through the exec takes seconds on a loaded machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let (_, out, _) = d.docker(&["inspect", "-f", "{{len .State.Health.Log}}", "h"]);
        if out.trim().parse::<u32>().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no health check result"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let output = ok(d.docker(&[
        "inspect",
        "-f",
        "{{(index .State.Health.Log 0).Output}}",
        "h",
    ]));
    assert!(output.len() <= 4097, "{}", output.len());
    let grown = peak_rss_kib(d.pid()).saturating_sub(before);
    assert!(
        grown < 16 * 1024,
        "the daemon grew by {grown} KiB reading a check's output"
    );
}

/// Issue 15, item 11: the shim's control socket answers root only. Its
/// modes keep other users away already (see above); here they are opened
/// up, as a leaked path or a careless chmod would, and the shim itself
/// still refuses a non-root peer (SO_PEERCRED), while root is served.
#[test]
fn issue15_the_shims_socket_serves_root_only() {
    let d = Daemon::with_busybox();
    let (data, _) = open_up(&d);
    let id = ok(d.docker(&["run", "-d", "busybox", "sleep", "100"]));
    let dir = data.join("containers").join(id.trim());
    for p in [&data, &data.join("containers"), &dir] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let sock = dir.join("ctl.sock");
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    let ask = r#"
import os, socket, sys
os.chdir(sys.argv[1])
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect("ctl.sock")
try:
    s.sendall(b"state\n")
    print(s.recv(100).decode() or "refused")
except (ConnectionResetError, BrokenPipeError):
    print("refused")
"#;
    let (code, out, err) = as_nobody(&["python3", "-c", ask, dir.to_str().unwrap()]);
    assert!(
        code == 0 && out.trim() == "refused",
        "a host user drove the shim: {code} {out} {err}"
    );
    let root = std::process::Command::new("python3")
        .args(["-c", ask, dir.to_str().unwrap()])
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&root.stdout);
    assert!(answer.contains("pid"), "root was not served: {answer}");
}

/// A registry of the test's own on loopback (plain HTTP; berth tries TLS
/// first there, which it refuses) serving `me/img:v1`: a config listing
/// one diff id per layer and a manifest declaring each layer `size` bytes.
/// Counts the layer downloads asked for.
fn lying_registry(
    layers: usize,
    size: u64,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use sha2::{Digest, Sha256};
    use std::io::{Read, Write};
    let sha = |b: &[u8]| format!("sha256:{:x}", Sha256::digest(b));
    let blobs: Vec<String> = (0..layers)
        .map(|i| sha(format!("layer {i}").as_bytes()))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": blobs},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": sha(&config), "size": config.len()},
        "layers": blobs.iter().map(|d| serde_json::json!({
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "digest": d, "size": size})).collect::<Vec<_>>(),
    }))
    .unwrap();
    let config_path = format!("/v2/me/img/blobs/{}", sha(&config));
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let counted = hits.clone();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(1) if head.is_empty() && !b[0].is_ascii_uppercase() => break,
                    Ok(1) => head.push(b[0]),
                    _ => break,
                }
            }
            let text = String::from_utf8_lossy(&head).into_owned();
            let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
            let (ctype, body): (&str, &[u8]) = if path == "/v2/" {
                ("application/json", b"{}")
            } else if path == "/v2/me/img/manifests/v1" {
                (
                    "application/vnd.docker.distribution.manifest.v2+json",
                    &manifest,
                )
            } else if path == config_path {
                ("application/octet-stream", &config)
            } else if path.starts_with("/v2/me/img/blobs/") {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                ("application/octet-stream", b"short")
            } else {
                continue;
            };
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(body);
        }
    });
    (host, hits)
}

/// Issue 15, item 11: a registry may declare any layer size, and the pull
/// went on downloading whatever came (filling the disk). Declared sizes
/// above the store's bound, or above the free space, are refused now
/// before a byte of any layer is fetched.
#[test]
fn issue15_declared_layer_sizes_are_bounded_and_must_fit() {
    let d = Daemon::start();
    // 1 PiB in one layer: beyond any bound.
    let (host, hits) = lying_registry(1, 1 << 50);
    let (code, out, err) = d.docker(&["pull", &format!("{host}/me/img:v1")]);
    assert!(
        code != 0 && err.contains("more than the limit"),
        "{code} {out} {err}"
    );
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a layer was fetched"
    );
    // Layers each within the bound, together more than the disk has free.
    let st = nix::sys::statvfs::statvfs(d.dir.path()).unwrap();
    let free = st.blocks_available() * st.fragment_size();
    let each: u64 = 60 << 30;
    let (host, hits) = lying_registry((free / each + 1) as usize, each);
    let (code, out, err) = d.docker(&["pull", &format!("{host}/me/img:v1")]);
    assert!(
        code != 0 && err.contains("not enough space"),
        "{code} {out} {err}"
    );
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a layer was fetched"
    );
}
