//! Volumes and mounts through berthd, driven by the real docker CLI:
//! named and anonymous volumes and their life beyond containers, copy-up,
//! binds, tmpfs, `--volumes-from`, mount destinations that are symlinks
//! planted in an image, the API's statuses, and volumes across a daemon
//! killed with -9.

mod common;

use common::{busybox_tar, Daemon};

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout: {}\nstderr: {}", r.1, r.2);
    r.1
}

/// A daemon with busybox imported as `busybox`.
fn daemon() -> Daemon {
    let d = Daemon::start();
    let tar = busybox_tar(d.dir.path());
    ok(d.docker(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        tar.to_str().unwrap(),
        "busybox",
    ]));
    d
}

/// An image `name` made from busybox by running `script` and committing
/// with `changes` (Dockerfile lines such as `VOLUME /seed`).
fn image(d: &Daemon, name: &str, script: &str, changes: &[&str]) {
    let ctr = format!("{name}-src");
    ok(d.docker(&["run", "--name", &ctr, "busybox", "sh", "-c", script]));
    let mut args = vec!["commit"];
    for c in changes {
        args.extend(["-c", c]);
    }
    args.extend([ctr.as_str(), name]);
    ok(d.docker(&args));
    ok(d.docker(&["rm", &ctr]));
}

fn volumes(d: &Daemon, filter: &[&str]) -> Vec<String> {
    let mut args = vec!["volume", "ls", "-q"];
    for f in filter {
        args.extend(["-f", f]);
    }
    let mut v: Vec<String> = ok(d.docker(&args)).lines().map(String::from).collect();
    v.sort();
    v
}

fn status(head: &str) -> &str {
    head.split(' ').nth(1).unwrap_or("")
}

#[test]
fn volume_commands_and_api() {
    let d = daemon();
    assert_eq!(
        ok(d.docker(&["volume", "create", "--label", "tier=db", "data1"])),
        "data1\n"
    );
    ok(d.docker(&["volume", "create", "data2"]));
    // Creating an existing volume returns it, as Docker does.
    ok(d.docker(&["volume", "create", "data2"]));
    let mountpoint = ok(d.docker(&[
        "volume",
        "inspect",
        "-f",
        "{{.Mountpoint}} {{.Driver}} {{.Scope}} {{.Labels}}",
        "data1",
    ]));
    let want = d
        .dir
        .path()
        .join(common::DATA_ROOT)
        .join("volumes/data1/_data");
    assert_eq!(
        mountpoint.trim(),
        format!("{} local local map[tier:db]", want.display())
    );
    assert!(want.is_dir());
    let created = ok(d.docker(&["volume", "inspect", "-f", "{{.CreatedAt}}", "data1"]));
    assert!(created.starts_with("20"), "{created}");
    // Filters: label, name, dangling.
    assert_eq!(volumes(&d, &["label=tier=db"]), ["data1"]);
    assert_eq!(volumes(&d, &["label=tier"]), ["data1"]);
    assert_eq!(volumes(&d, &["name=ta2"]), ["data2"]);
    ok(d.docker(&["create", "--name", "user", "-v", "data1:/d", "busybox"]));
    assert_eq!(volumes(&d, &["dangling=true"]), ["data2"]);
    assert_eq!(volumes(&d, &["dangling=false"]), ["data1"]);
    // In use (even by a stopped container): refused with Docker's text, 409.
    let id = ok(d.docker(&["inspect", "-f", "{{.Id}}", "user"]));
    let (code, _, err) = d.docker(&["volume", "rm", "data1"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        format!(
            "Error response from daemon: remove data1: volume is in use - [{}]",
            id.trim()
        )
    );
    let (code, _, _) = d.docker(&["volume", "rm", "-f", "data1"]);
    assert_eq!(code, 1, "force does not remove a volume in use");
    let (head, body) = d.http("DELETE", "/volumes/data1");
    assert_eq!(status(&head), "409", "{body}");
    let (head, body) = d.http("GET", "/volumes/nosuch");
    assert_eq!(status(&head), "404");
    assert!(body.contains("get nosuch: no such volume"), "{body}");
    let (code, _, err) = d.docker(&["volume", "rm", "nosuch"]);
    assert!(code == 1 && err.contains("no such volume"), "{code} {err}");
    // -f: a missing volume is no error.
    ok(d.docker(&["volume", "rm", "-f", "nosuch"]));
    // Names as the local driver takes them, options as it knows them.
    let (code, _, err) = d.docker(&["volume", "create", "bad/name"]);
    assert!(
        code != 0 && err.contains("includes invalid characters"),
        "{err}"
    );
    let (code, _, err) = d.docker(&["volume", "create", "x"]);
    assert!(
        code != 0 && err.contains("volume name is too short"),
        "{err}"
    );
    let (code, _, err) = d.docker(&["volume", "create", "-o", "foo=bar", "vv"]);
    assert!(
        code != 0 && err.contains("invalid option: \"foo\""),
        "{err}"
    );
    let (code, _, err) = d.docker(&["volume", "create", "-d", "nfsplugin", "vv"]);
    assert!(
        code != 0 && err.contains("plugin \"nfsplugin\" not found"),
        "{err}"
    );
    let (head, body) = d.http("GET", "/volumes");
    assert_eq!(status(&head), "200");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["Volumes"].as_array().unwrap().len(), 2);
    // Prune: only anonymous volumes unless --all; used ones stay.
    let anon = ok(d.docker(&["create", "-v", "/anon", "busybox"]));
    ok(d.docker(&["rm", anon.trim()]));
    // rm without -v left the anonymous volume.
    assert_eq!(volumes(&d, &[]).len(), 3);
    let out = ok(d.docker(&["volume", "prune", "-f"]));
    assert!(out.contains("Deleted Volumes:"), "{out}");
    assert_eq!(volumes(&d, &[]), ["data1", "data2"]);
    let out = ok(d.docker(&["volume", "prune", "-af"]));
    assert!(out.contains("data2") && !out.contains("data1"), "{out}");
    assert_eq!(volumes(&d, &[]), ["data1"]);
    ok(d.docker(&["rm", "user"]));
    ok(d.docker(&["volume", "rm", "data1"]));
    assert!(!d
        .dir
        .path()
        .join(common::DATA_ROOT)
        .join("volumes/data1")
        .exists());
}

#[test]
fn data_outlives_containers_and_copy_up() {
    let d = daemon();
    // Written with --rm, read by a new container, and there on the host.
    ok(d.docker(&[
        "run",
        "--rm",
        "-v",
        "keep:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]));
    assert_eq!(
        ok(d.docker(&[
            "run",
            "--rm",
            "-v",
            "keep:/data",
            "busybox",
            "cat",
            "/data/f"
        ])),
        "kept\n"
    );
    assert_eq!(
        std::fs::read_to_string(
            d.dir
                .path()
                .join(common::DATA_ROOT)
                .join("volumes/keep/_data/f")
        )
        .unwrap(),
        "kept\n"
    );
    // An image with content at /seed, declared a VOLUME.
    image(
        &d,
        "seeded",
        "mkdir -p /seed/sub && echo img > /seed/file && echo deep > /seed/sub/d && chown 1000:2000 /seed/file && chmod 750 /seed && ln -s /etc/passwd /seed/link",
        &["VOLUME /seed"],
    );
    // Copy-up: an empty named volume over /seed gets the image's content,
    // owners, modes and symlinks (as symlinks).
    let out = ok(d.docker(&[
        "run",
        "--rm",
        "-v",
        "cu:/seed",
        "seeded",
        "sh",
        "-c",
        "cat /seed/file /seed/sub/d; stat -c '%u:%g %a' /seed/file /seed; readlink /seed/link",
    ]));
    assert_eq!(out, "img\ndeep\n1000:2000 644\n0:0 750\n/etc/passwd\n");
    // Once: what the container changed stays, the image does not refill it.
    ok(d.docker(&[
        "run",
        "--rm",
        "-v",
        "cu:/seed",
        "seeded",
        "sh",
        "-c",
        "echo changed > /seed/file; rm /seed/sub/d",
    ]));
    assert_eq!(
        ok(d.docker(&[
            "run",
            "--rm",
            "-v",
            "cu:/seed",
            "seeded",
            "sh",
            "-c",
            "cat /seed/file; ls /seed/sub"
        ])),
        "changed\n"
    );
    // Only into an empty volume: one with content of its own keeps it alone.
    ok(d.docker(&[
        "run",
        "--rm",
        "-v",
        "own:/x",
        "busybox",
        "sh",
        "-c",
        "echo mine > /x/own",
    ]));
    assert_eq!(
        ok(d.docker(&["run", "--rm", "-v", "own:/seed", "seeded", "ls", "/seed"])),
        "own\n"
    );
    // nocopy, in both forms.
    assert_eq!(
        ok(d.docker(&[
            "run",
            "--rm",
            "-v",
            "nc:/seed:nocopy",
            "seeded",
            "ls",
            "-A",
            "/seed"
        ])),
        ""
    );
    assert_eq!(
        ok(d.docker(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=nc2,dst=/seed,volume-nocopy",
            "seeded",
            "ls",
            "-A",
            "/seed"
        ])),
        ""
    );
    // The image's VOLUME: an anonymous volume, filled, labelled as Docker's.
    let before = volumes(&d, &[]);
    ok(d.docker(&["create", "--name", "anon", "seeded", "cat", "/seed/file"]));
    let name = ok(d.docker(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Name}} {{.Destination}} {{.Type}}{{end}}",
        "anon",
    ]));
    let name = name.trim().split(' ').collect::<Vec<_>>();
    assert_eq!(name[1..], ["/seed", "volume"]);
    assert_eq!(name[0].len(), 64);
    let labels = ok(d.docker(&["volume", "inspect", "-f", "{{json .Labels}}", name[0]]));
    assert_eq!(labels.trim(), r#"{"com.docker.volume.anonymous":""}"#);
    ok(d.docker(&["start", "-a", "anon"]));
    // rm keeps it, rm -v removes it; named volumes are never removed so.
    ok(d.docker(&["rm", "anon"]));
    assert!(volumes(&d, &[]).contains(&name[0].to_string()));
    ok(d.docker(&["volume", "rm", name[0]]));
    ok(d.docker(&[
        "create", "--name", "anon2", "-v", "/extra", "-v", "keep:/k", "seeded",
    ]));
    assert_eq!(volumes(&d, &[]).len(), before.len() + 2);
    ok(d.docker(&["rm", "-v", "anon2"]));
    assert_eq!(volumes(&d, &[]), before);
    // --rm removes anonymous volumes too.
    ok(d.docker(&["run", "--rm", "-v", "/tmpvol", "seeded", "true"]));
    assert_eq!(volumes(&d, &[]), before);
}

#[test]
fn binds_tmpfs_and_volumes_from() {
    let d = daemon();
    let host = d.dir.path().join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in"), "from the host\n").unwrap();
    // --mount type=bind, read-only: reads, refuses writes.
    let m = format!("type=bind,src={},dst=/h,readonly", host.display());
    assert_eq!(
        ok(d.docker(&["run", "--rm", "--mount", &m, "busybox", "cat", "/h/in"])),
        "from the host\n"
    );
    let (code, _, err) = d.docker(&["run", "--rm", "--mount", &m, "busybox", "touch", "/h/x"]);
    assert!(code != 0 && err.contains("Read-only file system"), "{err}");
    let ro = format!("{}:/h:ro,z", host.display());
    let (code, _, err) = d.docker(&["run", "--rm", "-v", &ro, "busybox", "touch", "/h/x"]);
    assert!(code != 0 && err.contains("Read-only file system"), "{err}");
    assert!(err.contains("SELinux relabeling"), "z is noted: {err}");
    // A missing source: --mount refuses it, with Docker's words; -v makes it.
    let missing = d.dir.path().join("not/there");
    let (code, _, err) = d.docker(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,src={},dst=/m", missing.display()),
        "busybox",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(
        err.contains(&format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {}",
            missing.display()
        )),
        "{err}"
    );
    assert!(!missing.exists());
    ok(d.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/m", missing.display()),
        "busybox",
        "true",
    ]));
    assert!(missing.is_dir());
    // tmpfs: in memory, with its options, and empty again after a stop.
    ok(d.docker(&[
        "run",
        "-d",
        "--name",
        "t",
        "--tmpfs",
        "/scratch:size=1m,mode=700",
        "--mount",
        "type=tmpfs,dst=/t2,tmpfs-size=2097152",
        "busybox",
        "sleep",
        "1000",
    ]));
    let mounts = ok(d.docker(&["exec", "t", "cat", "/proc/mounts"]));
    let line = |dst: &str| {
        mounts
            .lines()
            .find(|l| l.split(' ').nth(1) == Some(dst))
            .unwrap_or_else(|| panic!("{dst} not mounted: {mounts}"))
            .to_string()
    };
    assert!(line("/scratch").starts_with("tmpfs /scratch tmpfs "));
    assert!(line("/scratch").contains("size=1024k") && line("/scratch").contains("mode=700"));
    assert!(line("/scratch").contains("noexec"), "Docker's defaults");
    assert!(line("/t2").contains("size=2048k"));
    ok(d.docker(&["exec", "t", "sh", "-c", "echo x > /scratch/f"]));
    ok(d.docker(&["stop", "-t", "0", "t"]));
    ok(d.docker(&["start", "t"]));
    let (code, _, _) = d.docker(&["exec", "t", "test", "-e", "/scratch/f"]);
    assert_eq!(code, 1, "tmpfs content is gone after a stop");
    // --tmpfs is not among inspect's Mounts (Docker's); --mount tmpfs is.
    assert_eq!(
        ok(d.docker(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Type}}:{{.Destination}} {{end}}",
            "t"
        ]))
        .trim(),
        "tmpfs:/t2"
    );
    ok(d.docker(&["rm", "-f", "t"]));
    // --volumes-from: the same data, and :ro refuses writes.
    ok(d.docker(&[
        "run",
        "--name",
        "src",
        "-v",
        "shared:/shared",
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo one > /shared/f; echo two > /anon/g",
    ]));
    assert_eq!(
        ok(d.docker(&[
            "run",
            "--rm",
            "--volumes-from",
            "src",
            "busybox",
            "sh",
            "-c",
            "cat /shared/f /anon/g; echo three > /shared/h"
        ])),
        "one\ntwo\n"
    );
    let (code, out, err) = d.docker(&[
        "run",
        "--rm",
        "--volumes-from",
        "src:ro",
        "busybox",
        "sh",
        "-c",
        "cat /shared/h; touch /shared/x",
    ]);
    assert_eq!(out, "three\n");
    assert!(code != 0 && err.contains("Read-only file system"), "{err}");
    // The other container's anonymous volume survives a --rm that borrowed it.
    let anon = ok(d.docker(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}",
        "src",
    ]));
    assert!(volumes(&d, &[]).contains(&anon.trim().to_string()));
    // ps filters by volume.
    let id = ok(d.docker(&["ps", "-aq", "--no-trunc", "-f", "volume=shared"]));
    assert_eq!(
        id.trim(),
        ok(d.docker(&["inspect", "-f", "{{.Id}}", "src"])).trim()
    );
    let (code, _, err) = d.docker(&["run", "--rm", "--volumes-from", "nosuch", "busybox", "true"]);
    assert!(
        code != 0 && err.contains("No such container: nosuch"),
        "{err}"
    );
}

#[test]
fn symlinked_destinations_stay_in_the_root() {
    let d = daemon();
    // The image plants /evil -> a host directory (absolute) and
    // /up -> far above the root (relative), and declares /evil a VOLUME.
    let target = d.dir.path().join("host-target");
    std::fs::create_dir_all(&target).unwrap();
    image(
        &d,
        "evil",
        &format!(
            "ln -s {} /evil && ln -s ../../../../../../../..{} /up",
            target.display(),
            target.display()
        ),
        &[],
    );
    let bsrc = d.dir.path().join("bind-src");
    for (how, dst) in [
        (vec!["-v".to_string(), "v1:/evil".to_string()], "/evil"),
        (vec!["-v".to_string(), "v2:/up/x".to_string()], "/up/x"),
        (vec!["--tmpfs".to_string(), "/evil".to_string()], "/evil"),
        (
            vec!["-v".to_string(), format!("{}:/evil", bsrc.display())],
            "/evil",
        ),
        (
            vec!["--mount".to_string(), "type=tmpfs,dst=/up".to_string()],
            "/up",
        ),
        (vec!["-v".to_string(), "/evil".to_string()], "/evil"),
    ] {
        let mut args: Vec<String> = vec!["run".into(), "--rm".into()];
        args.extend(how.clone());
        args.extend([
            "evil".into(),
            "sh".into(),
            "-c".into(),
            format!("echo planted > {dst}/p"),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(d.docker(&args));
        assert_eq!(
            std::fs::read_dir(&target).unwrap().count(),
            0,
            "{how:?} wrote into the host's directory"
        );
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounts.contains(&target.display().to_string()),
            "{how:?} left a mount on the host's directory"
        );
    }
    // The writes landed inside: in the volume, and in the bind's source.
    assert_eq!(
        std::fs::read_to_string(
            d.dir
                .path()
                .join(common::DATA_ROOT)
                .join("volumes/v1/_data/p")
        )
        .unwrap(),
        "planted\n"
    );
    assert_eq!(
        std::fs::read_to_string(bsrc.join("p")).unwrap(),
        "planted\n"
    );

    // A volume's subpath (API 1.45's VolumeOptions.Subpath, docker-py's
    // test_create_with_subpath_volume_mount): that directory or file alone,
    // read-only when asked; its symlinks resolve inside the volume (a
    // container planted `esc -> /` and `abs -> /sub`); `..` and a missing
    // path refused with Docker's words; no staging mount left behind.
    ok(d.docker(&[
        "run",
        "--rm",
        "-v",
        "sv:/v",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /v/sub && echo content > /v/sub/f && ln -s / /v/esc && ln -s /sub /v/abs",
    ]));
    let sub = |sp: &str, more: &str, cmd: &str| {
        d.docker(&[
            "run",
            "--rm",
            "--mount",
            &format!("type=volume,src=sv,dst=/m,volume-subpath={sp}{more}"),
            "busybox",
            "sh",
            "-c",
            cmd,
        ])
    };
    assert_eq!(ok(sub("sub", ",readonly", "cat /m/f")), "content\n");
    let (_, _, err) = sub("sub", ",readonly", "touch /m/x");
    assert!(err.contains("Read-only file system"), "{err}");
    assert_eq!(ok(sub("esc", "", "ls /m")), "abs\nesc\nsub\n");
    assert_eq!(ok(sub("abs", "", "cat /m/f")), "content\n");
    assert_eq!(ok(sub("sub/f", "", "cat /m")), "content\n");
    let (code, _, err) = sub("../x", "", "true");
    assert_ne!(code, 0);
    assert!(
        err.contains("subpath must be a relative path within the volume"),
        "{err}"
    );
    let (code, _, err) = sub("nope", "", "true");
    assert_ne!(code, 0);
    assert!(err.contains("cannot access path"), "{err}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let exec = d.dir.path().join("exec");
    assert!(
        !mounts.contains(exec.join("subpaths").to_str().unwrap()),
        "a staging mount was left"
    );
}

#[test]
fn volumes_survive_kill9_and_show_in_df() {
    let mut d = daemon();
    ok(d.docker(&[
        "run",
        "--name",
        "w",
        "-v",
        "durable:/d",
        "busybox",
        "sh",
        "-c",
        "head -c 5000 /dev/zero > /d/blob",
    ]));
    // A tmpfs volume of the local driver: mounted while used, data in memory.
    ok(d.docker(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=1m,mode=700",
        "mem",
    ]));
    let out = ok(d.docker(&[
        "run",
        "--rm",
        "-v",
        "mem:/m",
        "busybox",
        "sh",
        "-c",
        "grep ' /m ' /proc/mounts; echo x > /m/f",
    ]));
    assert!(
        out.starts_with("tmpfs /m tmpfs ") && out.contains("size=1024k"),
        "{out}"
    );
    let data = d
        .dir
        .path()
        .join(common::DATA_ROOT)
        .join("volumes/mem/_data");
    assert!(
        !std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(&data.display().to_string()),
        "unmounted once no container uses it"
    );
    let df = ok(d.docker(&[
        "system",
        "df",
        "-v",
        "--format",
        "{{range .Volumes}}{{.Name}} {{.Links}} {{.Size}}\n{{end}}",
    ]));
    assert!(df.contains("durable 1 5kB"), "{df}");
    d.kill9();
    // What a create cut short between its directory and its record leaves.
    let stray = d.dir.path().join(common::DATA_ROOT).join("volumes/stray");
    std::fs::create_dir_all(stray.join("_data")).unwrap();
    d.restart();
    assert_eq!(volumes(&d, &[]), ["durable", "mem"]);
    assert!(!stray.exists(), "a directory with no record is swept");
    assert_eq!(
        ok(d.docker(&[
            "run",
            "--rm",
            "-v",
            "durable:/d",
            "busybox",
            "wc",
            "-c",
            "/d/blob"
        ]))
        .trim(),
        "5000 /d/blob"
    );
    let (code, _, err) = d.docker(&["volume", "rm", "durable"]);
    assert!(code == 1 && err.contains("volume is in use"), "{err}");
    assert_eq!(
        ok(d.docker(&["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "w"])).trim(),
        "durable"
    );
}

/// `docker cp` into and out of a created or stopped container reaches its
/// volumes and binds, as Docker mounts them for the copy (the data lands
/// in the volume, not in the container's layer); a read-only mount is
/// refused with dockerd's text, and nothing stays mounted after.
#[test]
fn cp_reaches_volumes_and_binds_of_stopped_containers() {
    let d = daemon();
    let host = tempfile::tempdir().unwrap();
    let bind = host.path().join("bind");
    let robind = host.path().join("robind");
    std::fs::create_dir_all(&bind).unwrap();
    std::fs::create_dir_all(&robind).unwrap();
    let file = host.path().join("data.txt");
    std::fs::write(&file, "Deaf To All But The Song\n").unwrap();
    let (b, rb) = (
        format!("{}:/b", bind.display()),
        format!("{}:/rb:ro", robind.display()),
    );
    ok(d.docker(&[
        "create",
        "--name",
        "c",
        "-v",
        "/vol1",
        "-v",
        "named:/vol2",
        "-v",
        &b,
        "-v",
        &rb,
        "busybox",
        "sh",
        "-c",
        "cat /vol1/data.txt /vol2/data.txt /b/data.txt",
    ]));
    let f = file.to_str().unwrap();
    for dest in ["c:/vol1/", "c:/vol2/", "c:/b/"] {
        ok(d.docker(&["cp", f, dest]));
    }
    let (code, _, err) = d.docker(&["cp", f, "c:/rb/"]);
    assert_ne!(code, 0);
    assert!(err.contains("mounted volume is marked read-only"), "{err}");
    assert!(std::fs::read_dir(&robind).unwrap().next().is_none());
    assert_eq!(
        std::fs::read_to_string(bind.join("data.txt")).unwrap(),
        "Deaf To All But The Song\n",
        "the copy went through the bind"
    );
    let mp = ok(d.docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", "named"]));
    assert!(std::path::Path::new(mp.trim()).join("data.txt").exists());
    ok(d.docker(&["start", "-a", "c"]));
    assert_eq!(
        ok(d.docker(&["logs", "c"])),
        "Deaf To All But The Song\n".repeat(3)
    );
    // Stopped: out of the volume and the bind again.
    for src in ["c:/vol1/data.txt", "c:/b/data.txt"] {
        let out = host.path().join("out.txt");
        let _ = std::fs::remove_file(&out);
        ok(d.docker(&["cp", src, out.to_str().unwrap()]));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "Deaf To All But The Song\n"
        );
    }
    // The copy's layer holds no data of the volumes; nothing stays mounted.
    let diff = ok(d.docker(&["diff", "c"]));
    assert!(!diff.contains("data.txt"), "{diff}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(".archive-"),
        "a copy's view stayed mounted"
    );
}

/// `volume prune` as moby counts it: a volume created without a name is
/// anonymous (moby 23+: docker-py's `create_volume()` then
/// `prune_volumes()`), API 1.42+ prunes only anonymous volumes unless
/// `all=true`, older clients prune every unused one; `VolumesDeleted` is
/// `[]` when nothing went and `SpaceReclaimed` counts the data's bytes.
#[test]
fn prune_by_api_version_and_nameless_volumes() {
    let d = daemon();
    let post = |path: &str, body: &str| {
        let (status, out) = d.curl(
            "POST",
            path,
            &["Content-Type: application/json"],
            body.as_bytes(),
        );
        (
            status,
            serde_json::from_slice::<serde_json::Value>(&out).unwrap(),
        )
    };
    let (status, v) = post("/v1.47/volumes/create", "{}");
    assert_eq!(status, 201);
    let anon = v["Name"].as_str().unwrap().to_string();
    assert_eq!(anon.len(), 64, "{v}");
    assert_eq!(v["Labels"]["com.docker.volume.anonymous"], "", "{v}");
    post("/v1.47/volumes/create", r#"{"Name":"named1"}"#);
    let mp = ok(d.docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", &anon]));
    std::fs::write(
        std::path::Path::new(mp.trim()).join("blob"),
        vec![7u8; 10_000],
    )
    .unwrap();

    let (_, r) = post("/v1.47/volumes/prune", "");
    assert_eq!(r["VolumesDeleted"], serde_json::json!([anon]), "{r}");
    assert!(r["SpaceReclaimed"].as_u64().unwrap() >= 10_000, "{r}");
    let (_, raw) = d.curl("POST", "/v1.47/volumes/prune", &[], b"");
    assert_eq!(
        String::from_utf8_lossy(&raw),
        r#"{"VolumesDeleted":[],"SpaceReclaimed":0}"#
    );
    assert_eq!(volumes(&d, &[]), ["named1"]);
    let (_, r) = post("/v1.41/volumes/prune", "");
    assert_eq!(r["VolumesDeleted"], serde_json::json!(["named1"]), "{r}");
    assert!(volumes(&d, &[]).is_empty());
}

/// A host directory bound onto itself and made shared; it and everything
/// mounted below it are detached when dropped, also when the test fails.
struct SharedMount(std::path::PathBuf);

impl SharedMount {
    fn new(path: &std::path::Path) -> SharedMount {
        use nix::mount::{mount, MsFlags};
        mount(
            Some(path),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap();
        let guard = SharedMount(path.to_path_buf());
        mount(
            None::<&str>,
            path,
            None::<&str>,
            MsFlags::MS_SHARED,
            None::<&str>,
        )
        .unwrap();
        guard
    }
}

impl Drop for SharedMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// `docker run -v SRC:DST:rshared` propagates mounts both ways, as on
/// dockerd: one made inside the container under the bind shows on the
/// host, one made on the host shows inside.
#[test]
fn rshared_bind_propagates_both_ways() {
    let d = daemon();
    let host = tempfile::tempdir().unwrap();
    let src = host.path().join("src");
    for sub in ["in", "out"] {
        std::fs::create_dir_all(src.join(sub)).unwrap();
    }
    let shared = SharedMount::new(&src);
    let vol = format!("{}:/mnt:rshared", src.display());
    let out_file = host.path().join("out");
    let mut run = d
        .docker_command(&[
            "run",
            "--rm",
            "--privileged",
            "-v",
            &vol,
            "busybox",
            "sh",
            "-c",
            "mount -t tmpfs from-ctr /mnt/in && echo made-inside > /mnt/in/f || exit 3; \
             i=0; while [ ! -e /mnt/out/g ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
             cat /mnt/out/g",
        ])
        .stdout(std::fs::File::create(&out_file).unwrap())
        .spawn()
        .unwrap();
    let seen = src.join("in/f");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !seen.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let from_ctr = std::fs::read_to_string(&seen).unwrap_or_default();
    let tmpfs = nix::mount::mount(
        Some("from-host"),
        &src.join("out"),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    );
    if tmpfs.is_ok() {
        std::fs::write(src.join("out/g"), "made-on-host\n").unwrap();
    }
    let status = run.wait().unwrap();
    let out = std::fs::read_to_string(&out_file).unwrap();
    drop(shared);
    tmpfs.unwrap();
    assert_eq!(
        from_ctr, "made-inside\n",
        "the container's mount reached the host"
    );
    assert!(status.success(), "{status:?} {out}");
    assert_eq!(
        out, "made-on-host\n",
        "the host's mount reached the container"
    );
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!info.contains(src.to_str().unwrap()), "{info}");
}
