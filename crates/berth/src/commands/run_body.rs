//! `run`'s and `create`'s flags turned into a ContainerCreate body, as the
//! docker CLI 28 turns them (`cli/command/container/opts.go` `parse`): the
//! config, the host config with its binds, mounts and tmpfs, and the
//! endpoints of `--network`; the rest of the host flags are
//! `run_opts.rs`'s.

use std::collections::BTreeMap;

use models::container::{Config, CreateBody, HostConfig, LogConfig};
use models::mount::{BindOptions, Mount, TmpfsOptions, VolumeOptions};
use models::network::{EndpointIpamConfig, EndpointSettings, NetworkingConfig};
use models::Empty;

use super::run::{env_entry, read_env_file, restart_policy, ContainerOptions};
use crate::units;

/// The ContainerCreate body of the flags; `attach` when the output is
/// copied to us (a foreground `run`).
pub fn create_body(o: &ContainerOptions, attach: bool) -> Result<CreateBody, String> {
    let image = &o.image_and_command[0];
    let cmd = &o.image_and_command[1..];
    let mut env = Vec::new();
    for f in &o.env_file {
        env.extend(read_env_file(f)?);
    }
    env.extend(o.env.iter().filter_map(|e| env_entry(e)));
    // --label-file first, then --label (the later value wins), as docker.
    let label_lines = super::run_opts::label_file_lines(&o.host.label_file)?;
    let labels: BTreeMap<String, String> = label_lines
        .iter()
        .chain(&o.label)
        .map(|l| l.split_once('=').unwrap_or((l, "")))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let restart = restart_policy(&o.restart)?;
    if o.rm && restart.name != "no" {
        return Err("Conflicting options: --restart and --rm".into());
    }
    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let mut host = HostConfig {
        auto_remove: o.rm,
        readonly_rootfs: o.read_only,
        privileged: o.privileged,
        restart_policy: restart,
        network_mode: o.network.first().map_or("default", String::as_str).into(),
        init: o.init.then_some(true),
        memory: o.memory.unwrap_or(0),
        memory_swap: o.memory_swap.unwrap_or(0),
        nano_cpus: o.cpus.unwrap_or(0),
        cpu_shares: o.cpu_shares.unwrap_or(0),
        pids_limit: o.pids_limit,
        cap_add: non_empty(&o.cap_add),
        cap_drop: non_empty(&o.cap_drop),
        security_opt: non_empty(&o.security_opt),
        volumes_from: non_empty(&o.volumes_from),
        ..Default::default()
    };
    // A terminal starts at our size (docker sends it too), before any resize.
    if o.tty {
        if let Some((h, w)) = crate::term::size(crate::term::STDOUT) {
            host.console_size = [u32::from(h), u32::from(w)];
        }
    }
    if !o.log_opt.is_empty() {
        let mut cfg = BTreeMap::new();
        for kv in &o.log_opt {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("invalid log opt {kv:?}: key=value"))?;
            cfg.insert(k.to_string(), v.to_string());
        }
        host.log_config = LogConfig {
            typ: String::new(),
            config: Some(cfg),
        };
    }
    let (binds, anonymous) = split_volumes(&o.volume);
    host.binds = (!binds.is_empty()).then_some(binds);
    host.mounts = o
        .mount
        .iter()
        .map(|m| parse_mount(m))
        .collect::<Result<_, _>>()?;
    host.tmpfs = o
        .tmpfs
        .iter()
        .map(|t| t.split_once(':').unwrap_or((t, "")))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let config = Config {
        image: image.clone(),
        env: Some(env),
        labels: Some(labels),
        tty: o.tty,
        open_stdin: o.interactive,
        // An attached -i client's EOF is the container's (docker's StdinOnce).
        attach_stdin: attach && o.attaches("stdin"),
        stdin_once: attach && o.attaches("stdin"),
        attach_stdout: attach && o.attaches("stdout"),
        attach_stderr: attach && o.attaches("stderr"),
        cmd: (!cmd.is_empty()).then(|| cmd.to_vec()),
        // An empty --entrypoint resets the image's, as Docker sends it.
        entrypoint: o.entrypoint.as_ref().map(|e| vec![e.clone()]),
        working_dir: opt(&o.workdir),
        user: opt(&o.user),
        hostname: opt(&o.hostname),
        stop_signal: opt(&o.stop_signal),
        stop_timeout: o.stop_timeout,
        volumes: (!anonymous.is_empty())
            .then(|| anonymous.into_iter().map(|a| (a, Empty {})).collect()),
        ..Default::default()
    };
    // Each network an endpoint; `--ip` and `--network-alias` are the
    // first's, as docker sends them.
    let mut endpoints = BTreeMap::new();
    for (i, n) in o.network.iter().enumerate() {
        let mut ep = EndpointSettings::default();
        if i == 0 {
            ep.ipam_config = o.ip.as_ref().map(|ip| EndpointIpamConfig {
                ipv4_address: ip.clone(),
                ..Default::default()
            });
            ep.aliases = (!o.network_alias.is_empty()).then(|| o.network_alias.clone());
        }
        endpoints.insert(n.clone(), Some(ep));
    }
    let mut body = CreateBody {
        config,
        host_config: host,
        networking_config: NetworkingConfig {
            endpoints_config: (!endpoints.is_empty()).then_some(endpoints),
        },
    };
    super::run_opts::apply(&o.host, &mut body)?;
    Ok(body)
}

/// docker's split of `-v`: `src:dst[:mode]` goes to `Binds` (a relative
/// host path starting with `.` made absolute), a lone `/dst` to
/// `Config.Volumes` (an anonymous volume).
fn split_volumes(list: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut binds, mut anonymous) = (Vec::new(), Vec::new());
    for v in list {
        match v.split_once(':') {
            None => anonymous.push(v.clone()),
            Some((host, rest)) if host.starts_with('.') => {
                let abs = std::path::absolute(host)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| host.to_string());
                binds.push(format!("{abs}:{rest}"));
            }
            Some(_) => binds.push(v.clone()),
        }
    }
    (binds, anonymous)
}

fn bind(m: &mut Mount) -> &mut BindOptions {
    m.bind_options.get_or_insert_with(Default::default)
}

fn vol(m: &mut Mount) -> &mut VolumeOptions {
    m.volume_options.get_or_insert_with(Default::default)
}

fn tmpfs(m: &mut Mount) -> &mut TmpfsOptions {
    m.tmpfs_options.get_or_insert_with(Default::default)
}

/// docker's `--mount` (`opts/mount.go`): comma-separated `key=value`
/// fields as one `HostConfig.Mounts` entry.
fn parse_mount(spec: &str) -> Result<Mount, String> {
    let mut m = Mount {
        typ: "volume".into(),
        ..Default::default()
    };
    let bool_of = |k: &str, v: Option<&str>| -> Result<bool, String> {
        match v {
            None | Some("1") | Some("true") => Ok(true),
            Some("0") | Some("false") => Ok(false),
            Some(x) => Err(format!("invalid value for {k}: {x}")),
        }
    };
    let kv = |v: Option<&str>, field: &str| -> Result<(String, String), String> {
        let v = v.ok_or_else(|| format!("invalid field '{field}' must be a key=value pair"))?;
        let (a, b) = v.split_once('=').unwrap_or((v, ""));
        Ok((a.to_string(), b.to_string()))
    };
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v)),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = || {
            value
                .map(String::from)
                .ok_or_else(|| format!("invalid field '{field}' must be a key=value pair"))
        };
        match key.as_str() {
            "type" => m.typ = need()?,
            "source" | "src" => m.source = need()?,
            "target" | "dst" | "destination" => m.target = need()?,
            "readonly" | "ro" => m.read_only = bool_of(&key, value)?,
            "consistency" => m.consistency = need()?,
            "bind-propagation" => bind(&mut m).propagation = need()?,
            "bind-nonrecursive" => bind(&mut m).non_recursive = bool_of(&key, value)?,
            "bind-create-mountpoint" => bind(&mut m).create_mountpoint = bool_of(&key, value)?,
            "volume-nocopy" => vol(&mut m).no_copy = bool_of(&key, value)?,
            "volume-label" => {
                let (k, v) = kv(value, field)?;
                vol(&mut m).labels.insert(k, v);
            }
            "volume-driver" => {
                let name = need()?;
                vol(&mut m)
                    .driver_config
                    .get_or_insert_with(Default::default)
                    .name = name;
            }
            "volume-opt" => {
                let (k, v) = kv(value, field)?;
                let d = vol(&mut m)
                    .driver_config
                    .get_or_insert_with(Default::default);
                d.options.insert(k, v);
            }
            "volume-subpath" => vol(&mut m).subpath = need()?,
            "tmpfs-size" => tmpfs(&mut m).size_bytes = units::ram_in_bytes(&need()?)?,
            "tmpfs-mode" => {
                let v = need()?;
                let mode = u32::from_str_radix(&v, 8)
                    .map_err(|_| format!("invalid value for {key}: {v}"))?;
                tmpfs(&mut m).mode = mode;
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if m.target.is_empty() {
        return Err("target is required".into());
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use serde_json::{json, Value};

    use super::*;

    #[derive(Parser)]
    #[command(disable_help_flag = true)]
    struct T {
        #[command(flatten)]
        o: ContainerOptions,
    }

    /// The body as it goes on the wire.
    fn body(args: &[&str]) -> Result<Value, String> {
        let t = T::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(create_body(&t.o, true)?).unwrap())
    }

    #[test]
    fn flags_become_docker_create_json() {
        let b = body(&[
            "-e",
            "A=1",
            "-w",
            "/tmp",
            "-u",
            "1:2",
            "-m",
            "64m",
            "--cpus",
            "1.5",
            "--pids-limit",
            "-1",
            "--read-only",
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop",
            "ALL",
            "--restart",
            "on-failure:3",
            "-l",
            "a=b",
            "-l",
            "c",
            "--entrypoint",
            "",
            "-h",
            "box",
            "--stop-signal",
            "SIGUSR1",
            "--stop-timeout",
            "3",
            "busybox",
            "sh",
            "-c",
            "exit 3",
        ])
        .unwrap();
        assert_eq!(b["Image"], "busybox");
        assert_eq!(b["Cmd"], json!(["sh", "-c", "exit 3"]));
        assert_eq!(b["Entrypoint"], json!([""]));
        assert_eq!(b["Env"], json!(["A=1"]));
        assert_eq!(b["WorkingDir"], "/tmp");
        assert_eq!(b["User"], "1:2");
        assert_eq!(b["Hostname"], "box");
        assert_eq!(b["Labels"], json!({"a": "b", "c": ""}));
        assert_eq!(b["StopSignal"], "SIGUSR1");
        assert_eq!(b["StopTimeout"], 3);
        let h = &b["HostConfig"];
        assert_eq!(h["Memory"], 64 << 20);
        assert_eq!(h["NanoCpus"], 1_500_000_000i64);
        assert_eq!(h["PidsLimit"], -1);
        assert_eq!(h["ReadonlyRootfs"], true);
        assert_eq!(h["CapAdd"], json!(["NET_ADMIN"]));
        assert_eq!(h["CapDrop"], json!(["ALL"]));
        assert_eq!(
            h["RestartPolicy"],
            json!({"Name": "on-failure", "MaximumRetryCount": 3})
        );
        assert!(b.get("Cmd").is_some());
        // Read back by the daemon's model, as sent.
        let typed: CreateBody = models::de::from_value(b).unwrap();
        assert_eq!(typed.host_config.memory, 64 << 20);
    }

    #[test]
    fn the_command_keeps_its_own_flags() {
        let b = body(&["--rm", "busybox", "ls", "-l", "--rm", "-d"]).unwrap();
        assert_eq!(b["Cmd"], json!(["ls", "-l", "--rm", "-d"]));
        assert_eq!(b["HostConfig"]["AutoRemove"], true);
        let b = body(&["busybox"]).unwrap();
        // No command, no entrypoint: null, as the docker CLI sends them.
        assert!(b["Cmd"].is_null() && b["Entrypoint"].is_null());
    }

    #[test]
    fn bad_values_are_refused() {
        for (args, want) in [
            (&["-m", "64x", "busybox"][..], "invalid size: '64x'"),
            (&["--cpus", "abc", "busybox"][..], "failed to parse abc"),
            (
                &["--restart", "sometimes", "busybox"][..],
                "unknown policy 'sometimes'",
            ),
            (
                &["--restart", "always:3", "busybox"][..],
                "can only be used with 'on-failure'",
            ),
            (
                &["--restart", "on-failure:x", "busybox"][..],
                "must be an integer",
            ),
            (
                &["--rm", "--restart", "always", "busybox"][..],
                "Conflicting options",
            ),
        ] {
            let e = body(args).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }
}
