//! File writes checked on a temporary tree laid out like cgroupfs; kernel
//! behaviour checked on the real hierarchies of this host (as root).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::*;

fn resources(v: serde_json::Value) -> LinuxResources {
    serde_json::from_value(v).unwrap()
}

fn fake_v1(root: &Path, with_memsw: bool) -> BTreeMap<String, PathBuf> {
    let mut paths = BTreeMap::new();
    for c in [
        "memory", "cpu", "cpuset", "pids", "blkio", "devices", "freezer",
    ] {
        let dir = root.join(c).join("berth/c");
        std::fs::create_dir_all(&dir).unwrap();
        paths.insert(c.to_string(), dir);
    }
    if with_memsw {
        std::fs::write(paths["memory"].join("memory.memsw.limit_in_bytes"), "").unwrap();
    }
    std::fs::write(paths["blkio"].join("blkio.weight"), "").unwrap();
    paths
}

fn file(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|_| panic!("{name} not written"))
}

#[test]
fn v1_writes() {
    let d = tempfile::tempdir().unwrap();
    let paths = fake_v1(d.path(), true);
    let r = resources(serde_json::json!({
        "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728, "swappiness": 10},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 20},
        "blockIO": {"weight": 300},
        "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}, {"allow": true, "type": "c", "major": 136, "access": "rw"}]
    }));
    apply::v1(&paths, &r).unwrap();
    let cases = [
        ("memory", "memory.limit_in_bytes", "67108864"),
        ("memory", "memory.soft_limit_in_bytes", "33554432"),
        ("memory", "memory.memsw.limit_in_bytes", "134217728"),
        ("memory", "memory.swappiness", "10"),
        ("cpu", "cpu.shares", "512"),
        ("cpu", "cpu.cfs_quota_us", "50000"),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("cpuset", "cpuset.cpus", "0"),
        ("pids", "pids.max", "20"),
        ("blkio", "blkio.weight", "300"),
        // The last allow rule written; fake files keep only the last write.
        ("devices", "devices.allow", "c 136:* rw"),
        ("devices", "devices.deny", "a *:* rwm"),
    ];
    for (ctrl, name, want) in cases {
        assert_eq!(file(&paths[ctrl], name), want, "{ctrl}/{name}");
    }
    // Without swap accounting, memsw is not written (and no error).
    let d = tempfile::tempdir().unwrap();
    let paths = fake_v1(d.path(), false);
    apply::v1(
        &paths,
        &resources(serde_json::json!({"memory": {"limit": -1, "swap": -1}, "pids": {"limit": 0}})),
    )
    .unwrap();
    assert_eq!(file(&paths["memory"], "memory.limit_in_bytes"), "-1");
    assert!(!paths["memory"].join("memory.memsw.limit_in_bytes").exists());
    assert_eq!(file(&paths["pids"], "pids.max"), "max");
}

#[test]
fn v1_realtime_and_block_io_devices() {
    let d = tempfile::tempdir().unwrap();
    let paths = fake_v1(d.path(), false);
    std::fs::write(paths["blkio"].join("blkio.weight_device"), "").unwrap();
    let r = resources(serde_json::json!({
        "cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 950000},
        "blockIO": {
            "weightDevice": [{"major": 8, "minor": 0, "weight": 200}],
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
            "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2048}],
            "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 10}],
            "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 20}]
        }
    }));
    apply::v1(&paths, &r).unwrap();
    for (ctrl, name, want) in [
        ("cpu", "cpu.rt_period_us", "1000000"),
        ("cpu", "cpu.rt_runtime_us", "950000"),
        ("blkio", "blkio.weight_device", "8:0 200"),
        ("blkio", "blkio.throttle.read_bps_device", "8:0 1048576"),
        ("blkio", "blkio.throttle.write_bps_device", "8:0 2048"),
        ("blkio", "blkio.throttle.read_iops_device", "8:0 10"),
        ("blkio", "blkio.throttle.write_iops_device", "8:16 20"),
    ] {
        assert_eq!(file(&paths[ctrl], name), want, "{ctrl}/{name}");
    }
    // A weight per device on a kernel without the file is refused, not dropped.
    let d = tempfile::tempdir().unwrap();
    let paths = fake_v1(d.path(), false);
    let r = resources(serde_json::json!({
        "blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 200}]}
    }));
    assert!(apply::v1(&paths, &r).is_err());
}

#[test]
fn v2_io_max_and_what_v2_lacks() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let r = resources(serde_json::json!({
        "blockIO": {"throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 20}],
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}]}
    }));
    apply::v2(dir, &r).unwrap();
    assert_eq!(file(dir, "io.max"), "8:0 wiops=20");
    assert_eq!(file(dir, "io.weight"), "8:0 10000");
    for v in [
        serde_json::json!({"memory": {"swappiness": 10}}),
        serde_json::json!({"memory": {"disableOOMKiller": true}}),
        serde_json::json!({"cpu": {"realtimeRuntime": 1000}}),
    ] {
        assert!(apply::v2(dir, &resources(v.clone())).is_err(), "{v}");
    }
}

#[test]
fn v2_writes_and_conversions() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let r = resources(serde_json::json!({
        "memory": {"limit": 67108864, "reservation": 1048576, "swap": 134217728},
        "cpu": {"shares": 1024, "quota": 25000, "period": 50000},
        "pids": {"limit": 64},
        "blockIO": {"weight": 500},
        "unified": {"memory.high": "50000000"}
    }));
    apply::v2(dir, &r).unwrap();
    for (name, want) in [
        ("memory.max", "67108864"),
        ("memory.swap.max", "67108864"),
        ("memory.low", "1048576"),
        ("cpu.weight", "39"),
        ("cpu.max", "25000 50000"),
        ("pids.max", "64"),
        ("io.weight", "default 4950"),
        ("memory.high", "50000000"),
    ] {
        assert_eq!(file(dir, name), want, "{name}");
    }
    apply::v2(
        dir,
        &resources(serde_json::json!({"memory": {"limit": -1, "swap": -1}, "cpu": {"quota": -1}})),
    )
    .unwrap();
    assert_eq!(file(dir, "memory.max"), "max");
    assert_eq!(file(dir, "memory.swap.max"), "max");
    assert_eq!(file(dir, "cpu.max"), "max 100000");
    assert!(apply::v2(
        dir,
        &resources(serde_json::json!({"unified": {"../escape": "1"}}))
    )
    .is_err());
    for (shares, weight) in [(2, 1), (1024, 39), (262_144, 10_000)] {
        assert_eq!(shares_to_weight(shares), weight);
    }
    assert_eq!(
        (blkio_to_io_weight(10), blkio_to_io_weight(1000)),
        (1, 10_000)
    );
}

/// A cgroup removed when the test ends, even on failure.
struct Guard(Cgroup);

impl Drop for Guard {
    fn drop(&mut self) {
        for pid in self.0.pids().unwrap_or_default() {
            // SAFETY: signals a process of our test's cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.0.set_frozen(false);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let _ = self.0.destroy();
    }
}

/// Forks a child that waits until it is in `cg`, then runs `f` and exits with
/// its result; returns the child's wait status.
fn run_in(cg: &Cgroup, f: fn() -> i32) -> i32 {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child only makes raw syscalls and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut b = [0u8; 1];
        // SAFETY: reads into a local byte; raw syscalls only in this child.
        unsafe {
            libc::read(fds[0], b.as_mut_ptr().cast(), 1);
            libc::_exit(f());
        }
    }
    cg.add_pid(pid).unwrap();
    // SAFETY: writes one byte from a local; then waits for our own child.
    unsafe {
        libc::write(fds[1], b"g".as_ptr().cast(), 1);
        libc::close(fds[0]);
        libc::close(fds[1]);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        status
    }
}

/// A cgroup path of this test's own, directly under the hierarchy's root: no
/// shared parent (`/berth-test/…`) is left behind once the guard removes it.
fn unique(name: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "/berth-test-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Puts a cgroup2 directory's `cgroup.subtree_control` back as it was (the
/// controllers a test's create enabled are disabled again), also when the
/// test fails. On the hybrid layout a controller left enabled at the cgroup2
/// root (hugetlb) stops crun from starting.
struct SubtreeGuard {
    dir: PathBuf,
    before: Vec<String>,
}

impl SubtreeGuard {
    fn new(dir: &Path) -> SubtreeGuard {
        SubtreeGuard {
            dir: dir.to_path_buf(),
            before: controllers(dir),
        }
    }
}

fn controllers(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("cgroup.subtree_control"))
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

impl Drop for SubtreeGuard {
    fn drop(&mut self) {
        for c in controllers(&self.dir) {
            if !self.before.contains(&c) {
                let _ = std::fs::write(self.dir.join("cgroup.subtree_control"), format!("-{c}"));
            }
        }
    }
}

fn memory_hog() -> i32 {
    // Touch 256 MiB, a page at a time.
    let size = 256usize << 20;
    // SAFETY: an anonymous private mapping, written only within its bounds.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        ) as *mut u8;
        if p as isize == -1 {
            return 2;
        }
        let mut i = 0;
        while i < size {
            *p.add(i) = 1;
            i += 4096;
        }
    }
    0
}

fn fork_many() -> i32 {
    let mut failed = 0;
    for _ in 0..20 {
        // SAFETY: the grandchildren sleep then exit; raw syscalls only.
        match unsafe { libc::fork() } {
            // SAFETY: the grandchild sleeps and exits; raw syscalls only.
            0 => unsafe {
                libc::usleep(300_000);
                libc::_exit(0)
            },
            -1 => failed += 1,
            _ => {}
        }
    }
    if failed > 0 {
        0
    } else {
        1
    }
}

#[test]
fn real_hierarchy_limits_oom_pids_and_freezer() {
    let cg = Cgroup::open(Some(Path::new(&unique("limits"))), "x").unwrap();
    cg.create().unwrap();
    let cg = Guard(cg);
    cg.0.apply(&resources(
        serde_json::json!({"memory": {"limit": 33554432}, "pids": {"limit": 8}}),
    ))
    .unwrap();
    let status = run_in(&cg.0, memory_hog);
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL,
        "OOM-killed: {status:#x}"
    );
    let stats = cg.0.stats().unwrap();
    assert!(stats.oom_kills >= 1, "{stats:?}");
    assert_eq!(stats.memory_limit, 33554432);
    assert_eq!(stats.pids_limit, 8);
    let status = run_in(&cg.0, fork_many);
    assert_eq!(libc::WEXITSTATUS(status), 0, "forks beyond pids.max fail");
}

fn sleeper() -> i32 {
    // SAFETY: sleeps; the test kills it.
    unsafe { libc::sleep(30) };
    0
}

fn freeze_and_list(cg: &Cgroup) {
    // SAFETY: the child sleeps until killed; raw syscalls only.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: the child sleeps, then ends without running exit handlers.
        unsafe { libc::_exit(sleeper()) };
    }
    cg.add_pid(pid).unwrap();
    assert_eq!(cg.pids().unwrap(), [pid]);
    cg.set_frozen(true).unwrap();
    assert!(cg.is_frozen().unwrap());
    cg.set_frozen(false).unwrap();
    assert!(!cg.is_frozen().unwrap());
    // SAFETY: our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

#[test]
fn real_v1_or_v2_freezer_and_pids() {
    let cg = Cgroup::open(Some(Path::new(&unique("freeze"))), "x").unwrap();
    cg.create().unwrap();
    let cg = Guard(cg);
    freeze_and_list(&cg.0);
}

/// The v2 code path on a real cgroup2 tree: this host's own if it is
/// unified, else the hybrid layout's controller-less cgroup2 mount (where the
/// freezer and device programs still work).
fn v2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    layout::Mounts::parse(&info).v2
}

/// The hierarchies found by name under `/sys/fs/cgroup` are mountinfo's:
/// the fast path gives the same cgroup paths as reading every mount.
#[test]
fn default_root_agrees_with_mountinfo() {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let fast = layout::from_default_root(Path::new("/sys/fs/cgroup"), &own)
        .expect("this host mounts its hierarchies under /sys/fs/cgroup by name");
    assert!(!fast.is_empty());
    let slow = layout::Mounts::parse(&info);
    assert_eq!(layout::Mounts::of_host(&own).unwrap(), slow);
    for h in &fast {
        assert!(h.point.starts_with("/sys/fs/cgroup"), "{h:?}");
    }
    // Not a cgroup root: mountinfo decides.
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(layout::from_default_root(dir.path(), &own), None);
}

fn open_null_then_zero() -> i32 {
    // SAFETY: opening device nodes with static paths; raw syscalls only.
    unsafe {
        if libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) < 0 {
            return 1;
        }
        if libc::open(c"/dev/zero".as_ptr(), libc::O_RDONLY) >= 0 {
            return 2;
        }
        if *libc::__errno_location() != libc::EPERM {
            return 3;
        }
    }
    0
}

#[test]
#[allow(clippy::print_stderr)]
fn real_v2_freezer_and_device_filter() {
    let Some(mount) = v2_mount() else {
        eprintln!("SKIP: no cgroup2 mount on this host");
        return;
    };
    let before = controllers(&mount);
    {
        let cg = Cgroup::V2 {
            path: mount.join(unique("v2").trim_start_matches('/')),
        };
        // Dropped last: after the cgroup is gone, the root's controllers are
        // disabled again.
        let _root = SubtreeGuard::new(&mount);
        cg.create().unwrap();
        let cg = Guard(cg);
        freeze_and_list(&cg.0);
        let Cgroup::V2 { path } = &cg.0 else {
            unreachable!()
        };
        let rules: Vec<oci_spec::runtime::LinuxDeviceCgroup> = serde_json::from_value(serde_json::json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}])).unwrap();
        devices::attach(path, &rules).unwrap();
        let status = run_in(&cg.0, open_null_then_zero);
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "only /dev/null is allowed (code {})",
            libc::WEXITSTATUS(status)
        );
    }
    // As it found it (hugetlb left on the hybrid layout's root stops crun).
    assert_eq!(controllers(&mount), before);
}

#[test]
fn io_bytes_parsed_from_both_versions() {
    let v1 =
        "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n253:1 Read 7\nTotal 12295\n";
    assert_eq!(
        apply::io_service_bytes_v1(v1),
        vec![(8, 0, 4096, 8192), (253, 1, 7, 0)]
    );
    let v2 = "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n259:0 rbytes=5 wbytes=0\n";
    assert_eq!(
        apply::io_stat_v2(v2),
        vec![(8, 0, 100, 200), (259, 0, 5, 0)]
    );
}

/// Removes a directory tree of empty cgroups, deepest first (a test's own).
struct TreeGuard(Vec<PathBuf>);

impl Drop for TreeGuard {
    fn drop(&mut self) {
        for top in &self.0 {
            for dir in [top.join("berth/a"), top.join("berth/b"), top.join("berth")] {
                let _ = std::fs::remove_dir(dir);
            }
            let _ = std::fs::remove_dir(top);
        }
    }
}

/// Issue 16: every test's containers went, and `berth` stayed in each
/// hierarchy (the named `systemd` one and the hybrid cgroup2 tree too). The
/// default parent now goes with its last container; one still in it keeps
/// it, and a parent emptied under a create is made again.
#[test]
fn real_default_parent_goes_with_its_last_container() {
    let top = unique("parent");
    let open =
        |leaf: &str| Cgroup::open(Some(Path::new(&format!("{top}/berth/{leaf}"))), leaf).unwrap();
    let (a, b) = (open("a"), open("b"));
    let tops: Vec<PathBuf> = a
        .dirs()
        .iter()
        .map(|d| d.parent().unwrap().parent().unwrap().to_path_buf())
        .collect();
    let _guard = TreeGuard(tops.clone());
    a.create().unwrap();
    b.create().unwrap();
    a.destroy().unwrap();
    for t in &tops {
        assert!(
            t.join("berth/b").is_dir(),
            "{}: b's parent went",
            t.display()
        );
    }
    b.destroy().unwrap();
    for t in &tops {
        assert!(
            !t.join("berth").exists(),
            "{}/berth left with no container in it",
            t.display()
        );
        assert!(
            t.is_dir(),
            "{}: a parent the caller named went",
            t.display()
        );
    }
    // Racing creates and destroys under one parent never fail a create.
    std::thread::scope(|s| {
        for leaf in ["a", "b"] {
            let cg = open(leaf);
            s.spawn(move || {
                for _ in 0..200 {
                    cg.create().unwrap();
                    cg.destroy().unwrap();
                }
            });
        }
    });
}
