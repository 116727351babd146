//! `berth cp`, `top` and `stats` end to end against a real berthd: docker's
//! copy rules both ways (new names, `dir/.`, into directories, `-` tar
//! streams, `-a`, `-L`), a container's hostile symlinks and a host
//! destination's symlinks never leading a copy outside, and the tables of
//! `top` and `stats` read from real processes and cgroups.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// `berth -H <daemon> args…` with `stdin` fed from a file.
fn berth_stdin(d: &Daemon, args: &[&str], stdin: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("-H")
        .arg(d.host())
        .args(args)
        .env_remove("BERTH_HOST")
        .stdin(fs::File::open(stdin).unwrap())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The sorted relative paths under `dir`.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A running container `c` holding `/d` = {a, sub/b, abs -> /etc/passwd,
/// rel -> a} and `/dl -> /d`.
fn container_with_tree(d: &Daemon) {
    d.ok(&["run", "-d", "--name", "c", "busybox", "sleep", "1000"]);
    d.ok(&[
        "exec",
        "c",
        "sh",
        "-c",
        "mkdir -p /d/sub && echo hi > /d/a && echo deep > /d/sub/b && \
         ln -s /etc/passwd /d/abs && ln -s a /d/rel && ln -s /d /dl",
    ]);
}

#[test]
fn cp_out_of_a_container_by_docker_rules() {
    let d = Daemon::with_busybox();
    container_with_tree(&d);
    let host = tempfile::tempdir().unwrap();
    let h = host.path();
    let p = |s: &str| h.join(s).to_str().unwrap().to_string();
    let want = ["a", "abs", "rel", "sub", "sub/b"];

    // A directory to a new name: the name is the copy's.
    d.ok(&["cp", "c:/d", &p("new")]);
    assert_eq!(tree(&h.join("new")), want);
    assert_eq!(fs::read_to_string(h.join("new/sub/b")).unwrap(), "deep\n");
    assert_eq!(
        fs::read_link(h.join("new/abs")).unwrap(),
        Path::new("/etc/passwd"),
        "a symlink is copied as a symlink"
    );
    // Into an existing directory: under its own name.
    fs::create_dir(h.join("into")).unwrap();
    d.ok(&["cp", "c:/d", &p("into")]);
    assert!(h.join("into/d/sub/b").exists());
    // `dir/.`: the contents, into an existing directory or a new one.
    fs::create_dir(h.join("dot")).unwrap();
    d.ok(&["cp", "c:/d/.", &p("dot")]);
    assert_eq!(tree(&h.join("dot")), want);
    d.ok(&["cp", "c:/d/.", &p("dotnew")]);
    assert_eq!(tree(&h.join("dotnew")), want);
    // A file onto a file, and into a directory.
    fs::write(h.join("f"), "old contents").unwrap();
    d.ok(&["cp", "c:/d/a", &p("f")]);
    assert_eq!(fs::read_to_string(h.join("f")).unwrap(), "hi\n");
    d.ok(&["cp", "c:/d/a", &p("into")]);
    assert_eq!(fs::read_to_string(h.join("into/a")).unwrap(), "hi\n");
    // A symlink is copied as itself; -L copies what it points at, under its name.
    d.ok(&["cp", "c:/dl", &p("link")]);
    assert_eq!(fs::read_link(h.join("link")).unwrap(), Path::new("/d"));
    d.ok(&["cp", "-L", "c:/dl", &p("followed")]);
    assert_eq!(tree(&h.join("followed")), want);
    // `-` writes the tar itself to stdout.
    let (code, out, err) = d.berth(&["cp", "c:/d/sub", "-"]);
    assert_eq!(code, 0, "{err}");
    let mut names: Vec<String> = tar::Archive::new(out.as_bytes())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["sub", "sub/b"]);

    // Docker's refusals, each one line and exit 1.
    let (code, _, err) = d.berth(&["cp", "c:/nope", &p("x")]);
    assert_eq!(code, 1);
    assert!(err.contains("Could not find the file /nope"), "{err}");
    let (code, _, err) = d.berth(&["cp", "c:/d", &p("f")]);
    assert_eq!((code, err.trim()), (1, "cannot copy directory"));
    let (code, _, err) = d.berth(&["cp", "c:/a", "c:/b"]);
    assert_eq!(
        (code, err.trim()),
        (1, "copying between containers is not supported")
    );
    let (code, _, err) = d.berth(&["cp", "a", "b"]);
    assert_eq!(
        (code, err.trim()),
        (1, "must specify at least one container source")
    );
    let (code, _, _) = d.berth(&["cp", "c:/d/a", &p("missing/dir/x")]);
    assert_eq!(code, 1);

    // A stopped container copies too (from its layers).
    d.ok(&["stop", "-t", "0", "c"]);
    d.ok(&["cp", "c:/d/sub/b", &p("from-stopped")]);
    assert_eq!(
        fs::read_to_string(h.join("from-stopped")).unwrap(),
        "deep\n"
    );
}

#[test]
fn cp_into_a_container_by_docker_rules() {
    let d = Daemon::with_busybox();
    d.ok(&["run", "-d", "--name", "c", "busybox", "sleep", "1000"]);
    let host = tempfile::tempdir().unwrap();
    let h = host.path();
    let src = h.join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("f"), "file\n").unwrap();
    fs::write(src.join("sub/g"), "gee\n").unwrap();
    std::os::unix::fs::symlink("f", src.join("lnk")).unwrap();
    std::os::unix::fs::chown(src.join("f"), Some(1234), Some(4321)).unwrap();
    let s = |p: &str| src.join(p).to_str().unwrap().to_string();
    let sh = |cmd: &str| d.ok(&["exec", "c", "sh", "-c", cmd]);

    d.ok(&["cp", &s("f"), "c:/tmp/"]);
    d.ok(&["cp", &s("f"), "c:/tmp/renamed"]);
    d.ok(&["cp", &s(""), "c:/tmp/newdir"]);
    d.ok(&["exec", "c", "mkdir", "/tmp/existing"]);
    d.ok(&["cp", &s(""), "c:/tmp/existing"]);
    d.ok(&["exec", "c", "mkdir", "/tmp/contents"]);
    d.ok(&["cp", &format!("{}/.", src.display()), "c:/tmp/contents"]);
    assert_eq!(
        sh("cat /tmp/f /tmp/renamed /tmp/newdir/sub/g /tmp/existing/src/f /tmp/contents/sub/g; readlink /tmp/newdir/lnk"),
        "file\nfile\ngee\nfile\ngee\nf\n"
    );
    // Owned by root, unless -a keeps the host's ids.
    assert_eq!(sh("stat -c %u:%g /tmp/f"), "0:0\n");
    d.ok(&["cp", "-a", &s("f"), "c:/tmp/kept"]);
    assert_eq!(sh("stat -c %u:%g /tmp/kept"), "1234:4321\n");
    // A tar on stdin goes into a directory.
    let tar = h.join("in.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&src)
        .arg("-cf")
        .arg(&tar)
        .arg("sub")
        .status()
        .unwrap();
    assert!(st.success());
    let (code, _, err) = berth_stdin(&d, &["cp", "-", "c:/tmp/contents/"], &tar);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = berth_stdin(&d, &["cp", "-", "c:/tmp/f"], &tar);
    assert_eq!(code, 1);
    assert!(err.contains("must be a directory"), "{err}");
    // A missing source is the host's error.
    let (code, _, err) = d.berth(&["cp", &s("nope"), "c:/tmp/"]);
    assert_eq!(code, 1);
    assert!(err.contains("no such file or directory"), "{err}");
    // A symlinked destination inside the container is followed in it:
    // the file lands in the container's /tmp/real, not the host's.
    sh("mkdir /tmp/real && ln -s /tmp/real /tmp/via");
    d.ok(&["cp", &s("f"), "c:/tmp/via"]);
    assert_eq!(sh("cat /tmp/real/f"), "file\n");
}

#[test]
fn cp_never_writes_outside_the_destination() {
    let d = Daemon::with_busybox();
    d.ok(&["run", "-d", "--name", "c", "busybox", "sleep", "1000"]);
    let host = tempfile::tempdir().unwrap();
    let h = host.path();
    let outside = h.join("outside");
    fs::create_dir(&outside).unwrap();
    // A symlink in the container that climbs out of wherever it lands.
    d.ok(&[
        "exec",
        "c",
        "sh",
        "-c",
        "mkdir -p /evil/x && ln -s ../../../../../../../../outside /evil/up && echo boom > /evil/x/f",
    ]);
    let dest = h.join("dest");
    fs::create_dir(&dest).unwrap();
    let (code, _, err) = d.berth(&["cp", "c:/evil", dest.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid symlink"), "{err}");
    // A host destination whose entry is a symlink out: not followed.
    let dest2 = h.join("dest2");
    fs::create_dir(&dest2).unwrap();
    std::os::unix::fs::symlink(&outside, dest2.join("evil")).unwrap();
    let (code, _, err) = d.berth(&["cp", "c:/evil", dest2.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        fs::read_dir(&outside).unwrap().next().is_none(),
        "nothing lands outside: {:?}",
        tree(&outside)
    );
    // The host's own files are never the source of a container's copy:
    // a container symlink named as the source is copied as a link.
    d.ok(&["exec", "c", "ln", "-s", "/etc/shadow", "/shadow"]);
    let dest3 = h.join("dest3");
    d.ok(&["cp", "c:/shadow", dest3.to_str().unwrap()]);
    assert!(fs::symlink_metadata(&dest3)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn top_lists_the_container_processes() {
    let d = Daemon::with_busybox();
    d.ok(&["run", "-d", "--name", "t", "busybox", "sleep", "1000"]);
    let out = d.ok(&["top", "t"]);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("UID "), "{out}");
    assert!(header.contains("PID") && header.contains("CMD"), "{out}");
    assert!(lines.any(|l| l.ends_with("sleep 1000")), "{out}");
    let out = d.ok(&["container", "top", "t", "-o", "pid,comm"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMMAND"]
    );
    let row: Vec<_> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(row[1], "sleep", "{out}");
    let pid: u32 = row[0].parse().unwrap();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status.contains("sleep"),
        "a host pid of the container's sleep"
    );
    let (code, _, err) = d.berth(&["top", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("No such container: nope"), "{err}");
}

#[test]
fn stats_from_real_cgroups() {
    let d = Daemon::with_busybox();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "s",
        "-m",
        "64m",
        "busybox",
        "sh",
        "-c",
        "dd if=/dev/zero of=/big bs=1M count=8 conv=fsync 2>/dev/null; sleep 1000",
    ]);
    d.ok(&["create", "--name", "stopped", "busybox"]);
    eventually("dd to finish", || {
        d.ok(&["top", "s", "-o", "pid,comm"]).contains("sleep")
    });
    let out = d.ok(&["stats", "--no-stream"]);
    let mut lines = out.lines();
    let header: Vec<_> = lines
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert!(
        header.starts_with(&["CONTAINER ID", "NAME", "CPU %"]),
        "{out}"
    );
    let row = lines.next().unwrap();
    assert!(row.contains(" s "), "{out}");
    assert!(row.contains("/ 64MiB"), "the limit: {out}");
    assert!(lines.next().is_none(), "only running ones: {out}");
    // Block I/O: the 8 MB written, as the docker CLI shows it.
    let out = d.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.BlockIO}}|{{.PIDs}}|{{.MemPerc}}",
        "s",
    ]);
    let f: Vec<_> = out.trim().split('|').collect();
    assert_eq!(f[0], "s");
    let written = f[1].split(" / ").nth(1).unwrap();
    assert!(
        written.ends_with("MB") && written.trim_end_matches("MB").parse::<f64>().unwrap() >= 8.0,
        "{out}"
    );
    assert_eq!(f[2], "1", "sh became sleep");
    assert!(f[3].ends_with('%'));
    // -a shows the stopped one with zeros.
    let out = d.ok(&[
        "stats",
        "--no-stream",
        "-a",
        "--format",
        "{{.Name}} {{.CPUPerc}} {{.PIDs}}",
    ]);
    assert!(out.lines().any(|l| l == "stopped 0.00% 0"), "{out}");
    // Streaming: a table a second, no screen codes when not a terminal.
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["-H", &d.host(), "stats", "--format", "{{.Name}}", "s"])
        .env_remove("BERTH_HOST")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().filter(|l| *l == "s").count() >= 2, "{text}");
    assert!(!text.contains('\x1b'), "{text:?}");
    let (code, _, err) = d.berth(&["stats", "--no-stream", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("No such container"), "{err}");
}
