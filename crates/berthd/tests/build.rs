//! `docker build` (the classic builder protocol, `DOCKER_BUILDKIT=0`) with
//! the real docker CLI against berthd: instructions and the image they
//! make, the cache (a cached step starts no container; content, not mtime,
//! decides), build args, multi-stage builds with `--target` and `COPY
//! --from`, heredocs, failures with Docker's texts, and hostile contexts.

mod common;

use std::fs;
use std::path::Path;

use common::*;

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout: {}\nstderr: {}", r.1, r.2);
    r.1
}

/// `docker build` with the classic builder.
fn build(d: &Daemon, args: &[&str]) -> (i32, String, String) {
    let out = d
        .docker_command(&[&["build"], args].concat())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// Containers the daemon created since `since` (unix seconds).
fn containers_created(d: &Daemon, since: &str) -> usize {
    let until = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 1
    );
    let out = ok(d.docker(&[
        "events",
        "--since",
        since,
        "--until",
        &until,
        "--filter",
        "type=container",
        "--filter",
        "event=create",
        "--format",
        "{{.ID}}",
    ]));
    out.lines().count()
}

fn now() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}

#[test]
fn build_run_copy_metadata_and_cache() {
    let d = Daemon::with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(c, "hello.txt", "hello file\n");
    write(c, "dir/a", "A\n");
    write(c, "dir/sub/b", "B\n");
    write(
        c,
        "Dockerfile",
        r#"# a comment
FROM busybox
ARG GREETING=hello
ENV APP=/app \
    MODE=test
WORKDIR $APP
COPY hello.txt .
COPY dir/ ./dir/
RUN echo "$GREETING from run in $(pwd)" > run.txt && cat hello.txt
LABEL org.test.kind="build test" org.test.mode=$MODE
EXPOSE 8080 53/udp
USER 1000:1000
CMD ["cat", "/app/run.txt"]
"#,
    );
    let ctxs = c.to_str().unwrap();
    let out = ok(build(&d, &["-t", "t1", ctxs]));
    assert!(out.contains("Step 1/11 : FROM busybox"), "{out}");
    assert!(out.contains("hello file"), "the RUN's output: {out}");
    assert!(out.contains("Successfully tagged t1:latest"), "{out}");
    assert_eq!(
        ok(d.docker(&["run", "--rm", "t1"])),
        "hello from run in /app\n"
    );
    let inspect = ok(d.docker(&[
        "inspect", "-f",
        "{{.Config.WorkingDir}}|{{.Config.User}}|{{json .Config.Labels}}|{{json .Config.ExposedPorts}}|{{json .Config.Env}}",
        "t1",
    ]));
    let f: Vec<&str> = inspect.trim().split('|').collect();
    assert_eq!(f[0], "/app");
    assert_eq!(f[1], "1000:1000");
    assert_eq!(
        f[2],
        r#"{"org.test.kind":"build test","org.test.mode":"test"}"#
    );
    assert_eq!(f[3], r#"{"53/udp":{},"8080/tcp":{}}"#);
    assert!(
        f[4].contains("\"APP=/app\"") && f[4].contains("\"MODE=test\""),
        "{inspect}"
    );
    assert!(
        !f[4].contains("GREETING"),
        "build args stay out of the image: {inspect}"
    );
    assert_eq!(
        ok(d.docker(&[
            "run",
            "--rm",
            "--entrypoint",
            "sh",
            "t1",
            "-c",
            "cat /app/dir/a /app/dir/sub/b; stat -c %u /app/hello.txt"
        ])),
        "A\nB\n0\n"
    );
    // History: one entry a step, metadata steps without a layer.
    let history = ok(d.docker(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Size}}",
        "t1",
    ]));
    assert!(
        history
            .lines()
            .any(|l| l.contains("echo \"$GREETING from run")),
        "{history}"
    );
    assert!(
        history
            .lines()
            .any(|l| l.contains("#(nop)  ENV APP=/app MODE=test|0B")),
        "{history}"
    );
    let id1 = ok(d.docker(&["images", "-q", "--no-trunc", "t1"]));

    // Again: every step cached, no container started, the same image.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let since = now();
    let out = ok(build(&d, &["-t", "t1", ctxs]));
    assert_eq!(out.matches("Using cache").count(), 10, "{out}");
    assert_eq!(ok(d.docker(&["images", "-q", "--no-trunc", "t1"])), id1);
    assert_eq!(
        containers_created(&d, &since),
        0,
        "a cached build started a container"
    );

    // Only an mtime changed: still cached. The content changed: COPY and
    // what follows run again.
    let f = fs::File::options()
        .write(true)
        .open(c.join("hello.txt"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    let out = ok(build(&d, &["-t", "t1", ctxs]));
    assert_eq!(out.matches("Using cache").count(), 10, "mtime only: {out}");
    write(c, "hello.txt", "changed\n");
    let out = ok(build(&d, &["-t", "t1", ctxs]));
    assert_eq!(
        out.matches("Using cache").count(),
        3,
        "ARG, ENV, WORKDIR: {out}"
    );
    assert!(out.contains("changed"), "{out}");
    // A build arg: the RUN runs again with it.
    let out = ok(build(&d, &["--build-arg", "GREETING=hi", "-t", "t2", ctxs]));
    assert!(out.contains("Running in"), "{out}");
    assert_eq!(
        ok(d.docker(&["run", "--rm", "t2"])),
        "hi from run in /app\n"
    );
    // --no-cache: nothing from the cache.
    let out = ok(build(&d, &["--no-cache", "-q", ctxs]));
    assert!(out.trim().starts_with("sha256:"), "{out}");
}

#[test]
fn multi_stage_target_heredocs_and_onbuild() {
    let d = Daemon::with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(
        c,
        "Dockerfile",
        r#"ARG BASE=busybox
FROM ${BASE} AS builder
RUN <<EOF
mkdir -p /out
echo built > /out/artifact
EOF
COPY <<-EOT /out/notes.txt
	line one
	line two
	EOT
ONBUILD RUN echo triggered > /trigger

FROM scratch
COPY --from=builder /out/ /
COPY --from=builder --chmod=0600 /out/artifact /private
"#,
    );
    let ctxs = c.to_str().unwrap();
    ok(build(&d, &["-t", "final", ctxs]));
    // The final stage has no shell: copy the files out to check them.
    ok(d.docker(&["create", "--name", "f", "final", "x"]));
    let host = tempfile::tempdir().unwrap();
    ok(d.docker(&[
        "cp",
        "f:/artifact",
        host.path().join("artifact").to_str().unwrap(),
    ]));
    ok(d.docker(&[
        "cp",
        "f:/notes.txt",
        host.path().join("notes").to_str().unwrap(),
    ]));
    assert_eq!(
        fs::read_to_string(host.path().join("artifact")).unwrap(),
        "built\n"
    );
    assert_eq!(
        fs::read_to_string(host.path().join("notes")).unwrap(),
        "line one\nline two\n"
    );
    let listing = ok(d.docker(&["export", "f"]));
    assert!(listing.contains("private"), "the chmod'ed copy is there");
    // --target stops at the named stage.
    ok(build(&d, &["--target", "builder", "-t", "b", ctxs]));
    assert_eq!(
        ok(d.docker(&["run", "--rm", "b", "cat", "/out/artifact"])),
        "built\n"
    );
    // ONBUILD runs in the next build from that image.
    write(c, "Dockerfile.child", "FROM b\nRUN cat /trigger\n");
    let out = ok(build(
        &d,
        &[
            "-f",
            c.join("Dockerfile.child").to_str().unwrap(),
            "-t",
            "child",
            ctxs,
        ],
    ));
    assert!(out.contains("triggered"), "{out}");
}

#[test]
fn failures_say_what_and_where() {
    let d = Daemon::with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    let ctxs = c.to_str().unwrap();
    let before = ok(d.docker(&["images", "-q"]));
    write(
        c,
        "Dockerfile",
        "FROM busybox\nRUN echo partial && exit 3\n",
    );
    let (code, out, err) = build(&d, &[ctxs]);
    assert_eq!(
        code, 3,
        "the RUN's code, as the docker CLI exits against dockerd"
    );
    assert!(
        err.contains("The command '/bin/sh -c echo partial && exit 3' returned a non-zero code: 3"),
        "{out}{err}"
    );
    assert!(
        out.contains("partial"),
        "the failing step's output is shown: {out}"
    );
    assert_eq!(
        ok(d.docker(&["ps", "-aq"])),
        "",
        "no container is left behind"
    );
    write(c, "Dockerfile", "FROM busybox\nFORM x\n");
    let (code, _, err) = build(&d, &[ctxs]);
    assert_eq!(code, 1);
    assert!(
        err.contains(":2:") && err.contains("unknown instruction"),
        "{err}"
    );
    write(c, "Dockerfile", "FROM busybox\nCOPY missing.txt /\n");
    let (code, _, err) = build(&d, &[ctxs]);
    assert_eq!(code, 1);
    assert!(err.contains("missing.txt"), "{err}");
    write(c, "Dockerfile", "FROM no-such-image\n");
    let (code, _, err) = build(&d, &[ctxs]);
    assert_eq!(code, 1);
    assert!(err.contains("no-such-image"), "{err}");
    // Nothing new was tagged or left dangling by the failures... except
    // the steps that succeeded before one failed (cached for next time).
    let after = ok(d.docker(&["images", "-q"]));
    assert_eq!(before, after);
}

#[test]
fn hostile_contexts_stay_inside() {
    let d = Daemon::with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    let ctxs = c.to_str().unwrap();
    // Sources that climb out or are symlinks out resolve inside the context.
    let secret = d.dir.path().join("host-secret");
    fs::write(&secret, "HOST-ONLY-7d1e\n").unwrap();
    std::os::unix::fs::symlink(&secret, c.join("link")).unwrap();
    write(
        c,
        "Dockerfile",
        "FROM busybox\nCOPY ../../../../../../../../host-secret /x\n",
    );
    let (code, out, err) = build(&d, &[ctxs]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("not found"), "{err}");
    write(c, "Dockerfile", "FROM busybox\nCOPY link /x\n");
    let (code, out, err) = build(&d, &["-t", "l", ctxs]);
    if code == 0 {
        let got = ok(d.docker(&["run", "--rm", "l", "sh", "-c", "cat /x 2>&1; true"]));
        assert!(!got.contains("HOST-ONLY"), "a symlink read the host: {got}");
    } else {
        assert!(!out.contains("HOST-ONLY") && !err.contains("HOST-ONLY"));
    }
    // A context tar with `..` entries is refused before any step.
    let evil = d.dir.path().join("evil.tar");
    let script = format!(
        "import io, tarfile\nt = tarfile.open({:?}, 'w')\nfor n, data in [('Dockerfile', b'FROM busybox\\n'), ('../../escaped', b'x')]:\n    i = tarfile.TarInfo(n); i.size = len(data); t.addfile(i, io.BytesIO(data))\nt.close()\n",
        evil.to_str().unwrap()
    );
    assert!(std::process::Command::new("python3")
        .arg("-c")
        .arg(&script)
        .status()
        .unwrap()
        .success());
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            "--unix-socket",
            d.socket().to_str().unwrap(),
            "-X",
            "POST",
            "-H",
            "Content-Type: application/x-tar",
            "--data-binary",
        ])
        .arg(format!("@{}", evil.display()))
        .arg("http://berth/v1.47/build")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim_end().ends_with("400"), "{text}");
    assert!(text.contains("leaves the destination"), "{text}");
    assert!(!d.dir.path().join("escaped").exists());
}

#[test]
fn add_extracts_local_archives_and_fetches_urls() {
    let d = Daemon::with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    // A gzipped tar in the context: ADD unpacks it (with its owners).
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "pkg/bin/tool", "#!/bin/sh\necho tool\n");
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(src.path())
        .args(["--owner=123", "--group=456", "-czf"])
        .arg(c.join("pkg.tar.gz"))
        .arg("pkg")
        .status()
        .unwrap();
    assert!(st.success());
    write(c, "plain.txt", "plain\n");
    // A file served over HTTP on loopback.
    let www = tempfile::tempdir().unwrap();
    write(www.path(), "remote.txt", "from the web\n");
    // 24 MiB, to be streamed (never held whole) and checked to the byte.
    let big = std::fs::File::create(www.path().join("big.bin")).unwrap();
    big.set_len(24 << 20).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    // Python's server, with /moved.txt redirected (302) to /remote.txt:
    // ADD follows redirects, and names the file by the URL as written.
    let serve = r#"
import http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path == '/moved.txt':
            self.send_response(302)
            self.send_header('Location', '/remote.txt')
            self.end_headers()
            return
        super().do_GET()
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
"#;
    let mut server = std::process::Command::new("python3")
        .args(["-c", serve, &port.to_string()])
        .current_dir(www.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually("the web server", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    write(
        c,
        "Dockerfile",
        &format!(
            "FROM busybox\nADD pkg.tar.gz /opt/\nADD plain.txt /opt/plain.txt\nADD http://127.0.0.1:{port}/remote.txt /opt/\n\
             ADD http://127.0.0.1:{port}/moved.txt /opt/\nADD http://127.0.0.1:{port}/big.bin /big/\n"
        ),
    );
    let r = build(&d, &["-t", "added", c.to_str().unwrap()]);
    let _ = server.kill();
    let _ = server.wait();
    ok(r);
    assert_eq!(
        ok(d.docker(&[
            "run", "--rm", "added", "sh", "-c",
            "cat /opt/pkg/bin/tool /opt/plain.txt /opt/remote.txt /opt/moved.txt; stat -c %u:%g /opt/pkg/bin/tool; ls /opt; wc -c < /big/big.bin"
        ])),
        "#!/bin/sh\necho tool\nplain\nfrom the web\nfrom the web\n123:456\nmoved.txt\npkg\nplain.txt\nremote.txt\n25165824\n"
    );
}

/// `POST /build` with a tar body and query; the JSON lines.
fn api_build(d: &Daemon, query: &str, tar: &[u8]) -> (u16, Vec<serde_json::Value>) {
    d.curl_lines(
        "POST",
        &format!("/v1.47/build?{query}"),
        &["Content-Type: application/x-tar"],
        tar,
    )
}

fn streams(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l["stream"].as_str().map(String::from))
        .collect()
}

/// The messages as dockerd 20.10's classic builder sends them (recorded
/// here): the step and its newline apart, `Removing intermediate
/// container`, a `RUN`'s stderr between ESC[91m and ESC[0m, the `aux` id
/// before `Successfully built` (docker-py reads the last line's `stream`),
/// and a failed `RUN`'s exit code in `errorDetail.code`.
#[test]
fn api_stream_as_dockerd_writes_it() {
    let d = Daemon::with_busybox();
    let df = b"FROM busybox\nRUN echo out; echo err >&2\n";
    let (status, lines) = api_build(&d, "t=s1&nocache=1", &tar_of(&[("Dockerfile", df)]));
    assert_eq!(status, 200);
    let s = streams(&lines);
    assert_eq!(s[..2], ["Step 1/2 : FROM busybox", "\n"]);
    assert_eq!(s[3..5], ["Step 2/2 : RUN echo out; echo err >&2", "\n"]);
    assert!(s.contains(&"out\n".to_string()), "{s:?}");
    assert!(s.contains(&"\x1b[91merr\n\x1b[0m".to_string()), "{s:?}");
    assert!(
        s.iter()
            .any(|l| l.starts_with("Removing intermediate container ")),
        "{s:?}"
    );
    let aux = lines
        .iter()
        .position(|l| l["aux"]["ID"].is_string())
        .expect("an aux line");
    assert!(
        lines[aux + 1]["stream"]
            .as_str()
            .unwrap()
            .starts_with("Successfully built "),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().unwrap()["stream"],
        "Successfully tagged s1:latest\n"
    );

    let df = b"FROM busybox\nRUN exit 3\n";
    let (status, lines) = api_build(&d, "nocache=1", &tar_of(&[("Dockerfile", df)]));
    assert_eq!(status, 200);
    let last = lines.last().unwrap();
    assert_eq!(last["errorDetail"]["code"], 3, "{last}");
    assert_eq!(
        last["error"],
        "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    );

    // Refused as dockerd 20.10 refuses them (no experimental mode; the
    // platform read by containerd's parser), before anything runs.
    let one = tar_of(&[("Dockerfile", b"FROM busybox\n")]);
    let (status, body) = d.curl("POST", "/v1.47/build?squash=1", &[], &one);
    assert_eq!(status, 400);
    assert_eq!(
        String::from_utf8_lossy(&body),
        r#"{"message":"squash is only supported with experimental mode"}"#
    );
    let (status, body) = d.curl("POST", "/v1.47/build?platform=foobar", &[], &one);
    assert_eq!(status, 400);
    assert_eq!(
        String::from_utf8_lossy(&body),
        r#"{"message":"\"foobar\": unknown operating system or architecture: invalid argument"}"#
    );
    let (status, _) = d.curl("POST", "/v1.47/build?platform=linux/amd64", &[], &one);
    assert_eq!(status, 200);
}

/// `COPY . /dir` copies the whole context into a directory it makes (it
/// used to spill the context into `/`); a Dockerfile sent from outside
/// the context under a name that the sent `.dockerignore` lists leaves
/// the context with it (Docker's `removeDockerfile`: how docker-py sends
/// `dockerfile=/elsewhere/Dockerfile`); the first `dockerfile` value
/// counts, as Go's `FormValue` reads it.
#[test]
fn copy_of_the_context_and_an_outside_dockerfile() {
    let d = Daemon::with_busybox();
    let df: &[u8] = b"FROM busybox\nCOPY . /src\nWORKDIR /src\n";
    let tar = tar_of(&[
        ("custom.dockerfile", df),
        ("file.txt", b"hello world"),
        ("sub/deeper.txt", b"x"),
    ]);
    let (status, _) = api_build(&d, "t=c1&dockerfile=custom.dockerfile", &tar);
    assert_eq!(status, 200);
    assert_eq!(
        ok(d.docker(&["run", "--rm", "c1", "ls", "-a"])),
        ".\n..\ncustom.dockerfile\nfile.txt\nsub\n"
    );
    assert_eq!(
        ok(d.docker(&["run", "--rm", "c1", "ls", "/"]))
            .lines()
            .count(),
        ok(d.docker(&["run", "--rm", "busybox", "ls", "/"]))
            .lines()
            .count()
            + 1,
        "only /src is new at the root"
    );

    let name = ".dockerfile.1f2e3d";
    let tar = tar_of(&[
        (".dockerignore", format!(".dockerignore\n{name}").as_bytes()),
        (name, df),
        ("file.txt", b"hello world"),
    ]);
    let (status, _) = api_build(
        &d,
        &format!("t=c2&dockerfile={name}&dockerfile=FROM%20scratch"),
        &tar,
    );
    assert_eq!(status, 200);
    assert_eq!(
        ok(d.docker(&["run", "--rm", "c2", "ls", "-a"])),
        ".\n..\nfile.txt\n"
    );
}

/// `--cache-from` (classic builder): only the named images and what is
/// below them serve as cache; a name that does not resolve leaves none.
/// `--network` and `--add-host` reach the `RUN` containers.
#[test]
fn cache_from_network_and_hosts_of_run_steps() {
    let d = Daemon::with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    let ctxs = c.to_str().unwrap();
    write(
        c,
        "Dockerfile",
        "FROM busybox\nENV FOO=bar\nRUN touch baz\nRUN touch bax\n",
    );
    ok(build(&d, &["-t", "build1", ctxs]));
    let out = ok(build(&d, &["--cache-from", "build1", "-t", "build2", ctxs]));
    assert_eq!(out.matches("Using cache").count(), 3, "{out}");
    let out = ok(build(
        &d,
        &["--cache-from", "nosuchtag", "-t", "build3", ctxs],
    ));
    assert_eq!(out.matches("Using cache").count(), 0, "{out}");
    // Without --cache-from every image is a cache source again.
    let out = ok(build(&d, &["-t", "build4", ctxs]));
    assert_eq!(out.matches("Using cache").count(), 3, "{out}");

    // --network none: loopback only; the default: an interface besides.
    write(
        c,
        "Dockerfile",
        "FROM busybox\nRUN grep -c : /proc/net/dev > /ifaces\n",
    );
    ok(build(
        &d,
        &["--no-cache", "--network", "none", "-t", "n1", ctxs],
    ));
    assert_eq!(
        ok(d.docker(&["run", "--rm", "n1", "cat", "/ifaces"])),
        "1\n"
    );
    ok(build(&d, &["--no-cache", "-t", "n2", ctxs]));
    assert_eq!(
        ok(d.docker(&["run", "--rm", "n2", "cat", "/ifaces"])),
        "2\n"
    );

    write(
        c,
        "Dockerfile",
        "FROM busybox\nRUN cp /etc/hosts /hosts-file\n",
    );
    ok(build(
        &d,
        &[
            "--no-cache",
            "--add-host",
            "extrahost.local.test:127.0.0.1",
            "-t",
            "h1",
            ctxs,
        ],
    ));
    let hosts = ok(d.docker(&["run", "--rm", "h1", "cat", "/hosts-file"]));
    assert!(
        hosts.contains("127.0.0.1\textrahost.local.test\n"),
        "{hosts}"
    );
}
