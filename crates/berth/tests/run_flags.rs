//! `berth run` takes the docker CLI's flags (issue 24) and they reach the
//! container: the same checks as berthd's `tests/run_flags.rs`, fewer of
//! them, through berth's own command line, and its client-side flags
//! (`--cidfile`, `--label-file`, `--env-file`, `--pull`, `--platform`).

mod common;

use common::Daemon;

fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

#[test]
fn run_flags_take_effect() {
    let d = Daemon::with_busybox();
    let out = d.ok(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=1024:2048",
        "--oom-score-adj",
        "300",
        "--group-add",
        "1234",
        "--cpuset-cpus",
        "0",
        "--device",
        "/dev/fuse:/dev/myfuse:r",
        "--uts",
        "host",
        "--shm-size",
        "2m",
        "--security-opt",
        "no-new-privileges",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "NET_ADMIN",
        "busybox",
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; id -G; hostname; ls /dev/myfuse; \
         df -k /dev/shm | tail -1; cat /proc/self/status",
    ]);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[..3], ["1024", "2048", "300"], "{out}");
    assert!(l[3].split_whitespace().any(|g| g == "1234"), "{out}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(l[4], host.trim());
    assert_eq!(l[5], "/dev/myfuse");
    assert_eq!(l[6].split_whitespace().nth(1), Some("2048"));
    assert_eq!(field(&out, "Cpus_allowed_list"), "0");
    assert_eq!(field(&out, "NoNewPrivs"), "1");
    assert_eq!(field(&out, "CapEff"), "0000000000001000");
    // A seccomp profile named by file goes as its text, as docker sends it.
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
    )
    .unwrap();
    let (code, _, err) = d.berth(&[
        "run",
        "--rm",
        "--security-opt",
        &format!("seccomp={}", profile.display()),
        "busybox",
        "mkdir",
        "/x",
    ]);
    assert!(
        code == 1 && err.contains("Operation not permitted"),
        "{err}"
    );
    // Logging: local is read back; none keeps nothing and says so.
    d.ok(&[
        "run",
        "--name",
        "loc",
        "--log-driver",
        "local",
        "busybox",
        "echo",
        "kept",
    ]);
    assert_eq!(d.ok(&["logs", "loc"]), "kept\n");
    d.ok(&[
        "run",
        "--name",
        "nolog",
        "--log-driver",
        "none",
        "busybox",
        "true",
    ]);
    let (code, _, err) = d.berth(&["logs", "nolog"]);
    assert!(
        code != 0 && err.contains("configured logging driver does not support reading"),
        "{err}"
    );
    // Refusals in dockerd's words, exit 125.
    for (args, words) in [
        (
            &["--gpus", "all"][..],
            "could not select device driver \"\" with capabilities: [[gpu]]",
        ),
        (
            &["--log-driver", "asdf"][..],
            "logger: no log driver named 'asdf' is registered",
        ),
        (
            &["--runtime", "foo"][..],
            "unknown or invalid runtime name: foo",
        ),
        (
            &["--storage-opt", "size=1G"][..],
            "--storage-opt is supported only for overlay over xfs",
        ),
        (
            &["--sysctl", "vm.swappiness=1"][..],
            "sysctl 'vm.swappiness=1' is not allowed",
        ),
        (
            &["--platform", "linux/s390x"][..],
            "does not match the specified platform",
        ),
    ] {
        let mut all = vec!["run", "--rm", "--pull", "never"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["busybox", "true"]);
        let (code, _, err) = d.berth(&all);
        assert!(code == 125 && err.contains(words), "{args:?}: {code} {err}");
    }
}

#[test]
fn client_side_flags() {
    let d = Daemon::with_busybox();
    let dir = tempfile::tempdir().unwrap();
    let (cid, labels, env) = (
        dir.path().join("cid"),
        dir.path().join("labels"),
        dir.path().join("env"),
    );
    std::fs::write(&labels, "# labels\nfrom.file=1\nboth=file\n").unwrap();
    std::fs::write(&env, "FROM_FILE=yes\n").unwrap();
    let out = d.ok(&[
        "run",
        "--name",
        "c",
        "--cidfile",
        cid.to_str().unwrap(),
        "--label-file",
        labels.to_str().unwrap(),
        "--label",
        "both=flag",
        "--env-file",
        env.to_str().unwrap(),
        "--platform",
        "linux/amd64",
        "--pull",
        "missing",
        "busybox",
        "sh",
        "-c",
        "echo $FROM_FILE",
    ]);
    assert_eq!(out, "yes\n");
    let id = std::fs::read_to_string(&cid).unwrap();
    assert_eq!(
        d.ok(&[
            "inspect",
            "-f",
            "{{.Id}} {{index .Config.Labels \"from.file\"}} {{index .Config.Labels \"both\"}}",
            "c"
        ]),
        format!("{id} 1 flag\n")
    );
    let (code, _, err) = d.berth(&[
        "run",
        "--rm",
        "--cidfile",
        cid.to_str().unwrap(),
        "busybox",
        "true",
    ]);
    assert!(
        code == 125 && err.contains("container ID file found"),
        "{err}"
    );
    let (code, _, err) = d.berth(&["run", "--rm", "--pull", "never", "nosuchimage", "true"]);
    assert!(
        code == 125 && err.contains("No such image: nosuchimage:latest"),
        "{err}"
    );
}
