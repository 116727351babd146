//! `--format` against docker's own: docker renders its templates in the
//! client, so `docker inspect --format T` and `berth inspect --format T`
//! against the same berthd must print the same bytes (docker CLI 28 at
//! /usr/local/bin/docker, Go's `text/template` and `tabwriter`).

mod common;

use std::process::Command;

use common::Daemon;

/// `docker args...` against `d`, with a config dir of its own.
fn docker(d: &Daemon, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir.path().join("docker-config"))
        .output()
        .expect("the docker CLI is installed");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Both clients print the same for `args`, and succeed.
fn same(d: &Daemon, args: &[&str]) -> String {
    let ours = d.berth(args);
    let theirs = docker(d, args);
    assert_eq!(theirs.0, 0, "docker {args:?}: {}", theirs.2);
    assert_eq!(ours.0, 0, "berth {args:?}: {}", ours.2);
    assert_eq!(ours.1, theirs.1, "berth and docker differ on {args:?}");
    ours.1
}

#[test]
fn inspect_and_table_formats_print_as_docker_does() {
    let d = Daemon::with_busybox();
    let vol = d.dir.path().join("bound");
    std::fs::create_dir(&vol).unwrap();
    let bind = format!("{}:/bound:ro", vol.display());
    d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-l",
        "tier=front",
        "-l",
        "app=shop",
        "-e",
        "A=1",
        "-v",
        &bind,
        "busybox",
        "sleep",
        "30",
    ]);
    d.ok(&["create", "--name", "idle", "busybox", "true"]);
    for tmpl in [
        "{{range .Mounts}}{{.Destination}} {{.RW}} {{.Mode}};{{end}}",
        "{{if .State.Running}}up{{else}}down{{end}}",
        "{{if and .State.Running (eq .State.ExitCode 0)}}ok{{end}}",
        "{{with .Config}}{{.Image}} {{.Cmd}} {{.Entrypoint}}{{end}}",
        "{{with .State.Health}}health{{else}}no health{{end}}",
        "{{json .Config.Labels}} {{json .Config.Env}} {{json .Config.Cmd}}",
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
        "{{range $i, $e := .Config.Env}}{{$i}}:{{index (split $e \"=\") 0}} {{end}}",
        "{{.HostConfig.Binds}} {{.HostConfig.Memory}} {{.State.Health}} {{.Config.Volumes}}",
        "{{printf \"%.12s\" .Id}} {{len .Mounts}} {{upper .State.Status}} {{.Name | printf \"%q\"}}",
        "{{index .Config.Labels \"tier\"}} {{title .State.Status}} {{pad .Name 1 1}}|",
        "{{$n := .Name}}{{range .Mounts}}{{$n}}:{{.Destination}}{{end}}",
        "{{- /* a comment */ -}} {{truncate .Image 14}} {{join .Config.Cmd \",\"}}",
    ] {
        same(&d, &["inspect", "--format", tmpl, "web", "idle"]);
    }
    // The Go structs of the config come out in their fields' order, ours
    // sorted; the values are the same.
    for tmpl in ["{{json .Config}}", "{{json .Mounts}}"] {
        let ours = d.ok(&["inspect", "--format", tmpl, "web"]);
        let theirs = docker(&d, &["inspect", "--format", tmpl, "web"]);
        let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s.trim()).unwrap();
        assert_eq!(parse(&ours), parse(&theirs.1), "{tmpl}");
    }

    let table = same(
        &d,
        &[
            "ps",
            "-a",
            "--format",
            "table {{.Names}}\\t{{.Image}}\\t{{.Labels}}\\t{{.Command}}",
        ],
    );
    assert!(table.starts_with("NAMES     IMAGE     LABELS"), "{table}");
    same(
        &d,
        &[
            "ps",
            "-a",
            "--format",
            "{{.Names}}|{{if .Labels}}labelled{{else}}bare{{end}}",
        ],
    );
    same(
        &d,
        &[
            "images",
            "--format",
            "table {{.Repository}}\\t{{.Tag}}\\t{{upper .Repository}}",
        ],
    );
    same(
        &d,
        &[
            "version",
            "--format",
            "{{.Server.Os}} {{with .Server}}{{len .Components}}{{end}}",
        ],
    );
}
