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

/// An archive entry to write: name, symlink target (or None), body.
type Ent<'a> = (&'a str, Option<&'a str>, &'a [u8]);

/// A tar of the entries.
fn archive(path: &Path, entries: &[Ent<'_>]) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    for (name, link, body) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match link {
            Some(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, name, target).unwrap();
            }
            None => {
                h.set_size(body.len() as u64);
                b.append_data(&mut h, name, *body).unwrap();
            }
        }
    }
    b.finish().unwrap();
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// Item 9: the paths a `docker load` archive names (its manifest, configs,
/// layers, blobs) are resolved inside the archive: a symlink among its
/// entries (`lnk -> /etc`, `manifest.json -> /host/…`, `blobs -> /host/…`)
/// never makes the daemon read the host's files, and the error says only
/// that the archive lacks the file.
#[test]
fn load_resolves_archive_paths_inside_the_archive() {
    let d = Daemon::start();
    let host = tempfile::tempdir().unwrap();
    let h = host.path();
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}"#;
    // A host file shaped as a config, and a host manifest pointing at it.
    fs::write(h.join("config.json"), config).unwrap();
    fs::write(
        h.join("manifest.json"),
        r#"[{"Config":"config.json","RepoTags":["fromhost:1"],"Layers":[]}]"#,
    )
    .unwrap();
    let hs = h.to_str().unwrap();
    let manifest = r#"[{"Config":"lnk/config.json","RepoTags":["evil:1"],"Layers":[]}]"#;
    // An OCI layout whose blobs directory is a link to the host.
    let mdoc = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{}","size":{}}},"layers":[]}}"#,
        sha256_hex(config),
        config.len()
    );
    fs::create_dir_all(h.join("blobs/sha256")).unwrap();
    fs::write(h.join("blobs/sha256").join(sha256_hex(config)), config).unwrap();
    fs::write(
        h.join("blobs/sha256").join(sha256_hex(mdoc.as_bytes())),
        &mdoc,
    )
    .unwrap();
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{}","size":{},"annotations":{{"io.containerd.image.name":"docker.io/library/oci:1"}}}}]}}"#,
        sha256_hex(mdoc.as_bytes()),
        mdoc.len()
    );
    let blobs = format!("{hs}/blobs");
    let host_manifest = format!("{hs}/manifest.json");
    let cases: Vec<(&str, Vec<Ent<'_>>)> = vec![
        (
            "config through a link",
            vec![
                ("lnk", Some(hs), b""),
                ("manifest.json", None, manifest.as_bytes()),
            ],
        ),
        (
            "manifest.json a link",
            vec![
                ("manifest.json", Some(&host_manifest), b""),
                ("config.json", None, config),
            ],
        ),
        (
            "blobs a link",
            vec![
                ("oci-layout", None, br#"{"imageLayoutVersion":"1.0.0"}"#),
                ("index.json", None, index.as_bytes()),
                ("blobs", Some(&blobs), b""),
            ],
        ),
    ];
    for (what, entries) in cases {
        let path = d.dir.path().join("evil.tar");
        archive(&path, &entries);
        let (code, out, err) = d.docker(&["load", "-i", path.to_str().unwrap()]);
        assert_eq!(code, 1, "{what}: {out}{err}");
        assert!(
            err.contains("archive has no file") || err.contains("neither manifest.json"),
            "{what}: {err}"
        );
        assert_eq!(ok(d.docker(&["images", "-q"])), "", "{what}");
    }
}

/// A gzip stream of a tar whose first entry is a GNU long name (or PAX
/// header) declared `size` bytes long, its bytes all 'a': members of one
/// 64 MiB run compressed once, repeated (gzip readers take concatenated
/// members). 8 GiB come to about 8 MB.
fn header_bomb(path: &Path, kind: tar::EntryType, size: u64) {
    use std::io::Write;
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_cksum();
    let mut f = fs::File::create(path).unwrap();
    f.write_all(&gz(h.as_bytes())).unwrap();
    const RUN: u64 = 64 << 20;
    let run = gz(&vec![b'a'; RUN as usize]);
    for _ in 0..size / RUN {
        f.write_all(&run).unwrap();
    }
    f.write_all(&gz(&vec![b'a'; (size % RUN) as usize]))
        .unwrap();
}

/// The daemon's peak resident memory (VmHWM), bytes.
fn peak_rss(d: &Daemon) -> u64 {
    let status = fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// Item 7: a GNU long name or PAX header of 8 GiB (8 MB gzipped) reaches
/// every place berthd reads a tar (`docker load`, `docker import`, `docker
/// cp` into a container, a build context): each refuses it at once with a
/// 400 naming the bound, and the daemon's peak memory does not move.
#[test]
fn tar_header_bombs_are_refused_with_bounded_memory() {
    let d = Daemon::with_busybox();
    ok(d.docker(&["run", "-d", "--name", "c", "busybox", "sleep", "60"]));
    const SIZE: u64 = 8 << 30;
    let bomb = d.dir.path().join("bomb.tar.gz");
    let pax = d.dir.path().join("pax.tar.gz");
    header_bomb(&bomb, tar::EntryType::GNULongName, SIZE);
    header_bomb(&pax, tar::EntryType::XHeader, SIZE);
    let before = peak_rss(&d);
    let started = std::time::Instant::now();
    let stdin = |p: &Path| fs::File::open(p).unwrap();
    for (what, file, args) in [
        ("load", &bomb, vec!["load"]),
        ("load (pax)", &pax, vec!["load"]),
        ("import", &bomb, vec!["import", "-", "bomb"]),
        ("cp", &bomb, vec!["cp", "-", "c:/tmp"]),
        ("build", &bomb, vec!["build", "-t", "bomb", "-"]),
    ] {
        let out = d
            .docker_command(&args)
            .env("DOCKER_BUILDKIT", "0")
            .stdin(stdin(file))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{what}: {err}");
        assert!(
            err.contains("of 8589934592 bytes is over the limit of 1048576 bytes"),
            "{what}: {err}"
        );
    }
    let grew = peak_rss(&d).saturating_sub(before);
    assert!(
        grew < 64 << 20,
        "the daemon's peak memory grew by {} MiB",
        grew >> 20
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    // Nothing stored, and the daemon goes on.
    let images = ok(d.docker(&["images", "--format", "{{.Repository}}"]));
    assert_eq!(images.trim(), "busybox");
    ok(d.docker(&["exec", "c", "true"]));
}

/// How many files under `dir` hold `needle` (grep -rl), and the first.
fn files_holding(dir: &Path, needle: &str) -> (usize, String) {
    let out = std::process::Command::new("grep")
        .args(["-rl", "--binary-files=text", needle])
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        text.lines().count(),
        text.lines().next().unwrap_or("").to_string(),
    )
}

/// A static program from C source, made with `gcc -static` in `dir`.
fn static_binary(dir: &Path, name: &str, source: &str) -> std::path::PathBuf {
    let src = dir.join(format!("{name}.c"));
    fs::write(&src, source).unwrap();
    let bin = dir.join(name);
    let st = std::process::Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "gcc -static (build-essential) makes {name}");
    bin
}

/// A static program that swaps `d` and `l` in its working directory with
/// `renameat2(RENAME_EXCHANGE)` without end: each name always exists, as a
/// directory or as a symlink (the CVE-2018-15664 race).
fn swapper(dir: &Path) -> std::path::PathBuf {
    static_binary(
        dir,
        "swap",
        r#"#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    for (;;) {
        if (syscall(SYS_renameat2, AT_FDCWD, "d", AT_FDCWD, "l", 2 /* RENAME_EXCHANGE */) != 0) {
            perror("renameat2");
            return 1;
        }
    }
}
"#,
    )
}

/// A static program that makes `d/d/…/d`, `argv[1]` levels, below its
/// working directory, by relative `mkdir` and `chdir` (a shell's `cd`
/// stops at PATH_MAX), and touches `leaf` at the bottom.
fn deep_maker(dir: &Path) -> std::path::PathBuf {
    static_binary(
        dir,
        "deepmk",
        r#"#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    for (int i = 0; i < n; i++) {
        if (mkdir("d", 0755) != 0 || chdir("d") != 0) return 1;
    }
    return open("leaf", O_CREAT | O_WRONLY, 0644) < 0;
}
"#,
    )
}

/// Item 8: `commit --pause=false` of a running container that keeps
/// swapping a directory of its layer with a symlink to a host directory
/// holding files of the same names and sizes. The walk goes by
/// descriptors, so the committed layers hold the container's files or the
/// link itself, never the host's files.
#[test]
fn commit_unpaused_never_reads_through_swapped_symlinks() {
    let d = Daemon::with_busybox();
    let host = tempfile::tempdir().unwrap();
    // The host's files are as long as the container's (32 bytes): a walk
    // through the link then writes a well-formed tar the store takes.
    let marker = format!("HOST-ONLY-{:<21}", std::process::id());
    for i in 0..200 {
        fs::write(host.path().join(format!("f{i:03}")), format!("{marker}\n")).unwrap();
    }
    let marker = marker.trim_end().to_string();
    let swap = swapper(host.path());
    let hostdir = host.path().to_str().unwrap();
    let script = format!(
        "mkdir -p /w/d && cd /w && for i in $(seq -w 0 199); do printf '%-31s\\n' inside > d/f$i; done; \
         ln -s {hostdir} l && touch ready && exec /swap"
    );
    ok(d.docker(&["create", "--name", "racer", "busybox", "sh", "-c", &script]));
    ok(d.docker(&["cp", swap.to_str().unwrap(), "racer:/swap"]));
    ok(d.docker(&["start", "racer"]));
    eventually("the racer", || {
        d.docker(&["exec", "racer", "test", "-e", "/w/ready"]).0 == 0
    });
    let mut committed = 0;
    for i in 0..10 {
        let (code, _, err) = d.docker(&["commit", "--pause=false", "racer", &format!("snap:{i}")]);
        // A commit may fail on a file that vanished mid-walk; it may not
        // read the host.
        assert!(code == 0 || !err.contains(&marker), "{err}");
        committed += usize::from(code == 0);
    }
    assert!(committed > 0, "no commit succeeded");
    let image_dir = d.dir.path().join(DATA_ROOT).join("image");
    assert_eq!(
        files_holding(&image_dir, &marker),
        (0, String::new()),
        "host files entered the image store"
    );
    // A paused commit of the same container is consistent: the files inside.
    ok(d.docker(&["commit", "racer", "snap:paused"]));
    let got = ok(d.docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        "snap:paused",
        "-c",
        "cat /w/*/f000",
    ]));
    assert_eq!(got.trim_end(), "inside");
    assert_eq!(files_holding(&image_dir, &marker).0, 0);
}

/// A tar of a tree `levels` directories deep (`d/d/…/d/leaf`), with a
/// Dockerfile at the top when `dockerfile`.
fn deep_tar(path: &Path, levels: usize, dockerfile: bool) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    if dockerfile {
        let text = b"FROM busybox\nCOPY . /ctx/\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "Dockerfile", &text[..]).unwrap();
    }
    let mut name = String::new();
    for _ in 0..levels {
        name.push_str("d/");
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, &name, std::io::empty()).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    b.append_data(&mut h, format!("{name}leaf"), &b"leaf"[..])
        .unwrap();
    b.finish().unwrap();
}

/// Item 10: a tree 3,000 directories deep (past the bound of 2,048), made in a container or sent in
/// a tar, meets every walk berthd does (`cp` out and in, `commit`,
/// `export`, `diff`, a build context and its `COPY`). Each refuses it with
/// an error naming the bound, and the daemon lives on (a recursive walk on
/// a 2 MiB thread overflowed its stack and took the daemon down).
#[test]
fn deep_trees_are_refused_not_a_crash() {
    let d = Daemon::with_busybox();
    let tools = tempfile::tempdir().unwrap();
    let maker = deep_maker(tools.path());
    ok(d.docker(&["run", "-d", "--name", "deep", "busybox", "sleep", "600"]));
    ok(d.docker(&["cp", maker.to_str().unwrap(), "deep:/deepmk"]));
    ok(d.docker(&[
        "exec",
        "deep",
        "sh",
        "-c",
        "mkdir /deep /ok && cd /deep && /deepmk 3000 && cd /ok && /deepmk 300",
    ]));
    let alive = |what: &str| {
        let (code, _, err) = d.docker(&["version", "--format", "{{.Server.Version}}"]);
        assert_eq!(code, 0, "the daemon died after {what}: {err}");
    };
    let out = d.dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let export = d.dir.path().join("export.tar");
    let cases: [(&str, Vec<&str>); 4] = [
        ("cp out", vec!["cp", "deep:/deep", out.to_str().unwrap()]),
        ("commit", vec!["commit", "deep", "deepimg"]),
        (
            "export",
            vec!["export", "-o", export.to_str().unwrap(), "deep"],
        ),
        ("diff", vec!["diff", "deep"]),
    ];
    for (what, args) in cases {
        let (code, stdout, err) = d.docker(&args);
        alive(what);
        assert_ne!(code, 0, "{what}: {}", &stdout[..stdout.len().min(200)]);
        // cp out and export stream: the walk stops after the answer began,
        // so the daemon aborts the body and the CLI reports the broken
        // stream (cp's may first stop at PATH_MAX, writing by path).
        let streamed = matches!(what, "cp out" | "export")
            && (err.contains("unexpected EOF") || err.contains("file name too long"));
        assert!(
            err.contains("deeper than 2048 levels") || streamed,
            "{what}: {}",
            &err[..err.len().min(500)]
        );
    }
    // A deep tree sent in: docker cp into the container, a build context.
    let tar = d.dir.path().join("deep.tar");
    deep_tar(&tar, 3000, false);
    let ctx = d.dir.path().join("ctx.tar");
    deep_tar(&ctx, 3000, true);
    for (what, file, args) in [
        ("cp in", &tar, vec!["cp", "-", "deep:/tmp"]),
        ("build", &ctx, vec!["build", "-t", "deepctx", "-"]),
    ] {
        let out = d
            .docker_command(&args)
            .env("DOCKER_BUILDKIT", "0")
            .stdin(fs::File::open(file).unwrap())
            .output()
            .unwrap();
        alive(what);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{what}: {err}");
        assert!(err.contains("deeper than 2048 levels"), "{what}: {err}");
    }
    // Within the bound, the same walks work.
    ok(d.docker(&["cp", "deep:/ok", out.to_str().unwrap()]));
    let leaf = out.join("ok").join(["d"; 300].join("/")).join("leaf");
    assert!(leaf.exists());
}
