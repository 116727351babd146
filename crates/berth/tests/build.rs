//! `berth build` end to end: the context it sends (`.dockerignore` applied
//! with exceptions, a Dockerfile outside the context, a Dockerfile on
//! stdin), `-q` and `--iidfile`, and failures with their exit codes.

mod common;

use std::fs;
use std::process::{Command, Stdio};

use common::*;

#[test]
fn build_context_dockerignore_quiet_and_iidfile() {
    let d = Daemon::with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    fs::create_dir_all(c.join("logs/deep")).unwrap();
    fs::write(c.join("a.txt"), "a\n").unwrap();
    fs::write(c.join("debug.log"), "no\n").unwrap();
    fs::write(c.join("keep.log"), "kept\n").unwrap();
    fs::write(c.join("logs/deep/x.log"), "no\n").unwrap();
    fs::write(c.join("secret.key"), "no\n").unwrap();
    fs::write(
        c.join(".dockerignore"),
        "# ignore logs\n**/*.log\n!keep.log\nsecret.*\n",
    )
    .unwrap();
    fs::write(
        c.join("Dockerfile"),
        "FROM busybox\nCOPY . /ctx/\nCMD [\"sh\", \"-c\", \"cd /ctx && find . -type f | sort\"]\n",
    )
    .unwrap();
    let iid = c.join("iid");
    let out = d.ok(&[
        "build",
        "-q",
        "--iidfile",
        iid.to_str().unwrap(),
        "-t",
        "ctx:1",
        c.to_str().unwrap(),
    ]);
    let id = out.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{out}");
    assert_eq!(fs::read_to_string(&iid).unwrap(), id);
    let listing = d.ok(&["run", "--rm", "ctx:1"]);
    assert_eq!(
        listing, "./.dockerignore\n./Dockerfile\n./a.txt\n./keep.log\n",
        "what .dockerignore let through"
    );
}

#[test]
fn dockerfile_outside_the_context_and_on_stdin() {
    let d = Daemon::with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    fs::write(ctx.path().join("f"), "from context\n").unwrap();
    let df = other.path().join("My.Dockerfile");
    fs::write(&df, "FROM busybox\nCOPY f /f\nCMD [\"cat\", \"/f\"]\n").unwrap();
    let out = d.ok(&[
        "build",
        "-f",
        df.to_str().unwrap(),
        "-t",
        "outside",
        ctx.path().to_str().unwrap(),
    ]);
    assert!(out.contains("Successfully tagged outside:latest"), "{out}");
    assert_eq!(d.ok(&["run", "--rm", "outside"]), "from context\n");
    // A Dockerfile on stdin, no context.
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["-H", &d.host(), "build", "-t", "stdin", "-"])
        .env_remove("BERTH_HOST")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"FROM busybox\nRUN echo made > /m\nCMD [\"cat\", \"/m\"]\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(d.ok(&["run", "--rm", "stdin"]), "made\n");
    // A failing step: exit 1 and the daemon's one line.
    fs::write(&df, "FROM busybox\nRUN exit 7\n").unwrap();
    let (code, _, err) = d.berth(&[
        "build",
        "-f",
        df.to_str().unwrap(),
        ctx.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 7, "the RUN's code, as the docker CLI exits");
    assert!(err.contains("returned a non-zero code: 7"), "{err}");
    let (code, _, err) = d.berth(&["build", "/no/such/dir"]);
    assert_eq!(code, 1);
    assert!(err.contains("unable to prepare context"), "{err}");
}
