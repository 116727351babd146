//! Hostile input reaching berthd from the docker CLI (issue 15): build
//! contexts whose symlinks point at the daemon host's files, archives for
//! `docker load` whose own paths go through symlinks, layers with memory
//! bombs in their tar headers, containers racing a `commit`, and trees deep
//! enough to overflow a recursive walk. Each test failed on the code before
//! its fix.

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

/// A tar at `path` holding one file `name` with `body`.
fn tar_with(path: &Path, name: &str, body: &str) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    let mut h = tar::Header::new_gnu();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, body.as_bytes()).unwrap();
    b.finish().unwrap();
}

/// Item 2: `ADD` and `COPY` sources resolve inside the context. A symlink
/// in the context naming a host archive (or a host directory on the way to
/// one) is followed inside the context only, as Docker's
/// FollowSymlinkInScope does, so the host file is never read.
#[test]
fn add_does_not_follow_context_symlinks_to_the_host() {
    let d = Daemon::with_busybox();
    let host = tempfile::tempdir().unwrap();
    tar_with(
        &host.path().join("secret.tar"),
        "SECRET",
        "HOST-ONLY-a41c\n",
    );
    fs::write(host.path().join("plain"), "HOST-ONLY-a41c\n").unwrap();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    std::os::unix::fs::symlink(host.path().join("secret.tar"), c.join("x.tar")).unwrap();
    std::os::unix::fs::symlink(host.path(), c.join("hostdir")).unwrap();
    let cases = [
        "ADD x.tar /loot/",
        "ADD hostdir/secret.tar /loot/",
        "COPY hostdir/plain /loot/",
        "ADD hostdir/plain /loot/",
        "COPY x.tar /loot/",
    ];
    for (i, step) in cases.iter().enumerate() {
        fs::write(c.join("Dockerfile"), format!("FROM busybox\n{step}\n")).unwrap();
        let tag = format!("loot{i}");
        let (code, out, err) = build(&d, &["-t", &tag, c.to_str().unwrap()]);
        assert!(
            !out.contains("HOST-ONLY") && !err.contains("HOST-ONLY"),
            "{step}: {out}{err}"
        );
        if code == 0 {
            let got = ok(d.docker(&[
                "run",
                "--rm",
                &tag,
                "sh",
                "-c",
                "cat /loot/* /loot/*/* 2>/dev/null; tar -xOf /loot/x.tar 2>/dev/null; true",
            ]));
            assert!(!got.contains("HOST-ONLY"), "{step} read the host: {got}");
        } else {
            // Docker's answer: the link's target is not in the context.
            assert!(err.contains("not found"), "{step}: {err}");
        }
    }
    // A link that stays inside the context is followed, as Docker does.
    tar_with(&c.join("real.tar"), "INSIDE", "inside\n");
    std::os::unix::fs::symlink("real.tar", c.join("in.tar")).unwrap();
    std::os::unix::fs::symlink("/real.tar", c.join("abs.tar")).unwrap();
    fs::write(
        c.join("Dockerfile"),
        "FROM busybox\nADD in.tar /a/\nADD abs.tar /b/\n",
    )
    .unwrap();
    ok(build(&d, &["-t", "inside", c.to_str().unwrap()]));
    assert_eq!(
        ok(d.docker(&["run", "--rm", "inside", "cat", "/a/INSIDE", "/b/INSIDE"])),
        "inside\ninside\n"
    );
}
