//! Containers through berthd, driven by the real docker CLI: run in the
//! foreground and detached, the lifecycle verbs, logs, restart policies,
//! and a daemon killed with -9 while a container runs.

mod common;

use std::time::{Duration, Instant};

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

#[test]
fn run_in_the_foreground() {
    let d = Daemon::with_busybox();
    let (code, out, err) = d.docker(&["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!((code, out.as_str()), (0, "hi\n"), "{err}");
    // stdout and stderr apart, and the exit code is the container's.
    let (code, out, err) = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!((code, out.as_str(), err.as_str()), (3, "out\n", "err\n"));
    // A command that cannot run: 127 and Docker's words; --rm still removes.
    let (code, _, err) = d.docker(&["run", "--rm", "busybox", "nosuchcmd"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("executable file not found in $PATH"), "{err}");
    // Env, workdir, user and hostname as Docker sets them.
    let out = ok(d.docker(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "1000:1000",
        "--hostname",
        "box",
        "busybox",
        "sh",
        "-c",
        "echo $A $(pwd) $(id -u):$(id -g) $(hostname)",
    ]));
    assert_eq!(out, "1 /tmp 1000:1000 box\n");
    assert_eq!(ok(d.docker(&["ps", "-aq"])), "", "--rm left containers");
    // Their directories go too (renamed away, then removed on a thread).
    let cdir = d.dir.path().join(common::DATA_ROOT).join("containers");
    eventually("removed containers' directories to go", || {
        std::fs::read_dir(&cdir).map_or(true, |r| r.count() == 0)
    });
    // Without --rm the container stays, exited, with its code.
    let (code, _, _) = d.docker(&["run", "--name", "once", "busybox", "sh", "-c", "exit 4"]);
    assert_eq!(code, 4);
    assert_eq!(
        inspect(&d, "once", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 4"
    );
    // start -a runs it again and waits for this run's exit.
    assert_eq!(d.docker(&["start", "-a", "once"]).0, 4);
}

#[test]
fn detached_lifecycle() {
    let d = Daemon::with_busybox();
    let id = ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "--label",
        "tier=front",
        "busybox",
        "sleep",
        "1000",
    ]));
    let id = id.trim();
    assert_eq!(id.len(), 64);
    // Docker's conflict text, and exit code 125 from the CLI.
    let (code, _, err) = d.docker(&["run", "-d", "--name", "web", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("Conflict. The container name \"/web\" is already in use by container"),
        "{err}"
    );
    let pid: i32 = inspect(&d, "web", "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(
        inspect(
            &d,
            "web",
            "{{.State.Status}} {{.State.Running}} {{json .Config.Cmd}} {{.Config.Hostname}}"
        ),
        format!("running true [\"sleep\",\"1000\"] {}", &id[..12])
    );
    assert_eq!(
        ok(d.docker(&[
            "ps",
            "--filter",
            "label=tier=front",
            "--format",
            "{{.Names}} {{.Command}}"
        ]))
        .trim(),
        "web \"sleep 1000\""
    );
    assert_eq!(
        ok(d.docker(&["ps", "--filter", "label=tier=back", "-q"])),
        ""
    );
    // Pause freezes it (the freezer cgroup), unpause thaws.
    ok(d.docker(&["pause", "web"]));
    assert_eq!(
        inspect(&d, "web", "{{.State.Status}} {{.State.Paused}}"),
        "paused true"
    );
    let (code, _, err) = d.docker(&["pause", "web"]);
    assert!(code != 0 && err.contains("is already paused"), "{err}");
    let info = ok(d.docker(&[
        "info",
        "--format",
        "{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}}",
    ]));
    assert_eq!(info.trim(), "1 0 1 0");
    ok(d.docker(&["unpause", "web"]));
    assert_eq!(inspect(&d, "web", "{{.State.Status}}"), "running");
    ok(d.docker(&["rename", "web", "web2"]));
    assert_eq!(inspect(&d, id, "{{.Name}}"), "/web2");
    // The old name is free again, the new one taken (the names index).
    ok(d.docker(&["create", "--name", "web", "busybox", "true"]));
    ok(d.docker(&["rm", "web"]));
    let (code, _, err) = d.docker(&["create", "--name", "web2", "busybox", "true"]);
    assert!(
        code != 0 && err.contains("is already in use by container"),
        "{err}"
    );
    // A running container is not removed without force.
    let (code, _, err) = d.docker(&["rm", "web2"]);
    assert!(
        code != 0
            && err.contains(
                "container is running: stop the container before removing or force remove"
            ),
        "{err}"
    );
    // sleep as pid 1 ignores SIGTERM: stop waits out the timeout, then kills.
    let t = Instant::now();
    ok(d.docker(&["stop", "-t", "1", "web2"]));
    assert!(
        t.elapsed() >= Duration::from_millis(900) && t.elapsed() < Duration::from_secs(5),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(
        inspect(&d, "web2", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default()
                != "sleep\x001000\x00"
    );
    ok(d.docker(&["start", "web2"]));
    assert_eq!(inspect(&d, "web2", "{{.State.Status}}"), "running");
    ok(d.docker(&["restart", "-t", "0", "web2"]));
    assert_eq!(inspect(&d, "web2", "{{.State.Status}}"), "running");
    ok(d.docker(&["kill", "web2"]));
    eventually("the kill", || {
        inspect(&d, "web2", "{{.State.Status}} {{.State.ExitCode}}") == "exited 137"
    });
    // A stopped container is listed with -a only, with Docker's status text.
    assert_eq!(ok(d.docker(&["ps", "-q"])), "");
    let status = ok(d.docker(&["ps", "-a", "--format", "{{.Status}}"]));
    assert!(status.starts_with("Exited (137) "), "{status}");
    ok(d.docker(&["rm", "web2"]));
    let (code, _, err) = d.docker(&["rm", "web2"]);
    assert!(
        code != 0 && err.contains("No such container: web2"),
        "{err}"
    );
}

#[test]
fn stop_signal_and_kill_signal() {
    let d = Daemon::with_busybox();
    // A process that exits 0 on TERM stops at once.
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "t",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done",
    ]));
    // A signal sent before the shell set its trap would end it otherwise
    // (seen under load): each stop and kill waits for the `ready` after it.
    let ready = |name: &str, n: usize| {
        eventually("the shell's traps", || {
            d.docker(&["logs", name]).1.matches("ready").count() >= n
        })
    };
    ready("t", 1);
    let t = Instant::now();
    ok(d.docker(&["stop", "t"]));
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(inspect(&d, "t", "{{.State.ExitCode}}"), "0");
    // --stop-signal is the one stop sends; kill -s sends any.
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "u",
        "--stop-signal",
        "USR1",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 10' USR1; trap 'exit 12' USR2; echo ready; while true; do sleep 0.1; done",
    ]));
    ready("u", 1);
    ok(d.docker(&["stop", "u"]));
    assert_eq!(inspect(&d, "u", "{{.State.ExitCode}}"), "10");
    ok(d.docker(&["start", "u"]));
    ready("u", 2);
    ok(d.docker(&["kill", "-s", "USR2", "u"]));
    eventually("USR2", || {
        inspect(&d, "u", "{{.State.Status}} {{.State.ExitCode}}") == "exited 12"
    });
    let (code, _, err) = d.docker(&["kill", "u"]);
    assert!(code != 0 && err.contains("is not running"), "{err}");
}

#[test]
fn logs() {
    let d = Daemon::with_busybox();
    ok(d.docker(&[
        "run",
        "--name",
        "l",
        "busybox",
        "sh",
        "-c",
        "echo one; echo two; echo three >&2",
    ]));
    let (_, out, err) = d.docker(&["logs", "l"]);
    assert_eq!((out.as_str(), err.as_str()), ("one\ntwo\n", "three\n"));
    // The last line of the log, whichever stream it came from (the shim
    // reads the two pipes apart, so their order between them may vary).
    let (_, out, err) = d.docker(&["logs", "--tail", "1", "l"]);
    assert!(
        (out.as_str(), err.as_str()) == ("two\n", "")
            || (out.as_str(), err.as_str()) == ("", "three\n"),
        "{out}|{err}"
    );
    let (_, out_t, _) = d.docker(&["logs", "-t", "l"]);
    let first = out_t.lines().next().unwrap_or("");
    assert!(
        first.starts_with("20") && first.ends_with("Z one"),
        "{first}"
    );
    // follow ends when the container does, with everything it printed.
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "f",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo $i; sleep 0.2; done",
    ]));
    let (code, out, _) = d.docker(&["logs", "-f", "f"]);
    assert_eq!((code, out.as_str()), (0, "1\n2\n3\n"));
}

#[test]
fn restart_policies() {
    let d = Daemon::with_busybox();
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "f",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]));
    eventually("two restarts", || {
        inspect(&d, "f", "{{.RestartCount}} {{.State.Status}}") == "2 exited"
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        inspect(&d, "f", "{{.RestartCount}} {{.State.ExitCode}}"),
        "2 1"
    );
    // on-failure leaves a clean exit alone.
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "z",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ]));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        inspect(&d, "z", "{{.RestartCount}} {{.State.Status}}"),
        "0 exited"
    );
    // always brings it back; a user stop ends that.
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "a",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2",
    ]));
    eventually("a restart", || {
        inspect(&d, "a", "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap_or(0)
            >= 1
    });
    // Waiting for its restart it is not removed without force, as dockerd
    // refuses (docker-py's test_create_with_restart_policy: wait, then rm).
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "r",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]));
    ok(d.docker(&["wait", "r"]));
    let (code, _, err) = d.docker(&["rm", "r"]);
    assert_ne!(code, 0, "a restarting container was removed");
    assert!(
        err.contains("stop the container before removing or force remove"),
        "{err}"
    );
    ok(d.docker(&["rm", "-f", "r"]));
    ok(d.docker(&["stop", "a"]));
    let count = inspect(&d, "a", "{{.RestartCount}}");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        inspect(&d, "a", "{{.State.Status}} {{.RestartCount}}"),
        format!("exited {count}")
    );
}

#[test]
fn containers_outlive_a_killed_daemon() {
    let mut d = Daemon::with_busybox();
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "long",
        "busybox",
        "sh",
        "-c",
        "echo before; sleep 2; echo after; exit 7",
    ]));
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "back",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]));
    eventually("a restart", || {
        inspect(&d, "back", "{{.RestartCount}}") != "0"
    });
    let pid = inspect(&d, "long", "{{.State.Pid}}");
    d.kill9();
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the container died with the daemon"
    );
    d.restart();
    assert_eq!(
        inspect(&d, "long", "{{.State.Status}} {{.State.Pid}}"),
        format!("running {pid}")
    );
    let (code, out, _) = d.docker(&["wait", "long"]);
    assert_eq!((code, out.trim()), (0, "7"));
    assert_eq!(ok(d.docker(&["logs", "long"])), "before\nafter\n");
    assert_eq!(
        inspect(&d, "long", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 7"
    );
    // The restarted daemon unmounted the exited container's root.
    let rootfs = d
        .dir
        .path()
        .join(common::DATA_ROOT)
        .join("containers")
        .join(inspect(&d, "long", "{{.Id}}"))
        .join("rootfs");
    eventually("the unmount", || {
        !std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(rootfs.to_str().unwrap())
    });
    // And the always-restart container is still cycling under the new daemon.
    let n: u32 = inspect(&d, "back", "{{.RestartCount}}").parse().unwrap();
    eventually("a restart after the daemon's", || {
        inspect(&d, "back", "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap_or(0)
            > n
    });
}

#[test]
fn api_errors() {
    let d = Daemon::with_busybox();
    let (head, body) = d.http("GET", "/v1.47/containers/nope/json");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert!(
        body.contains("\"message\":\"No such container: nope\""),
        "{body}"
    );
    let (head, _) = d.http("POST", "/v1.47/containers/nope/start");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let (head, body) = d.http(
        "GET",
        "/v1.47/containers/json?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D",
    );
    assert!(
        head.starts_with("HTTP/1.1 400") && body.contains("invalid filter 'bogus'"),
        "{head}{body}"
    );
    let (code, _, err) = d.docker(&["create", "--name", "bad/name", "busybox"]);
    assert!(code != 0 && err.contains("Invalid container name"), "{err}");
    // The CLI asks the daemon for a missing image and then tries to pull it
    // (from Docker Hub, which this machine cannot reach: a pull error).
    let (code, _, err) = d.docker(&["create", "nosuchimage"]);
    assert!(
        code != 0
            && err.contains("Unable to find image 'nosuchimage:latest' locally")
            && err.contains("Error response from daemon"),
        "{err}"
    );
}

#[test]
fn images_in_use_by_containers() {
    let d = Daemon::with_busybox();
    ok(d.docker(&["run", "--name", "s", "busybox", "true"]));
    let (code, _, err) = d.docker(&["rmi", "busybox"]);
    assert!(
        code != 0
            && err.contains("(must force) - container")
            && err.contains("is using its referenced image"),
        "{err}"
    );
    let image = inspect(&d, "s", "{{.Image}}");
    let (code, _, err) = d.docker(&["rmi", &image]);
    assert!(
        code != 0 && err.contains("image is being used by stopped container"),
        "{err}"
    );
    ok(d.docker(&["run", "-d", "--name", "r", "busybox", "sleep", "100"]));
    ok(d.docker(&["tag", "busybox", "other"]));
    ok(d.docker(&["rmi", "other"]));
    let (code, _, err) = d.docker(&["rmi", "-f", "busybox"]);
    assert_eq!(code, 0, "{err}");
    // Forced away, the image's layers stay for its containers.
    ok(d.docker(&["start", "-a", "s"]));
    assert_eq!(inspect(&d, "r", "{{.State.Status}}"), "running");
}

#[test]
fn diff_commit_export() {
    let d = Daemon::with_busybox();
    ok(d.docker(&[
        "run",
        "--name",
        "c",
        "busybox",
        "sh",
        "-c",
        "echo hi > /new; rm /bin/ls; rm -r /usr; mkdir -p /tmp/x",
    ]));
    let diff = ok(d.docker(&["diff", "c"]));
    for line in ["A /new", "D /bin/ls", "D /usr", "A /tmp/x", "C /bin"] {
        assert!(
            diff.lines().any(|l| l == line),
            "{line} missing from\n{diff}"
        );
    }
    assert!(!diff.contains("/etc/hostname"), "{diff}");
    let id = ok(d.docker(&[
        "commit",
        "-a",
        "me",
        "-m",
        "a message",
        "-c",
        "ENV X=1",
        "-c",
        "CMD [\"sh\", \"-c\", \"echo $X\"]",
        "c",
        "snap:v1",
    ]));
    assert!(id.trim().starts_with("sha256:"), "{id}");
    // The deletions hide the image's files in the new image.
    let out = ok(d.docker(&[
        "run",
        "--rm",
        "snap:v1",
        "sh",
        "-c",
        "cat /new; test -e /bin/ls || echo no-ls; test -e /usr || echo no-usr",
    ]));
    assert_eq!(out, "hi\nno-ls\nno-usr\n");
    assert_eq!(ok(d.docker(&["run", "--rm", "snap:v1"])), "1\n");
    assert_eq!(
        inspect(&d, "snap:v1", "{{.Author}}|{{.Comment}}"),
        "me|a message"
    );
    let hist = ok(d.docker(&["history", "--format", "{{.Comment}}", "snap:v1"]));
    assert!(hist.starts_with("a message\n"), "{hist}");
    // As Docker's: CREATED BY is the container's command; the rows below
    // carry the ids of the image's parents (here the base's).
    let hist = ok(d.docker(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}}|{{.CreatedBy}}",
        "snap:v1",
    ]));
    let base = inspect(&d, "busybox", "{{.Id}}");
    let rows: Vec<&str> = hist.lines().collect();
    assert_eq!(
        rows[0],
        format!(
            "{}|sh -c echo hi > /new; rm /bin/ls; rm -r /usr; mkdir -p /tmp/x",
            inspect(&d, "snap:v1", "{{.Id}}")
        ),
        "{hist}"
    );
    assert!(rows[1].starts_with(&format!("{base}|")), "{hist}");
    // export: the container's view, deletions applied.
    let tar = d.dir.path().join("c.tar");
    ok(d.docker(&["export", "-o", tar.to_str().unwrap(), "c"]));
    let list = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        list.lines().any(|l| l.trim_start_matches("./") == "new"),
        "{list}"
    );
    assert!(
        !list.lines().any(|l| l.trim_start_matches("./") == "bin/ls"),
        "bin/ls exported"
    );
    assert!(
        list.lines().any(|l| l.trim_start_matches("./") == "bin/sh"),
        "{list}"
    );
    // Commit of a running container pauses it and leaves it running.
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "r",
        "busybox",
        "sh",
        "-c",
        "echo x > /f; sleep 100",
    ]));
    eventually("the file", || d.docker(&["diff", "r"]).1.contains("A /f"));
    ok(d.docker(&["commit", "r", "snap:v2"]));
    assert_eq!(inspect(&d, "r", "{{.State.Status}}"), "running");
    assert_eq!(
        ok(d.docker(&["run", "--rm", "--entrypoint", "cat", "snap:v2", "/f"])),
        "x\n"
    );
    // A commit right after the start of a command that ends at once finds
    // it running, then stopped when it pauses it: dockerd commits it all
    // the same (docker-py's CommitTest: start of `touch`, then commit).
    use std::io::{Read, Write};
    let post = |path: &str, body: &str| {
        let mut s = std::os::unix::net::UnixStream::connect(d.socket()).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    for i in 0..10 {
        let name = format!("quick{i}");
        let r = post(
            &format!("/containers/create?name={name}"),
            r#"{"Image":"busybox","Cmd":["touch","/t"]}"#,
        );
        assert!(r.starts_with("HTTP/1.1 201"), "{r}");
        let r = post(&format!("/containers/{name}/start"), "");
        assert!(r.starts_with("HTTP/1.1 204"), "{r}");
        let r = post(&format!("/commit?container={name}&pause=1"), "{}");
        assert!(r.starts_with("HTTP/1.1 201"), "{r}");
    }
}

#[test]
fn events_and_disk_usage() {
    let d = Daemon::with_busybox();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        - 1.0;
    assert_eq!(
        d.docker(&["run", "--name", "ev", "--label", "team=a", "busybox", "sh", "-c", "exit 2"])
            .0,
        2
    );
    ok(d.docker(&["tag", "busybox", "ev-image"]));
    ok(d.docker(&["rm", "ev"]));
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 1.0;
    let (since, until) = (format!("{start:.3}"), format!("{until:.3}"));
    let out = ok(d.docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=container",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}",
    ]));
    let actions: Vec<&str> = out
        .lines()
        .map(|l| l.trim_end_matches("<no value>").trim())
        .collect();
    for want in [
        "create ev",
        "attach ev",
        "start ev",
        "die ev 2",
        "destroy ev",
    ] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    let pos = |a: &str| actions.iter().position(|x| *x == a).unwrap();
    assert!(
        pos("create ev") < pos("start ev")
            && pos("start ev") < pos("die ev 2")
            && pos("die ev 2") < pos("destroy ev")
    );
    // Filters: by label and by action; images have their own events.
    let out = ok(d.docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "label=team=a",
        "--filter",
        "event=die",
        "--format",
        "{{.Action}}",
    ]));
    assert_eq!(out.trim(), "die");
    let out = ok(d.docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=image",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]));
    assert!(out.lines().any(|l| l == "tag ev-image:latest"), "{out}");
    // A live stream sees what happens after it began.
    let mut child = std::process::Command::new("docker")
        .args([
            "events",
            "--filter",
            "event=start",
            "--format",
            "{{.Actor.Attributes.name}}",
        ])
        .env("DOCKER_HOST", format!("unix://{}", d.socket().display()))
        .env("DOCKER_CONFIG", d.dir.path().join("docker-config"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    ok(d.docker(&["run", "--rm", "--name", "live", "busybox", "true"]));
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "live");
    // system df: the image, one container of 100 kB in its writable layer.
    ok(d.docker(&[
        "run",
        "--name",
        "sized",
        "busybox",
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /f",
    ]));
    let out = ok(d.docker(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}}",
    ]));
    assert!(out.lines().any(|l| l == "Containers 1 0 100kB"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("Images 1 1 ")), "{out}");
}

#[test]
fn binds_and_log_rotation() {
    let d = Daemon::with_busybox();
    let host = d.dir.path().join("shared");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in"), "from the host\n").unwrap();
    let ro = format!("{}:/data:ro", host.display());
    let rw = format!("{}:/data", host.display());
    assert_eq!(
        ok(d.docker(&["run", "--rm", "-v", &ro, "busybox", "cat", "/data/in"])),
        "from the host\n"
    );
    let (code, _, err) = d.docker(&["run", "--rm", "-v", &ro, "busybox", "touch", "/data/x"]);
    assert!(code != 0 && err.contains("Read-only file system"), "{err}");
    ok(d.docker(&[
        "run",
        "--rm",
        "-v",
        &rw,
        "busybox",
        "sh",
        "-c",
        "echo back > /data/out",
    ]));
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "back\n");
    // A missing host directory is made, as Docker's -v makes it.
    let fresh = d.dir.path().join("made/by/berth");
    ok(d.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/m", fresh.display()),
        "busybox",
        "true",
    ]));
    assert!(fresh.is_dir());
    // A source that is no path names a volume (tests/volumes.rs).
    ok(d.docker(&["run", "--rm", "-v", "myvolume:/data", "busybox", "true"]));
    // json-file rotation: at most max-file files of about max-size each,
    // and logs reads across them.
    ok(d.docker(&[
        "run",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 400 ]; do echo line$i; i=$((i+1)); done",
    ]));
    let id = inspect(&d, "chatty", "{{.Id}}");
    let dir = d
        .dir
        .path()
        .join(common::DATA_ROOT)
        .join("containers")
        .join(&id);
    let mut logs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ctr.log"))
        .collect();
    logs.sort();
    assert_eq!(logs, ["ctr.log", "ctr.log.1", "ctr.log.2"]);
    for l in &logs {
        assert!(
            std::fs::metadata(dir.join(l)).unwrap().len() <= 2048,
            "{l} is over max-size"
        );
    }
    let out = ok(d.docker(&["logs", "chatty"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.last(), Some(&"line399"));
    // Contiguous: what is kept is the end of the output, in order.
    let first: usize = lines[0].trim_start_matches("line").parse().unwrap();
    assert!(first > 0, "nothing rotated away");
    assert!(
        lines
            .iter()
            .enumerate()
            .all(|(i, l)| *l == format!("line{}", first + i)),
        "{out}"
    );
    let (code, _, err) = d.docker(&["run", "--rm", "--log-driver", "syslog", "busybox", "true"]);
    assert!(
        code != 0 && err.contains("logging driver \"syslog\" is not supported"),
        "{err}"
    );
}

#[test]
fn init_forwards_signals_and_passes_the_exit_code() {
    let d = Daemon::with_busybox();
    let ps = ok(d.docker(&["run", "--rm", "--init", "busybox", "ps", "-o", "pid,comm"]));
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "init"]),
        "{ps}"
    );
    assert_eq!(
        d.docker(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 3"])
            .0,
        3
    );
    // sleep under an init gets the SIGTERM (as pid 1 it would ignore it).
    ok(d.docker(&[
        "run", "-d", "--init", "--name", "i", "busybox", "sleep", "100",
    ]));
    let t = Instant::now();
    ok(d.docker(&["stop", "i"]));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(
        inspect(&d, "i", "{{.State.ExitCode}} {{.HostConfig.Init}}"),
        "143 true"
    );
}

#[test]
fn container_prune() {
    let d = Daemon::with_busybox();
    ok(d.docker(&[
        "run",
        "--name",
        "done1",
        "busybox",
        "sh",
        "-c",
        "head -c 5000 /dev/zero > /f",
    ]));
    ok(d.docker(&[
        "create", "--name", "made", "--label", "keep=no", "busybox", "true",
    ]));
    ok(d.docker(&["run", "-d", "--name", "up", "busybox", "sleep", "100"]));
    let out = ok(d.docker(&["container", "prune", "-f"]));
    assert!(out.contains("Total reclaimed space: 5kB"), "{out}");
    assert_eq!(
        ok(d.docker(&["ps", "-a", "--format", "{{.Names}}"])).trim(),
        "up"
    );
}

#[test]
fn limits_capabilities_and_privileges() {
    let d = Daemon::with_busybox();
    // The cgroup limits, read from inside (cgroup v1 or v2 file names).
    let out = ok(d.docker(&["run", "--rm", "-m", "64m", "--pids-limit", "50", "--cpus", "0.5", "busybox", "sh", "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null; true"]));
    let words: Vec<&str> = out.split_whitespace().collect();
    assert!(
        words.contains(&"67108864") && words.contains(&"50") && words.contains(&"50000"),
        "{out}"
    );
    let (code, _, err) = d.docker(&["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert!(code != 0 && err.contains("Read-only file system"), "{err}");
    let cap_eff = |args: &[&str]| {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["busybox", "grep", "CapEff", "/proc/self/status"]);
        u64::from_str_radix(ok(d.docker(&a)).split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    const NET_ADMIN: u64 = 1 << 12;
    const CHOWN: u64 = 1;
    let default = cap_eff(&[]);
    assert_eq!(default, 0xa80425fb, "Docker's default set");
    assert_eq!(cap_eff(&["--cap-add", "NET_ADMIN"]), default | NET_ADMIN);
    assert_eq!(cap_eff(&["--cap-drop", "CHOWN"]), default & !CHOWN);
    assert_eq!(cap_eff(&["--cap-drop", "ALL"]), 0);
    // Privileged: every capability this daemon holds, the host's devices,
    // no seccomp.
    let bounding = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = u64::from_str_radix(
        bounding
            .lines()
            .find(|l| l.starts_with("CapBnd"))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap(),
        16,
    )
    .unwrap();
    assert_eq!(cap_eff(&["--privileged"]), bounding);
    let out = ok(d.docker(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; test -e /dev/kmsg && echo kmsg",
    ]));
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["Seccomp:", "0", "kmsg"]
    );
    let out = ok(d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; test -e /dev/kmsg || echo no-kmsg",
    ]));
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["Seccomp:", "2", "no-kmsg"]
    );
}

#[test]
fn restart_policies_at_daemon_start() {
    let mut d = Daemon::with_busybox();
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "1000",
    ]));
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "unless",
        "--restart",
        "unless-stopped",
        "busybox",
        "sleep",
        "1000",
    ]));
    ok(d.docker(&["run", "-d", "--name", "never", "busybox", "sleep", "1000"]));
    ok(d.docker(&["stop", "-t", "0", "unless"]));
    let pids: Vec<String> = ["always", "never"]
        .iter()
        .map(|n| inspect(&d, n, "{{.State.Pid}}"))
        .collect();
    // As after a reboot: the daemon and every container process die.
    d.kill9();
    for dir in std::fs::read_dir(d.dir.path().join(common::DATA_ROOT).join("containers"))
        .unwrap()
        .flatten()
    {
        if let Ok(pid) = std::fs::read_to_string(dir.path().join("shim.pid")) {
            // `PID START BOOT_ID`: the pid is the first word.
            let pid = pid.split_whitespace().next().unwrap().parse().unwrap();
            // SAFETY: signals a process of this test's daemon.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    for pid in &pids {
        // SAFETY: as above.
        unsafe { libc::kill(pid.parse().unwrap(), libc::SIGKILL) };
    }
    // A create cut short by the crash: a directory without a record.
    let orphan = d
        .dir
        .path()
        .join(common::DATA_ROOT)
        .join("containers")
        .join("ab".repeat(32));
    std::fs::create_dir_all(orphan.join("upper")).unwrap();
    // A removal cut short: its directory renamed away, not yet removed.
    let doomed = orphan.with_file_name(format!(".rm-{}", "cd".repeat(32)));
    std::fs::create_dir_all(doomed.join("upper/deep")).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    d.restart();
    eventually("the orphan directory to go", || !orphan.exists());
    eventually("the half-removed directory to go", || !doomed.exists());
    eventually("always to run again", || {
        inspect(&d, "always", "{{.State.Status}}") == "running"
    });
    assert_ne!(inspect(&d, "always", "{{.State.Pid}}"), pids[0]);
    assert_eq!(inspect(&d, "unless", "{{.State.Status}}"), "exited");
    assert_eq!(inspect(&d, "never", "{{.State.Status}}"), "exited");
}

#[test]
fn restart_policy_checks() {
    let d = Daemon::with_busybox();
    let (code, _, err) = d.docker(&["run", "-d", "--restart", "bogus", "busybox", "true"]);
    assert!(code != 0 && err.contains("invalid restart policy"), "{err}");
    let (code, _, err) = d.docker(&["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert!(
        code != 0 && err.contains("--restart and --rm") || err.contains("AutoRemove"),
        "{err}"
    );
    assert_eq!(ok(d.docker(&["ps", "-aq"])), "");
}

#[test]
fn exec_joins_the_container() {
    let d = Daemon::with_busybox();
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "x",
        "--hostname",
        "inside",
        "busybox",
        "sleep",
        "100",
    ]));
    // Output split, exit code, the container's namespaces (its hostname and
    // pid 1 are the container's).
    let (code, out, err) = d.docker(&[
        "exec",
        "x",
        "sh",
        "-c",
        "echo out; echo err >&2; hostname; cat /proc/1/comm; exit 5",
    ]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (5, "out\ninside\nsleep\n", "err\n")
    );
    let out = ok(d.docker(&[
        "exec",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "1000:1000",
        "x",
        "sh",
        "-c",
        "echo $A $(pwd) $(id -u):$(id -g)",
    ]));
    assert_eq!(out, "1 /tmp 1000:1000\n");
    // Same cgroup as the init.
    let out = ok(d.docker(&[
        "exec",
        "x",
        "sh",
        "-c",
        "test \"$(cat /proc/self/cgroup)\" = \"$(cat /proc/1/cgroup)\" && echo same",
    ]));
    assert_eq!(out, "same\n");
    let (code, _, err) = d.docker(&["exec", "x", "nosuch"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("executable file not found"), "{err}");
    // Detached: returns at once, the process runs in the container.
    ok(d.docker(&["exec", "-d", "x", "sh", "-c", "echo done > /tmp/d"]));
    eventually("the detached exec", || {
        d.docker(&["exec", "x", "cat", "/tmp/d"]).1 == "done\n"
    });
    ok(d.docker(&["stop", "-t", "0", "x"]));
    let (code, _, err) = d.docker(&["exec", "x", "true"]);
    assert!(code != 0 && err.contains("is not running"), "{err}");
}

#[test]
fn top_lists_the_containers_processes() {
    let d = Daemon::with_busybox();
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "t",
        "busybox",
        "sh",
        "-c",
        "sleep 101 & sleep 102",
    ]));
    eventually("both sleeps", || {
        d.docker(&["top", "t"]).1.contains("sleep 101")
    });
    let out = ok(d.docker(&["top", "t"]));
    let mut lines = out.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .starts_with(&["UID", "PID", "PPID"]),
        "{out}"
    );
    let cmds: Vec<String> = lines
        .map(|l| l.split_whitespace().skip(7).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        cmds,
        ["sleep 102", "sleep 101"],
        "only the container's processes: {out}"
    );
    let out = ok(d.docker(&["top", "t", "-o", "pid,comm"]));
    assert_eq!(
        out.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["PID", "COMMAND"]
    );
    ok(d.docker(&["stop", "-t", "0", "t"]));
    let (code, _, err) = d.docker(&["top", "t"]);
    assert!(code != 0 && err.contains("is not running"), "{err}");
}

#[test]
fn stats_show_cpu_memory_and_pids() {
    let d = Daemon::with_busybox();
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "busy",
        "-m",
        "64m",
        "--pids-limit",
        "20",
        "busybox",
        "sh",
        "-c",
        "while true; do :; done",
    ]));
    let out = ok(d.docker(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}",
        "busy",
    ]));
    let f: Vec<&str> = out.trim().split('|').collect();
    let cpu: f64 = f[0].trim_end_matches('%').parse().unwrap();
    // A busy loop takes a whole CPU on a quiet machine; with other work on
    // the machine's two cores it gets less, but never nothing.
    assert!(cpu > 5.0, "a busy loop uses a CPU: {out}");
    assert!(f[1].ends_with("/ 64MiB"), "{out}");
    assert_eq!(f[2], "1");
}

#[test]
fn stdin_with_i_reaches_the_container_and_ends_with_eof() {
    let d = Daemon::with_busybox();
    let run_with_input = |args: &[&str], input: &str| {
        let mut child = std::process::Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", d.socket().display()))
            .env("DOCKER_CONFIG", d.dir.path().join("docker-config"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(
        run_with_input(&["run", "-i", "--rm", "busybox", "cat"], "hello\n"),
        (0, "hello\n".into())
    );
    // EOF arrives when the input ends: wc can count.
    assert_eq!(
        run_with_input(&["run", "-i", "--rm", "busybox", "wc", "-l"], "a\nb\nc\n"),
        (0, "3\n".into())
    );
    // Without -i the container's stdin is empty.
    assert_eq!(
        run_with_input(&["run", "--rm", "busybox", "cat"], "ignored\n"),
        (0, String::new())
    );
}

#[test]
fn healthchecks() {
    let d = Daemon::with_busybox();
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "h",
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        "300ms",
        "--health-retries",
        "2",
        "busybox",
        "sh",
        "-c",
        "sleep 1.5; touch /tmp/ok; sleep 100",
    ]));
    assert!(ok(d.docker(&["ps", "--format", "{{.Status}}"])).contains("(health: starting)"));
    eventually("unhealthy", || {
        inspect(&d, "h", "{{.State.Health.Status}}") == "unhealthy"
    });
    eventually("healthy", || {
        inspect(&d, "h", "{{.State.Health.Status}}") == "healthy"
    });
    assert!(ok(d.docker(&["ps", "--format", "{{.Status}}"])).contains("(healthy)"));
    assert_eq!(inspect(&d, "h", "{{.State.Health.FailingStreak}}"), "0");
    let log = inspect(&d, "h", "{{range .State.Health.Log}}{{.ExitCode}} {{end}}");
    assert!(log.contains('1') && log.ends_with('0'), "{log}");
    let events = ok(d.docker(&[
        "events",
        "--since",
        "0",
        "--until",
        &format!(
            "{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 1
        ),
        "--filter",
        "event=health_status",
        "--format",
        "{{.Action}}",
    ]));
    assert_eq!(
        events.lines().collect::<Vec<_>>(),
        ["health_status: unhealthy", "health_status: healthy"]
    );
}

#[test]
fn api_statuses_of_the_lifecycle() {
    let d = Daemon::with_busybox();
    let id = ok(d.docker(&["run", "-d", "busybox", "sleep", "100"]))
        .trim()
        .to_string();
    let status = |method: &str, path: &str| {
        let (head, body) = d.http(method, &format!("/v1.47/containers/{id}{path}"));
        (
            head.split_whitespace().nth(1).unwrap_or("").to_string(),
            body,
        )
    };
    // (method, path, status, a part of the message), in this order: the
    // container runs, then is stopped by the fifth request.
    let expect = [
        ("POST", "/start", "304", ""),
        ("POST", "/wait?condition=bogus", "400", "invalid condition"),
        ("GET", "/logs", "400", "you must choose at least one stream"),
        ("POST", "/kill?signal=NOPE", "400", "invalid signal"),
        ("POST", "/stop?t=0", "204", ""),
        ("POST", "/stop", "304", ""),
        ("POST", "/pause", "409", "is not running"),
        ("POST", "/kill", "409", "is not running"),
    ];
    for (method, path, want, text) in expect {
        let (code, body) = status(method, path);
        assert!(
            code == want && body.contains(text),
            "{method} {path}: {code} {body}"
        );
    }
    let (code, _) = status("POST", "/exec");
    assert!(
        code == "409" || code == "400",
        "exec into a stopped container: {code}"
    );
    let (code, body) = status("POST", "/rename?name=bad/name");
    assert!(
        code == "400" && body.contains("Invalid container name"),
        "{code} {body}"
    );
    assert_eq!(status("DELETE", "").0, "204");
    assert_eq!(status("DELETE", "").0, "404");
}

#[test]
fn archive_get_stays_inside_the_container() {
    let d = Daemon::with_busybox();
    // A file on the host that a symlink in the container names.
    let marker = d.dir.path().join("host-secret");
    std::fs::write(&marker, "HOST-ONLY-CONTENT-7f3a\n").unwrap();
    let script = format!(
        "echo inside > /secret; ln -s / /up; ln -s {m} /hostlink; ln -s ../../../..{m} /rel; mkdir -p /d/e; echo f > /d/e/f; ln -s ../../.. /d/esc; \
         mkdir /x; echo x > /x/file; while true; do mv /x /x.real; ln -s / /x; rm /x; mv /x.real /x; done",
        m = marker.display()
    );
    ok(d.docker(&["run", "-d", "--name", "c", "busybox", "sh", "-c", &script]));
    eventually("the files", || {
        d.docker(&["exec", "c", "test", "-e", "/d/esc"]).0 == 0
    });
    let cat = |path: &str| d.docker(&["cp", &format!("c:{path}"), "-"]);
    let tar_text = |r: &(i32, String, String)| r.1.clone();
    assert!(tar_text(&cat("/secret")).contains("inside\n"));
    // A symlink inside resolves inside: /up is the container's root.
    assert!(tar_text(&cat("/up/secret")).contains("inside\n"));
    // Symlinks naming a host path, absolute or climbing out: the link
    // itself is copied (as Docker does), never what it names on the host;
    // followed through a directory they stay inside.
    for p in ["/hostlink", "/rel"] {
        let (code, out, err) = cat(p);
        assert_eq!(code, 0, "{p}: {err}");
        assert!(
            !out.contains("HOST-ONLY-CONTENT"),
            "{p} read the host's file"
        );
        let (code, out, err) = cat(&format!("{p}/"));
        assert!(
            code != 0 && err.contains("Could not find the file"),
            "{p}/: {out} {err}"
        );
    }
    // A directory: symlinks are entries, never followed.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "DOCKER_HOST=unix://{} DOCKER_CONFIG={} docker cp c:/d - | tar -tv",
            d.socket().display(),
            d.dir.path().join("docker-config").display()
        ))
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.lines().any(|l| l.ends_with("d/e/f")), "{list}");
    assert!(
        list.lines().any(|l| l.contains("d/esc -> ../../..")),
        "{list}"
    );
    assert_eq!(list.lines().count(), 4, "d, d/e, d/e/f, d/esc only: {list}");
    // `dir/.` is the directory's contents: entries `./…`, as Docker's.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "DOCKER_HOST=unix://{} DOCKER_CONFIG={} docker cp c:/d/. - | tar -t",
            d.socket().display(),
            d.dir.path().join("docker-config").display()
        ))
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.lines().any(|l| l == "./e/f"), "{list}");
    // A directory swapped for a symlink to / while it is copied: whatever is
    // read is the container's, never the host's.
    for _ in 0..10 {
        let (_, out, _) = cat("/x");
        assert!(
            !out.contains("HOST-ONLY-CONTENT"),
            "a copy left the container"
        );
    }
    // HEAD: the stat header, Docker's way.
    let (head, _) = d.http("HEAD", "/v1.47/containers/c/archive?path=/secret");
    assert!(
        head.starts_with("HTTP/1.1 200")
            && head
                .to_ascii_lowercase()
                .contains("x-docker-container-path-stat"),
        "{head}"
    );
    // A stopped container is copied from too.
    ok(d.docker(&["stop", "-t", "0", "c"]));
    assert!(tar_text(&cat("/secret")).contains("inside\n"));
}

#[test]
fn archive_of_the_root_skips_kernel_trees() {
    let d = Daemon::with_busybox();
    ok(d.docker(&["run", "-d", "--name", "r", "busybox", "sleep", "100"]));
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "DOCKER_HOST=unix://{} DOCKER_CONFIG={} docker cp r:/ - | tar -t",
            d.socket().display(),
            d.dir.path().join("docker-config").display()
        ))
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.lines()
            .any(|l| l.trim_start_matches("./").trim_start_matches('/') == "bin/busybox"),
        "{}",
        &list[..list.len().min(500)]
    );
    assert!(
        list.lines().any(|l| l.contains("proc")),
        "the mount point is there"
    );
    assert!(
        !list
            .lines()
            .any(|l| l.contains("proc/self") || l.contains("sys/kernel")),
        "kernel trees were walked"
    );
}

#[test]
fn archive_put_never_writes_outside() {
    let d = Daemon::with_busybox();
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "p",
        "busybox",
        "sh",
        "-c",
        "mkdir /dst; ln -s / /dst/rootlink; ln -s / /up; sleep 100",
    ]));
    eventually("the directory", || {
        d.docker(&["exec", "p", "test", "-L", "/dst/rootlink"]).0 == 0
    });
    let host = d.dir.path().join("host-dir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(d.dir.path().join("in.txt"), "hello\n").unwrap();
    // docker cp in: a file, and through a symlink inside (resolved inside).
    ok(d.docker(&[
        "cp",
        d.dir.path().join("in.txt").to_str().unwrap(),
        "p:/dst/",
    ]));
    assert_eq!(
        ok(d.docker(&["exec", "p", "cat", "/dst/in.txt"])),
        "hello\n"
    );
    ok(d.docker(&[
        "cp",
        d.dir.path().join("in.txt").to_str().unwrap(),
        "p:/up/tmp/",
    ]));
    assert_eq!(
        ok(d.docker(&["exec", "p", "cat", "/tmp/in.txt"])),
        "hello\n"
    );
    // Crafted archives, sent as the API takes them.
    let craft = |name: &str, py: &str| {
        let path = d.dir.path().join(name);
        let script = format!("import io, tarfile\nt = tarfile.open({:?}, 'w')\ndef add(n, data=b'x', **kw):\n    i = tarfile.TarInfo(n)\n    for k, v in kw.items(): setattr(i, k, v)\n    if i.isfile(): i.size = len(data)\n    t.addfile(i, io.BytesIO(data) if i.isfile() else None)\n{py}\nt.close()\n", path.to_str().unwrap());
        assert!(std::process::Command::new("python3")
            .arg("-c")
            .arg(&script)
            .status()
            .unwrap()
            .success());
        path
    };
    let put = |tar: &std::path::Path, dir: &str| {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/stderr",
                "-w",
                "%{http_code}",
                "-X",
                "PUT",
                "--unix-socket",
                d.socket().to_str().unwrap(),
                "--data-binary",
            ])
            .arg(format!("@{}", tar.display()))
            .arg(format!(
                "http://berth/v1.47/containers/p/archive?path={dir}"
            ))
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let target = host.join("pwned");
    let cases = [
        (
            "dotdot.tar",
            format!("add('../../../../../../..{}')", target.display()),
        ),
        ("abs.tar", format!("add('{}')", target.display())),
        (
            "through-link.tar",
            format!("add('rootlink{}')", target.display()),
        ),
        (
            "link-then-file.tar",
            format!(
                "add('esc', type=tarfile.SYMTYPE, linkname='{}')\nadd('esc/pwned')",
                host.display()
            ),
        ),
    ];
    for (name, py) in cases {
        let (code, body) = put(&craft(name, &py), "/dst");
        assert_eq!(code, "400", "{name}: {body}");
        assert!(!target.exists(), "{name} wrote on the host");
    }
    // A normal archive still lands, owned by root.
    let (code, body) = put(
        &craft(
            "ok.tar",
            "add('sub', type=tarfile.DIRTYPE, mode=0o755)\nadd('sub/f', b'data\\n', uid=1000)",
        ),
        "/dst",
    );
    assert_eq!(code, "200", "{body}");
    assert_eq!(
        ok(d.docker(&[
            "exec",
            "p",
            "sh",
            "-c",
            "cat /dst/sub/f; stat -c %u /dst/sub/f"
        ])),
        "data\n0\n"
    );
    let (code, _) = put(&craft("file-dest.tar", "add('f')"), "/dst/in.txt");
    assert_eq!(code, "400", "extraction into a file");
}

#[test]
fn tty_output_kill_waits_and_empty_changes() {
    let d = Daemon::with_busybox();
    // A TTY container's output is the pty's, logged raw.
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "t",
        "-t",
        "busybox",
        "sh",
        "-c",
        "echo hi from tty",
    ]));
    eventually("the exit", || {
        inspect(&d, "t", "{{.State.Status}}") == "exited"
    });
    assert_eq!(ok(d.docker(&["logs", "t"])), "hi from tty\r\n");
    // A SIGKILL returns once the container is down: a remove right after works.
    for i in 0..3 {
        let name = format!("k{i}");
        ok(d.docker(&["run", "-d", "--name", &name, "busybox", "sleep", "100"]));
        let (head, _) = d.http("POST", &format!("/v1.47/containers/{name}/kill"));
        assert!(head.starts_with("HTTP/1.1 204"), "{head}");
        let (head, body) = d.http("DELETE", &format!("/v1.47/containers/{name}"));
        assert!(head.starts_with("HTTP/1.1 204"), "{head} {body}");
    }
    // No change is null, as Docker answers; mount points berth made are not changes.
    ok(d.docker(&["run", "--name", "same", "busybox", "true"]));
    let (_, body) = d.http("GET", "/v1.47/containers/same/changes");
    assert_eq!(body.trim(), "null");
}

#[test]
fn resize_a_tty_through_the_shim() {
    let d = Daemon::with_busybox();
    ok(d.docker(&[
        "run",
        "-d",
        "-t",
        "--name",
        "tt",
        "busybox",
        "sh",
        "-c",
        "sleep 1; stty size",
    ]));
    let (head, _) = d.http("POST", "/v1.47/containers/tt/resize?h=40&w=100");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    eventually("the exit", || {
        inspect(&d, "tt", "{{.State.Status}}") == "exited"
    });
    assert_eq!(ok(d.docker(&["logs", "tt"])), "40 100\r\n");
    ok(d.docker(&["run", "-d", "--name", "nt", "busybox", "sleep", "100"]));
    // Without a TTY: a no-op, as dockerd answers (issue 25).
    let (head, body) = d.http("POST", "/v1.47/containers/nt/resize?h=40&w=100");
    assert!(head.starts_with("HTTP/1.1 200"), "{head} {body}");
}

#[test]
fn oom_killed_is_reported() {
    let d = Daemon::with_busybox();
    // A memory hog under a 16 MiB limit (no swap): the OOM killer ends it.
    let (code, _, _) = d.docker(&[
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "sh",
        "-c",
        "x=a; while true; do x=$x$x; done",
    ]);
    assert_eq!(code, 137);
    assert_eq!(
        inspect(&d, "hog", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    ok(d.docker(&["run", "--name", "fine", "busybox", "true"]));
    assert_eq!(inspect(&d, "fine", "{{.State.OOMKilled}}"), "false");
}
