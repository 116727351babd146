//! Issue 25: what bollard's own test suite found in berthd, one test per
//! finding, each failing on the code before its fix.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::Daemon;

/// One JSON request through curl: (status, body).
fn api(d: &Daemon, method: &str, path: &str, headers: &[&str], body: &[u8]) -> (u16, String) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sS", "--unix-socket"]).arg(d.socket()).args([
        "-X",
        method,
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
    ]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    if !body.is_empty() {
        cmd.args(["--data-binary", "@-"]);
    }
    cmd.arg(format!("http://berth{path}"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let body = body.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    assert!(out.status.success(), "curl {method} {path}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_string())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Finding 1: a client that attached with stdin and keeps its socket open
/// must not make the container unkillable. The shim used to splice from
/// the control socket into the stdin pipe, holding the pipe's lock while
/// blocked on the socket; the container's `sh`, exiting, waited on that
/// lock in uninterruptible sleep until the client went away.
#[test]
fn kill_and_wait_while_an_attached_client_holds_stdin_open() {
    let d = Daemon::with_busybox();
    let (code, body) = api(
        &d,
        "POST",
        "/containers/create?name=held",
        &["Content-Type: application/json"],
        br#"{"Image":"busybox","Cmd":["sh"],"OpenStdin":true,"AttachStdin":true,"AttachStdout":true,"AttachStderr":true}"#,
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = api(&d, "POST", "/containers/held/start", &[], b"");
    assert_eq!(code, 204, "{body}");
    // A raw client: attach with stdin, send one command, then hold the
    // socket open without writing or closing.
    let mut s = UnixStream::connect(d.socket()).unwrap();
    write!(
        s,
        "POST /containers/held/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n\
         Host: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).unwrap(), 1, "attach answered nothing");
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // Before the fix, the echo already hung: the shim's next splice held
    // the pipe locked while it waited for more, so `sh` could not read.
    s.write_all(b"echo attached\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("attached") {
        let n = s.read(&mut buf).expect("the echo comes back");
        assert!(n > 0, "attach ended early");
        seen.extend_from_slice(&buf[..n]);
    }
    // The shim is now waiting for more input from the client. Kill and
    // wait: both must end promptly while the client still holds on.
    let started = Instant::now();
    let waiter = {
        let sock = d.socket();
        std::thread::spawn(move || {
            let out = std::process::Command::new("curl")
                .args(["-sS", "-m", "20", "--unix-socket"])
                .arg(sock)
                .args(["-X", "POST", "http://berth/containers/held/wait"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let (code, body) = api(&d, "POST", "/containers/held/kill", &[], b"");
    assert_eq!(code, 204, "{body}");
    let waited = waiter.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "wait took {:?} with the attach socket held open",
        started.elapsed()
    );
    assert_eq!(json(&waited)["StatusCode"], 137, "{waited}");
    // The attach stream ends with the container, as Docker's does.
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)
        .expect("the attach stream ends when the container does");
}

/// A tar of `(path, bytes)` files, in memory.
fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE.encode(s)
}

/// A registry holding busybox as `bb:latest`, and a daemon without it.
fn registry_with_busybox() -> (common::registry::Registry, Daemon) {
    let reg = common::registry::Registry::start(Default::default());
    let maker = Daemon::start();
    let archive = common::registry::busybox_archive(&maker, reg.dir.path());
    reg.push(
        &format!("docker-archive:{}", archive.display()),
        "bb:latest",
        &[],
    );
    drop(maker);
    (reg, Daemon::start())
}

/// Finding 2: `null` in `X-Registry-Auth` and `X-Registry-Config` is empty,
/// as dockerd reads it (bollard sends `"password":null`).
#[test]
fn null_credentials_in_headers_read_as_empty() {
    let (reg, d) = registry_with_busybox();
    let auth = b64(&format!(
        r#"{{"username":"bollard","password":null,"auth":null,"email":null,"serveraddress":"{}","identitytoken":null,"registrytoken":null}}"#,
        reg.host
    ));
    let (code, body) = api(
        &d,
        "POST",
        &format!("/images/create?fromImage={}/bb&tag=latest", reg.host),
        &[&format!("X-Registry-Auth: {auth}")],
        b"",
    );
    assert_eq!(code, 200, "{body}");
    assert!(!body.contains("errorDetail"), "{body}");
    let (code, _) = api(
        &d,
        "GET",
        &format!("/images/{}/bb/json", reg.host),
        &[],
        b"",
    );
    assert_eq!(code, 200);
    // A build whose base image comes from that registry, with every login
    // the client has in X-Registry-Config (null fields again), and a null
    // header as no logins at all.
    let (code, _) = api(&d, "DELETE", &format!("/images/{}/bb", reg.host), &[], b"");
    assert_eq!(code, 200);
    let context = tar_of(&[(
        "Dockerfile",
        format!("FROM {}/bb\nRUN echo built > /built\n", reg.host).as_bytes(),
    )]);
    for config in [
        format!(
            r#"{{"{}":{{"username":"bollard","password":null,"email":null}}}}"#,
            reg.host
        ),
        "null".to_string(),
    ] {
        let (code, body) = api(
            &d,
            "POST",
            "/build?t=built",
            &[
                "Content-Type: application/x-tar",
                &format!("X-Registry-Config: {}", b64(&config)),
            ],
            &context,
        );
        assert_eq!(code, 200, "{config}: {body}");
        assert!(body.contains("Successfully built"), "{config}: {body}");
    }
}

/// Finding 2, bodies: a create body full of `null`s (as docker-py and
/// bollard send them) reads as Go reads it, zero values.
#[test]
fn null_members_of_a_create_body_read_as_zero_values() {
    let d = Daemon::with_busybox();
    let (code, body) = api(
        &d,
        "POST",
        "/containers/create?name=nulls",
        &["Content-Type: application/json"],
        br#"{"Image":"busybox","Cmd":["sh","-c","pwd; echo $A"],"WorkingDir":null,"User":null,
            "Hostname":null,"Tty":null,"Env":["A=1"],"Labels":{"l":null},"ExposedPorts":null,
            "HostConfig":{"Memory":null,"Privileged":null,"CapAdd":null,"Binds":null,
            "PortBindings":null,"RestartPolicy":null,"LogConfig":null,"Mounts":null}}"#,
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = api(&d, "GET", "/containers/nulls/json", &[], b"");
    assert_eq!(code, 200);
    let v = json(&body);
    assert_eq!(
        v["Config"]["Labels"],
        serde_json::json!({"l": ""}),
        "{body}"
    );
    let (code, out, err) = d.docker(&["start", "-a", "nulls"]);
    assert_eq!((code, out.as_str()), (0, "/\n1\n"), "{err}");
}

/// `data` through a compressor (`gzip -c`, …); `cat` leaves it plain.
fn compress(tool: &str, data: &[u8]) -> Vec<u8> {
    let mut child = std::process::Command::new(tool)
        .args(if tool == "cat" { vec![] } else { vec!["-c"] })
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{tool}");
    out.stdout
}

/// Finding 3: Docker takes a plain, gzip, bzip2 or xz tar (and berth zstd
/// too) in `PUT /containers/{id}/archive`, `POST /images/load` and as a
/// build context.
#[test]
fn compressed_tars_in_archive_put_load_and_build() {
    let d = Daemon::with_busybox();
    let (code, body) = api(
        &d,
        "POST",
        "/containers/create?name=target",
        &["Content-Type: application/json"],
        br#"{"Image":"busybox","Cmd":["true"]}"#,
    );
    assert_eq!(code, 201, "{body}");
    let saved = d.dir.path().join("bb.tar");
    let (code, _, err) = d.docker(&["save", "-o", saved.to_str().unwrap(), "busybox"]);
    assert_eq!(code, 0, "{err}");
    let saved = std::fs::read(saved).unwrap();
    for tool in ["cat", "gzip", "bzip2", "xz", "zstd"] {
        // docker cp's upload: the file lands in the container.
        let tar = compress(tool, &tar_of(&[(&format!("from-{tool}"), tool.as_bytes())]));
        let (code, body) = api(
            &d,
            "PUT",
            "/containers/target/archive?path=/tmp",
            &["Content-Type: application/x-tar"],
            &tar,
        );
        assert_eq!(code, 200, "{tool}: {body}");
        let (code, body) = api(
            &d,
            "GET",
            &format!("/containers/target/archive?path=/tmp/from-{tool}"),
            &[],
            b"",
        );
        assert_eq!(code, 200, "{tool}: the file is there");
        assert!(body.contains(tool), "{tool}: {body}");
        // load: a `docker save` archive, compressed.
        let (code, body) = api(
            &d,
            "POST",
            "/images/load?quiet=1",
            &["Content-Type: application/x-tar"],
            &compress(tool, &saved),
        );
        assert_eq!(code, 200, "{tool}: {body}");
        assert!(body.contains("Loaded image"), "{tool}: {body}");
        // build: a context, compressed.
        let context = compress(
            tool,
            &tar_of(&[
                (
                    "Dockerfile",
                    b"FROM busybox\nCOPY file /file\nRUN cat /file\n",
                ),
                ("file", format!("context-{tool}").as_bytes()),
            ]),
        );
        let (code, body) = api(
            &d,
            "POST",
            &format!("/build?t=ctx-{tool}"),
            &["Content-Type: application/x-tar"],
            &context,
        );
        assert_eq!(code, 200, "{tool}: {body}");
        assert!(
            body.contains(&format!("context-{tool}")) && body.contains("Successfully built"),
            "{tool}: {body}"
        );
    }
    // Still hostile input: a compressed tar with `..` is refused, nothing
    // written outside.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    let (code, body) = api(
        &d,
        "PUT",
        "/containers/target/archive?path=/tmp",
        &["Content-Type: application/x-tar"],
        &compress("xz", &b.into_inner().unwrap()),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("leaves the destination"), "{body}");
}

/// Finding 4: resizing a container without a TTY is a no-op answered 200
/// (with its `resize` event), as dockerd does; a stopped one is 409.
#[test]
fn resize_without_a_tty_is_a_no_op() {
    let d = Daemon::with_busybox();
    let (code, out, err) = d.docker(&["run", "-d", "--name", "nt", "busybox", "sleep", "100"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, body) = api(&d, "POST", "/containers/nt/resize?h=40&w=100", &[], b"");
    assert_eq!(code, 200, "{body}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let (code, body) = api(
        &d,
        "GET",
        &format!("/events?since=0&until={now}&filters=%7B%22event%22%3A%5B%22resize%22%5D%7D"),
        &[],
        b"",
    );
    assert_eq!(code, 200);
    let ev = json(body.lines().next().unwrap_or("null"));
    assert_eq!(ev["Action"], "resize", "{body}");
    assert_eq!(ev["Actor"]["Attributes"]["height"], "40", "{body}");
    assert_eq!(ev["Actor"]["Attributes"]["width"], "100", "{body}");
    let (code, body) = api(&d, "POST", "/containers/nt/resize?h=x&w=100", &[], b"");
    assert_eq!(code, 400, "{body}");
    let (code, _, _) = d.docker(&["kill", "nt"]);
    assert_eq!(code, 0);
    let (code, body) = api(&d, "POST", "/containers/nt/resize?h=40&w=100", &[], b"");
    assert_eq!(code, 409, "{body}");
}

/// `GET path` with `filters` (JSON, percent-encoded here): (status, body).
fn filtered(d: &Daemon, path: &str, filters: &str) -> (u16, String) {
    let enc: String = filters
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let sep = if path.contains('?') { '&' } else { '?' };
    api(d, "GET", &format!("{path}{sep}filters={enc}"), &[], b"")
}

/// The `Name`s (or `Names[0]`, or first `RepoTags`) of a list.
fn names(body: &str) -> Vec<String> {
    let v = json(body);
    let list = v["Volumes"]
        .as_array()
        .or(v.as_array())
        .cloned()
        .unwrap_or_default();
    let mut out: Vec<String> = list
        .iter()
        .map(|x| {
            x["Name"]
                .as_str()
                .or(x["Names"][0].as_str())
                .or(x["RepoTags"][0].as_str())
                .unwrap_or("?")
                .trim_start_matches('/')
                .to_string()
        })
        .collect();
    out.sort();
    out
}

/// Finding 5: the list filters of /networks, /containers/json,
/// /images/json and /volumes that moby's swagger documents, and Docker's
/// 400 for an unknown key or malformed JSON.
#[test]
fn list_filters_as_moby_documents_them() {
    let d = Daemon::with_busybox();
    // Networks: scope (bollard's network prune counts on it).
    let (code, body) = filtered(&d, "/networks", r#"{"scope":["global"]}"#);
    assert_eq!((code, body.trim()), (200, "[]"));
    let (code, body) = filtered(&d, "/networks", r#"{"scope":["local"]}"#);
    assert_eq!(code, 200);
    assert_eq!(names(&body), ["bridge", "host", "none"]);
    let (code, _, err) = d.docker(&[
        "network", "create", "--label", "a=1", "--label", "b=2", "net1",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = d.docker(&["network", "create", "--label", "a=1", "net2"]);
    assert_eq!(code, 0, "{err}");
    // Labels must all match; names are regular expressions.
    let (_, body) = filtered(&d, "/networks", r#"{"label":["a=1","b"]}"#);
    assert_eq!(names(&body), ["net1"]);
    let (_, body) = filtered(
        &d,
        "/networks",
        r#"{"name":["^net[0-9]$"],"type":["custom"]}"#,
    );
    assert_eq!(names(&body), ["net1", "net2"]);
    let (_, body) = filtered(&d, "/networks", r#"{"dangling":["true"]}"#);
    assert_eq!(names(&body), ["net1", "net2"]);
    let (code, body) = filtered(&d, "/networks", r#"{"dangling":["maybe"]}"#);
    assert_eq!(code, 400, "{body}");
    // Containers: publish, expose, network, health, is-task, exited.
    let (code, _, err) = d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "net1",
        "--expose",
        "7000",
        "busybox",
        "sleep",
        "100",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = d.docker(&["run", "--name", "done", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(code, 3, "{err}");
    for (f, want) in [
        (r#"{"expose":["7000"]}"#, vec!["web"]),
        (r#"{"expose":["6990-7010/tcp"]}"#, vec!["web"]),
        (r#"{"expose":["7000/udp"]}"#, vec![]),
        (r#"{"network":["net1"]}"#, vec!["web"]),
        (r#"{"network":["net2"]}"#, vec![]),
        (r#"{"health":["none"]}"#, vec!["done", "web"]),
        (r#"{"health":["healthy"]}"#, vec![]),
        (r#"{"is-task":["false"]}"#, vec!["done", "web"]),
        (r#"{"is-task":["true"]}"#, vec![]),
        (r#"{"exited":["3"]}"#, vec!["done"]),
        (r#"{"name":["^/?w.b$"]}"#, vec!["web"]),
    ] {
        let (code, body) = filtered(&d, "/containers/json?all=1", f);
        assert_eq!(code, 200, "{f}: {body}");
        assert_eq!(names(&body), want, "{f}");
    }
    for (f, want) in [
        (
            r#"{"publish":["80:80"]}"#,
            "filter for 'publish' should not contain ':'",
        ),
        (r#"{"health":["sick"]}"#, "invalid filter 'health=sick'"),
        (r#"{"exited":["x"]}"#, "invalid filter 'exited=x'"),
    ] {
        let (code, body) = filtered(&d, "/containers/json", f);
        assert_eq!(code, 400, "{f}");
        assert!(body.contains(want), "{f}: {body}");
    }
    // Images: reference, label, before and since, dangling.
    let (code, _, err) = d.docker(&["tag", "busybox", "me/tool:1"]);
    assert_eq!(code, 0, "{err}");
    for (f, want) in [
        (r#"{"reference":["me/*"]}"#, vec!["me/tool:1"]),
        (r#"{"reference":["busy*:latest"]}"#, vec!["busybox:latest"]),
        (
            r#"{"reference":["docker.io/library/busybox"]}"#,
            vec!["busybox:latest"],
        ),
        (r#"{"reference":["nothing"]}"#, vec![]),
        (r#"{"label":["nope"]}"#, vec![]),
        (r#"{"before":["busybox"]}"#, vec![]),
        (r#"{"since":["busybox"]}"#, vec![]),
        (r#"{"until":["1000"]}"#, vec![]),
        (r#"{"dangling":["false"]}"#, vec!["busybox:latest"]),
    ] {
        let (code, body) = filtered(&d, "/images/json", f);
        assert_eq!(code, 200, "{f}: {body}");
        assert_eq!(names(&body), want, "{f}");
    }
    // Volumes: names as regular expressions.
    for v in ["data1", "data2", "other"] {
        let (code, _, err) = d.docker(&["volume", "create", v]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, body) = filtered(&d, "/volumes", r#"{"name":["^data[0-9]"]}"#);
    assert_eq!(code, 200, "{body}");
    assert_eq!(names(&body), ["data1", "data2"]);
    // An unknown key is Docker's 400, on every list; so is broken JSON.
    for path in ["/networks", "/containers/json", "/images/json", "/volumes"] {
        let (code, body) = filtered(&d, path, r#"{"xyz":["1"]}"#);
        assert_eq!(code, 400, "{path}");
        assert_eq!(json(&body)["message"], "invalid filter 'xyz'", "{path}");
        let (code, body) = filtered(&d, path, "{not json");
        assert_eq!(code, 400, "{path}: {body}");
        assert_eq!(json(&body)["message"], "invalid filter", "{path}");
    }
    let (code, _, _) = d.docker(&["rm", "-f", "web", "done"]);
    assert_eq!(code, 0);
}

/// The cgroup files named, read from inside container `c` (v1 or v2 names;
/// the missing ones are skipped): their words.
fn cgroup_words(d: &Daemon, c: &str, files: &str) -> Vec<String> {
    let (code, out, err) = d.docker(&[
        "exec",
        c,
        "sh",
        "-c",
        &format!("cd /sys/fs/cgroup && cat {files} 2>/dev/null; true"),
    ]);
    assert_eq!(code, 0, "{err}");
    out.split_whitespace().map(String::from).collect()
}

/// Finding 6: `POST /containers/{id}/update` changes the limits of a
/// running container in its cgroup at once, keeps them for the next start,
/// and updates the restart policy; Docker's refusals; the docker CLI's
/// `update` works against it.
#[test]
fn update_changes_limits_live_and_the_restart_policy() {
    let d = Daemon::with_busybox();
    let (code, _, err) = d.docker(&["run", "-d", "--name", "up", "busybox", "sleep", "1000"]);
    assert_eq!(code, 0, "{err}");
    let (code, body) = api(
        &d,
        "POST",
        "/containers/up/update",
        &["Content-Type: application/json"],
        br#"{"Memory":314572800,"MemorySwap":314572800,"CpuShares":512,"CpuPeriod":100000,
            "CpuQuota":50000,"CpusetCpus":"0","PidsLimit":50,"BlkioWeight":null,
            "RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3}}"#,
    );
    assert_eq!(
        (code, json(&body)),
        (200, serde_json::json!({"Warnings": []})),
        "{body}"
    );
    let live = cgroup_words(
        &d,
        "up",
        "memory/memory.limit_in_bytes memory.max cpu/cpu.shares cpu/cpu.cfs_quota_us \
         cpu.max pids/pids.max pids.max cpuset/cpuset.cpus cpuset.cpus",
    );
    for want in ["314572800", "512", "50000", "50", "0"] {
        assert!(live.iter().any(|w| w == want), "{want} in {live:?}");
    }
    let (code, out, _) = d.docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
        "up",
    ]);
    assert_eq!((code, out.trim()), (0, "314572800 512 50 on-failure:3"));
    // The docker CLI's own update, then a restart keeps what was set.
    let (code, out, err) = d.docker(&["update", "--cpu-shares", "256", "--pids-limit", "70", "up"]);
    assert_eq!((code, out.trim()), (0, "up"), "{err}");
    let (code, _, err) = d.docker(&["restart", "-t", "0", "up"]);
    assert_eq!(code, 0, "{err}");
    let after = cgroup_words(
        &d,
        "up",
        "memory/memory.limit_in_bytes memory.max cpu/cpu.shares pids/pids.max pids.max",
    );
    for want in ["314572800", "256", "70"] {
        assert!(after.iter().any(|w| w == want), "{want} in {after:?}");
    }
    // Docker's refusals, with its texts.
    for (body, want) in [
        (r#"{"Memory":1024}"#, "Minimum memory limit allowed is 6MB"),
        (r#"{"Memory":1073741824}"#, "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"),
        (r#"{"NanoCpus":500000000}"#, "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set"),
        (r#"{"CpuPeriod":10}"#, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
        (r#"{"RestartPolicy":{"Name":"sometimes"}}"#, "invalid restart policy"),
    ] {
        let (code, out) = api(
            &d,
            "POST",
            "/containers/up/update",
            &["Content-Type: application/json"],
            body.as_bytes(),
        );
        assert_eq!(code, 400, "{body}: {out}");
        assert!(json(&out)["message"].as_str().unwrap_or("").contains(want), "{body}: {out}");
    }
    // As dockerd stores it: a memory limit without swap gets twice as much
    // swap, which inspect shows and an update compares with (docker-py's
    // test_update_container lowers 400 MiB to 300 MiB without swap).
    let (code, _, err) = d.docker(&[
        "run", "-d", "--name", "swap", "-m", "400m", "busybox", "sleep", "1000",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = d.docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}",
        "swap",
    ]);
    assert_eq!((code, out.trim()), (0, "419430400 838860800"));
    let (code, out) = api(
        &d,
        "POST",
        "/containers/swap/update",
        &["Content-Type: application/json"],
        br#"{"Memory":314572800}"#,
    );
    assert_eq!(code, 200, "{out}");
    let (code, out, _) = d.docker(&["inspect", "-f", "{{.HostConfig.Memory}}", "swap"]);
    assert_eq!((code, out.trim()), (0, "314572800"));
    let (code, out) = api(
        &d,
        "POST",
        "/containers/nothing/update",
        &["Content-Type: application/json"],
        b"{}",
    );
    assert_eq!(code, 404, "{out}");
    // A container with --rm keeps no restart policy.
    let (code, _, err) = d.docker(&[
        "run", "-d", "--rm", "--name", "gone", "busybox", "sleep", "1000",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = d.docker(&["update", "--restart", "always", "gone"]);
    assert!(
        code != 0
            && err.contains(
                "Restart policy cannot be updated because AutoRemove is enabled for the container"
            ),
        "{err}"
    );
}

/// Finding 6: `GET /distribution/{name}/json` answers from the registry:
/// the manifest's descriptor (as skopeo sees its digest) and platforms;
/// credentials from `X-Registry-Auth` (nulls and all).
#[test]
fn distribution_inspect_reads_the_registry() {
    let (reg, d) = registry_with_busybox();
    let digest = reg.digest("bb:latest", &[]);
    let auth = format!(
        "X-Registry-Auth: {}",
        b64(r#"{"username":"bollard","password":null}"#)
    );
    let (code, body) = api(
        &d,
        "GET",
        &format!("/distribution/{}/bb:latest/json", reg.host),
        &[&auth],
        b"",
    );
    assert_eq!(code, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["Descriptor"]["digest"], digest.as_str(), "{body}");
    assert!(v["Descriptor"]["size"].as_u64().unwrap_or(0) > 0, "{body}");
    assert!(
        v["Descriptor"]["mediaType"]
            .as_str()
            .is_some_and(|m| m.contains("manifest")),
        "{body}"
    );
    assert_eq!(
        v["Platforms"],
        serde_json::json!([{"architecture": "amd64", "os": "linux"}]),
        "{body}"
    );
    // Without a tag: latest. A missing tag: Docker's 404.
    let (code, again) = api(
        &d,
        "GET",
        &format!("/distribution/{}/bb/json", reg.host),
        &[],
        b"",
    );
    assert_eq!(
        (code, json(&again)["Descriptor"]["digest"].clone()),
        (200, v["Descriptor"]["digest"].clone())
    );
    let (code, body) = api(
        &d,
        "GET",
        &format!("/distribution/{}/bb:nope/json", reg.host),
        &[],
        b"",
    );
    assert_eq!(code, 404, "{body}");
    // Nothing was pulled.
    let (code, _) = api(
        &d,
        "GET",
        &format!("/images/{}/bb/json", reg.host),
        &[],
        b"",
    );
    assert_eq!(code, 404);
}

/// A v1 search index of the test's own on loopback: answers every request
/// with `body` (and counts them).
fn search_index(body: &'static str) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            if !req.starts_with("GET /v1/search?q=bb&n=") {
                // berthd tries TLS first on an insecure registry.
                continue;
            }
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, hits)
}

/// Finding 6: `GET /images/search` asks the index named in the term
/// (`/v1/search`), applies Docker's filters and limits, and answers a
/// registry without search (distribution's) with Docker's error, not 404.
#[test]
fn image_search_asks_the_index() {
    let d = Daemon::start();
    let (index, hits) = search_index(
        r#"{"num_results":3,"query":"bb","results":[
            {"name":"bb","description":"busybox","star_count":10,"is_official":true,"is_automated":false},
            {"name":"me/bb","description":"mine","star_count":1,"is_official":false,"is_automated":false},
            {"name":"you/bb","description":"yours","star_count":5,"is_official":false,"is_automated":false}]}"#,
    );
    let (code, body) = api(
        &d,
        "GET",
        &format!("/images/search?term={index}/bb"),
        &[],
        b"",
    );
    assert_eq!(code, 200, "{body}");
    let v = json(&body);
    assert_eq!(v.as_array().map(Vec::len), Some(3), "{body}");
    assert_eq!(v[0]["name"], "bb");
    assert_eq!(v[0]["star_count"], 10);
    let (code, body) = filtered(
        &d,
        &format!("/images/search?term={index}/bb&limit=2"),
        r#"{"stars":["3"]}"#,
    );
    assert_eq!(code, 200, "{body}");
    let v = json(&body);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bb", "you/bb"], "{body}");
    let (code, body) = filtered(
        &d,
        &format!("/images/search?term={index}/bb"),
        r#"{"is-official":["true"]}"#,
    );
    assert_eq!(
        (code, json(&body).as_array().map(Vec::len)),
        (200, Some(1)),
        "{body}"
    );
    assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    // Docker's refusals.
    let (code, body) = api(
        &d,
        "GET",
        &format!("/images/search?term={index}/bb&limit=101"),
        &[],
        b"",
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("limit 101 is outside the range of [1, 100]"),
        "{body}"
    );
    let (code, body) = filtered(
        &d,
        &format!("/images/search?term={index}/bb"),
        r#"{"xyz":["1"]}"#,
    );
    assert_eq!(
        (code, json(&body)["message"].as_str()),
        (400, Some("invalid filter 'xyz'"))
    );
    // Distribution's registry has no v1 search: Docker's error, a 500.
    let reg = common::registry::Registry::start(Default::default());
    let (code, body) = api(
        &d,
        "GET",
        &format!("/images/search?term={}/bb", reg.host),
        &[],
        b"",
    );
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("Unexpected status code 404"), "{body}");
}
