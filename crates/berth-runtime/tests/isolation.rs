//! Each isolation property of a container, checked from inside it on the real
//! kernel. Needs root.

mod common;

use common::{id, Bundle};
use serde_json::json;

#[test]
fn init_is_pid_1_with_own_hostname_and_user() {
    let b = Bundle::new(&["sh", "-c", "echo pid=$$ host=$(hostname); id -u; id -g"]);
    let out = b.run_ok(&id("pid1"));
    assert_eq!(out, "pid=1 host=berth-test\n0\n0\n");
}

#[test]
fn runs_as_the_spec_user_with_groups_and_umask() {
    let mut b = Bundle::new(&["sh", "-c", "id; umask; cd /tmp && touch f && stat -c %a f"]);
    b.edit(|c| {
        c["process"]["user"] =
            json!({"uid": 1000, "gid": 1001, "additionalGids": [1002, 1003], "umask": 63});
    });
    let out = b.run_ok(&id("user"));
    assert!(
        out.starts_with("uid=1000 gid=1001 groups=1002,1003\n"),
        "{out}"
    );
    assert!(out.contains("0077\n600\n"), "{out}");
}

#[test]
fn exit_code_and_signal_are_reported() {
    let b = Bundle::new(&["sh", "-c", "exit 7"]);
    assert_eq!(b.run(&id("exit")).0, 7);
    // A signal sent from outside through `kill` ends a foreground run with 128+9.
    let b = Bundle::new(&["sleep", "100"]);
    let name = id("sig");
    let mut run = b.cmd(&["run", &name]).spawn().unwrap();
    for _ in 0..200 {
        if b.rt(&["state", &name]).status.success() && b.state(&name)["status"] == "running" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(b.rt(&["kill", &name, "KILL"]).status.success());
    assert_eq!(run.wait().unwrap().code(), Some(137));
}

#[test]
fn missing_executable_is_a_clear_error() {
    let b = Bundle::new(&["no-such-command"]);
    let (code, _, err) = b.run(&id("noexec"));
    assert_ne!(code, 0);
    assert!(err.contains("executable file not found"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn namespaces_differ_from_the_host() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "for n in mnt uts ipc pid net cgroup; do readlink /proc/1/ns/$n; done",
    ]);
    let out = b.run_ok(&id("ns"));
    for (line, n) in out
        .lines()
        .zip(["mnt", "uts", "ipc", "pid", "net", "cgroup"])
    {
        let host = std::fs::read_link(format!("/proc/self/ns/{n}")).unwrap();
        assert_ne!(line, host.to_str().unwrap(), "{n} namespace is the host's");
    }
    // The new network namespace holds only a loopback device.
    let b = Bundle::new(&["sh", "-c", "ls /sys/class/net"]);
    assert_eq!(b.run_ok(&id("netns")), "lo\n");
}

#[test]
fn mounts_readonly_root_masked_and_readonly_paths() {
    let mut b = Bundle::new(&["sh", "-c", "touch /x 2>&1; echo ---; cat /proc/keys 2>&1 | wc -c; ls /sys/firmware | wc -l; (echo 1 > /proc/sys/kernel/domainname) 2>&1; grep ' / ' /proc/mounts"]);
    b.edit(|c| {
        c["root"]["readonly"] = json!(true);
    });
    let out = b.run_ok(&id("mounts"));
    let (before, after) = out.split_once("---\n").unwrap();
    assert!(before.contains("Read-only file system"), "{out}");
    let mut lines = after.lines();
    assert_eq!(lines.next(), Some("0"), "masked files read empty: {out}");
    assert_eq!(lines.next(), Some("0"), "masked dirs are empty: {out}");
    assert!(
        out.contains("Read-only file system") && out.matches("Read-only").count() >= 2,
        "/proc/sys is read-only: {out}"
    );
    assert!(out.lines().last().unwrap().contains(" ro,"), "{out}");
}

#[test]
fn bind_mounts_with_options() {
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("data"), "from host").unwrap();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /mnt/data; echo x > /mnt/new 2>&1 || echo refused; cat /etc/host-file",
    ]);
    let file = host.path().join("data");
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/mnt", "type": "bind", "source": host.path(), "options": ["rbind", "ro"]}));
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/etc/host-file", "type": "bind", "source": file, "options": ["bind"]}));
    });
    let out = b.run_ok(&id("bind"));
    assert!(out.starts_with("from host"), "{out}");
    assert!(out.contains("refused"), "ro bind must refuse writes: {out}");
    assert!(out.ends_with("from host"), "{out}");
    assert!(!host.path().join("new").exists());
}

#[test]
fn capabilities_follow_the_spec() {
    let mut b = Bundle::new(&["sh", "-c", "grep -E '^Cap(Eff|Bnd|Prm)' /proc/self/status"]);
    b.edit(|c| {
        let set = json!(["CAP_CHOWN", "CAP_KILL"]);
        c["process"]["capabilities"] = json!({"bounding": set, "effective": set, "permitted": set, "inheritable": [], "ambient": []});
    });
    let out = b.run_ok(&id("caps"));
    // CAP_CHOWN = bit 0, CAP_KILL = bit 5.
    assert_eq!(
        out,
        "CapPrm:\t0000000000000021\nCapEff:\t0000000000000021\nCapBnd:\t0000000000000021\n"
    );
}

#[test]
fn no_new_privileges_and_rlimits_and_oom_score() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "grep NoNewPrivs /proc/self/status; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj",
    ]);
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = json!(true);
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]);
        c["process"]["oomScoreAdj"] = json!(250);
    });
    assert_eq!(b.run_ok(&id("nnp")), "NoNewPrivs:\t1\n100\n200\n250\n");
}

#[test]
fn sysctl_and_domainname_and_env_and_cwd() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_forward; cat /proc/sys/kernel/domainname; echo $FOO; pwd",
    ]);
    b.edit(|c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        c["domainname"] = json!("example.org");
        c["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
        c["process"]["cwd"] = json!("/work/dir");
    });
    assert_eq!(
        b.run_ok(&id("sysctl")),
        "1\nexample.org\nbar baz\n/work/dir\n"
    );
}

#[test]
fn user_namespace_maps_ids() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; touch /tmp/f; stat -c %u /tmp/f",
    ]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    // The rootfs must belong to the mapped root for it to write.
    let rootfs = b.rootfs();
    std::process::Command::new("chown")
        .args(["-R", "100000:100000"])
        .arg(&rootfs)
        .status()
        .unwrap();
    let out = b.run_ok(&id("userns"));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"));
    let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"]);
    assert_eq!(lines.next(), Some("0"));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(rootfs.join("tmp/f")).unwrap().uid(),
        100000,
        "host sees the mapped uid"
    );
}

#[test]
fn seccomp_docker_default_blocks_namespace_syscalls() {
    use oci_spec::runtime::Capability;
    let mut b = Bundle::new(&["sh", "-c", "grep Seccomp: /proc/self/status; unshare -m true 2>&1; echo rc=$?; mkdir /tmp/ok && echo mkdir ok"]);
    let profile = runtime::seccomp::docker_default(&[
        Capability::Chown,
        Capability::Kill,
        Capability::Setuid,
        Capability::Setgid,
    ]);
    b.edit(|c| {
        c["linux"]["seccomp"] = serde_json::to_value(&profile).unwrap();
        // Docker's default set, without CAP_SYS_ADMIN.
        let caps = json!([
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FSETID",
            "CAP_FOWNER",
            "CAP_MKNOD",
            "CAP_NET_RAW",
            "CAP_SETGID",
            "CAP_SETUID",
            "CAP_SETFCAP",
            "CAP_SETPCAP",
            "CAP_NET_BIND_SERVICE",
            "CAP_SYS_CHROOT",
            "CAP_KILL",
            "CAP_AUDIT_WRITE"
        ]);
        c["process"]["capabilities"] =
            json!({"bounding": caps, "effective": caps, "permitted": caps});
    });
    let out = b.run_ok(&id("seccomp"));
    assert!(out.starts_with("Seccomp:\t2\n"), "filter mode: {out}");
    assert!(
        out.contains("Operation not permitted") && out.contains("rc=1"),
        "{out}"
    );
    assert!(out.ends_with("mkdir ok\n"), "{out}");
}

#[test]
fn cgroup_limits_are_visible_and_enforced() {
    let mut b = Bundle::new(&["sh", "-c", "cat /proc/self/cgroup | grep -c ':/$'; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; (for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1 & done) 2>/forks; grep -c \"can't fork\" /forks; tail /dev/zero"]);
    b.edit(|c| {
        c["linux"]["resources"] = json!({"memory": {"limit": 33554432}, "pids": {"limit": 6}});
    });
    let (code, out, err) = b.run(&id("limits"));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 4, "{code} {out} {err}");
    assert!(
        lines[0].parse::<u32>().unwrap() >= 5,
        "every hierarchy shows the container's cgroup as /: {out}"
    );
    assert_eq!(&lines[1..3], ["33554432", "6"], "{out}");
    assert!(
        lines[3].parse::<u32>().unwrap() >= 1,
        "forks beyond pids.max fail: {out} {err}"
    );
    assert_eq!(code, 137, "the memory hog is OOM-killed: {out} {err}");
}

#[test]
fn device_cgroup_denies_host_disks() {
    // CAP_MKNOD is in Docker's default set: the device cgroup is what stops a
    // container from reading a host disk through a node it made itself.
    let b = Bundle::new(&["sh", "-c", "mknod /tmp/disk b 253 0 2>&1 || mknod /tmp/disk b 8 0; head -c1 /tmp/disk 2>&1; echo; head -c1 /dev/zero | wc -c"]);
    let out = b.run_ok(&id("devices"));
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.ends_with("1\n"), "default devices stay usable: {out}");
}

/// A host directory bound onto itself and made shared, unmounted with
/// everything below it (lazily) when dropped, also when the test fails.
struct SharedMount(std::path::PathBuf);

impl SharedMount {
    fn new(path: &std::path::Path) -> SharedMount {
        use nix::mount::{mount, MsFlags};
        mount(
            Some(path),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap();
        let guard = SharedMount(path.to_path_buf());
        mount(
            None::<&str>,
            path,
            None::<&str>,
            MsFlags::MS_SHARED,
            None::<&str>,
        )
        .unwrap();
        guard
    }
}

impl Drop for SharedMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// `rshared` bind with `rootfsPropagation: rshared` (what the CRI asks for
/// a `Bidirectional` mount and dockerd for `-v SRC:DST:rshared`): a mount
/// made inside the container under the bind shows on the host, and one
/// made on the host shows inside (critest's "mount with 'rshared' should
/// support propagation from host to container and vice versa").
#[test]
fn rshared_bind_propagates_both_ways() {
    let host = tempfile::tempdir().unwrap();
    let src = host.path().join("src");
    for d in ["in", "out"] {
        std::fs::create_dir_all(src.join(d)).unwrap();
    }
    let shared = SharedMount::new(&src);
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "mount -t tmpfs from-ctr /mnt/in && echo made-inside > /mnt/in/f || exit 3; \
         i=0; while [ ! -e /mnt/out/g ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
         cat /mnt/out/g",
    ]);
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/mnt", "type": "bind", "source": &src, "options": ["rbind", "rshared"]}));
        c["linux"]["rootfsPropagation"] = json!("rshared");
        let caps = c["process"]["capabilities"].as_object_mut().unwrap();
        for set in ["bounding", "effective", "permitted"] {
            caps[set].as_array_mut().unwrap().push(json!("CAP_SYS_ADMIN"));
        }
    });
    let name = id("rshared");
    let out_file = b.path().join("rshared.out");
    let mut run = b
        .cmd(&["run", &name])
        .stdout(std::fs::File::create(&out_file).unwrap())
        .spawn()
        .unwrap();
    // Container to host.
    let seen = src.join("in/f");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let from_ctr = std::fs::read_to_string(&seen).unwrap_or_default();
    // Host to container.
    let tmpfs = nix::mount::mount(
        Some("from-host"),
        &src.join("out"),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    );
    if tmpfs.is_ok() {
        std::fs::write(src.join("out/g"), "made-on-host\n").unwrap();
    }
    let status = run.wait().unwrap();
    let out = std::fs::read_to_string(&out_file).unwrap();
    drop(shared);
    tmpfs.unwrap();
    assert_eq!(
        from_ctr, "made-inside\n",
        "the container's mount reached the host"
    );
    assert!(status.success(), "{status:?} {out}");
    assert_eq!(
        out, "made-on-host\n",
        "the host's mount reached the container"
    );
    // Nothing is left mounted under the directory.
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!info.contains(src.to_str().unwrap()), "{info}");
}
