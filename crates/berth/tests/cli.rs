//! The berth CLI against a real berthd: each test starts a daemon on its own
//! temporary roots, runs the real `berth` binary and checks its exit code,
//! stdout and stderr together. berthd, berth-shim and berth-runtime come
//! from the same target directory (`cargo build --workspace` first).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn version_and_info_through_host_flag_and_env() {
    let d = Daemon::start();
    let (code, out, err) = berth(&["-H", &d.host(), "version"], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Server: berth") && out.contains("API version:\t1.47 (minimum version 1.24)"),
        "{out}"
    );
    let (code, out, err) = berth(&["info"], Some(&d.host()));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Storage Driver: overlay2"), "{out}");
    let (code, out, err) = berth(
        &["version", "-f", "{{.Server.ApiVersion}}"],
        Some(&d.host()),
    );
    assert_eq!((code, out.as_str()), (0, "1.47\n"), "{err}");
    let (code, out, err) = berth(&["info", "--format", "{{.Driver}}"], Some(&d.host()));
    assert_eq!((code, out.as_str()), (0, "overlay2\n"), "{err}");
}

#[test]
fn unreachable_daemon_is_one_clear_line() {
    let (code, out, err) = berth(&["-H", "unix:///nonexistent/berth.sock", "version"], None);
    assert_eq!(code, 1);
    assert!(out.starts_with("Client:"));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("Cannot connect to the berth daemon at unix:///nonexistent/berth.sock"),
        "{err}"
    );
    // run reports it as its own failure: 125.
    let (code, _, err) = berth(
        &["-H", "unix:///nonexistent/berth.sock", "run", "busybox"],
        None,
    );
    assert_eq!(code, 125, "{err}");
    assert!(err.starts_with("berth: Cannot connect"), "{err}");
}

/// `berth system check` finds a blob whose bytes changed on disk.
#[test]
fn system_check_finds_corrupt_blobs() {
    let d = Daemon::with_busybox();
    let (code, out, err) = d.berth(&["system", "check"]);
    assert_eq!((code, out.trim()), (0, "ok"), "{err}");
    let blobs = d.dir.path().join("data/image/blobs/sha256");
    let victim = std::fs::read_dir(&blobs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&victim, "tampered").unwrap();
    let (code, out, _) = d.berth(&["system", "check"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("digest mismatch")
            && out.contains(victim.file_name().unwrap().to_str().unwrap()),
        "{out}"
    );
}

/// `run` in the foreground: output on the right streams, the container's
/// exit code, Docker's 127 for a missing command and 125 for a missing
/// image, and `--rm` leaving nothing behind.
#[test]
fn run_foreground_output_and_exit_codes() {
    let d = Daemon::with_busybox();
    assert_eq!(
        d.berth(&["run", "busybox", "echo", "hi"]),
        (0, "hi\n".into(), String::new())
    );
    assert_eq!(
        d.berth(&[
            "run",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3"
        ]),
        (3, "out\n".into(), "err\n".into())
    );
    // The command's own flags stay the command's.
    assert_eq!(d.berth(&["run", "busybox", "echo", "-n", "--rm"]).1, "--rm");
    let (code, out, err) = d.berth(&["run", "busybox", "nosuchcommand"]);
    assert_eq!((code, out.as_str()), (127, ""), "{err}");
    assert!(
        err.starts_with("berth: Error response from daemon: ")
            && err.contains("executable file not found")
            && err.ends_with("Run 'berth run --help' for more information\n"),
        "{err}"
    );
    let (code, _, err) = d.berth(&["run", "--pull", "never", "nosuchimage"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("No such image: nosuchimage"), "{err}");
    // By default a missing image is pulled first, as docker run does (and
    // fails here: no registry is reachable).
    let (code, _, err) = d.berth(&["run", "nosuchimage"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.starts_with("Unable to find image 'nosuchimage:latest' locally\n"),
        "{err}"
    );
    let before = d.ok(&["ps", "-aq"]);
    assert_eq!(
        d.berth(&[
            "run",
            "--rm",
            "-e",
            "X=from-env",
            "-w",
            "/tmp",
            "busybox",
            "sh",
            "-c",
            "echo $X $(pwd)"
        ]),
        (0, "from-env /tmp\n".into(), String::new())
    );
    assert_eq!(
        d.berth(&["run", "--rm", "busybox", "sh", "-c", "exit 7"]).0,
        7
    );
    assert_eq!(d.ok(&["ps", "-aq"]), before, "--rm containers are gone");
}

/// A detached container through its whole life: ps, inspect -f, logs, stop,
/// start, kill, wait, rm -f, and inspect of what is gone.
#[test]
fn detached_lifecycle() {
    let d = Daemon::with_busybox();
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-l",
        "app=x",
        "-m",
        "64m",
        "--restart",
        "no",
        "busybox",
        "sh",
        "-c",
        "echo started; while true; do sleep 0.1; done",
    ]);
    let id = id.trim();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(
        d.ok(&["ps", "--format", "{{.Names}} {{.State}}"]),
        "web running\n"
    );
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{index .Config.Labels \"app\"}} {{.HostConfig.Memory}} {{.Name}}",
            "web"
        ]),
        "true x 67108864 /web\n"
    );
    let inspected: serde_json::Value = serde_json::from_str(&d.ok(&["inspect", "web"])).unwrap();
    assert_eq!(inspected[0]["Id"], id);
    eventually("the log line", || d.ok(&["logs", "web"]) == "started\n");
    let (code, out, _) = d.berth(&["logs", "-t", "web"]);
    assert!(code == 0 && out.ends_with("Z started\n"), "{out}");
    // sh as pid 1 ignores SIGTERM: stop kills it after the timeout.
    assert_eq!(
        d.berth(&["stop", "-t", "1", "web"]),
        (0, "web\n".into(), String::new())
    );
    let status = d.ok(&[
        "ps",
        "-a",
        "--filter",
        "name=web",
        "--format",
        "{{.Status}}",
    ]);
    assert!(status.starts_with("Exited (137)"), "{status}");
    assert_eq!(d.ok(&["start", "web"]), "web\n");
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.State.Status}}", "web"]),
        "running\n"
    );
    assert_eq!(d.ok(&["kill", "web"]), "web\n");
    assert_eq!(d.ok(&["wait", "web"]), "137\n");
    assert_eq!(d.ok(&["rename", "web", "web2"]), "");
    assert_eq!(d.ok(&["rm", "-f", "web2"]), "web2\n");
    assert_eq!(
        d.berth(&["inspect", "web2"]),
        (1, "[]\n".into(), "Error: No such object: web2\n".into())
    );
}

/// `create` then `start -a`: the output and the container's exit code.
#[test]
fn create_then_start_attached() {
    let d = Daemon::with_busybox();
    let id = d.ok(&[
        "create",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "echo attached; exit 4",
    ]);
    assert_eq!(id.trim().len(), 64);
    assert_eq!(
        d.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Command}}"]),
        "c1 created \"sh -c echo attached…\"\n"
    );
    assert_eq!(
        d.berth(&["start", "-a", "c1"]),
        (4, "attached\n".into(), String::new())
    );
}

/// `ps` with filters, quiet and formats, and docker's default table.
#[test]
fn ps_filters_and_formats() {
    let d = Daemon::with_busybox();
    assert_eq!(
        d.ok(&["ps"]),
        "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
    );
    let a = d.ok(&[
        "create",
        "--name",
        "a",
        "-l",
        "tier=front",
        "busybox",
        "true",
    ]);
    assert_eq!(
        d.berth(&["run", "--name", "b", "busybox", "sh", "-c", "exit 2"])
            .0,
        2
    );
    assert_eq!(d.ok(&["ps", "-q"]), "", "nothing runs");
    assert_eq!(
        d.ok(&[
            "ps",
            "-a",
            "--filter",
            "label=tier=front",
            "--format",
            "{{.Names}}"
        ]),
        "a\n"
    );
    assert_eq!(
        d.ok(&["ps", "-a", "--filter", "exited=2", "--format", "{{.Names}}"]),
        "b\n"
    );
    assert_eq!(
        d.ok(&["ps", "-aq", "--filter", "status=created"]),
        format!("{}\n", &a[..12])
    );
    let all = d.ok(&["ps", "-aq", "--no-trunc"]);
    assert_eq!(
        all.lines().map(str::len).collect::<Vec<_>>(),
        [64, 64],
        "{all}"
    );
    assert_eq!(
        d.ok(&["ps", "-a", "-n", "1", "--format", "{{.Names}}"]),
        "b\n",
        "newest first"
    );
    let table = d.ok(&[
        "ps",
        "-a",
        "--format",
        "table {{.Names}}\\t{{.State}}\\t{{.Labels}}",
    ]);
    assert_eq!(
        table,
        "NAMES     STATE     LABELS\nb         exited    \na         created   tier=front\n"
    );
    let json = d.ok(&["ps", "-a", "--filter", "name=a", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(
        (v["Names"].as_str(), v["State"].as_str()),
        (Some("a"), Some("created"))
    );
    let (code, _, err) = d.berth(&["ps", "--filter", "nonsense"]);
    assert_eq!(code, 125, "{err}");
    let (code, _, err) = d.berth(&["ps", "--filter", "color=blue"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Error response from daemon: invalid filter 'color'\n")
    );
    let (code, _, err) = d.berth(&["ps", "--format", "{{.Names"]);
    assert_eq!(code, 1, "{err}");
}

/// Images: tag, list, save, rmi, load back, run from the loaded image,
/// import with changes and a message, history, prune.
#[test]
fn images_tag_rmi_save_load_round_trip() {
    let d = Daemon::with_busybox();
    assert_eq!(d.ok(&["tag", "busybox", "me/bb:v1"]), "");
    let mut names: Vec<String> = d
        .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    assert_eq!(names, ["busybox:latest", "me/bb:v1"]);
    let table = d.ok(&["images", "me/bb"]);
    let lines: Vec<&str> = table.lines().collect();
    // The CREATED column's width depends on the clock.
    assert!(
        lines[0].starts_with("REPOSITORY   TAG       IMAGE ID       CREATED   ")
            && lines[0].ends_with("   SIZE"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("me/bb        v1        ") && lines.len() == 2,
        "{table}"
    );
    let id = d.ok(&["inspect", "-f", "{{.Id}}", "me/bb:v1"]);
    let archive = d.dir.path().join("bb.tar");
    d.ok(&["save", "-o", archive.to_str().unwrap(), "me/bb:v1"]);
    assert!(std::fs::metadata(&archive).unwrap().len() > 1000);
    assert_eq!(d.ok(&["rmi", "me/bb:v1"]), "Untagged: me/bb:v1\n");
    let removed = d.ok(&["rmi", "busybox"]);
    assert!(
        removed.starts_with("Untagged: busybox:latest\nDeleted: sha256:"),
        "{removed}"
    );
    assert_eq!(d.ok(&["images", "-q"]), "");
    assert_eq!(
        d.ok(&["load", "-i", archive.to_str().unwrap()]),
        "Loaded image: me/bb:v1\n"
    );
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.Id}}", "me/bb:v1"]),
        id,
        "same image back"
    );
    assert_eq!(
        d.berth(&["run", "--rm", "me/bb:v1", "echo", "ok"]).1,
        "ok\n"
    );
    assert_eq!(
        d.berth(&["rmi", "nope"]),
        (
            1,
            String::new(),
            "Error response from daemon: No such image: nope:latest\n".into()
        )
    );
    let tar = busybox_tar();
    let new = d.ok(&[
        "import",
        "-c",
        "ENV A=1",
        "-m",
        "from a test",
        tar.to_str().unwrap(),
        "imp:1",
    ]);
    assert!(new.starts_with("sha256:"), "{new}");
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{json .Config.Env}}", "imp:1"]),
        "[\"A=1\"]\n"
    );
    assert_eq!(
        d.ok(&["history", "--format", "{{.Comment}}", "imp:1"]),
        "from a test\n"
    );
    let history = d.ok(&["image", "history", "imp:1"]);
    assert!(history.starts_with("IMAGE          CREATED"), "{history}");
    // Nothing is dangling; -a removes every image no container uses.
    assert_eq!(
        d.ok(&["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    let pruned = d.ok(&["image", "prune", "-a", "-f"]);
    assert!(
        pruned.starts_with("Deleted Images:\nuntagged: ")
            && pruned.contains("Total reclaimed space: "),
        "{pruned}"
    );
    assert_eq!(d.ok(&["images", "-q"]), "");
}

/// Failures on one line with Docker's codes: 1 for a refusal (each object
/// tried), 125 for a bad flag.
#[test]
fn errors_are_lines_with_docker_codes() {
    let d = Daemon::with_busybox();
    assert_eq!(
        d.berth(&["stop", "nope"]),
        (
            1,
            String::new(),
            "Error response from daemon: No such container: nope\n".into()
        )
    );
    assert_eq!(
        d.berth(&["start", "nope"]),
        (
            1,
            String::new(),
            "Error response from daemon: No such container: nope\nError: failed to start containers: nope\n"
                .into()
        )
    );
    d.ok(&["create", "--name", "there", "busybox", "true"]);
    // The one that exists is still removed; the missing one fails the command.
    let (code, out, err) = d.berth(&["rm", "there", "nope"]);
    assert_eq!((code, out.as_str()), (1, "there\n"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // rm -f of nothing reports it and succeeds, as docker's does.
    assert_eq!(d.berth(&["rm", "-f", "nope"]).0, 0);
    assert_eq!(d.berth(&["logs", "nope"]).0, 1);
    for bad in [
        &["run", "-m", "64x", "busybox"][..],
        &["run", "--restart", "sometimes", "busybox"][..],
        &["run", "--rm", "--restart", "always", "busybox"][..],
        &["ps", "--bogus"][..],
    ] {
        let (code, out, err) = d.berth(bad);
        assert_eq!((code, out.as_str()), (125, ""), "{bad:?}: {err}");
        assert!(!err.is_empty());
    }
    assert_eq!(d.ok(&["ps", "-aq"]), "", "bad runs create nothing");
}

/// A reader that goes away (`berth run busybox yes | head -1`) ends berth
/// quietly with 0, as a closed pipe is no failure; the container runs on,
/// as it does when docker's CLI dies of SIGPIPE.
#[test]
fn closed_stdout_ends_run_quietly() {
    use std::io::Read;
    let d = Daemon::with_busybox();
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["-H", &d.host(), "run", "--name", "yes", "busybox", "yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 2];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    assert_eq!(&first, b"y\n");
    // The read end is dropped: berth's next write fails.
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "berth did not notice the closed pipe"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!((status.code(), err.as_str()), (Some(0), ""));
    assert_eq!(d.ok(&["rm", "-f", "yes"]), "yes\n");
}

/// `-v`, `--init` and `--log-opt` reach the daemon as Docker's fields.
#[test]
fn run_binds_init_and_log_options() {
    let d = Daemon::with_busybox();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("f"), "host file\n").unwrap();
    let bind = format!("{}:/h:ro", host.path().display());
    assert_eq!(
        d.berth(&["run", "--rm", "-v", &bind, "busybox", "cat", "/h/f"]),
        (0, "host file\n".into(), String::new())
    );
    let (code, _, err) = d.berth(&["run", "--rm", "-v", &bind, "busybox", "touch", "/h/x"]);
    assert!(code != 0 && err.contains("Read-only file system"), "{err}");
    let (_, out, _) = d.berth(&["run", "--rm", "--init", "busybox", "ps", "-o", "pid,comm"]);
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "init"]),
        "{out}"
    );
    let id = d.ok(&[
        "create",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=2",
        "busybox",
        "true",
    ]);
    let cfg = d.ok(&[
        "inspect",
        "-f",
        "{{json .HostConfig.LogConfig.Config}}",
        id.trim(),
    ]);
    assert_eq!(cfg.trim(), r#"{"max-file":"2","max-size":"1k"}"#);
    d.ok(&["rm", id.trim()]);
}

/// `diff` after a container added, changed and deleted files: docker's
/// letters, the parents of what changed marked changed, in path order.
#[test]
fn diff_shows_what_a_container_changed() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "--name",
        "ch",
        "busybox",
        "sh",
        "-c",
        "echo hi > /new; echo x >> /etc/passwd; rm /bin/vi",
    ]);
    let want = "C /bin\nD /bin/vi\nC /etc\nC /etc/passwd\nA /new\n";
    assert_eq!(d.berth(&["diff", "ch"]), (0, want.into(), String::new()));
    assert_eq!(d.ok(&["container", "diff", "ch"]), want);
    d.ok(&["create", "--name", "untouched", "busybox", "true"]);
    assert_eq!(d.ok(&["diff", "untouched"]), "");
    assert_eq!(
        d.berth(&["diff", "nope"]),
        (
            1,
            String::new(),
            "Error response from daemon: No such container: nope\n".into()
        )
    );
}

/// `commit` with an author, a message and changes: the printed ID is the
/// new image's, which runs with the container's files and the new CMD.
#[test]
fn commit_makes_a_runnable_image() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "--name",
        "src",
        "busybox",
        "sh",
        "-c",
        "echo hi > /new",
    ]);
    let id = d.ok(&[
        "commit",
        "-a",
        "Ann <ann@example.com>",
        "-m",
        "a message",
        "-c",
        "ENV A=1",
        "-c",
        r#"CMD ["cat", "/new"]"#,
        "src",
        "me/committed:v1",
    ]);
    assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id:?}");
    assert_eq!(d.ok(&["inspect", "-f", "{{.Id}}", "me/committed:v1"]), id);
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.Author}}|{{.Comment}}|{{json .Config.Env}}",
            "me/committed:v1"
        ]),
        "Ann <ann@example.com>|a message|[\"A=1\"]\n"
    );
    assert_eq!(
        d.berth(&["run", "--rm", "me/committed:v1"]),
        (0, "hi\n".into(), String::new())
    );
    // No name: an untagged image; --pause=false is accepted.
    let bare = d.ok(&["container", "commit", "--pause=false", "src"]);
    assert!(d.ok(&["images", "-q", "--no-trunc"]).contains(bare.trim()));
    assert_eq!(d.berth(&["commit", "nope"]).0, 1);
}

/// `export -o`: the container's whole filesystem, its changes included,
/// in a file only its owner reads, as docker writes it.
#[test]
fn export_writes_the_filesystem_as_a_tar() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "--name",
        "ex",
        "busybox",
        "sh",
        "-c",
        "echo hi > /new; rm /bin/vi",
    ]);
    let file = d.dir.path().join("ex.tar");
    assert_eq!(
        d.berth(&["export", "-o", file.to_str().unwrap(), "ex"]),
        (0, String::new(), String::new())
    );
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let mut names = Vec::new();
    let mut archive = tar::Archive::new(std::fs::File::open(&file).unwrap());
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        names.push(
            e.path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string(),
        );
    }
    for want in ["new", "bin/busybox", "etc/passwd"] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    assert!(
        !names.iter().any(|n| n == "bin/vi"),
        "deleted files stay out"
    );
    // To a stdout that is no terminal: the same archive.
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["-H", &d.host(), "container", "export", "ex"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len() as u64, meta.len());
    assert_eq!(
        d.berth(&["export", "-o", "/nonexistent/dir/x.tar", "ex"]),
        (
            1,
            String::new(),
            "failed to export container: invalid output path: stat /nonexistent/dir: no such file or directory\n"
                .into()
        )
    );
}

/// `events` between `--since` and `--until`: docker's line, attributes
/// sorted, filters, `--format` over the Go field names and `json`.
#[test]
fn events_between_since_and_until() {
    let d = Daemon::with_busybox();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let before = format!("{:.9}", now());
    let id = d.ok(&[
        "run", "-d", "--name", "evt", "-l", "zz=1", "-l", "app=x", "busybox", "true",
    ]);
    let id = id.trim();
    d.ok(&["wait", "evt"]);
    // berthd answers `wait` before it records `die` (monitor.rs publishes
    // the exit first): removing at once could lose the event.
    eventually("the die event", || {
        let now = format!("{:.9}", now());
        !d.ok(&[
            "events",
            "--since",
            &before,
            "--until",
            &now,
            "-f",
            "event=die",
        ])
        .is_empty()
    });
    d.ok(&["rm", "evt"]);
    let after = format!("{:.9}", now());
    let window = ["events", "--since", &before, "--until", &after];
    let args = |more: &[&'static str]| -> Vec<&str> {
        window.iter().copied().chain(more.iter().copied()).collect()
    };
    assert_eq!(
        d.ok(&args(&["-f", "container=evt", "--format", "{{.Action}}"])),
        "create\nstart\ndie\ndestroy\n"
    );
    let out = d.ok(&args(&["--filter", "event=die"]));
    let (time, rest) = out.split_once(' ').unwrap();
    assert!(time.len() == 30 && time.ends_with('Z'), "{out}");
    assert_eq!(
        rest,
        format!("container die {id} (app=x, exitCode=0, image=busybox, name=evt, zz=1)\n")
    );
    assert_eq!(
        d.ok(&args(&[
            "-f",
            "event=start",
            "--format",
            "{{.Type}} {{.Actor.Attributes.name}} {{.From}}"
        ])),
        "container evt busybox\n"
    );
    let json = d.ok(&args(&["-f", "event=destroy", "--format", "json"]));
    assert!(
        json.starts_with(&format!(
            "{{\"status\":\"destroy\",\"id\":\"{id}\",\"from\":\"busybox\",\"Type\":\"container\""
        )),
        "{json}"
    );
    // A window that closed before the container: nothing.
    assert_eq!(
        d.ok(&[
            "events",
            "--since",
            "1",
            "--until",
            &before,
            "-f",
            "container=evt"
        ]),
        ""
    );
    assert_eq!(
        d.berth(&["events", "--since", "yesterday"]),
        (
            1,
            String::new(),
            "failed to parse value as time or duration: \"yesterday\"\n".into()
        )
    );
    let (code, _, err) = d.berth(&["events", "--format", "{{.Nope}}"]);
    assert_eq!(code, 64, "{err}");
}

/// `system df` after a container wrote 100 kB: docker's summary table and
/// the container's size in `-v`.
#[test]
fn system_df_counts_what_containers_wrote() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "--name",
        "writer",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/big",
        "bs=1000",
        "count=100",
    ]);
    let table = d.ok(&["system", "df"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"
    );
    assert!(
        lines[1].starts_with("Images          1         1         "),
        "{table}"
    );
    assert!(lines[1].ends_with("   0B (0%)"), "{table}");
    assert_eq!(
        &lines[2..],
        [
            "Containers      1         0         100kB     100kB (100%)",
            "Local Volumes   0         0         0B        0B",
            "Build Cache     0         0         0B        0B",
        ],
        "{table}"
    );
    assert_eq!(
        d.ok(&["system", "df", "--format", "{{.Type}}={{.TotalCount}}"]),
        "Images=1\nContainers=1\nLocal Volumes=0\nBuild Cache=0\n"
    );
    let verbose = d.ok(&["system", "df", "-v"]);
    assert!(
        verbose.starts_with("Images space usage:\n\nREPOSITORY   TAG "),
        "{verbose}"
    );
    let row = verbose
        .lines()
        .find(|l| l.ends_with(" writer"))
        .unwrap_or_else(|| panic!("{verbose}"));
    assert!(row.contains("   0               100kB     "), "{row}");
    let json: serde_json::Value =
        serde_json::from_str(&d.ok(&["system", "df", "-v", "--format", "json"])).unwrap();
    assert_eq!(json["Containers"][0]["Names"], "writer");
    assert_eq!(json["Images"][0]["Containers"], "1");
}

/// `container prune`: asks first (a closed stdin is no), then with `-f`
/// removes every stopped container and says what it freed.
#[test]
fn container_prune_removes_stopped_containers() {
    let d = Daemon::with_busybox();
    let a = d.ok(&["create", "busybox", "true"]);
    d.ok(&["run", "--name", "b", "busybox", "sh", "-c", "echo x > /f"]);
    let b = d.ok(&["inspect", "-f", "{{.Id}}", "b"]);
    let live = d.ok(&["run", "-d", "busybox", "sleep", "30"]);
    assert_eq!(
        d.berth(&["container", "prune"]),
        (
            0,
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ".into(),
            String::new()
        )
    );
    assert_eq!(d.ok(&["ps", "-aq"]).lines().count(), 3);
    let out = d.ok(&["container", "prune", "-f"]);
    let mut lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.remove(0), "Deleted Containers:", "{out}");
    let mut deleted: Vec<&str> = lines.drain(..2).collect();
    deleted.sort();
    let mut want = [a.trim(), b.trim()];
    want.sort();
    assert_eq!(deleted, want);
    assert_eq!(lines[0], "");
    assert!(
        lines[1].starts_with("Total reclaimed space: ")
            && lines[1].ends_with('B')
            && lines[1] != "Total reclaimed space: 0B",
        "{out}"
    );
    assert_eq!(d.ok(&["ps", "-aq", "--no-trunc"]), live);
    assert_eq!(
        d.ok(&["container", "prune", "-f", "--filter", "label=x"]),
        "Total reclaimed space: 0B\n"
    );
}

#[test]
fn volume_commands_and_mount_flags() {
    let d = Daemon::with_busybox();
    assert_eq!(
        d.ok(&["volume", "create", "--label", "k=v", "vol1"]),
        "vol1\n"
    );
    let random = d.ok(&["volume", "create"]);
    assert_eq!(random.trim().len(), 64, "{random}");
    assert_eq!(
        d.ok(&["volume", "ls"]),
        format!(
            "DRIVER    VOLUME NAME\nlocal     {}local     vol1\n",
            random
        )
    );
    assert_eq!(d.ok(&["volume", "ls", "-q", "-f", "label=k=v"]), "vol1\n");
    assert_eq!(
        d.ok(&["volume", "inspect", "-f", "{{.Name}} {{.Labels}}", "vol1"]),
        "vol1 map[k:v]\n"
    );
    let (code, out, err) = d.berth(&["volume", "inspect", "nosuch"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            1,
            "[]\n",
            "Error response from daemon: get nosuch: no such volume\n"
        )
    );
    // -v name:/dst, --mount readonly, --tmpfs, --volumes-from, -v /anon.
    d.ok(&[
        "run",
        "--rm",
        "-v",
        "vol1:/d",
        "busybox",
        "sh",
        "-c",
        "echo hi > /d/f",
    ]);
    let (code, out, err) = d.berth(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=vol1,target=/d,readonly",
        "busybox",
        "sh",
        "-c",
        "cat /d/f; touch /d/g",
    ]);
    assert_eq!((code, out.as_str()), (1, "hi\n"), "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    let out = d.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/t:size=1m",
        "busybox",
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts",
    ]);
    assert!(
        out.starts_with("tmpfs /t tmpfs ") && out.contains("size=1024k"),
        "{out}"
    );
    d.ok(&[
        "run",
        "--name",
        "src",
        "-v",
        "vol1:/d",
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo a > /anon/a",
    ]);
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "src:ro",
            "busybox",
            "cat",
            "/d/f",
            "/anon/a"
        ]),
        "hi\na\n"
    );
    // ps shows a volume by its name (cut to 15), and counts local volumes.
    let ps = d.ok(&[
        "ps",
        "-a",
        "-f",
        "name=src",
        "--format",
        "{{.Mounts}} {{.LocalVolumes}}",
    ]);
    assert!(ps.starts_with("vol1,") && ps.ends_with("… 2\n"), "{ps}");
    // In use: refused with the daemon's words, exit 1.
    let (code, _, err) = d.berth(&["volume", "rm", "vol1"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Error response from daemon: remove vol1: volume is in use - ["),
        "{err}"
    );
    // rm -v removes the anonymous volume, not the named one.
    assert_eq!(d.ok(&["volume", "ls", "-q"]).lines().count(), 3);
    d.ok(&["rm", "-v", "src"]);
    assert_eq!(d.ok(&["volume", "ls", "-q"]), format!("{random}vol1\n"));
    // A bad --mount is a usage error (125), a missing bind source the daemon's.
    let (code, _, err) = d.berth(&[
        "run",
        "--rm",
        "--mount",
        "type=bind,dst=/x,bogus=1",
        "busybox",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(err.contains("unexpected key 'bogus' in 'bogus=1'"), "{err}");
    let (code, _, err) = d.berth(&[
        "run",
        "--rm",
        "--mount",
        "type=bind,src=/no/such/path,dst=/x",
        "busybox",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(
        err.contains("bind source path does not exist: /no/such/path"),
        "{err}"
    );
    // prune: anonymous only by default (a volume created without a name is
    // anonymous, as moby 23+ labels it), then all with -a.
    assert_eq!(
        d.ok(&["volume", "prune", "-f"]),
        format!("Deleted Volumes:\n{random}\nTotal reclaimed space: 0B\n")
    );
    let out = d.ok(&["volume", "prune", "-a", "-f"]);
    assert!(
        out.starts_with("Deleted Volumes:\n") && out.contains("vol1\n"),
        "{out}"
    );
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "");
    assert_eq!(d.ok(&["volume", "rm", "-f", "gone"]), "gone\n");
}

/// Debian's docker-registry on a free loopback port, killed on drop (its
/// storage directory with it).

#[test]
fn pull_prints_progress_and_runs() {
    let reg = test_registry();
    let d = Daemon::with_busybox();
    let archive = d.dir.path().join("bb.tar");
    d.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    let out = Command::new("skopeo")
        .args(["copy", "-q", "--dest-tls-verify=false"])
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("docker://{}/bb:v1", reg.2))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d.ok(&["rmi", "busybox"]);
    let name = format!("{}/bb:v1", reg.2);
    let out = d.ok(&["pull", &name]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "v1: Pulling from bb", "{out}");
    assert!(lines[1].ends_with(": Pulling fs layer"), "{out}");
    assert!(out.contains(": Pull complete\nDigest: sha256:"), "{out}");
    assert_eq!(
        &lines[lines.len() - 2..],
        [
            format!("Status: Downloaded newer image for {name}"),
            name.clone()
        ],
        "{out}"
    );
    assert_eq!(d.ok(&["run", "--rm", &name, "echo", "ok"]), "ok\n");
    // -q: the reference only; a missing tag: the daemon's message, exit 1.
    assert_eq!(d.ok(&["pull", "-q", &name]), format!("{name}\n"));
    let (code, _, err) = d.berth(&["pull", &format!("{}/bb:nope", reg.2)]);
    assert_eq!(code, 1);
    assert!(err.contains("manifest unknown"), "{err}");
}

#[test]
fn login_then_pull_with_stored_credentials() {
    let reg = test_registry_with(Some(("tester", "s3cret")));
    let d = Daemon::with_busybox();
    let archive = d.dir.path().join("bb.tar");
    d.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    let out = Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--dest-creds",
            "tester:s3cret",
        ])
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("docker://{}/bb:v1", reg.2))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = d.dir.path().join("docker-config");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("-H")
            .arg(d.host())
            .args(args)
            .env("DOCKER_CONFIG", &config)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let name = format!("{}/bb:v1", reg.2);
    let (code, _, err) = run(&["pull", &name]);
    assert_eq!(code, 1);
    assert!(err.contains("no basic auth credentials"), "{err}");
    let (code, _, err) = run(&["login", "-u", "tester", "-p", "wrong", &reg.2]);
    assert_eq!(code, 1);
    assert!(err.contains("401 Unauthorized"), "{err}");
    let (code, out, err) = run(&["login", "-u", "tester", "-p", "s3cret", &reg.2]);
    assert_eq!((code, out.as_str()), (0, "Login Succeeded\n"), "{err}");
    let file = config.join("config.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(saved["auths"][&reg.2]["auth"].is_string(), "{saved}");
    let (code, out, err) = run(&["pull", &name]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Downloaded newer image"), "{out}");
    let (code, out, _) = run(&["logout", &reg.2]);
    assert_eq!(
        (code, out),
        (0, format!("Removing login credentials for {}\n", reg.2))
    );
    let (code, _, err) = run(&["pull", &name]);
    assert_eq!(code, 1, "{err}");
}
