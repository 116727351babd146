//! Issue 16's weak points, each a test of its own, through the real docker
//! CLI and the API: loads of one archive at once, creates racing for one
//! name, and a recycled pid in a dead container's `shim.pid`.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use common::Daemon;

/// A raw `POST` with a JSON body; the status code and the body.
fn post_json(d: &Daemon, path: &str, body: &str) -> (u16, String) {
    let mut s = UnixStream::connect(d.socket()).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (code, body.to_string())
}

/// `berth system check`'s problems, through its route.
fn problems(d: &Daemon) -> Vec<String> {
    let (code, body) = post_json(d, "/berth/system/check", "");
    assert_eq!(code, 200, "{body}");
    // The body may come chunked: take the JSON object in it.
    let json = &body[body.find('{').unwrap()..=body.rfind('}').unwrap()];
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["Problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

/// Four `docker load -i same.tar` at once on an empty store: four
/// successes, one layer, and the store checks clean.
#[test]
fn issue16_parallel_loads_of_one_archive() {
    let src = Daemon::with_busybox();
    let keep = tempfile::tempdir().unwrap();
    let tar = keep.path().join("bb-save.tar");
    let (code, out, err) = src.docker(&["save", "-o", tar.to_str().unwrap(), "busybox"]);
    assert_eq!(code, 0, "{out}{err}");
    drop(src);
    for round in 0..2 {
        let d = Daemon::start();
        // Started together, then waited for.
        let children: Vec<_> = (0..4)
            .map(|_| {
                d.docker_command(&["load", "-i", tar.to_str().unwrap()])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("Loaded image: busybox:latest"));
        }
        let layers: Vec<String> =
            std::fs::read_dir(d.dir.path().join(common::DATA_ROOT).join("image/layers"))
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
        assert_eq!(layers.len(), 1, "one layer directory: {layers:?}");
        assert_eq!(problems(&d), Vec::<String>::new());
        let (code, out, err) = d.docker(&["run", "--rm", "busybox", "echo", "ok"]);
        assert_eq!((code, out.as_str()), (0, "ok\n"), "{err}");
    }
}

/// Twenty creates with one name at once: exactly one is made, nineteen get
/// Docker's 409.
#[test]
fn issue16_concurrent_creates_with_one_name() {
    let d = Daemon::with_busybox();
    let results: Vec<(u16, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..20)
            .map(|_| {
                s.spawn(|| {
                    post_json(
                        &d,
                        "/containers/create?name=same",
                        r#"{"Image":"busybox","Cmd":["true"]}"#,
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let made: Vec<_> = results.iter().filter(|(c, _)| *c == 201).collect();
    let refused: Vec<_> = results.iter().filter(|(c, _)| *c == 409).collect();
    assert_eq!((made.len(), refused.len()), (1, 19), "{results:?}");
    let (code, id, _) = d.docker(&["inspect", "-f", "{{.Id}}", "same"]);
    assert_eq!(code, 0);
    for (_, body) in refused {
        assert!(
            body.contains(&format!(
                "Conflict. The container name \\\"/same\\\" is already in use by container \\\"{}\\\". You have to remove (or rename) that container to be able to reuse that name.",
                id.trim()
            )),
            "{body}"
        );
    }
    let (_, all, _) = d.docker(&["ps", "-aq"]);
    assert_eq!(all.lines().count(), 1, "{all}");
    // Renames race the same way: one of two containers gets the name.
    for n in ["r1", "r2"] {
        let (code, _, err) = d.docker(&["create", "--name", n, "busybox", "true"]);
        assert_eq!(code, 0, "{err}");
    }
    let codes: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = ["r1", "r2"]
            .iter()
            .map(|n| {
                let d = &d;
                s.spawn(move || post_json(d, &format!("/containers/{n}/rename?name=taken"), "").0)
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(sorted, [204, 409], "{codes:?}");
}

/// After a host crash the shim and its container are gone but `shim.pid`
/// stays, and another process may have its pid: the container is not
/// running for that.
#[test]
fn issue16_a_recycled_shim_pid_is_not_a_running_container() {
    let mut d = Daemon::with_busybox();
    let (code, id, err) = d.docker(&["run", "-d", "busybox", "sleep", "1000"]);
    assert_eq!(code, 0, "{err}");
    let id = id.trim().to_string();
    let mut init = 0;
    common::eventually("the container's pid", || {
        let (_, pid, _) = d.docker(&["inspect", "-f", "{{.State.Pid}}", &id]);
        init = pid.trim().parse().unwrap_or(0);
        init > 0
    });
    let pidfile = d
        .dir
        .path()
        .join(common::DATA_ROOT)
        .join("containers")
        .join(&id)
        .join("shim.pid");
    let recorded = std::fs::read_to_string(&pidfile).unwrap();
    let shim: i32 = recorded.split_whitespace().next().unwrap().parse().unwrap();
    // As a power cut does: the daemon, the shim and the container die, and
    // nothing records the exit.
    assert!(shim > 0, "shim {shim}");
    d.kill9();
    for pid in [shim, init] {
        // SAFETY: signals processes of this test's daemon.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    common::eventually("the shim to go", || {
        !std::path::Path::new(&format!("/proc/{shim}")).exists()
    });
    // Another process now has the shim's pid (as after a reboot): the file
    // is kept as written but for the pid.
    let mut other = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    let rest = recorded
        .trim_start()
        .split_once(char::is_whitespace)
        .map(|x| x.1)
        .unwrap_or("");
    std::fs::write(&pidfile, format!("{} {rest}", other.id())).unwrap();
    d.restart();
    let (_, state, _) = d.docker(&["inspect", "-f", "{{.State.Running}} {{.State.Status}}", &id]);
    let (_, running, _) = d.docker(&["ps", "-q"]);
    let (code, _, err) = d.docker(&["rm", &id]);
    let still = other.try_wait().unwrap().is_none();
    let _ = other.kill();
    let _ = other.wait();
    assert_eq!(state.trim(), "false exited");
    assert_eq!(running.trim(), "");
    assert_eq!(code, 0, "removed without -f: {err}");
    assert!(still, "the other process was left alone");
}

/// On a machine without `nft` (package nftables), berthd says so in one line
/// with the way out, before it makes anything; with `--bridge none` it
/// starts and warns once.
#[test]
fn fresh_machine_a_missing_nft_is_named_with_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    // A PATH with `ps` and without `nft`.
    let ps = ["/usr/bin/ps", "/bin/ps"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap();
    std::os::unix::fs::symlink(ps, bin.join("ps")).unwrap();
    let berthd = |extra: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_berthd"));
        c.env("PATH", &bin)
            .args(extra)
            .arg("-H")
            .arg(format!("unix://{}", dir.path().join("s.sock").display()))
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("berthd.pid"));
        c
    };
    let out = berthd(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "berthd: missing program `nft` (package nftables): needed for the default bridge's NAT and published ports, and user-defined networks; install it (apt-get install nftables) or start berthd with --bridge none\n"
    );
    assert!(!dir.path().join("s.sock").exists() && !dir.path().join("data").exists());
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let mut child = berthd(&["--bridge", "none"]).stderr(log).spawn().unwrap();
    common::eventually("berthd to listen", || {
        UnixStream::connect(dir.path().join("s.sock")).is_ok()
    });
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let text = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("berthd: warning: missing program `nft`"))
            .count(),
        1,
        "{text}"
    );
}

/// A build cut by a `kill -9` leaves its context and step directories under
/// `<data-root>/build` (found by the torture harness): the next start
/// removes them, unmounting a step's overlay first.
#[test]
fn issue16_build_leftovers_are_swept_at_start() {
    let mut d = Daemon::with_busybox();
    d.kill9();
    let build = d.dir.path().join(common::DATA_ROOT).join("build");
    std::fs::create_dir_all(build.join("context-abc")).unwrap();
    std::fs::write(build.join("context-abc/Dockerfile"), "FROM busybox\n").unwrap();
    let step = build.join("step-def");
    for sub in ["root", "upper", "work", "lower"] {
        std::fs::create_dir_all(step.join(sub)).unwrap();
    }
    std::fs::write(step.join("lower/kept"), "x").unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o"])
        .arg(format!(
            "lowerdir={},upperdir={},workdir={}",
            step.join("lower").display(),
            step.join("upper").display(),
            step.join("work").display()
        ))
        .arg(step.join("root"))
        .status()
        .unwrap();
    assert!(st.success());
    d.restart();
    // The socket listens before the engine opens: an answer means it did.
    let _ = d.http("GET", "/_ping");
    let left: Vec<_> = std::fs::read_dir(&build)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(&step.display().to_string());
    if mounted {
        let _ = std::process::Command::new("umount")
            .arg(step.join("root"))
            .status();
    }
    assert!(left.is_empty(), "{left:?}");
    assert!(!mounted);
}

/// A commit pauses its running container; a `kill -9` before the resume
/// left it paused for good, its log stopped (found by the torture
/// harness). The next start resumes it; a container a user paused stays.
#[test]
fn issue16_a_commit_cut_by_a_kill_leaves_no_paused_container() {
    let mut d = Daemon::with_busybox();
    let ticker = "i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done";
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (code, id, err) = d.docker(&["run", "-d", "busybox", "sh", "-c", ticker]);
        assert_eq!(code, 0, "{err}");
        ids.push(id.trim().to_string());
        let (code, _, err) = d.docker(&["pause", id.trim()]);
        assert_eq!(code, 0, "{err}");
    }
    // The first as a commit leaves it when killed between pause and resume.
    let dir = d.dir.path().join(common::DATA_ROOT).join("containers");
    std::fs::write(dir.join(&ids[0]).join("commit-paused"), "").unwrap();
    d.kill9();
    d.restart();
    let status = |id: &str| d.docker(&["inspect", "-f", "{{.State.Status}}", id]).1;
    assert_eq!(status(&ids[0]).trim(), "running");
    assert_eq!(status(&ids[1]).trim(), "paused", "a user's pause stays");
    assert!(!dir.join(&ids[0]).join("commit-paused").exists());
    let last = |id: &str| {
        let (_, out, _) = d.docker(&["logs", "--tail", "1", id]);
        out.trim().parse::<u64>().unwrap_or(0)
    };
    let before = last(&ids[0]);
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert!(last(&ids[0]) > before, "its log goes on");
}

/// `docker image prune` while a build runs: the build's intermediate
/// images are untagged until it ends, and the collector took their layers
/// from under the next step (`invalid image: mount overlay on …`, found by
/// the torture harness). The build holds the collector off now.
#[test]
fn issue16_a_prune_during_a_build_does_not_break_it() {
    let d = Daemon::with_busybox();
    let ctx = d.dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo 1 > /a\nCOPY Dockerfile /d1\nRUN echo 2 > /b\nCOPY Dockerfile /d2\nRUN echo 3 > /c\nCOPY Dockerfile /d3\nRUN cat /a /b /c\n",
    )
    .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (code, out, err) = std::thread::scope(|s| {
        s.spawn(|| {
            // As often as the API answers: the window is between a step's
            // commit and the next step's mount.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = post_json(&d, "/images/prune", "");
            }
        });
        let r = d.docker(&[
            "build",
            "-q",
            "--no-cache",
            "-t",
            "pruned",
            ctx.to_str().unwrap(),
        ]);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        r
    });
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = d.docker(&["run", "--rm", "pruned", "cat", "/a", "/b", "/c"]);
    assert_eq!((code, out.as_str()), (0, "1\n2\n3\n"), "{err}");
    assert_eq!(problems(&d), Vec::<String>::new());
}

/// A push compresses a layer once and keeps the blob, named in the layer's
/// record. An import of the same layer recorded the layer again with only
/// its own blob, so the next prune took the pushed one, and a push in
/// flight failed reading it (found by the torture harness).
#[test]
fn issue16_a_pushed_blob_survives_a_reimport_and_a_prune() {
    let reg = common::registry::Registry::start(Default::default());
    let d = Daemon::with_busybox();
    let remote = format!("{}/keep/bb:1", reg.host);
    for args in [vec!["tag", "busybox", &remote], vec!["push", &remote]] {
        let (code, out, err) = d.docker(&args);
        assert_eq!(code, 0, "{out}{err}");
    }
    // The layer's blob as pushed (gzip), from the registry's manifest.
    let out = std::process::Command::new("curl")
        .args([
            "-sf",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
        ])
        .arg(format!("http://{}/v2/keep/bb/manifests/1", reg.host))
        .output()
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = d
        .dir
        .path()
        .join(common::DATA_ROOT)
        .join("image/blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    assert!(blob.exists());
    // The same layer imported again, then a prune.
    // (The tar `with_busybox` imported.)
    let tar = d.dir.path().join("busybox.tar");
    let (code, _, err) = d.docker(&["import", tar.to_str().unwrap(), "again"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = d.docker(&["image", "prune", "-f"]);
    assert_eq!(code, 0, "{err}");
    assert!(blob.exists(), "the pushed blob was collected");
    let (code, out, err) = d.docker(&["push", &remote]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(problems(&d), Vec::<String>::new());
}

/// Prunes at once: an image one of them removed is skipped by the others,
/// not a failure (`No such image`, found by the torture harness).
#[test]
fn issue16_concurrent_prunes_all_succeed() {
    let d = Daemon::with_busybox();
    let tar = d.dir.path().join("busybox.tar");
    for round in 0..3 {
        // Dangling images: imported without a name, each with its own config.
        for i in 0..12 {
            let msg = format!("r{round}-{i}");
            let (code, _, err) = d.docker(&["import", "-m", &msg, tar.to_str().unwrap()]);
            assert_eq!(code, 0, "{err}");
        }
        let results: Vec<(u16, String)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| post_json(&d, "/images/prune", "")))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (code, body) in &results {
            assert_eq!(*code, 200, "round {round}: {body}");
        }
        let (_, left, _) = d.docker(&["images", "-q", "--filter", "dangling=true"]);
        assert_eq!(left.trim(), "", "round {round}");
    }
}

/// A prune listed the dangling images, then removed them one by one; a
/// build meanwhile hit its cache on one of them, tagged it and answered, and
/// the prune removed it, tag and all (found by the torture harness: `build`
/// acknowledged, its tag gone). The prune now runs alone from its list to
/// its collection, and a build holds it off for its whole run.
#[test]
fn issue16_a_prune_never_takes_a_build_it_raced() {
    let d = Daemon::with_busybox();
    let ctx = d.dir.path().join("ctx-race");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nARG N\nLABEL n=$N\n").unwrap();
    let tar = d.dir.path().join("busybox.tar");
    let build = |n: usize, tag: Option<&str>| {
        let arg = format!("N={n}");
        let mut args = vec!["build", "-q", "--build-arg", &arg];
        if let Some(t) = tag {
            args.extend(["-t", t]);
        }
        args.push(ctx.to_str().unwrap());
        let (code, out, err) = d.docker(&args);
        assert_eq!(code, 0, "{out}{err}");
        out.trim().to_string()
    };
    const CACHED: usize = 6;
    // The race is lost in some rounds only: a few of them.
    let mut lost = Vec::new();
    for round in 0..3 {
        for n in 0..CACHED {
            build(round * CACHED + n, None);
        }
        // More dangling images: the prune's removals take a while.
        for i in 0..16 {
            let msg = format!("filler {round} {i}");
            let (code, _, err) = d.docker(&["import", "-m", &msg, tar.to_str().unwrap()]);
            assert_eq!(code, 0, "{err}");
        }
        lost = std::thread::scope(|s| {
            let prune = s.spawn(|| post_json(&d, "/images/prune", ""));
            let builds: Vec<_> = (0..CACHED)
                .map(|n| {
                    let (build, d) = (&build, &d);
                    s.spawn(move || {
                        let tag = format!("raced{round}:{n}");
                        let id = build(round * CACHED + n, Some(&tag));
                        let (code, got, _) = d.docker(&["image", "inspect", "-f", "{{.Id}}", &tag]);
                        (code != 0 || got.trim() != id).then_some(tag)
                    })
                })
                .collect();
            let lost = builds
                .into_iter()
                .filter_map(|h| h.join().unwrap())
                .collect();
            assert_eq!(prune.join().unwrap().0, 200);
            lost
        });
        // Each tag names its build's image, after the prune too.
        for n in 0..CACHED {
            let tag = format!("raced{round}:{n}");
            if d.docker(&["image", "inspect", &tag]).0 != 0 && !lost.contains(&tag) {
                lost.push(tag);
            }
        }
        if !lost.is_empty() {
            break;
        }
    }
    assert_eq!(
        lost,
        Vec::<String>::new(),
        "builds whose image a prune took"
    );
    assert_eq!(problems(&d), Vec::<String>::new());
}

/// The log as dockerd's flags set it: `-D` logs each request at debug, the
/// default level does not, and a level dockerd does not know stops the
/// start with one line.
#[test]
fn log_levels_as_dockerds_flags() {
    let dir = tempfile::tempdir().unwrap();
    let berthd = |extra: &[&str], log: &std::path::Path| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_berthd"));
        c.args(extra)
            .args(["--bridge", "none", "-H"])
            .arg(format!("unix://{}", dir.path().join("s.sock").display()))
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("berthd.pid"))
            .stderr(std::fs::File::create(log).unwrap());
        c
    };
    let out = berthd(&["--log-level", "loud"], &dir.path().join("bad"))
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("bad")).unwrap(),
        "berthd: unable to parse logging level: loud\n"
    );
    for (flags, logged) in [(&["-D"][..], true), (&[][..], false)] {
        let log = dir.path().join("log");
        let mut child = berthd(flags, &log).spawn().unwrap();
        common::eventually("berthd to listen", || {
            UnixStream::connect(dir.path().join("s.sock")).is_ok()
        });
        let mut s = UnixStream::connect(dir.path().join("s.sock")).unwrap();
        std::io::Write::write_all(&mut s, b"GET /v1.47/version HTTP/1.0\r\n\r\n").unwrap();
        let mut answer = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut answer);
        assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
        // SAFETY: signals our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let _ = child.wait();
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("berthd: info: API listening on "), "{text}");
        assert_eq!(
            text.contains("berthd: debug: GET /v1.47/version"),
            logged,
            "{flags:?}: {text}"
        );
    }
}
