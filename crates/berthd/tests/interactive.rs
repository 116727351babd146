//! Interactive containers through berthd, driven by the real docker CLI in
//! a real terminal (a pty made by the test): `run -it` shells, window sizes,
//! ctrl-c, detach keys and re-attach, `exec -it`, TTY containers across a
//! daemon restart; and stdin without a TTY.

mod common;
#[path = "common/pty.rs"]
mod pty;

use std::time::Duration;

use common::{eventually, Daemon};
use pty::Pty;

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout: {}\nstderr: {}", r.1, r.2);
    r.1
}

fn status(d: &Daemon, name: &str) -> String {
    ok(d.docker(&["inspect", "-f", "{{.State.Status}}", name]))
        .trim()
        .to_string()
}

#[test]
fn run_it_is_a_terminal_session() {
    let d = Daemon::with_busybox();
    let mut t = Pty::spawn(
        &mut d.docker_command(&["run", "-it", "--name", "sh1", "busybox", "sh"]),
        30,
        100,
    );
    t.expect("/ # ");
    // Typed input reaches the shell; output comes back; the size is ours.
    t.send("echo $((6*7)); stty size; tty\r");
    t.expect("42");
    t.expect("30 100");
    t.expect("/dev/pts/0");
    // A resize of our terminal reaches the container's.
    t.resize_until_seen("/ # ");
    // ctrl-c interrupts the foreground job in the container, not the client.
    t.send("sleep 30\r");
    std::thread::sleep(Duration::from_millis(300));
    t.send("\x03");
    t.send("echo after-$((1+1))\r");
    t.expect("after-2");
    t.send("exit 3\r");
    assert_eq!(t.wait(), 3);
    assert_eq!(status(&d, "sh1"), "exited");
}

#[test]
fn detach_keys_leave_it_running_and_attach_comes_back() {
    let d = Daemon::with_busybox();
    let mut t = Pty::spawn(
        &mut d.docker_command(&["run", "-it", "--name", "bg", "busybox", "sh"]),
        24,
        80,
    );
    t.expect("/ # ");
    t.send("echo one > /tmp/mark\r");
    t.expect("/ # ");
    // ctrl-p ctrl-q: the client leaves with 0, the shell stays.
    t.send("\x10\x11");
    assert_eq!(t.wait(), 0);
    assert_eq!(status(&d, "bg"), "running");

    // Re-attach with other keys; the shell is the same one.
    let mut t = Pty::spawn(
        &mut d.docker_command(&["attach", "--detach-keys", "ctrl-x,x", "bg"]),
        24,
        80,
    );
    t.send("cat /tmp/mark\r");
    t.expect("one");
    // The default keys are now plain input: ctrl-p alone does not detach.
    t.send("\x10\x11echo still-$((2+2))\r");
    t.expect("still-4");
    // docker 28's attach reports a detach as the error it is made of.
    t.send("\x18x");
    t.expect("read escape sequence");
    t.wait();
    assert_eq!(status(&d, "bg"), "running");

    // Keys in an unknown syntax are refused before the upgrade.
    let (code, _, err) = d.docker(&["attach", "--no-stdin", "--detach-keys", "ctrl-1", "bg"]);
    assert_ne!(code, 0);
    assert!(err.contains("received 400"), "{err}");
    let (head, body) = d.http("POST", "/containers/bg/attach?stream=1&detachKeys=ctrl-1");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(
        body.contains("Invalid detach keys (ctrl-1) provided"),
        "{body}"
    );

    let mut t = Pty::spawn(&mut d.docker_command(&["attach", "bg"]), 24, 80);
    t.send("exit 4\r");
    assert_eq!(t.wait(), 4);
    assert_eq!(status(&d, "bg"), "exited");
}

#[test]
fn exec_it_is_a_terminal_in_the_running_container() {
    let d = Daemon::with_busybox();
    ok(d.docker(&["run", "-d", "--name", "web", "busybox", "sleep", "1000"]));
    let mut t = Pty::spawn(
        &mut d.docker_command(&["exec", "-it", "-e", "WHO=exec", "-w", "/tmp", "web", "sh"]),
        25,
        90,
    );
    t.expect("# ");
    t.send("echo $WHO in $(pwd); stty size; cat /proc/1/cmdline | tr '\\0' ' '; echo\r");
    t.expect("exec in /tmp");
    t.expect("25 90");
    t.expect("sleep 1000");
    t.resize_until_seen("# ");
    t.send("sleep 30\r");
    std::thread::sleep(Duration::from_millis(300));
    t.send("\x03");
    t.send("exit 5\r");
    assert_eq!(t.wait(), 5);
    // The container is untouched.
    assert_eq!(status(&d, "web"), "running");
}

#[test]
fn a_tty_container_survives_a_daemon_restart() {
    let mut d = Daemon::with_busybox();
    ok(d.docker(&["run", "-dit", "--name", "keep", "busybox", "sh"]));
    d.kill9();
    d.restart();
    let mut t = Pty::spawn(&mut d.docker_command(&["attach", "keep"]), 24, 80);
    t.send("echo alive-$((3*3))\r");
    t.expect("alive-9");
    t.send("\x10\x11");
    t.expect("read escape sequence");
    t.wait();
    assert_eq!(status(&d, "keep"), "running");
}

#[test]
fn exec_with_stdin_and_detached_exec_codes() {
    let d = Daemon::with_busybox();
    ok(d.docker(&["run", "-d", "--name", "x", "busybox", "sleep", "1000"]));
    // -i without a TTY: the input, then EOF.
    let mut child = d
        .docker_command(&["exec", "-i", "x", "sh", "-c", "wc -l; echo code"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"a\nb\nc\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\ncode\n");
    assert!(out.status.success());

    // A detached exec's exit code and pid are recorded when it ends.
    let body = r#"{"Cmd":["sh","-c","sleep 0.5; exit 7"]}"#;
    let id = api(&d, "POST", "/containers/x/exec", body);
    let id = id["Id"].as_str().unwrap().to_string();
    api(
        &d,
        "POST",
        &format!("/exec/{id}/start"),
        r#"{"Detach":true}"#,
    );
    let running = api(&d, "GET", &format!("/exec/{id}/json"), "");
    assert_eq!(running["Running"], true, "{running}");
    assert!(running["Pid"].as_i64().unwrap() > 0, "{running}");
    let mut done = serde_json::Value::Null;
    eventually("the detached exec's end", || {
        done = api(&d, "GET", &format!("/exec/{id}/json"), "");
        done["Running"] == false
    });
    assert_eq!(done["ExitCode"], 7, "{done}");
    // Its end is an event, with the code, as Docker's exec_die.
    let until = (std::time::SystemTime::now() + Duration::from_secs(1))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let events = ok(d.docker(&[
        "events",
        "--since",
        "0",
        "--until",
        &until,
        "--filter",
        "event=exec_die",
        "--format",
        "{{.Actor.Attributes.execID}} {{.Actor.Attributes.exitCode}}",
    ]));
    assert!(events.contains(&format!("{id} 7")), "{events}");
    // Resizing an exec without a TTY is refused.
    let (head, _) = d.http("POST", &format!("/exec/{id}/resize?h=10&w=10"));
    assert!(head.starts_with("HTTP/1.1 409"), "{head}");
}

/// One JSON request through curl (the body as given).
fn api(d: &Daemon, method: &str, path: &str, body: &str) -> serde_json::Value {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--unix-socket"])
        .arg(d.socket())
        .args(["-X", method, "-H", "Content-Type: application/json"])
        .args(if body.is_empty() {
            vec![]
        } else {
            vec!["-d", body]
        })
        .arg(format!("http://berth{path}"))
        .output()
        .unwrap();
    assert!(out.status.success());
    if out.stdout.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn attach_streams_are_whole_both_ways() {
    let d = Daemon::with_busybox();
    // 8 MiB of varied bytes (no newline structure) in through stdin and
    // back out through attach, unchanged; the log has them too.
    let mut data: Vec<u8> = (0..8u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    // Without a terminal the detach keys are data, as in Docker.
    data[1000..1002].copy_from_slice(b"\x10\x11");
    let mut child = d
        .docker_command(&["run", "-i", "--name", "pipe", "busybox", "cat"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = data.clone();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), data.len());
    assert!(out.stdout == data, "the bytes came back changed");
    // A fast container's first bytes reach a client attached before the start.
    for _ in 0..5 {
        let (code, out, _) = d.docker(&["run", "--rm", "busybox", "echo", "first"]);
        assert_eq!((code, out.as_str()), (0, "first\n"));
    }
}

/// Regression: input to a container's stdin pipe (`run -i` without a TTY)
/// reached it only when the client's input ended: the shim's relay
/// spliced from its socket and waited for more. A shell fed one line must
/// answer while its input is still open.
#[test]
fn stdin_without_a_tty_is_relayed_as_typed() {
    use std::io::{BufRead, Write};
    let d = Daemon::with_busybox();
    let mut child = d
        .docker_command(&["run", "-i", "--rm", "busybox", "sh"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                return;
            }
        }
    });
    writeln!(stdin, "echo $((6*7))").unwrap();
    stdin.flush().unwrap();
    let got = rx.recv_timeout(Duration::from_secs(10));
    // Whatever happened, the shell goes: its input ends.
    drop(stdin);
    let _ = child.wait();
    assert_eq!(
        got.as_deref(),
        Ok("42"),
        "the shell's answer while its input is open"
    );
}
