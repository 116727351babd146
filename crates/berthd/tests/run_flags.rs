//! Every `docker run` flag takes effect or is refused (issue 24): the docker
//! CLI 28 runs containers against one berthd for the file, and each flag's
//! effect is read from inside the container (`ulimit -n`, `/proc/self/…`,
//! `id -G`, namespaces' links, cgroup files, devices) or its refusal
//! compared with dockerd's words.
//!
//! The networking flags (`--add-host`, `--dns*`, `--mac-address`, `--link`,
//! `--ip`, `--network-alias`, `--expose`, `-p` ranges) are the network
//! tests'.
//!
//! As a check of the test itself, it runs against another daemon when
//! `BERTH_FLAGS_DOCKER_HOST` names one (a dockerd; see docs/TESTING.md);
//! where berth decides differently from dockerd on purpose (it refuses what
//! dockerd drops silently), the assertion says so and follows the target.

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use common::Daemon;

/// The daemon under test: a berthd of this file's own, or the daemon at
/// `BERTH_FLAGS_DOCKER_HOST`.
struct Target {
    berthd: Option<Daemon>,
    host: String,
    dir: tempfile::TempDir,
}

impl Target {
    fn is_berth(&self) -> bool {
        self.berthd.is_some()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.args(args)
            .env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"));
        c
    }

    fn docker(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd(args).output().expect("the docker CLI");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.docker(args);
        assert_eq!(code, 0, "docker {args:?}\nstdout: {out}\nstderr: {err}");
        out
    }

    /// `docker run --rm ARGS…`: its stdout, the run having succeeded.
    fn run(&self, args: &[&str]) -> String {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(args);
        self.ok(&all)
    }

    /// `docker run --rm FLAGS… CMD…`, the flags given as one string split
    /// at spaces: its stdout.
    fn run_with(&self, flags: &str, cmd: &[&str]) -> String {
        let mut all: Vec<&str> = flags.split_whitespace().collect();
        all.extend_from_slice(cmd);
        self.run(&all)
    }

    /// `docker run --rm FLAGS… busybox true` refused with `words`.
    fn refuses(&self, flags: &str, words: &str) {
        let mut all: Vec<&str> = flags.split_whitespace().collect();
        all.extend_from_slice(&["busybox", "true"]);
        self.refused(&all, words);
    }

    /// `docker ARGS…` (one string split at spaces) that must succeed.
    fn ok_str(&self, args: &str) -> String {
        self.ok(&args.split_whitespace().collect::<Vec<_>>())
    }

    /// `docker run --rm ARGS…` refused with `words` (125, or 127 when they
    /// name a missing file: the docker CLI's rule).
    fn refused(&self, args: &[&str], words: &str) {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(args);
        let (code, out, err) = self.docker(&all);
        assert!(
            code == 125 || code == 127,
            "docker {all:?} was not refused ({code})\n{out}{err}"
        );
        assert!(
            err.contains(words),
            "docker {all:?}: want {words:?} in\n{err}"
        );
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if self.berthd.is_none() {
            // Another daemon: remove what this file made there.
            let (_, ids, _) = self.docker(&["ps", "-aq", "--filter", "label=berth-flags-test"]);
            for id in ids.split_whitespace() {
                let _ = self.docker(&["rm", "-fv", id]);
            }
        }
    }
}

/// One daemon for the tests of this file, alive while any of them runs.
fn target() -> Arc<Target> {
    static SHARED: Mutex<Weak<Target>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(t) = shared.upgrade() {
        return t;
    }
    let t = Arc::new(match std::env::var("BERTH_FLAGS_DOCKER_HOST") {
        Ok(host) => {
            let t = Target {
                berthd: None,
                host,
                dir: tempfile::tempdir().unwrap(),
            };
            if t.docker(&["image", "inspect", "busybox"]).0 != 0 {
                let tar = common::busybox_tar(t.dir.path());
                t.ok(&[
                    "import",
                    "-c",
                    "CMD [\"sh\"]",
                    tar.to_str().unwrap(),
                    "busybox",
                ]);
            }
            t
        }
        Err(_) => {
            let d = Daemon::with_busybox();
            Target {
                host: format!("unix://{}", d.socket().display()),
                dir: tempfile::tempdir().unwrap(),
                berthd: Some(d),
            }
        }
    });
    *shared = Arc::downgrade(&t);
    t
}

/// A name for a container of this test process (tests share the daemon).
fn name(what: &str) -> String {
    format!("flags-{}-{what}", std::process::id())
}

/// A line of `/proc/self/status`-style text: the value after `key:`.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether the host has cgroup v1 hierarchies (this project's CI host).
fn cgroup_v1() -> bool {
    std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
}

/// `cat` of cgroup files (v1 paths under `/sys/fs/cgroup`), in order.
fn cat(files: &[&str]) -> String {
    files
        .iter()
        .map(|f| format!("cat /sys/fs/cgroup/{f}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn the_issues_flags_take_effect() {
    let t = target();
    let host_pidns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let host_name = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let out = t.run_with(
        "--ulimit nofile=1024:1024 --pid host --uts host --device /dev/fuse --oom-score-adj 500 \
         --group-add 1234 --group-add nobody --cpuset-cpus 0 busybox",
        &[
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; readlink /proc/self/ns/pid; hostname; ls /dev/fuse; \
             cat /proc/self/oom_score_adj; id -G; grep Cpus_allowed_list /proc/self/status; \
             cat /etc/hostname",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["1024", "1024"], "{out}");
    assert_eq!(lines[2], host_pidns.to_str().unwrap(), "--pid host");
    assert_eq!(lines[3], host_name, "--uts host");
    assert_eq!(lines[4], "/dev/fuse");
    assert_eq!(lines[5], "500");
    let groups: Vec<&str> = lines[6].split_whitespace().collect();
    assert!(
        groups.contains(&"1234") && groups.contains(&"65534"),
        "{groups:?}"
    );
    assert_eq!(field(lines[7], "Cpus_allowed_list"), "0");
    // The file keeps the container's own name (the short id), as Docker's.
    assert_eq!(lines[8].len(), 12, "/etc/hostname with --uts host: {out}");
    // Without --ulimit, the daemon's own limits: nothing asked beyond them.
    if t.is_berth() {
        let (_, hard) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(
            t.run_with("busybox", &["sh", "-c", "ulimit -Hn"]).trim(),
            hard.to_string()
        );
    }
    // --log-driver none: the output still reaches the attached client;
    // `docker logs` is refused as dockerd refuses it.
    let n = name("nolog");
    let out = t.ok_str(&format!(
        "run --name {n} --label berth-flags-test --log-driver none busybox echo hi"
    ));
    assert_eq!(out, "hi\n");
    let (code, _, err) = t.docker(&["logs", &n]);
    assert_eq!(code, 1);
    assert!(
        err.contains("configured logging driver does not support reading"),
        "{err}"
    );
    t.ok(&["rm", &n]);
}

#[test]
fn namespaces_host_private_and_shared() {
    let t = target();
    let link = |p: &str| {
        std::fs::read_link(p)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    let (ipc, cg) = (link("/proc/self/ns/ipc"), link("/proc/self/ns/cgroup"));
    let both = "readlink /proc/self/ns/ipc; readlink /proc/self/ns/cgroup";
    let out = t.run_with(
        "--ipc host --cgroupns host --userns host busybox",
        &["sh", "-c", both],
    );
    assert_eq!(out, format!("{ipc}\n{cg}\n"));
    let out = t.run_with(
        "--cgroupns private busybox",
        &["sh", "-c", &format!("{both}; readlink /proc/self/ns/pid")],
    );
    let l: Vec<&str> = out.lines().collect();
    assert!(l[0] != ipc && l[1] != cg, "private ipc and cgroup: {out}");
    assert!(l[2] != link("/proc/self/ns/pid"));
    // container:X joins X's pid and IPC namespaces and its /dev/shm when X
    // is shareable; a private one is refused in dockerd's words.
    let donor = name("donor");
    let flags = format!(
        "run -d --name {donor} --label berth-flags-test --ipc shareable --shm-size 2m busybox"
    );
    let mut args: Vec<&str> = flags.split_whitespace().collect();
    args.extend_from_slice(&["sh", "-c", "touch /dev/shm/x; sleep 60"]);
    t.ok(&args);
    eventually("the donor's /dev/shm file", || {
        t.docker(&["exec", &donor, "test", "-e", "/dev/shm/x"]).0 == 0
    });
    let out = t.run_with(
        &format!("--ipc container:{donor} --pid container:{donor} busybox"),
        &[
            "sh",
            "-c",
            "test -e /dev/shm/x && echo shared; cat /proc/1/comm; df -k /dev/shm | tail -1",
        ],
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[..2], ["shared", "sleep"], "{out}");
    assert_eq!(
        l[2].split_whitespace().nth(1),
        Some("2048"),
        "the donor's --shm-size"
    );
    let private = name("private");
    t.ok_str(&format!(
        "run -d --name {private} --label berth-flags-test busybox sleep 60"
    ));
    t.refuses(
        &format!("--ipc container:{private}"),
        "non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
    );
    t.ok(&["rm", "-f", &donor, &private]);
    let stopped = name("stopped");
    t.ok_str(&format!(
        "create --name {stopped} --label berth-flags-test busybox"
    ));
    t.refuses(&format!("--pid container:{stopped}"), "is not running");
    t.ok(&["rm", &stopped]);
    // --ipc none: no /dev/shm at all; --shm-size sizes a private one.
    assert_eq!(
        t.run_with(
            "--ipc none busybox",
            &["sh", "-c", "test -e /dev/shm || echo none"]
        ),
        "none\n"
    );
    let out = t.run_with("--shm-size 3m busybox", &["df", "-k", "/dev/shm"]);
    assert_eq!(
        out.lines().nth(1).unwrap().split_whitespace().nth(1),
        Some("3072")
    );
    t.refuses(
        "--uts host -h box",
        "conflicting options: hostname and the UTS mode",
    );
}

#[test]
#[allow(clippy::print_stderr)]
fn resources_reach_the_cgroup() {
    let t = target();
    if !cgroup_v1() {
        eprintln!("skipped: the cgroup file checks are written for v1 hierarchies");
        return;
    }
    let out = t.run_with(
        "-m 64m --memory-swap 128m --memory-reservation 32m --memory-swappiness 10 \
         --oom-kill-disable --cpus 0.5 --cpu-shares 512 --pids-limit 50 --cpuset-mems 0 busybox",
        &[
            "sh",
            "-c",
            &cat(&[
                "memory/memory.limit_in_bytes",
                "memory/memory.memsw.limit_in_bytes",
                "memory/memory.soft_limit_in_bytes",
                "memory/memory.swappiness",
                "cpu/cpu.cfs_quota_us",
                "cpu/cpu.cfs_period_us",
                "cpu/cpu.shares",
                "pids/pids.max",
                "cpuset/cpuset.mems",
                "memory/memory.oom_control",
            ]),
        ],
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        l[..9],
        [
            "67108864",
            "134217728",
            "33554432",
            "10",
            "50000",
            "100000",
            "512",
            "50",
            "0"
        ],
        "{out}"
    );
    assert!(out.contains("oom_kill_disable 1"), "{out}");
    let files = cat(&[
        "cpu/cpu.cfs_period_us",
        "cpu/cpu.cfs_quota_us",
        "memory/memory.memsw.limit_in_bytes",
    ]);
    let out = t.run_with(
        "--cpu-period 50000 --cpu-quota 25000 -m 32m busybox",
        &["sh", "-c", &files],
    );
    assert_eq!(
        out, "50000\n25000\n67108864\n",
        "no --memory-swap: twice the memory"
    );
    // Block I/O on the disk that holds /: throttles in the files; a weight
    // where the kernel has one, else Docker's warning and nothing.
    let (dev, major, minor) = root_disk();
    let (code, out, err) = t.docker(
        &format!(
            "run --rm --blkio-weight 300 --blkio-weight-device {dev}:200 \
             --device-read-bps {dev}:1mb --device-write-bps {dev}:2mb \
             --device-read-iops {dev}:100 --device-write-iops {dev}:200 busybox"
        )
        .split_whitespace()
        .chain([
            "sh",
            "-c",
            &cat(&[
                "blkio/blkio.throttle.read_bps_device",
                "blkio/blkio.throttle.write_bps_device",
                "blkio/blkio.throttle.read_iops_device",
                "blkio/blkio.throttle.write_iops_device",
            ]),
        ])
        .collect::<Vec<_>>(),
    );
    assert_eq!(code, 0, "{err}");
    let mm = format!("{major}:{minor}");
    assert_eq!(
        out,
        format!("{mm} 1048576\n{mm} 2097152\n{mm} 100\n{mm} 200\n")
    );
    if !std::path::Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists() {
        let words = "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";
        assert!(err.contains(words), "{err}");
    }
    // Docker's refusals.
    t.refuses("-m 1k", "Minimum memory limit allowed is 6MB");
    t.refuses(
        "-m 64m --memory-swap 32m",
        "Minimum memoryswap limit should be larger than memory limit, see usage",
    );
    // ("Range" in dockerd 20.10, "range" in 28.)
    t.refuses("--cpus 99", "of CPUs is from 0.01 to");
    t.refuses(
        "--cpus 1 --cpu-quota 5000",
        "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
    );
    t.refuses(
        "--cpuset-cpus 0-999",
        "Requested CPUs are not available - requested 0-999",
    );
    t.refuses(
        "--oom-score-adj 1001",
        "Invalid value 1001, range for oom score adj is [-1000, 1000]",
    );
    t.refuses(
        "--device-read-bps /dev/nosuchdisk:1mb",
        "stat /dev/nosuchdisk: no such file or directory",
    );
    // The CLI keeps the Windows ones from reaching a Linux daemon.
    let (code, _, err) = t.docker(&["run", "--rm", "--cpu-count", "2", "busybox", "true"]);
    assert!(
        code != 0 && err.contains("only supported on a Docker daemon running on windows"),
        "{err}"
    );
}

#[test]
#[allow(clippy::print_stderr)]
fn realtime_cpu_budget_under_a_cgroup_parent() {
    let t = target();
    if !std::path::Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        eprintln!("skipped: no real-time group scheduling on this host");
        return;
    }
    // A parent of this test's own, removed after: the budget given to it
    // stays off the daemon's other containers. (dockerd needs its own
    // `--cpu-rt-runtime` for this; berth gives the parents what is asked.)
    let parent = format!("berth-flags-{}", std::process::id());
    let _guard = CgroupGuard(parent.clone());
    let out = t.run_with(
        &format!(
            "--cgroup-parent /{parent} --cgroupns host --cpu-rt-period 1000000 \
             --cpu-rt-runtime 10000 busybox"
        ),
        &[
            "sh",
            "-c",
            "cat /sys/fs/cgroup/cpu/cpu.rt_period_us /sys/fs/cgroup/cpu/cpu.rt_runtime_us; \
             grep :pids: /proc/self/cgroup",
        ],
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[..2], ["1000000", "10000"], "{out}");
    assert!(
        l[2].contains(&format!(":/{parent}/")),
        "--cgroup-parent: {out}"
    );
    t.refuses(
        "--cpu-rt-period 1000 --cpu-rt-runtime 2000",
        "cpu real-time runtime cannot be higher than cpu real-time period",
    );
}

/// Removes a test's cgroup parent from every hierarchy.
struct CgroupGuard(String);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        for e in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let dir = e.path().join(&self.0);
            for sub in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if sub.path().is_dir() {
                    let _ = std::fs::remove_dir(sub.path());
                }
            }
            let _ = std::fs::remove_dir(&dir);
        }
        let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{}", self.0));
    }
}

/// The whole disk under `/`: its `/dev` path and numbers.
fn root_disk() -> (String, u64, u64) {
    let dev = std::fs::metadata("/").unwrap().dev();
    let (mut maj, mut min) = (u64::from(libc::major(dev)), u64::from(libc::minor(dev)));
    let sys = std::fs::canonicalize(format!("/sys/dev/block/{maj}:{min}")).unwrap();
    let disk = if sys.join("partition").exists() {
        let parent = sys.parent().unwrap().to_path_buf();
        let mm = std::fs::read_to_string(parent.join("dev")).unwrap();
        let (a, b) = mm.trim().split_once(':').unwrap();
        (maj, min) = (a.parse().unwrap(), b.parse().unwrap());
        parent
    } else {
        sys
    };
    let name = disk.file_name().unwrap().to_string_lossy().into_owned();
    (format!("/dev/{name}"), maj, min)
}

#[test]
fn devices_with_permissions_and_paths() {
    let t = target();
    // A node at another path, read-only by the device cgroup.
    let out = t.run_with(
        "--device /dev/fuse:/dev/myfuse:r busybox",
        &[
            "sh",
            "-c",
            "ls /dev/myfuse; head -c0 /dev/myfuse && echo read; \
             (echo x > /dev/myfuse) 2>/dev/null || echo no-write",
        ],
    );
    assert_eq!(out, "/dev/myfuse\nread\nno-write\n");
    // A rule lets a node made inside be used; without it, not.
    let use_fuse = "mknod /dev/f c 10 229 && (head -c0 /dev/f 2>/dev/null; echo $?)";
    let rule = [
        "--device-cgroup-rule",
        "c 10:229 rwm",
        "busybox",
        "sh",
        "-c",
        use_fuse,
    ];
    assert_eq!(t.run(&rule), "0\n");
    let (_, out, _) = t.docker(&["run", "--rm", "busybox", "sh", "-c", use_fuse]);
    assert!(out != "0\n", "a node the cgroup does not allow was opened");
    t.refuses(
        "--device /dev/nosuchdevice",
        "error gathering device information while adding custom device \"/dev/nosuchdevice\": no such file or directory",
    );
    t.refuses(
        "--gpus all",
        "could not select device driver \"\" with capabilities: [[gpu]]",
    );
}

#[test]
fn security_options() {
    let t = target();
    let status = [
        "grep",
        "-E",
        "Seccomp:|CapEff|NoNewPrivs",
        "/proc/self/status",
    ];
    let caps = t.run_with("--cap-drop ALL --cap-add NET_ADMIN busybox", &status);
    assert_eq!(
        field(&caps, "CapEff"),
        "0000000000001000",
        "only CAP_NET_ADMIN (12)"
    );
    let caps = t.run_with("--cap-drop CHOWN busybox", &status);
    assert_eq!(
        field(&caps, "CapEff"),
        "00000000a80425fa",
        "Docker's set but CAP_CHOWN"
    );
    assert_eq!(field(&caps, "Seccomp"), "2", "Docker's default profile");
    t.refuses("--cap-add BOGUS", "unknown capability: \"CAP_BOGUS\"");
    // --privileged: every capability the daemon holds (this host's root
    // lacks some: dockerd 20.10 asks for all of them and fails here).
    if t.is_berth() {
        let out = t.run_with(
            "--privileged busybox",
            &[
                "sh",
                "-c",
                "grep Seccomp: /proc/self/status; test -e /dev/fuse && echo devices",
            ],
        );
        assert_eq!(out, "Seccomp:\t0\ndevices\n");
    }
    let out = t.run_with(
        "--security-opt seccomp=unconfined --security-opt no-new-privileges busybox",
        &status,
    );
    assert_eq!(
        (field(&out, "Seccomp"), field(&out, "NoNewPrivs")),
        ("0", "1")
    );
    // A profile file (the CLI sends its text): mkdir refused with EPERM.
    let profile = t.dir.path().join("deny-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let (code, _, err) = t.docker(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "mkdir",
        "/x",
    ]);
    assert!(
        code == 1 && err.contains("Operation not permitted"),
        "{err}"
    );
    t.refuses("--security-opt bogus", "Invalid --security-opt: \"bogus\"");
    // AppArmor and SELinux: berth has neither, takes their "off" and
    // refuses a profile or a label (dockerd, on a host without them, drops
    // them silently).
    t.run_with(
        "--security-opt apparmor=unconfined --security-opt label=disable busybox",
        &["true"],
    );
    if t.is_berth() {
        t.refuses(
            "--security-opt apparmor=docker-default",
            "berth applies no AppArmor profiles",
        );
        t.refuses(
            "--security-opt label=level:s0",
            "berth applies no SELinux labels",
        );
    }
    // Masked paths: Docker's, or none with systempaths=unconfined.
    let size = ["sh", "-c", "wc -c < /proc/timer_list"];
    assert_eq!(t.run_with("busybox", &size), "0\n");
    let n: usize = t
        .run_with("--security-opt systempaths=unconfined busybox", &size)
        .trim()
        .parse()
        .unwrap();
    assert!(n > 0);
    let (code, _, err) = t.docker(&["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert!(code == 1 && err.contains("Read-only file system"), "{err}");
    // Sysctls in the container's own namespaces; runc's rules refuse the
    // others (the CLI refuses those that no namespace holds).
    let out = t.run_with(
        "--sysctl net.ipv4.ip_forward=1 --sysctl kernel.shmmax=123456 busybox",
        &[
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
            "/proc/sys/kernel/shmmax",
        ],
    );
    assert_eq!(out, "1\n123456\n");
    t.refuses(
        "--network host --sysctl net.ipv4.ip_forward=1",
        "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace",
    );
    t.refuses(
        "--ipc host --sysctl kernel.shmmax=1",
        "sysctl \"kernel.shmmax\" is not allowed in the hosts ipc namespace",
    );
    let (code, _, err) = t.docker(&[
        "run",
        "--rm",
        "--sysctl",
        "vm.swappiness=1",
        "busybox",
        "true",
    ]);
    assert!(
        code != 0 && err.contains("sysctl 'vm.swappiness=1' is not allowed"),
        "{err}"
    );
}

#[test]
fn process_flags() {
    let t = target();
    // --init: pid 1 is an init that is not the command.
    let out = t.run_with("--init busybox", &["sh", "-c", "cat /proc/1/comm; echo $$"]);
    let l: Vec<&str> = out.lines().collect();
    assert!(l[0] != "sh" && l[1] != "1", "{out}");
    // --entrypoint, -e, --env-file, -w (made when missing), -u.
    let env_file = t.dir.path().join("env");
    std::fs::write(&env_file, "# a comment\nFROM_FILE=yes\nPASSED\n").unwrap();
    let flags = format!(
        "run --rm --entrypoint /bin/sh -e A=1 --env-file {} -w /made/here -u nobody busybox",
        env_file.display()
    );
    let mut args: Vec<&str> = flags.split_whitespace().collect();
    args.extend_from_slice(&["-c", "echo $A $FROM_FILE $PASSED; pwd; id -u; id -g"]);
    let out = t.cmd(&args).env("PASSED", "through").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1 yes through\n/made/here\n65534\n65534\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        t.run_with("-u 1234:5678 busybox", &["id"]),
        "uid=1234 gid=5678 groups=5678\n"
    );
    assert_eq!(
        t.run_with("-u root:nobody busybox", &["sh", "-c", "id -u; id -g"]),
        "0\n65534\n"
    );
    t.refuses(
        "-u nosuchuser",
        "unable to find user nosuchuser: no matching entries in passwd file",
    );
    // --label, --label-file, --stop-signal, --stop-timeout as inspect shows
    // them; docker stop sends the stop signal, which the trap answers.
    let labels = t.dir.path().join("labels");
    std::fs::write(&labels, "from.file=1\n").unwrap();
    let n = name("proc");
    let flags = format!(
        "create --name {n} --label berth-flags-test --label a=b --label-file {} \
         --stop-signal SIGUSR1 --stop-timeout 3 busybox sh -c",
        labels.display()
    );
    let mut args: Vec<&str> = flags.split_whitespace().collect();
    args.push("trap 'echo got-usr1; exit 7' USR1; while true; do sleep 0.1; done");
    t.ok(&args);
    let format = "{{index .Config.Labels \"a\"}} {{index .Config.Labels \"from.file\"}} \
                  {{.Config.StopSignal}} {{.Config.StopTimeout}}";
    assert_eq!(t.ok(&["inspect", "-f", format, &n]), "b 1 SIGUSR1 3\n");
    t.ok(&["start", &n]);
    std::thread::sleep(Duration::from_millis(300));
    t.ok(&["stop", &n]);
    assert_eq!(t.ok(&["inspect", "-f", "{{.State.ExitCode}}", &n]), "7\n");
    assert_eq!(t.ok(&["logs", &n]), "got-usr1\n");
    t.ok(&["rm", &n]);
}

#[test]
fn logging_drivers_and_options() {
    let t = target();
    // json-file: max-size (decimal units) and max-file rotate; logs reads
    // the files that are kept.
    let json = name("json");
    let flags =
        format!("run --name {json} --label berth-flags-test --log-opt max-size=1k --log-opt max-file=2 busybox sh -c");
    let mut args: Vec<&str> = flags.split_whitespace().collect();
    args.push("for i in $(seq 100); do echo line-$i; done");
    t.ok(&args);
    // inspect shows the driver and the options as given (the default
    // driver named, as dockerd records it).
    assert_eq!(
        t.ok(&["inspect", "-f", "{{json .HostConfig.LogConfig}}", &json]),
        "{\"Type\":\"json-file\",\"Config\":{\"max-file\":\"2\",\"max-size\":\"1k\"}}\n"
    );
    let logs = t.ok(&["logs", &json]);
    let n = logs.lines().count();
    assert!(n < 100 && n > 10, "{n} lines kept");
    assert!(logs.ends_with("line-100\n"));
    // local: Docker's compact format, read back by `docker logs`.
    let local = name("local");
    let flags =
        format!("run --name {local} --label berth-flags-test --log-driver local busybox sh -c");
    let mut args: Vec<&str> = flags.split_whitespace().collect();
    args.push("echo out; echo err >&2");
    t.ok(&args);
    let (code, out, err) = t.docker(&["logs", &local]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "out\n", "err\n"));
    t.ok(&["rm", &json, &local]);
    // Docker 28's words (dockerd 20.10 says "error looking up logging
    // plugin asdf: plugin \"asdf\" not found").
    let asdf = if t.is_berth() {
        "logger: no log driver named 'asdf' is registered"
    } else {
        "asdf"
    };
    t.refuses("--log-driver asdf", asdf);
    t.refuses(
        "--log-opt foo=bar",
        "unknown log opt 'foo' for json-file log driver",
    );
    t.refuses(
        "--log-driver local --log-opt labels=a",
        "unknown log opt 'labels' for log driver local",
    );
    t.refuses(
        "--log-opt max-file=0 --log-opt max-size=1k",
        "max-file cannot be less than 1",
    );
    t.refuses(
        "--log-opt compress=true",
        "compress cannot be true when max-file is less than 2 or max-size is not set",
    );
}

#[test]
fn storage_flags() {
    let t = target();
    let src = t.dir.path().join(format!("bind-{}", std::process::id()));
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("f"), "host\n").unwrap();
    let s = src.display();
    let out = t.run_with(
        &format!(
            "--mount type=bind,src={s},dst=/b,readonly \
             --mount type=bind,source={s},target=/nr,bind-nonrecursive \
             --mount type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770 \
             --mount type=volume,dst=/v,volume-nocopy busybox"
        ),
        &[
            "sh",
            "-c",
            "cat /b/f; (touch /b/x 2>/dev/null || echo ro); cat /nr/f; df -k /t | tail -1; \
             stat -c %a /t; test -d /v && echo volume",
        ],
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[..3], ["host", "ro", "host"], "{out}");
    assert_eq!(l[3].split_whitespace().nth(1), Some("1024"), "{out}");
    assert_eq!(l[4..], ["1770", "volume"], "{out}");
    // A named volume the mount creates, with its labels and options.
    let vol = name("vol");
    t.run_with(
        &format!(
            "--mount type=volume,src={vol},dst=/v,volume-label=k=v,volume-opt=type=tmpfs,volume-opt=device=tmpfs busybox"
        ),
        &["true"],
    );
    let format = "{{.Labels.k}} {{.Options.type}}";
    assert_eq!(
        t.ok(&["volume", "inspect", "-f", format, &vol]),
        "v tmpfs\n"
    );
    t.ok(&["volume", "rm", &vol]);
    t.refuses(
        "--mount type=bind,src=/no/such/dir/here,dst=/x",
        "bind source path does not exist: /no/such/dir/here",
    );
    t.refuses(
        "--storage-opt size=1G",
        "--storage-opt is supported only for overlay over xfs with 'pquota' mount option",
    );
    if t.is_berth() {
        // dockerd looks the driver up only when it makes a volume.
        t.refuses("--volume-driver nfs -v /data", "plugin \"nfs\" not found");
    }
    // A container that makes no volume is created with any driver, which
    // inspect shows (docker-py's test_create_with_volume_driver).
    let vd = name("voldriver");
    t.ok(&[
        "create",
        "--name",
        &vd,
        "--label",
        "berth-flags-test",
        "--volume-driver",
        "nfs",
        "busybox",
        "true",
    ]);
    // And the runtime is Docker's default by name (docker-py checks `runc`).
    let shown = t.ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.VolumeDriver}} {{.HostConfig.Runtime}}",
        &vd,
    ]);
    assert_eq!(shown.trim(), "nfs runc");
    t.ok(&["rm", &vd]);
}

#[test]
fn lifecycle_and_client_flags() {
    let t = target();
    // --restart, every policy as inspect shows it; on-failure counts.
    let format =
        "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}";
    for (policy, want) in [
        ("no", "no 0"),
        ("always", "always 0"),
        ("unless-stopped", "unless-stopped 0"),
        ("on-failure:2", "on-failure 2"),
    ] {
        let n = name(&format!("restart-{}", policy.replace(':', "-")));
        t.ok_str(&format!(
            "create --name {n} --label berth-flags-test --restart {policy} busybox false"
        ));
        assert_eq!(t.ok(&["inspect", "-f", format, &n]), format!("{want}\n"));
        if policy.starts_with("on-failure") {
            t.ok(&["start", &n]);
            eventually("two restarts", || {
                t.ok(&["inspect", "-f", "{{.RestartCount}} {{.State.Status}}", &n]) == "2 exited\n"
            });
        }
        t.ok(&["rm", "-f", &n]);
    }
    // --health-*: healthy once the check passes; with a start interval
    // the checks of the start period come that often, whatever the
    // interval (healthy within seconds with a 30 s interval).
    let h = name("health");
    let mut flags = format!(
        "run -d --name {h} --label berth-flags-test --health-timeout 1s --health-retries 2"
    );
    // API 1.44 (dockerd 20.10 speaks 1.41: the CLI refuses the flag there).
    if t.is_berth() {
        flags.push_str(
            " --health-interval 30s --health-start-period 20s --health-start-interval 100ms",
        );
    } else {
        flags.push_str(" --health-interval 200ms --health-start-period 5s");
    }
    let mut args: Vec<&str> = flags.split_whitespace().collect();
    args.extend_from_slice(&["--health-cmd", "test -e /tmp/ok", "busybox", "sh", "-c"]);
    args.push("touch /tmp/ok; sleep 60");
    t.ok(&args);
    let began = Instant::now();
    eventually("healthy", || {
        t.ok(&["inspect", "-f", "{{.State.Health.Status}}", &h]) == "healthy\n"
    });
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
    t.ok(&["rm", "-f", &h]);
    // --rm: gone after the exit; --cidfile: the id written, an existing
    // file refused by the CLI.
    let cid = t.dir.path().join("cid");
    let n = name("rm");
    t.ok_str(&format!(
        "run --rm --name {n} --cidfile {} busybox true",
        cid.display()
    ));
    assert_eq!(std::fs::read_to_string(&cid).unwrap().len(), 64);
    assert!(t.docker(&["inspect", &n]).0 != 0, "--rm left the container");
    let (code, _, err) = t.docker(&[
        "run",
        "--rm",
        "--cidfile",
        cid.to_str().unwrap(),
        "busybox",
        "true",
    ]);
    assert!(code != 0 && err.contains("ID file found"), "{err}");
    // --platform, --pull, --runtime, --isolation.
    t.run_with("--platform linux/amd64 busybox", &["true"]);
    t.refuses(
        "--platform linux/s390x --pull never",
        "does not match the specified platform",
    );
    let (code, _, err) = t.docker(&["run", "--rm", "--pull", "never", "nosuchimage:1", "true"]);
    assert!(
        code == 125 && err.contains("No such image: nosuchimage:1"),
        "{err}"
    );
    t.run_with("--pull missing busybox", &["true"]);
    t.run_with("--runtime runc busybox", &["true"]);
    // Docker 28's words (dockerd 20.10: "Unknown runtime specified foo").
    let runtime = if t.is_berth() {
        "unknown or invalid runtime name: foo"
    } else {
        "foo"
    };
    t.refuses("--runtime foo", runtime);
    t.run_with("--isolation default busybox", &["true"]);
    // ("Invalid isolation: \"hyperv\"" in dockerd 20.10.)
    t.refuses("--isolation hyperv", "nvalid isolation");
}

/// What the docker CLI 28 never sends (it drops `KernelMemory` for API
/// 1.42 and later, and the Windows fields for a Linux daemon), sent raw:
/// refused with the field named, not dropped.
#[test]
fn fields_the_cli_cannot_send_are_refused_by_name() {
    let t = target();
    let Some(d) = &t.berthd else {
        return;
    };
    for (field, value, words) in [
        (
            "KernelMemory",
            "10485760",
            "KernelMemory: kernel memory limits are not supported",
        ),
        (
            "KernelMemoryTCP",
            "10485760",
            "KernelMemoryTCP: kernel TCP memory limits",
        ),
        ("CpuCount", "2", "CpuCount: CPU count is a Windows setting"),
        (
            "CpuPercent",
            "50",
            "CpuPercent: CPU percent is a Windows setting",
        ),
        (
            "IOMaximumIOps",
            "100",
            "QoS maximum IOPs configuration is not supported on linux",
        ),
        (
            "Cgroup",
            "\"container:x\"",
            "Cgroup: joining another container's cgroup",
        ),
    ] {
        let body = format!(r#"{{"Image": "busybox", "HostConfig": {{"{field}": {value}}}}}"#);
        let (status, text) = post(&d.socket(), "/containers/create", &body);
        assert!(status.contains(" 400 "), "{field}: {status}");
        assert!(text.contains(words), "{field}: {text}");
    }
}

/// One POST with a JSON body over the daemon's socket: status line, body.
fn post(socket: &std::path::Path, path: &str, body: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        rest.to_string(),
    )
}
