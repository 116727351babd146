//! The runc-compatible lifecycle: create, start, state, exec, pause, resume,
//! ps, kill, delete; the console socket; state kept across commands.

mod common;

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use common::{id, Bundle};
use serde_json::Value;

fn wait_status(b: &Bundle, id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = b.state(id);
        if s["status"] == want || Instant::now() > deadline {
            assert_eq!(s["status"], want, "{s}");
            return s;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn create_start_exec_pause_resume_kill_delete() {
    let b = Bundle::new(&["sleep", "1000"]);
    let name = id("life");
    let pid_file = b.path().join("pid");
    ok(b.rt(&[
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &name,
    ]));
    let s = wait_status(&b, &name, "created");
    let pid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(s["pid"], pid);
    assert_eq!(s["id"], name.as_str());
    assert_eq!(
        s["bundle"],
        std::fs::canonicalize(b.path()).unwrap().to_str().unwrap()
    );
    // Created: the init is ours, not yet the user's command.
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(
        exe.to_string_lossy().starts_with("/memfd:berth-runtime"),
        "init runs from the sealed copy: {exe:?}"
    );

    ok(b.rt(&["start", &name]));
    wait_status(&b, &name, "running");
    // "running" is recorded when start opens the exec fifo; the execve
    // itself follows a moment later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        if comm.trim() == "sleep" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the init is {comm:?}, not sleep"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }

    // exec joins the container: same pid namespace (sleep is pid 1 there), same hostname.
    let out = ok(b.rt(&[
        "exec",
        &name,
        "sh",
        "-c",
        "cat /proc/1/comm; hostname; echo $$",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..2], ["sleep", "berth-test"], "{out}");
    assert_ne!(lines[2], "1");
    let code = b.rt(&["exec", &name, "sh", "-c", "exit 5"]).status.code();
    assert_eq!(code, Some(5));
    let out = ok(b.rt(&[
        "exec",
        "--env",
        "A=b",
        "--cwd",
        "/tmp",
        "--user",
        "65534:65534",
        &name,
        "sh",
        "-c",
        "echo $A; pwd; id -u",
    ]));
    assert_eq!(out, "b\n/tmp\n65534\n");

    // ps lists the init.
    let out = ok(b.rt(&["ps", "--format", "json", &name]));
    let pids: Vec<i64> = serde_json::from_str(&out).unwrap();
    assert_eq!(pids, [pid]);

    ok(b.rt(&["pause", &name]));
    wait_status(&b, &name, "paused");
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(st.contains(") D ") || st.contains(") S "), "{st}");
    let err = b.rt(&["exec", &name, "true"]);
    assert!(
        !err.status.success(),
        "exec into a paused container is refused"
    );
    ok(b.rt(&["resume", &name]));
    wait_status(&b, &name, "running");

    // delete refuses a running container without --force.
    let out = b.rt(&["delete", &name]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("running"));

    // busybox sleep as pid 1 has no handler for SIGTERM, and the kernel drops
    // unhandled signals to a namespace's init: it takes SIGKILL.
    ok(b.rt(&["kill", &name, "TERM"]));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(b.state(&name)["status"], "running");
    ok(b.rt(&["kill", &name, "9"]));
    wait_status(&b, &name, "stopped");
    ok(b.rt(&["delete", &name]));
    let out = b.rt(&["state", &name]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    // The cgroup went with it.
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/memory/berth/{name}")).exists());
}

#[test]
fn delete_force_kills_a_running_container() {
    let b = Bundle::new(&["sleep", "1000"]);
    let name = id("force");
    ok(b.rt(&["run", "--detach", &name]));
    let pid = wait_status(&b, &name, "running")["pid"].as_i64().unwrap();
    ok(b.rt(&["delete", "--force", &name]));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap()
                .contains(") Z ")
    );
    ok(b.rt(&["list", "--quiet"]));
}

#[test]
fn duplicate_ids_and_unknown_ids() {
    let b = Bundle::new(&["sleep", "1000"]);
    let name = id("dup");
    ok(b.rt(&["create", &name]));
    let out = b.rt(&["create", &name]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    // The failed create did not disturb the first one.
    wait_status(&b, &name, "created");
    ok(b.rt(&["delete", "--force", &name]));
    for cmd in [
        vec!["start", "nope"],
        vec!["kill", "nope"],
        vec!["delete", "nope"],
        vec!["state", "nope"],
    ] {
        let out = b.rt(&cmd);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("does not exist"),
            "{cmd:?}"
        );
    }
    let out = b.rt(&["state", "../etc"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid container id"));
}

/// Receives the pty master runc-style over a console socket, then reads what
/// the container writes on its terminal.
#[test]
fn terminal_through_console_socket() {
    use nix::sys::socket::{
        accept, bind, listen, recvmsg, socket, AddressFamily, Backlog, ControlMessageOwned,
        MsgFlags, SockFlag, SockType, UnixAddr,
    };
    let mut b = Bundle::new(&["sh", "-c", "tty; stty size; echo done"]);
    b.edit(|c| {
        c["process"]["terminal"] = serde_json::json!(true);
        c["process"]["consoleSize"] = serde_json::json!({"height": 33, "width": 111});
    });
    let sock_path = b.path().join("console.sock");
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )
    .unwrap();
    bind(sock.as_raw_fd(), &UnixAddr::new(&sock_path).unwrap()).unwrap();
    listen(&sock, Backlog::new(1).unwrap()).unwrap();
    let name = id("tty");
    let receiver = std::thread::spawn(move || {
        let conn = accept(sock.as_raw_fd()).unwrap();
        let mut buf = [0u8; 64];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(conn, &mut iov, Some(&mut cmsg), MsgFlags::empty()).unwrap();
        let mut fd = None;
        for c in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: received with SCM_RIGHTS; ours alone.
                fd = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
            }
        }
        fd.expect("pty master received")
    });
    ok(b.rt(&[
        "create",
        "--console-socket",
        sock_path.to_str().unwrap(),
        &name,
    ]));
    let master = receiver.join().unwrap();
    ok(b.rt(&["start", &name]));
    let mut f = std::fs::File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&out).contains("done") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out).replace('\r', "");
    assert!(
        text.starts_with("/dev/console\n") || text.starts_with("/dev/pts/0\n"),
        "{text}"
    );
    assert!(text.contains("33 111\n"), "{text}");
    ok(b.rt(&["delete", "--force", &name]));
}

#[test]
fn features_and_spec() {
    let b = Bundle::new(&["true"]);
    let f: Value = serde_json::from_str(&ok(b.rt(&["features"]))).unwrap();
    assert_eq!(f["linux"]["cgroup"]["v2"], true);
    assert!(f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "user"));
}

#[test]
fn join_another_containers_network_namespace_and_read_stats() {
    let a = Bundle::new(&["sleep", "1000"]);
    let first = id("netA");
    ok(a.rt(&["run", "--detach", &first]));
    let pid = wait_status(&a, &first, "running")["pid"].as_i64().unwrap();
    let stats: Value = serde_json::from_str(&ok(a.rt(&["events", "--stats", &first]))).unwrap();
    assert_eq!(stats["type"], "stats");
    assert_eq!(stats["data"]["pids_current"], 1, "{stats}");
    assert!(
        stats["data"]["memory_usage"].as_u64().unwrap() > 0,
        "{stats}"
    );

    // A second container joins the first one's network namespace by path, as
    // `--network container:` and pods need.
    let mut b = Bundle::new(&["readlink", "/proc/self/ns/net"]);
    let netns = format!("/proc/{pid}/ns/net");
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "network");
        ns.push(serde_json::json!({"type": "network", "path": netns}));
    });
    let out = b.run_ok(&id("netB"));
    assert_eq!(
        out.trim(),
        std::fs::read_link(&netns).unwrap().to_str().unwrap()
    );
    ok(a.rt(&["delete", "--force", &first]));
}

#[test]
fn hooks_run_at_each_point_with_the_state() {
    let mut b = Bundle::new(&["true"]);
    let out = b.path().join("hooks-out");
    std::fs::create_dir(&out).unwrap();
    let host_hook = |name: &str| serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}/{name}.json", out.display())]});
    b.edit(|c| {
        c["hooks"] = serde_json::json!({
            "prestart": [host_hook("prestart")],
            "createRuntime": [host_hook("createRuntime")],
            "createContainer": [host_hook("createContainer")],
            // Inside the container, after pivot_root: its own /bin/sh and /tmp.
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /tmp/startContainer.json"]}],
            "poststart": [host_hook("poststart")],
            "poststop": [host_hook("poststop")],
        });
    });
    let name = id("hooks");
    b.run_ok(&name);
    for hook in [
        "prestart",
        "createRuntime",
        "createContainer",
        "poststart",
        "poststop",
    ] {
        let state: Value = serde_json::from_slice(
            &std::fs::read(out.join(format!("{hook}.json")))
                .unwrap_or_else(|_| panic!("{hook} ran")),
        )
        .unwrap();
        assert_eq!(state["id"], name.as_str(), "{hook}: {state}");
    }
    let state: Value =
        serde_json::from_slice(&std::fs::read(b.rootfs().join("tmp/startContainer.json")).unwrap())
            .unwrap();
    assert!(
        state["pid"].as_i64().unwrap() > 1,
        "the host pid of the init: {state}"
    );

    // A failing createRuntime hook fails the create, leaving nothing behind.
    b.edit(|c| {
        c["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]});
    });
    let failed = id("hookfail");
    let (code, _, err) = b.run(&failed);
    assert_ne!(code, 0);
    assert!(
        err.contains("createRuntime hook") && err.contains("nope"),
        "{err}"
    );
    assert!(!b.root.join(&failed).exists());
}
