//! berth's interactive commands in a real terminal (a pty made by the
//! test): `run -it`, resize, ctrl-c, detach keys, `attach`, `start -ai`,
//! `exec -it`; and `-i` without a terminal, `exec`'s flags and codes.

mod common;
#[path = "../../berthd/tests/common/pty.rs"]
mod pty;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use pty::Pty;

/// `berth -H <daemon> args…` as a command to start in a pty.
fn berth_cmd(d: &Daemon, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
    c.arg("-H")
        .arg(d.host())
        .args(args)
        .env_remove("BERTH_HOST");
    c
}

fn status(d: &Daemon, name: &str) -> String {
    d.ok(&["inspect", "-f", "{{.State.Status}}", name])
        .trim()
        .to_string()
}

#[test]
fn run_it_detach_attach_and_start_ai() {
    let d = Daemon::with_busybox();
    let mut t = Pty::spawn(
        &mut berth_cmd(&d, &["run", "-it", "--name", "s", "busybox", "sh"]),
        30,
        100,
    );
    t.expect("/ # ");
    t.send("echo $((6*7)); stty size\r");
    t.expect("42");
    t.expect("30 100");
    t.resize_until_seen("/ # ");
    // ctrl-c is a key for the container's shell (raw mode), not our signal.
    t.send("sleep 30\r");
    std::thread::sleep(Duration::from_millis(300));
    t.send("\x03");
    t.send("echo after-$((1+1))\r");
    t.expect("after-2");
    // Detach: run leaves with 0, the shell runs on.
    t.send("\x10\x11");
    assert_eq!(t.wait(), 0);
    assert_eq!(status(&d, "s"), "running");

    let mut t = Pty::spawn(&mut berth_cmd(&d, &["attach", "s"]), 24, 80);
    t.send("echo back-$((2+2))\r");
    t.expect("back-4");
    t.send("\x10\x11");
    t.expect("read escape sequence");
    assert_eq!(t.wait(), 1);

    let mut t = Pty::spawn(&mut berth_cmd(&d, &["attach", "s"]), 24, 80);
    t.send("exit 3\r");
    assert_eq!(t.wait(), 3);
    assert_eq!(status(&d, "s"), "exited");

    // start -ai: the same container again, interactive.
    let mut t = Pty::spawn(&mut berth_cmd(&d, &["start", "-ai", "s"]), 24, 80);
    // A starting shell flushes what was typed before its prompt, and may
    // ask the terminal where the cursor is (the harness answers): type once
    // it has settled.
    t.expect("/ # ");
    std::thread::sleep(Duration::from_millis(500));
    t.send("echo again\r");
    t.expect("again");
    t.send("exit 9\r");
    assert_eq!(t.wait(), 9);

    let (code, _, err) = d.berth(&["attach", "s"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("You cannot attach to a stopped container, start it first"),
        "{err}"
    );
    // -t with -i needs a terminal on stdin.
    let (code, _, err) = d.berth(&["run", "-it", "busybox", "true"]);
    assert_eq!(code, 1);
    assert_eq!(err, "the input device is not a TTY\n");
}

#[test]
fn exec_it_and_exec_flags() {
    let d = Daemon::with_busybox();
    d.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "1000"]);
    let mut t = Pty::spawn(&mut berth_cmd(&d, &["exec", "-it", "web", "sh"]), 22, 70);
    t.expect("# ");
    t.send("stty size; tty\r");
    t.expect("22 70");
    t.expect("/dev/pts/");
    t.send("exit 5\r");
    assert_eq!(t.wait(), 5);

    // -e, -w, -u and the command's code.
    let (code, out, _) = d.berth(&[
        "exec",
        "-e",
        "X=1",
        "-w",
        "/tmp",
        "-u",
        "1:2",
        "web",
        "sh",
        "-c",
        "echo $X $(pwd) $(id -u):$(id -g); exit 4",
    ]);
    assert_eq!((code, out.as_str()), (4, "1 /tmp 1:2\n"));
    let (code, _, err) = d.berth(&["exec", "web", "nosuch"]);
    assert_eq!(code, 127);
    assert!(err.contains("executable file not found"), "{err}");
    // -i: our stdin, then EOF.
    let mut child = berth_cmd(&d, &["exec", "-i", "web", "wc", "-l"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"1\n2\n3\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n");
    // -d: runs on after berth has left.
    d.ok(&[
        "exec",
        "-d",
        "web",
        "sh",
        "-c",
        "sleep 0.2; echo late > /tmp/late",
    ]);
    eventually("the detached exec's file", || {
        d.berth(&["exec", "web", "cat", "/tmp/late"]).1 == "late\n"
    });
}

#[test]
fn run_i_without_a_terminal_passes_stdin_and_its_eof() {
    let d = Daemon::with_busybox();
    let mut child = berth_cmd(
        &d,
        &["run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo end"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"data\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "data\nend\n");
    assert!(out.status.success());
}
