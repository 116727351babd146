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

/// `POST /exec/{id}/start` hijacked over a raw socket with `body`; the
/// response's head and everything after it, read to the end.
fn exec_start_raw(d: &Daemon, id: &str, body: &str) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST /v1.47/exec/{id}/start HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let at = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let rest = all.split_off(at);
    (String::from_utf8_lossy(&all).into_owned(), rest)
}

/// Docker's frames `[stream, 0, 0, 0, len u32 BE, bytes]`.
fn frames(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while b.len() >= 8 {
        let n = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        out.push((b[0], b[8..8 + n].to_vec()));
        b = &b[8 + n..];
    }
    assert!(b.is_empty(), "a torn frame: {b:?}");
    out
}

/// As dockerd decides it: the start's `Tty`, not the exec's, says whether
/// the output comes in frames. docker-py starts a TTY exec with `"Tty":
/// false` and reads the pty's bytes as stdout frames (it read `h` of
/// `hello` as a stream number); a non-TTY exec started with `"Tty": true`
/// is raw.
#[test]
fn exec_output_framed_by_the_start_not_the_exec() {
    let d = Daemon::with_busybox();
    ok(d.docker(&["run", "-d", "--name", "x", "busybox", "sleep", "1000"]));
    let cmd = r#"["sh","-c","echo hello out; echo hello err >&2"]"#;
    let create = |tty: bool| {
        let body =
            format!(r#"{{"Cmd":{cmd},"Tty":{tty},"AttachStdout":true,"AttachStderr":true}}"#);
        api(&d, "POST", "/containers/x/exec", &body)["Id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (head, rest) = exec_start_raw(&d, &create(true), r#"{"Tty":false}"#);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.contains("application/vnd.docker.multiplexed-stream"),
        "{head}"
    );
    let f = frames(&rest);
    assert!(f.iter().all(|(s, _)| *s == 1), "the pty is stdout: {f:?}");
    let text: Vec<u8> = f.into_iter().flat_map(|(_, b)| b).collect();
    assert_eq!(text, b"hello out\r\nhello err\r\n");

    let (head, rest) = exec_start_raw(&d, &create(true), r#"{"Tty":true}"#);
    assert!(head.contains("application/vnd.docker.raw-stream"), "{head}");
    assert_eq!(rest, b"hello out\r\nhello err\r\n");

    let (head, rest) = exec_start_raw(&d, &create(false), r#"{"Tty":false}"#);
    assert!(head.contains("multiplexed-stream"), "{head}");
    let mut f = frames(&rest);
    f.sort();
    assert_eq!(
        f,
        [(1, b"hello out\n".to_vec()), (2, b"hello err\n".to_vec())]
    );

    let (head, rest) = exec_start_raw(&d, &create(false), r#"{"Tty":true}"#);
    assert!(head.contains("raw-stream"), "{head}");
    let text = String::from_utf8_lossy(&rest);
    assert!(
        text.contains("hello out\n") && text.contains("hello err\n") && rest.len() == 20,
        "{text:?}"
    );

    // A start that fails once hijacked says why on the stream, as dockerd.
    let body = r#"{"Cmd":["/no/such/binary"],"Tty":true}"#;
    let id = api(&d, "POST", "/containers/x/exec", body)["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let (head, rest) = exec_start_raw(&d, &id, r#"{"Tty":true}"#);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let text = String::from_utf8_lossy(&rest);
    assert!(text.contains("no/such/binary"), "{text}");
    let done = api(&d, "GET", &format!("/exec/{id}/json"), "");
    assert_eq!(done["Running"], false, "{done}");
    assert_ne!(done["ExitCode"], 0, "{done}");
}

/// A websocket client's handshake on a raw socket; the answer's head.
fn ws_connect(d: &Daemon, path: &str) -> (std::os::unix::net::UnixStream, String) {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(d.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: berth\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://berth\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    (s, String::from_utf8_lossy(&head).into_owned())
}

/// A masked client frame.
fn ws_send(s: &mut std::os::unix::net::UnixStream, opcode: u8, payload: &[u8]) {
    use std::io::Write;
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&f).unwrap();
}

/// The next server frame: (opcode, payload).
fn ws_recv(s: &mut std::os::unix::net::UnixStream) -> (u8, Vec<u8>) {
    use std::io::Read;
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
    let len = match h[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            s.read_exact(&mut l).unwrap();
            u16::from_be_bytes(l) as usize
        }
        127 => panic!("unexpectedly long frame"),
        n => n as usize,
    };
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).unwrap();
    (h[0] & 0x0f, p)
}

/// `GET /containers/{id}/attach/ws` (beyond dockerd 20.10 here: docker-py
/// reaches it over TCP only): the handshake's accept key, the output raw
/// (never multiplexed) in binary frames, input from the client's frames
/// into the container's stdin, a ping answered, and a close that ends
/// the attach with a close frame; text frames for API < 1.28.
#[test]
fn attach_over_a_websocket() {
    let d = Daemon::with_busybox();
    ok(d.docker(&[
        "create",
        "-i",
        "--name",
        "w",
        "busybox",
        "sh",
        "-c",
        "read l; echo got $l; echo err >&2; cat",
    ]));
    let (mut s, head) = ws_connect(
        &d,
        "/v1.47/containers/w/attach/ws?stream=1&stdout=1&stderr=1&stdin=1",
    );
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("upgrade: websocket"), "{head}");
    assert!(
        lower.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    ok(d.docker(&["start", "w"]));
    ws_send(&mut s, 0x2, b"hello\n");
    let mut got = Vec::new();
    let both = |g: &[u8]| {
        let t = String::from_utf8_lossy(g);
        t.contains("got hello\n") && t.contains("err\n")
    };
    while !both(&got) && got.len() < 100 {
        let (op, p) = ws_recv(&mut s);
        assert_eq!(op, 0x2, "binary frames from API 1.28");
        got.extend(p);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains("got hello\n") && text.contains("err\n"),
        "{text:?}"
    );
    ws_send(&mut s, 0x9, b"pi");
    assert_eq!(ws_recv(&mut s), (0xA, b"pi".to_vec()));
    ws_send(&mut s, 0x1, b"through cat\n");
    assert_eq!(ws_recv(&mut s), (0x2, b"through cat\n".to_vec()));
    ws_send(&mut s, 0x8, &1000u16.to_be_bytes());
    assert_eq!(ws_recv(&mut s), (0x8, 1000u16.to_be_bytes().to_vec()));
    ok(d.docker(&["rm", "-f", "w"]));

    // Text frames for old clients; the log replayed with logs=1.
    ok(d.docker(&["run", "--name", "old", "busybox", "echo", "from the log"]));
    let (mut s, head) = ws_connect(&d, "/v1.27/containers/old/attach/ws?logs=1&stdout=1");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(ws_recv(&mut s), (0x1, b"from the log\n".to_vec()));
    // Not a websocket: refused.
    let (head, _) = d.http("GET", "/containers/old/attach/ws?stdout=1");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
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

/// An attach with `logs=1` sends the 101's head alone: the log's replay
/// waits a moment after it. docker-py reads the head through a buffer and
/// then takes the bare socket (`attach(stream=False, logs=True)`), so bytes
/// that came with the head were lost (its test_attach_no_stream got `b''`
/// one run in three). The client here reads once, a little after asking,
/// as a slow client does.
#[test]
fn attach_replay_never_rides_with_the_head() {
    use std::io::{Read, Write};
    let d = Daemon::with_busybox();
    ok(d.docker(&["run", "--name", "h", "busybox", "echo", "hello"]));
    for _ in 0..5 {
        let mut s = std::os::unix::net::UnixStream::connect(d.socket()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "POST /containers/h/attach?logs=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: berth\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n"
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let mut first = [0u8; 8192];
        let n = s.read(&mut first).unwrap();
        let head = String::from_utf8_lossy(&first[..n]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(
            head.ends_with("\r\n\r\n"),
            "the replay came with the head: {head:?}"
        );
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert_eq!(&rest[8..], b"hello\n");
    }
}
