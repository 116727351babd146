//! The process of a container from its image and the create request, as
//! Docker derives it: the image's config merged into the request at
//! create, the arguments, the environment, the user and its groups, and
//! the rlimits (`--ulimit`).

use std::path::Path;

use serde_json::{json, Value};
use store::config::ImageConfig;

use super::SpecError;
use crate::EngineError;
use models::container::{Config, CreateBody, Ulimit};

/// The default `PATH` when the image sets none (Docker's).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Merges the image's config into a create body, as Docker does at create
/// (moby `daemon/create.go` `merge`): what the request leaves empty comes
/// from the image (command, entrypoint, user, working dir, stop signal,
/// healthcheck, volumes, exposed ports), the environment and labels are
/// the image's overlaid by the request's; and the daemon's defaults
/// (`IpcMode`, `Runtime`) where the request has none.
pub fn merge(cfg: &ImageConfig, body: &mut CreateBody, id: &str) {
    let ic = &cfg.config;
    let c = &mut body.config;
    if c.entrypoint.is_none() {
        if let Some(e) = &ic.entrypoint {
            c.entrypoint = Some(e.clone());
        }
        if c.cmd.as_ref().is_none_or(|v| v.is_empty()) {
            if let Some(cmd) = &ic.cmd {
                c.cmd = Some(cmd.clone());
            }
        }
    }
    // `--entrypoint ""` clears it.
    if c.entrypoint
        .as_ref()
        .is_some_and(|e| e.len() == 1 && e[0].is_empty())
    {
        c.entrypoint = None;
    }
    for (mine, image) in [
        (&mut c.user, &ic.user),
        (&mut c.working_dir, &ic.working_dir),
        (&mut c.stop_signal, &ic.stop_signal),
    ] {
        if mine.is_empty() && !image.is_empty() {
            *mine = image.clone();
        }
    }
    // The daemon's defaults, shown by inspect as dockerd shows its own:
    // the runtime by Docker's default name, `runc`, which is berth-runtime
    // here (docker-py sends `Runtime` where dockerd ignores it and checks
    // that inspect says `runc`).
    let hc = &mut body.host_config;
    for (mine, default) in [
        (&mut hc.ipc_mode, "private"),
        (&mut hc.runtime, crate::spec::DEFAULT_RUNTIME),
    ] {
        if mine.is_empty() {
            *mine = default.to_string();
        }
    }
    let c = &mut body.config;
    if c.hostname.is_empty() {
        // On the host's network the host's name, as Docker (moby
        // `daemon/container.go` newContainer; with only the host's UTS
        // namespace the files keep the short id, as Docker's do).
        let host_name = (body.host_config.network_mode == "host")
            .then(|| nix::unistd::gethostname().ok())
            .flatten()
            .and_then(|h| h.into_string().ok());
        c.hostname = host_name.unwrap_or_else(|| id.chars().take(12).collect::<String>());
    }
    let mut env: Vec<String> = Vec::new();
    for kv in ic.env.iter().chain(c.env.iter().flatten()) {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    c.env = Some(env);
    let mut labels = ic.labels.clone();
    labels.extend(c.labels.take().unwrap_or_default());
    c.labels = Some(labels);
    if c.healthcheck.is_none() {
        c.healthcheck = ic.healthcheck.clone();
    }
    if !ic.volumes.is_empty() {
        let v = c.volumes.get_or_insert_with(Default::default);
        for k in ic.volumes.keys() {
            v.entry(k.clone()).or_default();
        }
    }
    for k in ic.exposed_ports.keys() {
        c.exposed_ports.entry(k.clone()).or_default();
    }
}

/// The process's arguments, Docker's way: a new entrypoint drops the image's
/// `CMD` too.
pub fn args(cfg: &ImageConfig, req: &Config) -> Result<Vec<String>, EngineError> {
    let (entry, cmd) = match &req.entrypoint {
        Some(e) => (e.clone(), req.cmd.clone().unwrap_or_default()),
        None => (
            cfg.config.entrypoint.clone().unwrap_or_default(),
            req.cmd
                .clone()
                .or_else(|| cfg.config.cmd.clone())
                .unwrap_or_default(),
        ),
    };
    let all: Vec<String> = entry.into_iter().chain(cmd).collect();
    if all.is_empty() {
        return Err(SpecError::Invalid("no command specified".into()).into());
    }
    Ok(all)
}

/// The environment: the image's, then the request's (a key set twice keeps
/// the later value), `PATH` when missing, `HOSTNAME`, `TERM` for a tty.
pub fn env(cfg: &ImageConfig, req: &Config, hostname: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut set = |kv: &str| {
        let key = kv.split('=').next().unwrap_or(kv);
        out.retain(|e| e.split('=').next() != Some(key));
        out.push(kv.to_string());
    };
    set(&format!("HOSTNAME={hostname}"));
    for kv in cfg.config.env.iter().chain(req.env.iter().flatten()) {
        set(kv);
    }
    if req.tty && !out.iter().any(|e| e.starts_with("TERM=")) {
        out.push("TERM=xterm".into());
    }
    if !out.iter().any(|e| e.starts_with("PATH=")) {
        out.insert(0, DEFAULT_PATH.into());
    }
    out
}

/// A file of the container's root (`/etc/passwd`, `/etc/group`), read
/// inside the root, regular files only, bounded ([`crate::rootfile`]);
/// empty when missing (or when the root cannot be opened).
fn id_file(rootfs: &Path, f: &str) -> Result<String, crate::rootfile::RootFileError> {
    match crate::rootfile::open_root(rootfs) {
        Ok(root) => crate::rootfile::read(&root, f).map(Option::unwrap_or_default),
        Err(_) => Ok(String::new()),
    }
}

/// ` (why)` when a file could not be read, for the lookup's error.
fn why(r: &Result<String, crate::rootfile::RootFileError>) -> String {
    match r {
        Err(e) => format!(" ({e})"),
        Ok(_) => String::new(),
    }
}

/// Resolves `user[:group]` against the container's `/etc/passwd` and
/// `/etc/group`: (uid, gid, additional gids).
///
/// The files are read inside the root, regular files only, bounded
/// ([`crate::rootfile`]): a symlink out of the root, a FIFO or a device
/// never reaches the host's files or holds the daemon. One that cannot be
/// read counts as absent for numeric ids, and a name looked up in it is
/// refused with the reason.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>), EngineError> {
    let (passwd_file, group_file) = (
        id_file(rootfs, "/etc/passwd"),
        id_file(rootfs, "/etc/group"),
    );
    let passwd = passwd_file.as_deref().unwrap_or_default();
    let group = group_file.as_deref().unwrap_or_default();
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let u = if u.is_empty() { "0" } else { u };
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == u || f[2] == u));
    let (uid, mut gid, name) = match (u.parse::<u32>(), &entry) {
        (_, Some(f)) => (
            f[2].parse().unwrap_or(0),
            f[3].parse().unwrap_or(0),
            Some(f[0].to_string()),
        ),
        // A uid the image does not know runs with gid 0, as Docker.
        (Ok(n), None) => (n, 0, None),
        (Err(_), None) => {
            return Err(SpecError::Invalid(format!(
                "unable to find user {u}: no matching entries in passwd file{}",
                why(&passwd_file)
            ))
            .into())
        }
    };
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 3 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    SpecError::Invalid(format!(
                        "unable to find group {g}: no matching entries in group file{}",
                        why(&group_file)
                    ))
                })?,
        };
    }
    let mut extra = Vec::new();
    if let Some(name) = name {
        for f in group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 4)
        {
            if f[3].split(',').any(|m| m == name) {
                if let Ok(id) = f[2].parse::<u32>() {
                    if id != gid && !extra.contains(&id) {
                        extra.push(id);
                    }
                }
            }
        }
    }
    Ok((uid, gid, extra))
}

/// `--group-add`: numbers as they are, names looked up in the container's
/// `/etc/group` (moby/sys/user `GetAdditionalGroupsPath`, its words).
pub fn group_add(rootfs: &Path, groups: &[String]) -> Result<Vec<u32>, EngineError> {
    let group_file = id_file(rootfs, "/etc/group");
    let file = group_file.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    for g in groups {
        let by_name = file
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 3 && f[0] == g)
            .and_then(|f| f[2].parse::<u32>().ok());
        let id = match (by_name, g.parse::<u32>()) {
            (Some(id), _) | (None, Ok(id)) => id,
            (None, Err(_)) => {
                return Err(SpecError::Invalid(format!(
                    "Unable to find group {g}: no matching entries in group file{}",
                    why(&group_file)
                ))
                .into())
            }
        };
        out.push(id);
    }
    Ok(out)
}

/// The rlimits Linux has, by Docker's names (`--ulimit nofile=…`).
const RLIMITS: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `--ulimit` as the spec's `process.rlimits` (`RLIMIT_NOFILE`, …). Only
/// what is asked: the daemon's own limits are inherited otherwise, as
/// Docker's are, so nothing above the daemon's hard limit is asked for
/// unless the user did.
pub(crate) fn rlimits(ulimits: &[Ulimit]) -> Result<Vec<Value>, EngineError> {
    let mut out: Vec<Value> = Vec::new();
    for u in ulimits {
        if !RLIMITS.contains(&u.name.as_str()) {
            return Err(SpecError::Invalid(format!("invalid ulimit type: {}", u.name)).into());
        }
        if u.soft > u.hard {
            return Err(SpecError::Invalid(format!(
                "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                u.soft, u.hard
            ))
            .into());
        }
        // -1 is "unlimited" (RLIM_INFINITY).
        let lim = |n: i64| if n < 0 { u64::MAX } else { n as u64 };
        let typ = format!("RLIMIT_{}", u.name.to_ascii_uppercase());
        out.retain(|r| r["type"] != typ.as_str());
        out.push(json!({"type": typ, "soft": lim(u.soft), "hard": lim(u.hard)}));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: Value) -> ImageConfig {
        let mut base = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}});
        base["config"] = v;
        models::de::from_value(base).unwrap()
    }

    #[test]
    fn entrypoint_and_cmd_as_docker() {
        let c = cfg(json!({"Entrypoint": ["/init"], "Cmd": ["serve"]}));
        let r = |v: Value| -> Config { models::de::from_value(v).unwrap() };
        assert_eq!(args(&c, &r(json!({}))).unwrap(), ["/init", "serve"]);
        assert_eq!(args(&c, &r(json!({"Cmd": ["x"]}))).unwrap(), ["/init", "x"]);
        assert_eq!(
            args(&c, &r(json!({"Entrypoint": ["sh"]}))).unwrap(),
            ["sh"],
            "a new entrypoint drops the image's CMD"
        );
        assert!(args(&cfg(json!({})), &r(json!({}))).is_err());
    }

    #[test]
    fn environment_merge() {
        let c = cfg(json!({"Env": ["A=1", "PATH=/bin"]}));
        let r: Config =
            models::de::from_value(json!({"Env": ["A=2", "B=3"], "Tty": true})).unwrap();
        assert_eq!(
            env(&c, &r, "h"),
            ["HOSTNAME=h", "PATH=/bin", "A=2", "B=3", "TERM=xterm"]
        );
        assert_eq!(
            env(&cfg(json!({})), &Config::default(), "h"),
            [DEFAULT_PATH, "HOSTNAME=h"]
        );
    }

    #[test]
    fn ulimits_and_groups() {
        let u = |n: &str, s: i64, h: i64| Ulimit {
            name: n.into(),
            soft: s,
            hard: h,
        };
        assert_eq!(
            rlimits(&[u("nofile", 1024, 2048), u("core", -1, -1)]).unwrap(),
            [
                json!({"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}),
                json!({"type": "RLIMIT_CORE", "soft": u64::MAX, "hard": u64::MAX})
            ]
        );
        assert_eq!(
            rlimits(&[u("bogus", 1, 1)]).unwrap_err().to_string(),
            "invalid ulimit type: bogus"
        );
        assert!(rlimits(&[u("nofile", 2, 1)])
            .unwrap_err()
            .to_string()
            .starts_with("ulimit soft limit must be"));
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        assert_eq!(
            group_add(d.path(), &["staff".into(), "1234".into()]).unwrap(),
            [50, 1234]
        );
        assert_eq!(
            group_add(d.path(), &["nosuch".into()])
                .unwrap_err()
                .to_string(),
            "Unable to find group nosuch: no matching entries in group file"
        );
    }

    #[test]
    fn users_from_the_containers_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("etc/group"),
            "root:x:0:\napp:x:1000:\nextra:x:2000:app\n",
        )
        .unwrap();
        for (user, want) in [
            ("", (0, 0, vec![])),
            ("app", (1000, 1000, vec![2000])),
            ("app:extra", (1000, 2000, vec![])),
            ("1234:5", (1234, 5, vec![])),
            ("1000", (1000, 1000, vec![2000])),
        ] {
            assert_eq!(resolve_user(d.path(), user).unwrap(), want, "{user}");
        }
        assert!(resolve_user(d.path(), "nobody")
            .unwrap_err()
            .to_string()
            .contains("unable to find user nobody"));
    }
}
