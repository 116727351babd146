//! Containers: created from an image and a Docker `ContainerCreate` body,
//! started through a shim (`berth-shim`, one per container, which outlives
//! the daemon), waited for, logged, inspected, listed and removed.
//!
//! On disk, `<data-root>/containers/<id>/`:
//!
//! ```text
//! config.json   the OCI bundle's spec (written at start)
//! rootfs/       the overlay mount point; upper/ and work/ its writable layer
//! etc/          hostname, hosts, resolv.conf bound into the container
//! ctr.log       json-file log, written by the shim
//! shim.pid      `PID START BOOT_ID` of the shim while it runs
//! exit.json     {"ExitCode", "FinishedAt"}, written by the shim when the init exits
//! commit-paused while a commit holds the container paused
//! ```
//!
//! The record (name, image, create body, times) is in the metadata database;
//! the live state is derived from those files, so a daemon restart finds it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shim_proto::files;
use store::meta::Table;

use models::container::{CreateBody, FilesystemChange, HostConfig, Inspect, Summary, TopResponse};
use models::exec::ExecConfig;
use models::stats::{
    BlkioStatEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, NetworkStats, PidsStats,
    StatsResponse,
};

use crate::ids::random_hex;
use crate::spec;
use crate::{Engine, EngineError, ErrorKind};

/// In a container's directory while a commit holds it paused.
const COMMIT_PAUSED: &str = "commit-paused";

/// What the store records about a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerRecord {
    /// 64 hex characters.
    pub id: String,
    /// Name, without Docker's leading `/`.
    pub name: String,
    /// Image id.
    pub image: String,
    /// The image as the user named it.
    pub image_name: String,
    /// The create body, with the image's config merged in.
    pub config: CreateBody,
    /// Creation time.
    pub created: String,
    /// Start time of the last start.
    pub started: String,
    /// Stopped by a user (stop, kill): restart policies leave it alone.
    pub stopped_by_user: bool,
    /// Restarts by the restart policy since the last user start.
    pub restart_count: u32,
    /// The chain ids of the image's layers: kept while the container is,
    /// even when its image was removed with force.
    pub layers: Vec<String>,
    /// Its mounts, resolved at create (binds, volumes, tmpfs).
    pub mounts: Vec<crate::mounts::MountPoint>,
}

/// What `commit` takes besides the container.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions<'a> {
    /// `repo[:tag]` for the new image.
    pub reference: Option<&'a str>,
    /// `--author`.
    pub author: &'a str,
    /// `--message`, the history comment.
    pub comment: &'a str,
    /// Dockerfile-style `--change` lines.
    pub changes: &'a [String],
    /// Freeze a running container meanwhile.
    pub pause: bool,
    /// The image's creation time.
    pub created: String,
}

/// One line of a container's log.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// 1 stdout, 2 stderr.
    pub stream: u8,
    /// The bytes, with their newline.
    pub data: Vec<u8>,
    /// When the shim read them (RFC 3339, nanoseconds).
    pub time: String,
}

/// The live state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Never started.
    Created,
    /// Its init runs (pid), frozen when paused.
    Running(i32, bool),
    /// Exited with a code, at a time.
    Exited(i32, String),
}

const ADJECTIVES: &[&str] = &[
    "admiring", "bold", "brave", "calm", "clever", "eager", "focused", "gentle", "happy", "jolly",
    "keen", "lucid", "nifty", "quirky", "serene", "sharp", "tender", "vigilant", "wizardly",
    "zealous",
];
const NAMES: &[&str] = &[
    "babbage", "curie", "darwin", "euler", "fermi", "galileo", "hopper", "kepler", "lovelace",
    "maxwell", "newton", "noether", "pascal", "ritchie", "shannon", "tesla", "thompson", "turing",
    "wozniak", "yalow",
];

fn sys(e: impl std::fmt::Display) -> EngineError {
    EngineError::new(ErrorKind::System, e.to_string())
}

impl Engine {
    fn containers_dir(&self) -> PathBuf {
        self.data_root.join("containers")
    }

    /// A container's directory.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    /// Finds a container by full id, unique id prefix, or name.
    pub fn find_container(&self, name_or_id: &str) -> Result<ContainerRecord, EngineError> {
        let wanted = name_or_id.trim_start_matches('/');
        // A full id is one lookup; names and prefixes need the list.
        if wanted.len() == 64 {
            if let Some(c) = self
                .store()
                .meta()
                .get::<ContainerRecord>(Table::Containers, wanted)?
            {
                return Ok(self.with_started(c));
            }
        }
        let all = self.container_records()?;
        if let Some(c) = all.iter().find(|c| c.id == wanted || c.name == wanted) {
            return Ok(c.clone());
        }
        let mut prefixed = all
            .iter()
            .filter(|c| !wanted.is_empty() && c.id.starts_with(wanted));
        match (prefixed.next(), prefixed.next()) {
            (Some(c), None) => Ok(c.clone()),
            (Some(_), Some(_)) => Err(EngineError::new(
                ErrorKind::InvalidArgument,
                format!("multiple IDs found with provided prefix: {wanted}"),
            )),
            _ => Err(EngineError::new(
                ErrorKind::NotFound,
                format!("No such container: {name_or_id}"),
            )),
        }
    }

    /// The live state, from the shim's files.
    pub fn state(&self, c: &ContainerRecord) -> State {
        let dir = self.container_dir(&c.id);
        // A live shim first: the previous run's exit.json stays until the
        // shim of this run replaces it.
        if self.shim_pid(&c.id).is_some() {
            let st = self.runtime().state(&c.id);
            let pid = st.as_ref().map(|s| s.pid).unwrap_or(0);
            let paused = st.is_ok_and(|s| s.status == runtime::state::Status::Paused);
            return State::Running(pid, paused);
        }
        if let Ok(text) = std::fs::read_to_string(dir.join(files::EXIT)) {
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            return State::Exited(
                v["ExitCode"].as_i64().unwrap_or(-1) as i32,
                v["FinishedAt"].as_str().unwrap_or("").to_string(),
            );
        }
        if c.started.is_empty() {
            State::Created
        } else {
            State::Exited(255, String::new())
        }
    }

    pub(crate) fn runtime(&self) -> runtime::Runtime {
        runtime::Runtime::new(self.exec_root.join("runtime"))
    }

    /// The lock that orders a container's start and its release.
    pub(crate) fn lifecycle(&self, id: &str) -> std::sync::Arc<std::sync::Mutex<()>> {
        let mut m = self.lifecycles.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, l| std::sync::Arc::strong_count(l) > 1);
        m.entry(id.to_string()).or_default().clone()
    }

    /// The pid of the container's shim while it runs: the pid in
    /// `shim.pid`, if that process is the one that wrote it (same start
    /// time, same boot), not another that got its pid after a reboot.
    pub fn shim_pid(&self, id: &str) -> Option<i32> {
        let text = std::fs::read_to_string(self.container_dir(id).join(files::SHIM_PID)).ok()?;
        let p = runtime::state::PidFile::parse(&text)?;
        p.alive("berth-shim").then_some(p.pid)
    }

    /// At daemon start: container directories with no record (a create or
    /// a remove cut short by a crash) are unmounted and removed.
    pub fn remove_orphans(&self) -> Result<usize, EngineError> {
        let known: std::collections::HashSet<String> = self
            .container_records()?
            .into_iter()
            .map(|c| c.id)
            .collect();
        let mut removed = 0;
        for e in std::fs::read_dir(self.containers_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            // What a removal had renamed away and not finished removing.
            if name.starts_with(DOOMED) {
                if store::walk::remove_tree(&e.path()).is_ok() {
                    removed += 1;
                }
                continue;
            }
            if known.contains(&name)
                || name.len() != 64
                || !name.bytes().all(|b| b.is_ascii_hexdigit())
            {
                continue;
            }
            let _ = store::mount::unmount(&e.path().join("rootfs"));
            let _ = self.runtime().delete(&name, true);
            if store::walk::remove_tree(&e.path()).is_ok() {
                removed += 1;
            }
        }
        removed += self.sweep_volumes()?;
        Ok(removed)
    }

    /// The OCI process of an exec into a running container (Docker's
    /// `ExecConfig`: Cmd, Env, User, WorkingDir, Privileged, Tty): the
    /// container's own process with those changes, as Docker derives it.
    pub fn exec_process(
        &self,
        name: &str,
        cfg: &ExecConfig,
    ) -> Result<(ContainerRecord, oci_spec::runtime::Process), EngineError> {
        let c = self.find_container(name)?;
        match self.state(&c) {
            State::Running(_, false) => {}
            State::Running(_, true) => {
                return Err(EngineError::new(
                    ErrorKind::Conflict,
                    format!(
                        "Container {} is paused, unpause the container before exec",
                        c.id
                    ),
                ))
            }
            _ => return Err(Self::not_running(&c)),
        }
        let cmd: Vec<String> = cfg.cmd.clone().unwrap_or_default();
        if cmd.is_empty() {
            return Err(EngineError::new(
                ErrorKind::InvalidArgument,
                "No exec command specified",
            ));
        }
        let dir = self.container_dir(&c.id);
        let spec: Value = std::fs::read(dir.join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| sys(format!("container {} has no readable spec", c.id)))?;
        let mut p = spec["process"].clone();
        p["args"] = json!(cmd);
        let tty = cfg.tty;
        p["terminal"] = json!(tty);
        if let Some(o) = p.as_object_mut() {
            o.remove("consoleSize");
        }
        if let Some(size) = spec::console_size(tty, cfg.console_size.unwrap_or_default()) {
            p["consoleSize"] = size;
        }
        let mut env: Vec<String> = strings(&p["env"]);
        for kv in cfg.env.iter().flatten() {
            let key = kv.split('=').next().unwrap_or(kv);
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.to_string());
        }
        p["env"] = json!(env);
        if let Some(w) = Some(cfg.working_dir.as_str()).filter(|w| !w.is_empty()) {
            if !w.starts_with('/') {
                return Err(EngineError::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "the working directory '{w}' is invalid, it needs to be an absolute path"
                    ),
                ));
            }
            p["cwd"] = json!(w);
        }
        if let Some(u) = Some(cfg.user.as_str()).filter(|u| !u.is_empty()) {
            let (uid, gid, extra) = spec::resolve_user(&dir.join("rootfs"), u)?;
            p["user"] = json!({"uid": uid, "gid": gid, "additionalGids": extra});
        }
        if cfg.privileged {
            let bounding = caps::read(None, caps::CapSet::Bounding).unwrap_or_else(|_| caps::all());
            let all: Vec<String> = bounding.iter().map(|c| c.to_string()).collect();
            p["capabilities"] = json!({"bounding": all, "effective": all, "permitted": all});
        }
        // Patched as JSON (the spec's own keys), handed on typed.
        let p = serde_json::from_value(p).map_err(|e| sys(format!("exec process: {e}")))?;
        Ok((c, p))
    }

    /// `GET /containers/{id}/top?ps_args=`: the host's `ps` (default `-ef`)
    /// narrowed to the container's processes (its cgroup's), as Docker does.
    pub fn container_top(&self, name: &str, ps_args: &str) -> Result<TopResponse, EngineError> {
        let c = self.find_container(name)?;
        if !matches!(self.state(&c), State::Running(..)) {
            return Err(Self::not_running(&c));
        }
        let pids = self
            .runtime()
            .pids(&c.id)
            .map_err(|e| sys(format!("the container's processes: {e}")))?;
        let args: Vec<&str> = if ps_args.trim().is_empty() {
            vec!["-ef"]
        } else {
            ps_args.split_whitespace().collect()
        };
        let out = Command::new("ps")
            .args(&args)
            .output()
            .map_err(|e| sys(format!("run ps: {e}")))?;
        if !out.status.success() {
            return Err(EngineError::new(
                ErrorKind::InvalidArgument,
                format!("ps: {}", String::from_utf8_lossy(&out.stderr).trim()),
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("");
        let titles: Vec<&str> = header.split_whitespace().collect();
        let pid_col = titles.iter().position(|t| *t == "PID").ok_or_else(|| {
            EngineError::new(
                ErrorKind::InvalidArgument,
                "Couldn't find PID field in ps output",
            )
        })?;
        let mut procs = Vec::new();
        for line in lines {
            // The last column (the command) may hold spaces.
            let mut fields: Vec<String> = line
                .split_whitespace()
                .take(titles.len() - 1)
                .map(String::from)
                .collect();
            let rest: Vec<&str> = line.split_whitespace().skip(titles.len() - 1).collect();
            fields.push(rest.join(" "));
            if fields
                .get(pid_col)
                .and_then(|p| p.parse::<i32>().ok())
                .is_some_and(|p| pids.contains(&p))
            {
                procs.push(fields);
            }
        }
        Ok(TopResponse {
            titles: titles.iter().map(|t| t.to_string()).collect(),
            processes: procs,
        })
    }

    /// One sample of `GET /containers/{id}/stats` in Docker's shape (the
    /// caller fills `precpu_stats` from the previous sample). Zeros for a
    /// container that is not running, as Docker's.
    pub fn container_stats(&self, name: &str) -> Result<StatsResponse, EngineError> {
        let c = self.find_container(name)?;
        let pid = match self.state(&c) {
            State::Running(pid, _) => Some(pid),
            _ => None,
        };
        let running = pid.is_some();
        let st = if running {
            self.runtime().stats(&c.id).ok()
        } else {
            None
        };
        let io: Vec<BlkioStatEntry> = st
            .iter()
            .flat_map(|s| &s.io_bytes)
            .flat_map(|&(major, minor, r, w)| {
                [("read", r), ("write", w)].map(|(op, value)| BlkioStatEntry {
                    major,
                    minor,
                    op: op.into(),
                    value,
                })
            })
            .collect();
        let inactive = st.as_ref().map_or(0, |s| s.inactive_file);
        let networks = pid.filter(|&p| p > 0).and_then(net_dev);
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let (mem, limit, cpu, pids, pids_limit, ooms) = match &st {
            Some(s) => (
                s.memory_usage,
                s.memory_limit.min(host_memory()),
                s.cpu_usage_ns,
                s.pids_current,
                s.pids_limit,
                s.oom_kills,
            ),
            None => (0, 0, 0, 0, 0, 0),
        };
        Ok(StatsResponse {
            id: c.id.clone(),
            name: format!("/{}", c.name),
            read: crate::time::now(),
            preread: "0001-01-01T00:00:00Z".into(),
            pids_stats: PidsStats {
                current: pids,
                // No limit is `max`; Docker leaves it out.
                limit: if pids_limit == u64::MAX {
                    0
                } else {
                    pids_limit
                },
            },
            memory_stats: if running {
                MemoryStats {
                    usage: mem,
                    limit,
                    failcnt: ooms,
                    stats: Some([("inactive_file".to_string(), inactive)].into()),
                    ..Default::default()
                }
            } else {
                MemoryStats::default()
            },
            cpu_stats: CpuStats {
                cpu_usage: CpuUsage {
                    total_usage: cpu,
                    ..Default::default()
                },
                system_cpu_usage: system_cpu_ns(),
                online_cpus: u32::try_from(cpus).unwrap_or(u32::MAX),
                throttling_data: Default::default(),
            },
            blkio_stats: BlkioStats {
                io_service_bytes_recursive: (!io.is_empty()).then_some(io),
                ..Default::default()
            },
            networks,
            ..Default::default()
        })
    }

    /// Whether the last run was ended by the OOM killer (the shim records it).
    fn oom_killed(&self, c: &ContainerRecord) -> bool {
        std::fs::read(self.container_dir(&c.id).join(files::EXIT))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|v| v["OOMKilled"].as_bool().unwrap_or(false))
    }

    /// Every container record.
    pub fn container_records(&self) -> Result<Vec<ContainerRecord>, EngineError> {
        let all: Vec<ContainerRecord> = self.store().meta().list(Table::Containers)?;
        Ok(all.into_iter().map(|c| self.with_started(c)).collect())
    }

    /// The last start time lives in the container's `started` file: written
    /// at each start without a database commit (and its fsync) on the start
    /// path. A daemon crash cannot lose it (it is in the page cache); after
    /// a machine crash the container is not running anyway.
    fn with_started(&self, mut c: ContainerRecord) -> ContainerRecord {
        if let Ok(t) = std::fs::read_to_string(self.container_dir(&c.id).join(files::STARTED)) {
            c.started = t.trim().to_string();
        }
        // Records from before mounts were resolved at create had host binds
        // only (named volumes were refused then): derived from the body.
        if c.mounts.is_empty() {
            c.mounts = c
                .config
                .host_config
                .binds()
                .iter()
                .filter_map(|b| crate::mounts::parse_bind(b).ok())
                .filter(|m| m.typ == "bind")
                .collect();
        }
        c
    }

    fn is_restarting(&self, id: &str) -> bool {
        self.restarting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    /// Which containers use each image: (container id, running).
    pub fn image_users(
        &self,
    ) -> Result<std::collections::HashMap<String, Vec<(String, bool)>>, EngineError> {
        let mut out: std::collections::HashMap<String, Vec<(String, bool)>> = Default::default();
        let all: Vec<ContainerRecord> = self.store().meta().list(Table::Containers)?;
        for c in all {
            let running = matches!(self.state(&c), State::Running(..));
            out.entry(c.image.clone())
                .or_default()
                .push((c.id, running));
        }
        Ok(out)
    }

    /// Every layer some container stands on, for the garbage collector:
    /// the Docker API's containers and the CRI's.
    pub fn container_layers(&self) -> Result<Vec<String>, EngineError> {
        let all: Vec<ContainerRecord> = self.store().meta().list(Table::Containers)?;
        /// The part of a CRI container's record the collector reads.
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Held {
            layers: Vec<String>,
        }
        let cri: Vec<Held> = self.store().meta().list(Table::CriContainers)?;
        Ok(all
            .into_iter()
            .flat_map(|c| c.layers)
            .chain(cri.into_iter().flat_map(|c| c.layers))
            .collect())
    }

    /// `POST /containers/create`.
    pub fn container_create(
        &self,
        name: Option<&str>,
        body: CreateBody,
        created: String,
    ) -> Result<String, EngineError> {
        self.container_create_warned(name, body, created)
            .map(|(id, _)| id)
    }

    /// `POST /containers/create`, with Docker's `Warnings`: what the host
    /// cannot apply and Docker drops with a warning (see `spec::resources`),
    /// and what the mounts warrant saying.
    pub fn container_create_warned(
        &self,
        name: Option<&str>,
        body: CreateBody,
        created: String,
    ) -> Result<(String, Vec<String>), EngineError> {
        let mut warnings = spec::check_create(&body)?;
        warnings.extend(crate::mounts::warnings(&body.host_config));
        let image_name = body.config.image.clone();
        if image_name.is_empty() {
            return Err(EngineError::new(
                ErrorKind::InvalidArgument,
                "config cannot be empty in order to create a container",
            ));
        }
        crate::logging::settings(&body.host_config.log_config)?;
        restart_policy_ok(&body.host_config)?;
        crate::mounts::parse_requested(&body.host_config)?;
        let mut body = body;
        spec::resources::adapt(&mut body.host_config, spec::support());
        self.network_prepare(&mut body)?;
        let _t = runtime::trace::span("engine create");
        let _w = self.writing();
        let image = store::images::find(self.store().meta(), &image_name)?;
        // Checks that the command resolves before anything is kept.
        let cfg = self.store().config(&image)?;
        spec::args(&cfg, &body.config)?;
        let id = random_hex(32);
        spec::merge(&cfg, &mut body, &id);
        let wanted = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let n = n.trim_start_matches('/');
                valid_name(n)?;
                // Early, so a refused create makes no volume; the check
                // that counts is the one in the record's transaction.
                let existing: Vec<ContainerRecord> = self.store().meta().list(Table::Containers)?;
                if let Some(c) = existing.iter().find(|c| c.name == n) {
                    return Err(name_conflict(n, &c.id));
                }
                Some(n.to_string())
            }
            None => None,
        };
        // Volumes are made and the record written under the volumes lock:
        // no volume named here can be removed in between.
        let _vl = self.volumes_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mounts = self.resolve_mounts(&body, &created)?;
        crate::perms::private_dir(&self.containers_dir()).map_err(sys)?;
        crate::perms::private_dir(&self.container_dir(&id)).map_err(sys)?;
        runtime::trace::mark("create checked");
        let layers = store::config::chain_ids(&image.diff_ids);
        let mut rec = ContainerRecord {
            layers,
            id: id.clone(),
            name: String::new(),
            image: image.id,
            image_name,
            config: body,
            created,
            started: String::new(),
            mounts,
            ..Default::default()
        };
        // The name is checked in the transaction that records it: of two
        // creates with one name, the second sees the first's record.
        let recorded = self.store().meta().write(|w| {
            let existing: Vec<ContainerRecord> = w.list(Table::Containers)?;
            let taken = |n: &str| existing.iter().find(|c| c.name == n);
            rec.name = match &wanted {
                Some(n) => match taken(n) {
                    Some(c) => return Err(name_conflict(n, &c.id)),
                    None => n.clone(),
                },
                None => loop {
                    let n = random_name();
                    if taken(&n).is_none() {
                        break n;
                    }
                },
            };
            w.put(Table::Containers, &id, &rec)?;
            Ok::<_, EngineError>(())
        });
        if let Err(e) = recorded {
            for m in rec
                .mounts
                .iter()
                .filter(|m| m.typ == "volume" && m.anonymous)
            {
                let _ = self.remove_volume_locked(&m.name, true);
            }
            let _ = std::fs::remove_dir_all(self.container_dir(&id));
            return Err(e);
        }
        Ok((id, warnings))
    }

    /// `?platform=` of a create: the image must be of that platform
    /// (dockerd's 404 otherwise; the docker CLI then tries a pull).
    pub fn check_platform(&self, image: &str, platform: &str) -> Result<(), EngineError> {
        if platform.is_empty() {
            return Ok(());
        }
        let img = store::images::find(self.store().meta(), image)?;
        let cfg = self.store().config(&img)?;
        let mut want = platform.split('/');
        let (os, arch) = (want.next().unwrap_or(""), want.next().unwrap_or(""));
        let variant = want.next().unwrap_or("");
        let norm = |a: &str| match a {
            "x86_64" | "x86-64" => "amd64".to_string(),
            "aarch64" => "arm64".to_string(),
            a => a.to_ascii_lowercase(),
        };
        let have_os = if cfg.os.is_empty() {
            "linux"
        } else {
            cfg.os.as_str()
        };
        let have_arch = if cfg.architecture.is_empty() {
            "amd64"
        } else {
            cfg.architecture.as_str()
        };
        let matches = os.eq_ignore_ascii_case(have_os)
            && (arch.is_empty() || norm(arch) == norm(have_arch))
            && (variant.is_empty() || cfg.variant.as_deref().unwrap_or("") == variant);
        if matches {
            return Ok(());
        }
        let have = match cfg.variant.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => format!("{have_os}/{have_arch}/{v}"),
            None => format!("{have_os}/{have_arch}"),
        };
        Err(EngineError::new(
            ErrorKind::NotFound,
            format!("image with reference {image} was found but its platform ({have}) does not match the specified platform ({platform})"),
        ))
    }

    /// `POST /containers/{id}/start`: mounts the root filesystem, writes the
    /// bundle and hands the container to a new shim.
    /// With `OpenStdin`, the shim gives the container a stdin pipe and feeds
    /// it from its control socket (`ctl.sock`), which `attach` uses. The
    /// shim starts the container once `attached` readers have joined it
    /// (or a few seconds passed), so that they miss none of its output.
    pub fn container_start(
        &self,
        name: &str,
        shim: &Path,
        now: String,
        attached: usize,
    ) -> Result<(), EngineError> {
        let _t = runtime::trace::span("engine start");
        let c = self.find_container(name)?;
        let lock = self.lifecycle(&c.id);
        let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
        match self.state(&c) {
            State::Running(..) => return Ok(()),
            State::Exited(..) => {
                self.cleanup_run(&c);
                // What the last run's release has not let go yet.
                self.network_detach(&c.id);
            }
            State::Created => {}
        }
        let dir = self.container_dir(&c.id);
        let rootfs = dir.join("rootfs");
        if !is_mounted(&rootfs) {
            let _t = runtime::trace::span("overlay mount");
            self.store().mount_layers_rw(&c.layers, &dir, &rootfs)?;
        }
        // The create body holds the image's config merged in; the image
        // itself may be gone (rmi -f), and then it is not needed.
        let image_config = match self.store().meta().image(&c.image)? {
            Some(image) => self.store().config(&image)?,
            None => store::config::new_config(&c.created),
        };
        let req = c.config.clone();
        // `_held`: descriptors the runtime mounts (subpaths), kept open
        // until the start is through.
        let (mounts, _held) = match self.prepare_mounts(&c, &rootfs) {
            Ok(m) => m,
            Err(e) => {
                let _ = store::mount::unmount(&rootfs);
                return Err(e);
            }
        };
        runtime::trace::mark("mounts prepared");
        let plan = match self.network_attach(&c) {
            Ok(p) => p,
            Err(e) => {
                let _ = store::mount::unmount(&rootfs);
                return Err(e);
            }
        };
        runtime::trace::mark("network attached");
        let started = self.start_attached(
            &c,
            shim,
            &now,
            attached,
            &image_config,
            &req,
            &mounts,
            &plan,
        );
        if started.is_err() {
            self.network_detach(&c.id);
            let _ = store::mount::unmount(&rootfs);
        }
        started
    }

    /// The rest of a start, once the network is there: the spec, the
    /// files, the shim.
    #[allow(clippy::too_many_arguments)]
    fn start_attached(
        &self,
        c: &ContainerRecord,
        shim: &Path,
        now: &str,
        attached: usize,
        image_config: &store::config::ImageConfig,
        req: &CreateBody,
        mounts: &[crate::mounts::MountPoint],
        plan: &crate::network::NetPlan,
    ) -> Result<(), EngineError> {
        let dir = self.container_dir(&c.id);
        let rootfs = dir.join("rootfs");
        let mut req = req.clone();
        if let Some(h) = &plan.hostname {
            req.config.hostname = h.clone();
        }
        if !plan.env.is_empty() {
            // Links' variables first: the container's own override them.
            let mut env = plan.env.clone();
            env.extend(req.config.env.take().unwrap_or_default());
            req.config.env = Some(env);
        }
        let mut ns = spec::namespaces::resolve(&req.host_config, |name| {
            let other = self.find_container(name)?;
            let pid = match self.state(&other) {
                State::Running(pid, _) => pid,
                _ => 0,
            };
            let shm = std::fs::read_to_string(self.container_dir(&other.id).join(SHM_SOURCE))
                .ok()
                .map(PathBuf::from);
            Ok(spec::namespaces::Peer { pid, shm })
        })?;
        self.share_shm(&dir, &req.host_config, &mut ns)?;
        let spec = spec::build(
            &c.id,
            image_config,
            &req,
            &rootfs,
            &dir.join("etc"),
            mounts,
            &plan.netns,
            &ns,
        )?;
        // A real-time budget needs one in every ancestor (moby's
        // `initCPURtController`).
        let hc = &req.host_config;
        if hc.cpu_realtime_runtime > 0 {
            let path = spec
                .linux()
                .as_ref()
                .and_then(|l| l.cgroups_path().clone())
                .unwrap_or_default();
            runtime::cgroups::probe::init_realtime(
                &path,
                hc.cpu_realtime_period,
                hc.cpu_realtime_runtime,
            )
            .map_err(|e| {
                EngineError::new(
                    ErrorKind::System,
                    format!("unable to init CPU RT controller: {e}"),
                )
            })?;
        }
        runtime::trace::mark("spec built");
        let mut log = crate::logging::settings(&c.config.host_config.log_config)?;
        log.attrs = crate::logging::attrs(c)?;
        crate::perms::write_private(
            &dir.join(files::LOG_OPTS),
            serde_json::to_string(&crate::logging::shim_options(&log)).map_err(sys)?,
        )
        .map_err(sys)?;
        spec::write_etc_files_with(
            &dir.join("etc"),
            // With the host's UTS namespace the spec sets no name; the
            // file carries the one create recorded (the short id), as
            // Docker's does.
            spec.hostname().as_deref().unwrap_or(&req.config.hostname),
            &plan.etc,
            &plan.extra,
        )
        .map_err(sys)?;
        // The whole environment is in it, often secrets.
        crate::perms::write_private(
            &dir.join("config.json"),
            serde_json::to_vec(&spec).map_err(sys)?,
        )
        .map_err(sys)?;
        runtime::trace::mark("bundle written");
        let out = {
            let mut cmd = Command::new(shim);
            std::os::unix::process::CommandExt::arg0(&mut cmd, "berth-shim");
            // A TTY container's input goes into its pty (the shim keeps the
            // master); others get a stdin pipe when it was opened (`-i`).
            let tty = c.config.config.tty;
            if c.config.config.open_stdin && !tty {
                cmd.env(shim_proto::env::OPEN_STDIN, "1");
            }
            if attached > 0 {
                cmd.env(shim_proto::env::ATTACH_WAIT, attached.to_string());
            }
            cmd.stdin(std::process::Stdio::null());
            cmd
        }
        .arg(&dir)
        .arg(&c.id)
        .arg(self.exec_root.join("runtime"))
        .output()
        .map_err(|e| sys(format!("start shim {}: {e}", shim.display())))?;
        runtime::trace::mark("shim reported");
        let msg = String::from_utf8_lossy(&out.stdout);
        let report = shim_proto::Report::parse(&msg);
        let failed = match report {
            shim_proto::Report::Started(_) if out.status.success() => None,
            shim_proto::Report::Started(_) => Some(msg.trim().to_string()),
            shim_proto::Report::Error(why) => Some(why),
        };
        if let Some(why) = failed {
            let _ = store::mount::unmount(&rootfs);
            // Docker's wording for a command that cannot run.
            let kind = if why.contains("executable file not found") || why.contains("no such file")
            {
                ErrorKind::InvalidArgument
            } else {
                ErrorKind::System
            };
            return Err(EngineError::new(
                kind,
                format!("failed to create task for container: {why}"),
            ));
        }
        let tmp = dir.join(".started.tmp");
        crate::perms::write_private(&tmp, now)
            .and_then(|()| std::fs::rename(&tmp, dir.join(files::STARTED)))
            .map_err(sys)
    }

    /// A `shareable` container's `/dev/shm` is a tmpfs mounted under its
    /// directory on the host, as Docker's `ShmPath`: a mount cannot be
    /// bound from another container's mount namespace, a host directory
    /// can. `SHM_SOURCE` names the host directory on its `/dev/shm` for
    /// the containers that join its IPC namespace.
    fn share_shm(
        &self,
        dir: &Path,
        hc: &spec::HostConfig,
        ns: &mut spec::namespaces::Namespaces,
    ) -> Result<(), EngineError> {
        let _ = std::fs::remove_file(dir.join(SHM_SOURCE));
        if hc.ipc_mode == "shareable" {
            let shm = dir.join("shm");
            if !is_mounted(&shm) {
                std::fs::create_dir_all(&shm).map_err(sys)?;
                let size = if hc.shm_size > 0 {
                    hc.shm_size
                } else {
                    spec::resources::DEFAULT_SHM_SIZE
                };
                nix::mount::mount(
                    Some("shm"),
                    &shm,
                    Some("tmpfs"),
                    nix::mount::MsFlags::MS_NOSUID
                        | nix::mount::MsFlags::MS_NODEV
                        | nix::mount::MsFlags::MS_NOEXEC,
                    Some(spec::namespaces::shm_options(size).as_str()),
                )
                .map_err(|e| sys(format!("mount shm on {}: {e}", shm.display())))?;
            }
            ns.shm_source = Some(shm);
        }
        if let Some(src) = &ns.shm_source {
            std::fs::write(dir.join(SHM_SOURCE), src.as_os_str().as_encoded_bytes())
                .map_err(sys)?;
        }
        Ok(())
    }

    /// Forgets the shim of a previous run (before a restart); its exit.json
    /// stays until the new shim records the next exit.
    fn cleanup_run(&self, c: &ContainerRecord) {
        let dir = self.container_dir(&c.id);
        let _ = std::fs::remove_file(dir.join(files::SHIM_PID));
        // A shim that died without cleaning up (killed, or a machine crash)
        // left the runtime's state of the old run behind.
        let _ = self.runtime().delete(&c.id, true);
    }

    /// Unmounts an exited container's root filesystem.
    pub fn container_release(&self, c: &ContainerRecord) {
        let _t = runtime::trace::span("engine release");
        // Not under a start that began meanwhile (a restart).
        let lock = self.lifecycle(&c.id);
        let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(self.state(c), State::Running(..)) {
            return;
        }
        let dir = self.container_dir(&c.id);
        let _ = store::mount::unmount(&dir.join("rootfs"));
        runtime::trace::mark("rootfs unmounted");
        let _ = std::fs::remove_file(dir.join(SHM_SOURCE));
        if is_mounted(&dir.join("shm")) {
            let _ = store::mount::unmount(&dir.join("shm"));
        }
        self.network_detach(&c.id);
        self.release_volumes(c);
    }

    /// Records whether a user stopped the container (restart policies
    /// leave such a container alone) and resets or counts restarts.
    /// A mark that changes nothing commits nothing: a user's start of a
    /// container that was never stopped nor restarted (every `run`) saves
    /// a durable commit, an fsync, on its way to the start.
    pub fn mark(&self, id: &str, f: impl Fn(&mut ContainerRecord)) -> Result<(), EngineError> {
        let c = self.find_container(id)?;
        let mut after = c.clone();
        f(&mut after);
        if let (Ok(a), Ok(b)) = (serde_json::to_vec(&c), serde_json::to_vec(&after)) {
            if a == b {
                return Ok(());
            }
        }
        let id = c.id;
        // Read and written in one transaction: concurrent marks never lose
        // each other's change.
        self.store().meta().write(|w| {
            if let Some(mut c) = w.get::<ContainerRecord>(Table::Containers, &id)? {
                f(&mut c);
                w.put(Table::Containers, &id, &c)?;
            }
            Ok::<_, store::meta::MetaError>(())
        })?;
        Ok(())
    }

    /// What the restart policy says once the container exited with `code`:
    /// start it again (true) or leave it. `at_boot` is the daemon's start,
    /// where `always` brings back even a container a user stopped.
    pub fn should_restart(&self, c: &ContainerRecord, code: i32, at_boot: bool) -> bool {
        let policy = &c.config.host_config.restart_policy;
        let max = u64::try_from(policy.maximum_retry_count).unwrap_or(0);
        match policy.name.as_str() {
            "always" => at_boot || !c.stopped_by_user,
            "unless-stopped" => !c.stopped_by_user,
            "on-failure" => {
                !c.stopped_by_user && code != 0 && (max == 0 || u64::from(c.restart_count) < max)
            }
            _ => false,
        }
    }

    /// Its exit code once exited, `None` while it runs or was never started.
    pub fn exit_code(&self, c: &ContainerRecord) -> Option<i32> {
        match self.state(c) {
            State::Exited(code, _) => Some(code),
            _ => None,
        }
    }

    /// `DELETE /containers/{id}?force=&v=`: `volumes` removes its anonymous
    /// volumes too (`rm -v`, `--rm`).
    pub fn container_remove(
        &self,
        name: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), EngineError> {
        let c = self.find_container(name)?;
        // A container waiting for its restart is as good as running, as
        // dockerd counts it (docker-py's test_create_with_restart_policy).
        if !force && self.is_restarting(&c.id) {
            return Err(EngineError::new(ErrorKind::Conflict, format!("cannot remove container \"/{}\": container is restarting: stop the container before removing or force remove", c.name)));
        }
        if let State::Running(..) = self.state(&c) {
            if !force {
                return Err(EngineError::new(ErrorKind::Conflict, format!("cannot remove container \"/{}\": container is running: stop the container before removing or force remove", c.name)));
            }
            let _ = self
                .runtime()
                .kill(&c.id, nix::sys::signal::Signal::SIGKILL, true);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while matches!(self.state(&c), State::Running(..))
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        self.restarting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&c.id);
        let _t = runtime::trace::span("engine remove");
        self.container_release(&c);
        let _ = self.runtime().delete(&c.id, true);
        let shm = self.container_dir(&c.id).join("shm");
        if is_mounted(&shm) {
            let _ = store::mount::unmount(&shm);
        }
        runtime::trace::mark("runtime state deleted");
        self.remove_dir_later(&c.id);
        runtime::trace::mark("container dir removed");
        self.store()
            .meta()
            .write(|w| w.delete(Table::Containers, &c.id))?;
        runtime::trace::mark("record deleted");
        if volumes {
            self.remove_anonymous_volumes(&c);
        }
        Ok(())
    }

    /// Takes a removed container's directory out of the way with one
    /// rename (`containers/.rm-<id>`) and removes the tree on a thread: on
    /// a loaded ext4 each unlink can wait 5-20 ms for the journal, and a
    /// container's directory holds a dozen files, its upper and work dirs.
    /// The rename is what the caller waits for; a crash before the thread
    /// is through leaves the `.rm-` directory to `remove_orphans` at the
    /// next start. Without the rename (another filesystem, an error) the
    /// tree goes here and now, as before.
    fn remove_dir_later(&self, id: &str) {
        let dir = self.container_dir(id);
        let doomed = self.containers_dir().join(format!("{DOOMED}{id}"));
        if std::fs::rename(&dir, &doomed).is_err() {
            // Iteratively: a container can leave a tree deep enough to
            // overflow a recursive removal.
            let _ = store::walk::remove_tree(&dir);
            return;
        }
        let spawned = std::thread::Builder::new().name("rm-dir".into()).spawn({
            let doomed = doomed.clone();
            move || {
                let _ = store::walk::remove_tree(&doomed);
            }
        });
        if spawned.is_err() {
            let _ = store::walk::remove_tree(&doomed);
        }
    }

    fn not_running(c: &ContainerRecord) -> EngineError {
        EngineError::new(
            ErrorKind::Conflict,
            format!("Container {} is not running", c.id),
        )
    }

    /// `POST /containers/{id}/kill?signal=`: any signal, by name or number.
    pub fn container_kill(&self, name: &str, signal: &str) -> Result<(), EngineError> {
        let c = self.find_container(name)?;
        let sig = runtime::container::parse_signal(if signal.is_empty() { "KILL" } else { signal })
            .map_err(|e| EngineError::new(ErrorKind::InvalidArgument, e.to_string()))?;
        if !matches!(self.state(&c), State::Running(..)) {
            return Err(Self::not_running(&c));
        }
        self.runtime().kill(&c.id, sig, false).map_err(|e| {
            EngineError::new(
                ErrorKind::System,
                format!("cannot kill container {}: {e}", c.id),
            )
        })?;
        // As dockerd: a SIGKILL returns once the container is down, so that
        // a remove right after it finds it stopped.
        if sig == nix::sys::signal::Signal::SIGKILL
            && self.wait_stopped(&c, std::time::Duration::from_secs(10))
        {
            // Its ports and address are free when the call returns, as
            // Docker's (the monitor's release finds nothing left).
            self.container_release(&c);
        }
        Ok(())
    }

    /// Waits until the container is no longer running, at most `timeout`;
    /// true when it stopped.
    fn wait_stopped(&self, c: &ContainerRecord, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if !matches!(self.state(c), State::Running(..)) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// `POST /containers/{id}/stop?t=&signal=`: the stop signal (the
    /// request's, the container's `StopSignal`, the image's, else SIGTERM),
    /// then SIGKILL after the timeout (`t`, `StopTimeout`, else 10 s).
    /// `Ok(false)` when it was not running (Docker's 304).
    pub fn container_stop(
        &self,
        name: &str,
        signal: Option<&str>,
        timeout: Option<i64>,
    ) -> Result<bool, EngineError> {
        let c = self.find_container(name)?;
        if !matches!(self.state(&c), State::Running(..)) {
            return Ok(false);
        }
        let image_signal = self
            .store()
            .meta()
            .image(&c.image)
            .ok()
            .flatten()
            .and_then(|i| self.store().config(&i).ok())
            .map(|cfg| cfg.config.stop_signal.clone())
            .filter(|s| !s.is_empty());
        let sig = signal
            .filter(|s| !s.is_empty())
            .map(String::from)
            .or_else(|| Some(c.config.config.stop_signal.clone()).filter(|s| !s.is_empty()))
            .or(image_signal)
            .unwrap_or_else(|| "SIGTERM".into());
        let sig = runtime::container::parse_signal(&sig)
            .map_err(|e| EngineError::new(ErrorKind::InvalidArgument, e.to_string()))?;
        let timeout = timeout.or(c.config.config.stop_timeout).unwrap_or(10);
        if let State::Running(_, true) = self.state(&c) {
            // A frozen process cannot act on the signal: thaw it first.
            let _ = self.runtime().resume(&c.id);
        }
        let _ = self.runtime().kill(&c.id, sig, false);
        // A negative timeout waits for ever, as Docker's does.
        let wait = if timeout < 0 {
            std::time::Duration::from_secs(u64::MAX / 4)
        } else {
            std::time::Duration::from_secs(timeout as u64)
        };
        if !self.wait_stopped(&c, wait) {
            let _ = self
                .runtime()
                .kill(&c.id, nix::sys::signal::Signal::SIGKILL, true);
            if !self.wait_stopped(&c, std::time::Duration::from_secs(30)) {
                return Err(EngineError::new(
                    ErrorKind::System,
                    format!(
                        "cannot stop container {}: it did not exit after SIGKILL",
                        c.id
                    ),
                ));
            }
        }
        // A script's next `run -p` finds the ports free, as with Docker.
        self.container_release(&c);
        Ok(true)
    }

    /// `POST /containers/{id}/pause` and `/unpause`: the cgroup freezer.
    pub fn container_pause(&self, name: &str, pause: bool) -> Result<(), EngineError> {
        let c = self.find_container(name)?;
        match (self.state(&c), pause) {
            (State::Running(_, true), true) => Err(EngineError::new(
                ErrorKind::Conflict,
                format!("Container {} is already paused", c.id),
            )),
            (State::Running(_, false), false) => Err(EngineError::new(
                ErrorKind::Conflict,
                format!("Container {} is not paused", c.id),
            )),
            (State::Running(..), _) => {
                let r = if pause {
                    self.runtime().pause(&c.id)
                } else {
                    self.runtime().resume(&c.id)
                };
                r.map_err(|e| {
                    EngineError::new(
                        ErrorKind::System,
                        format!(
                            "cannot {} container {}: {e}",
                            if pause { "pause" } else { "unpause" },
                            c.id
                        ),
                    )
                })
            }
            _ => Err(Self::not_running(&c)),
        }
    }

    /// `POST /containers/{id}/rename?name=`.
    pub fn container_rename(&self, name: &str, new_name: &str) -> Result<(), EngineError> {
        let c = self.find_container(name)?;
        let new_name = new_name.trim_start_matches('/');
        valid_name(new_name)?;
        // Checked and renamed in one transaction, as a create is.
        self.store().meta().write(|w| {
            let all: Vec<ContainerRecord> = w.list(Table::Containers)?;
            if let Some(other) = all.iter().find(|o| o.name == new_name) {
                if other.id == c.id {
                    return Err(EngineError::new(
                        ErrorKind::InvalidArgument,
                        "Renaming a container with the same name as its current name",
                    ));
                }
                return Err(name_conflict(new_name, &other.id));
            }
            if let Some(mut r) = w.get::<ContainerRecord>(Table::Containers, &c.id)? {
                r.name = new_name.to_string();
                w.put(Table::Containers, &c.id, &r)?;
            }
            Ok(())
        })
    }

    /// The layer directories under a container, top first.
    fn lowers(&self, c: &ContainerRecord) -> Vec<PathBuf> {
        c.layers
            .iter()
            .rev()
            .map(|l| self.store().layer_dir(l))
            .collect()
    }

    /// `GET /containers/{id}/export`: the container's filesystem as a tar,
    /// its writable layer over its image's layers.
    pub fn container_export(
        &self,
        name: &str,
        out: &mut dyn std::io::Write,
    ) -> Result<(), EngineError> {
        let c = self.find_container(name)?;
        let dir = self.container_dir(&c.id);
        let upper = dir.join("upper");
        let mut lower = vec![upper.clone()];
        if !upper.exists() {
            lower.clear();
        }
        lower.extend(self.lowers(&c));
        if lower.is_empty() {
            lower.push(self.store().layer_dir("empty"));
            std::fs::create_dir_all(&lower[0]).map_err(sys)?;
        }
        // A read-only overlay of its own: the upper's whiteouts hide what
        // the container deleted, and a running container is not disturbed.
        let view = tempfile::Builder::new()
            .prefix(".export-")
            .tempdir_in(&dir)
            .map_err(sys)?;
        if lower.len() == 1 {
            store::diff::write_layer(&lower[0], out).map_err(sys)?;
            return Ok(());
        }
        store::mount::Overlay {
            lower: &lower,
            upper: None,
        }
        .mount(view.path())
        .map_err(sys)?;
        let r = store::diff::write_layer(view.path(), out).map_err(sys);
        let _ = store::mount::unmount(view.path());
        r.map(|_| ())
    }

    /// `GET /containers/{id}/changes`: `[{"Path", "Kind"}]`, Kind 0 changed,
    /// 1 added, 2 deleted. The files berth mounts over (hostname, hosts,
    /// resolv.conf) and the directories changed only by them are left out,
    /// as Docker's init layer leaves them out.
    pub fn container_changes(
        &self,
        name: &str,
    ) -> Result<Option<Vec<FilesystemChange>>, EngineError> {
        let c = self.find_container(name)?;
        let upper = self.container_dir(&c.id).join("upper");
        if !upper.exists() {
            return Ok(None);
        }
        let changes = store::diff::changes(&upper, &self.lowers(&c)).map_err(sys)?;
        // What berth mounts over: the /etc files, and the mount points the
        // runtime makes when an image lacks them (Docker's init layer holds
        // these, so they are not the container's changes).
        const MOUNTED: &[&str] = &[
            "/etc/hostname",
            "/etc/hosts",
            "/etc/resolv.conf",
            "/.dockerenv",
        ];
        const MOUNT_POINTS: &[&str] = &[
            "/dev",
            "/proc",
            "/sys",
            "/etc",
            "/dev/pts",
            "/dev/shm",
            "/dev/mqueue",
            "/sys/fs",
            "/sys/fs/cgroup",
        ];
        let kept: Vec<&store::diff::Change> = changes
            .iter()
            .filter(|ch| !MOUNTED.contains(&ch.path.as_str()))
            .collect();
        let out: Vec<FilesystemChange> = kept
            .iter()
            .filter(|ch| {
                let prefix = format!("{}/", ch.path.trim_end_matches('/'));
                let something_under = kept.iter().any(|o| {
                    o.path.starts_with(&prefix) && !MOUNT_POINTS.contains(&o.path.as_str())
                });
                match ch.kind {
                    // A made mount point goes unless the container put something in it.
                    store::diff::ChangeKind::Added => {
                        !MOUNT_POINTS.contains(&ch.path.as_str()) || something_under
                    }
                    // A changed directory stays if something under it stays, or
                    // if none of the mounted files lies under it (its own change).
                    store::diff::ChangeKind::Modified => {
                        something_under
                            || !MOUNTED
                                .iter()
                                .chain(MOUNT_POINTS)
                                .any(|m| m.starts_with(&prefix))
                    }
                    store::diff::ChangeKind::Deleted => true,
                }
            })
            .map(|ch| {
                let kind = match ch.kind {
                    store::diff::ChangeKind::Modified => 0,
                    store::diff::ChangeKind::Added => 1,
                    store::diff::ChangeKind::Deleted => 2,
                };
                FilesystemChange {
                    path: ch.path.clone(),
                    kind,
                }
            })
            .collect();
        // Docker's answer for no change is null.
        Ok((!out.is_empty()).then_some(out))
    }

    /// `POST /commit?container=&repo=&tag=&author=&comment=&changes=&pause=`:
    /// the writable layer becomes a new image whose config is the
    /// container's, with `changes` applied. A running container is frozen
    /// meanwhile unless `pause` is false.
    pub fn container_commit(
        &self,
        name: &str,
        o: &CommitOptions<'_>,
    ) -> Result<String, EngineError> {
        let c = self.find_container(name)?;
        let image = self.store().meta().image(&c.image)?.ok_or_else(|| {
            EngineError::new(
                ErrorKind::Conflict,
                format!(
                    "the image of container {} was removed; it cannot be committed",
                    c.id
                ),
            )
        })?;
        let reference = match o.reference {
            Some(r) => Some(
                store::reference::Reference::parse(r)
                    .map_err(|e| EngineError::new(ErrorKind::InvalidArgument, e.to_string()))?
                    .with_default_tag(),
            ),
            None => None,
        };
        // The container's config becomes the image's (moby's commit
        // `merge`); a missing Cmd or Entrypoint stays missing.
        let cfg = &c.config.config;
        let mut run = store::config::RunConfig {
            cmd: cfg.cmd.clone(),
            entrypoint: cfg.entrypoint.clone(),
            env: cfg.env().to_vec(),
            user: cfg.user.clone(),
            working_dir: cfg.working_dir.clone(),
            stop_signal: cfg.stop_signal.clone(),
            labels: cfg.labels(),
            exposed_ports: cfg.exposed_ports.clone(),
            volumes: cfg.volumes.clone().unwrap_or_default(),
            healthcheck: cfg.healthcheck.clone(),
            ..Default::default()
        };
        store::config::apply_changes(&mut run, o.changes)
            .map_err(|e| EngineError::new(ErrorKind::InvalidArgument, e.to_string()))?;
        // Frozen while its layer is read, as Docker does; a pause that
        // fails ends the commit rather than walking a live layer the
        // caller asked to have frozen (the walk is by descriptors either
        // way: `--pause=false` stays safe, only not consistent). The mark
        // says so, so that a daemon killed before the resume lets it go at
        // its next start.
        let mark = self.container_dir(&c.id).join(COMMIT_PAUSED);
        let running = match self.state(&c) {
            State::Running(pid, false) => Some(pid),
            _ => None,
        };
        // A rootless daemon without cgroups has no freezer: the layer is
        // read unfrozen, as dockerd, whose commit ignores a failed pause,
        // does on such hosts.
        let mut frozen = o.pause && running.is_some() && !crate::rootless::without_cgroups();
        if frozen {
            std::fs::write(&mark, "").map_err(|e| {
                EngineError::new(ErrorKind::System, format!("error pausing container: {e}"))
            })?;
            match self.runtime().pause(&c.id) {
                Ok(()) => {}
                // It exited meanwhile (docker-py commits right after the
                // start of a `touch`; the pause found it stopped, or its
                // cgroup gone): nothing runs to freeze, its layer holds
                // still; dockerd commits it too.
                Err(_) if running.is_some_and(init_gone) => frozen = false,
                Err(e) => {
                    let _ = std::fs::remove_file(&mark);
                    return Err(EngineError::new(
                        ErrorKind::System,
                        format!("error pausing container: {e}"),
                    ));
                }
            }
        }
        let _w = self.writing();
        let history = store::config::History {
            created: o.created.clone(),
            // As moby's commit: the container's command, joined.
            created_by: cfg.cmd.clone().unwrap_or_default().join(" "),
            comment: o.comment.to_string(),
            author: o.author.to_string(),
            empty_layer: false,
        };
        let r = self.store().commit(
            &image,
            &self.container_dir(&c.id).join("upper"),
            history,
            reference.as_ref(),
            |config| {
                let shell = std::mem::take(&mut config.config.shell);
                let on_build = std::mem::take(&mut config.config.on_build);
                config.config = run;
                config.config.shell = shell;
                config.config.on_build = on_build;
                if !o.author.is_empty() {
                    config.author = Some(o.author.to_string());
                }
            },
        );
        if frozen {
            let _ = self.runtime().resume(&c.id);
        }
        let _ = std::fs::remove_file(&mark);
        Ok(r?.id)
    }

    /// At daemon start: containers a commit paused when the daemon was
    /// killed before it resumed them run again (a pause by a user, which
    /// leaves no mark, stays).
    pub fn resume_interrupted_commits(&self) -> Result<usize, EngineError> {
        let mut resumed = 0;
        for c in self.container_records()? {
            let mark = self.container_dir(&c.id).join(COMMIT_PAUSED);
            if !mark.exists() {
                continue;
            }
            if matches!(self.state(&c), State::Running(_, true))
                && self.runtime().resume(&c.id).is_ok()
            {
                resumed += 1;
            }
            let _ = std::fs::remove_file(&mark);
        }
        Ok(resumed)
    }

    /// Docker's `State` of a container.
    fn state_of(&self, c: &ContainerRecord) -> models::container::State {
        const ZERO: &str = "0001-01-01T00:00:00Z";
        let restarting = self.is_restarting(&c.id);
        let (status, running, paused, pid, code, finished) = match self.state(c) {
            State::Created => ("created", false, false, 0, 0, ZERO.to_string()),
            State::Running(p, paused) => (
                if paused { "paused" } else { "running" },
                true,
                paused,
                p,
                0,
                ZERO.to_string(),
            ),
            State::Exited(code, at) => (
                if restarting { "restarting" } else { "exited" },
                false,
                false,
                0,
                code,
                // A shim killed before it could record the exit left no time.
                if at.is_empty() { ZERO.to_string() } else { at },
            ),
        };
        let started = if c.started.is_empty() {
            ZERO.to_string()
        } else {
            c.started.clone()
        };
        models::container::State {
            status: status.into(),
            running,
            paused,
            restarting,
            oom_killed: self.oom_killed(c),
            dead: false,
            pid: i64::from(pid),
            exit_code: i64::from(code),
            error: String::new(),
            started_at: started,
            finished_at: finished,
            health: None,
        }
    }

    /// `GET /containers/{id}/json`, Docker's `ContainerInspectResponse`.
    pub fn container_inspect(&self, name: &str) -> Result<Inspect, EngineError> {
        let c = self.find_container(name)?;
        let dir = self.container_dir(&c.id);
        let args = c.config.config.args();
        let mut config = c.config.config.clone();
        config.image = c.image_name.clone();
        let mut host = c.config.host_config.clone();
        if host.restart_policy.name.is_empty() {
            host.restart_policy.name = "no".into();
        }
        if host.network_mode.is_empty() || host.network_mode == "default" {
            host.network_mode = if self.net.is_some() { "bridge" } else { "none" }.into();
        }
        // The default driver, its options kept (dockerd records both).
        if host.log_config.typ.is_empty() {
            host.log_config.typ = "json-file".into();
        }
        host.log_config.config.get_or_insert_with(Default::default);
        let path = |p: PathBuf| p.to_string_lossy().into_owned();
        let running = matches!(self.state(&c), State::Running(..));
        Ok(Inspect {
            id: c.id.clone(),
            created: c.created.clone(),
            path: args.first().cloned().unwrap_or_default(),
            args: args.get(1..).unwrap_or_default().to_vec(),
            state: Some(self.state_of(&c)),
            image: c.image.clone(),
            resolv_conf_path: path(dir.join("etc/resolv.conf")),
            hostname_path: path(dir.join("etc/hostname")),
            hosts_path: path(dir.join("etc/hosts")),
            log_path: path(dir.join(files::LOG)),
            name: format!("/{}", c.name),
            restart_count: i64::from(c.restart_count),
            driver: "overlay2".into(),
            platform: "linux".into(),
            host_config: Some(host),
            graph_driver: models::container::GraphDriver {
                name: "overlay2".into(),
                data: Some(
                    [
                        ("MergedDir", dir.join("rootfs")),
                        ("UpperDir", dir.join("upper")),
                        ("WorkDir", dir.join("work")),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), path(v)))
                    .collect(),
                ),
            },
            mounts: self.mounts_of(&c),
            config: Some(config),
            network_settings: Some(self.network_settings(&c, running)),
            ..Default::default()
        })
    }

    /// `GET /containers/json`: Docker's `ContainerSummary` list, newest
    /// first, with `all`, `limit`, `size` and the filters `id`, `name`,
    /// `label`, `status`, `ancestor`, `exited`, `before`, `since`.
    pub fn container_list(
        &self,
        all: bool,
        limit: Option<usize>,
        size: bool,
        filters: &crate::filters::Filters,
    ) -> Result<Vec<Summary>, EngineError> {
        // moby's `acceptedPsFilterTags` (daemon/list.go); `health` is the
        // daemon's to apply (it keeps the health states).
        filters.validate(&[
            "ancestor",
            "before",
            "exited",
            "id",
            "isolation",
            "label",
            "name",
            "status",
            "health",
            "since",
            "volume",
            "network",
            "is-task",
            "publish",
            "expose",
        ])?;
        let mut exited = Vec::new();
        for x in filters.get("exited") {
            exited.push(x.parse::<i64>().map_err(|e| {
                EngineError::new(
                    ErrorKind::InvalidArgument,
                    format!("invalid filter 'exited={x}': {e}"),
                )
            })?);
        }
        for s in filters.get("status") {
            if ![
                "created",
                "restarting",
                "running",
                "removing",
                "paused",
                "exited",
                "dead",
            ]
            .contains(&s.as_str())
            {
                return Err(EngineError::new(
                    ErrorKind::InvalidArgument,
                    format!("invalid filter 'status={s}'"),
                ));
            }
        }
        for h in filters.get("health") {
            if !["starting", "healthy", "unhealthy", "none"].contains(&h.as_str()) {
                return Err(EngineError::new(
                    ErrorKind::InvalidArgument,
                    format!("invalid filter 'health={h}'"),
                ));
            }
        }
        // No container of berth's is a swarm task.
        let is_task = filters.bool_or("is-task", false)?;
        let published = port_filter(filters, "publish")?;
        let exposed = port_filter(filters, "expose")?;
        // A limit, before and since look at stopped containers too.
        let all = all || limit.is_some() || filters.contains("before") || filters.contains("since");
        let mut list = self.container_records()?;
        list.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        let created_of = |name: &str| self.find_container(name).map(|c| c.created);
        let before = filters
            .get("before")
            .first()
            .map(|n| created_of(n))
            .transpose()?;
        let since = filters
            .get("since")
            .first()
            .map(|n| created_of(n))
            .transpose()?;
        // The ancestor filter names images; each becomes an image id.
        let ancestors: Vec<String> = filters
            .get("ancestor")
            .iter()
            .filter_map(|a| {
                store::images::find(self.store().meta(), a)
                    .ok()
                    .map(|i| i.id)
            })
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut out = Vec::new();
        // Legacy links name their targets too (`/parent/alias`).
        let everyone = self.container_records()?;
        for c in list {
            let state = self.state_of(&c);
            let st = state.status.clone();
            let any = |key: &str, f: &dyn Fn(&str) -> bool| {
                let v = filters.get(key);
                v.is_empty() || v.iter().any(|x| f(x))
            };
            let up = st == "running" || st == "paused";
            let keep = (all || up || filters.contains("status") || filters.contains("exited"))
                && filters.matches("id", &c.id)
                && (filters.matches("name", &c.name)
                    || filters.matches("name", &format!("/{}", c.name)))
                && (!filters.contains("is-task") || !is_task)
                && filters.matches("isolation", &c.config.host_config.isolation)
                && filters.matches("status", &st)
                && any("volume", &|x| {
                    c.mounts.iter().any(|m| {
                        m.destination == x || m.name == x || (m.typ == "bind" && m.source == x)
                    })
                })
                && (exited.is_empty()
                    || (st == "exited"
                        && !c.started.is_empty()
                        && exited.contains(&state.exit_code)))
                && filters.match_labels_with("label", |k| c.config.config.label(k))
                && (!filters.contains("ancestor") || ancestors.contains(&c.image))
                && before.as_ref().is_none_or(|b| c.created < *b)
                && since.as_ref().is_none_or(|s| c.created > *s);
            if !keep {
                continue;
            }
            let networks = self.network_settings(&c, up).networks;
            if filters.contains("network")
                && !filters.get("network").iter().any(|n| {
                    networks.as_ref().is_some_and(|m| {
                        m.contains_key(n.as_str())
                            || m.values().any(|e| e.network_id.starts_with(n.as_str()))
                    })
                })
            {
                continue;
            }
            let ports = self.ports_summary(&c, up);
            if (!published.is_empty() || !exposed.is_empty())
                && !ports.iter().any(|p| {
                    let proto = if p.typ.is_empty() { "tcp" } else { &p.typ };
                    (p.public_port != 0
                        && published.contains(&format!("{}/{proto}", p.public_port)))
                        || exposed.contains(&format!("{}/{proto}", p.private_port))
                })
            {
                continue;
            }
            let status = match st.as_str() {
                "created" => "Created".to_string(),
                "running" => format!(
                    "Up {}",
                    human_duration(now - crate::time::unix_seconds(&c.started))
                ),
                "paused" => format!(
                    "Up {} (Paused)",
                    human_duration(now - crate::time::unix_seconds(&c.started))
                ),
                "restarting" => format!(
                    "Restarting ({}) {} ago",
                    state.exit_code,
                    human_duration(now - crate::time::unix_seconds(&state.finished_at))
                ),
                _ => format!(
                    "Exited ({}) {} ago",
                    state.exit_code,
                    human_duration(now - crate::time::unix_seconds(&state.finished_at))
                ),
            };
            let mut v = Summary {
                id: c.id.clone(),
                names: std::iter::once(format!("/{}", c.name))
                    .chain(self.link_names(&c, &everyone))
                    .collect(),
                image: c.image_name.clone(),
                image_id: c.image.clone(),
                command: c.config.config.args().join(" "),
                created: crate::time::unix_seconds(&c.created),
                ports,
                labels: c.config.config.labels.clone(),
                state: st.clone(),
                status,
                host_config: models::container::SummaryHostConfig {
                    network_mode: crate::network::mode_of(&c.config),
                    ..Default::default()
                },
                network_settings: Some(models::network::SummaryNetworkSettings { networks }),
                mounts: self.mounts_of(&c),
                ..Default::default()
            };
            if size {
                let rw = dir_size(&self.container_dir(&c.id).join("upper"));
                let image = self.store().meta().image(&c.image).ok().flatten();
                let base: u64 = image
                    .map(|i| {
                        store::config::chain_ids(&i.diff_ids)
                            .iter()
                            .filter_map(|l| self.store().meta().layer(l).ok().flatten())
                            .map(|l| l.size)
                            .sum()
                    })
                    .unwrap_or(0);
                v.size_rw = rw as i64;
                v.size_root_fs = (rw + base) as i64;
            }
            out.push(v);
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }
}

impl Engine {
    /// A container's mounts as `inspect` and `ps` show them (Docker leaves
    /// out `--tmpfs` ones).
    fn mounts_of(&self, c: &ContainerRecord) -> Vec<models::mount::MountPoint> {
        c.mounts
            .iter()
            .filter(|m| !m.hidden)
            .map(|m| m.to_model(&self.volume_data(&m.name).to_string_lossy()))
            .collect()
    }
}

/// The strings of a JSON array (none for anything else).
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The host's memory in bytes (a cgroup without a limit reports the host's).
fn host_memory() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .map_or(u64::MAX, |k| k * 1024)
}

/// The host's CPU time of all CPUs in nanoseconds, from `/proc/stat`, as
/// The interfaces of a process's network namespace but `lo`, from
/// `/proc/PID/net/dev`, in the shape of Docker's `networks` stats; `None`
/// when there are none (Docker leaves the key out).
fn net_dev(pid: i32) -> Option<BTreeMap<String, NetworkStats>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    let mut nets = BTreeMap::new();
    // Two header lines, then `  eth0: rx_bytes rx_packets rx_errs rx_drop
    // fifo frame compressed multicast tx_bytes tx_packets tx_errs tx_drop …`.
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        if f.len() < 12 {
            continue;
        }
        nets.insert(
            name.to_string(),
            NetworkStats {
                rx_bytes: f[0],
                rx_packets: f[1],
                rx_errors: f[2],
                rx_dropped: f[3],
                tx_bytes: f[8],
                tx_packets: f[9],
                tx_errors: f[10],
                tx_dropped: f[11],
            },
        );
    }
    (!nets.is_empty()).then_some(nets)
}

/// Docker's `system_cpu_usage`.
fn system_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = text
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .take(7)
        .filter_map(|x| x.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf takes an integer and returns one.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ticks * (1_000_000_000 / hz)
}

/// Docker's `units.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let (m, h) = (s / 60, s / 3600);
    match () {
        _ if s < 1 => "Less than a second".into(),
        _ if s == 1 => "1 second".into(),
        _ if s < 60 => format!("{s} seconds"),
        _ if m == 1 => "About a minute".into(),
        _ if m < 60 => format!("{m} minutes"),
        _ if h == 1 => "About an hour".into(),
        _ if h < 48 => format!("{h} hours"),
        _ if h < 24 * 7 * 2 => format!("{} days", h / 24),
        _ if h < 24 * 30 * 2 => format!("{} weeks", h / 24 / 7),
        _ if h < 24 * 365 * 2 => format!("{} months", h / 24 / 30),
        _ => format!("{} years", h / 24 / 365),
    }
}

/// The `publish` or `expose` filter's ports, as `port/proto` (moby's
/// `portOp`: `80`, `80/udp`, `8000-8010/tcp`).
fn port_filter(
    filters: &crate::filters::Filters,
    key: &str,
) -> Result<std::collections::HashSet<String>, EngineError> {
    let mut out = std::collections::HashSet::new();
    for value in filters.get(key) {
        let bad = |why: &str| {
            EngineError::new(
                ErrorKind::InvalidArgument,
                format!("error while looking up for {key} {value}: {why}"),
            )
        };
        if value.contains(':') {
            return Err(EngineError::new(
                ErrorKind::InvalidArgument,
                format!("filter for '{key}' should not contain ':': {value}"),
            ));
        }
        let (ports, proto) = value.split_once('/').unwrap_or((value, "tcp"));
        let (lo, hi) = ports.split_once('-').unwrap_or((ports, ports));
        let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) else {
            return Err(bad("invalid port"));
        };
        if hi < lo || u32::from(hi - lo) > 65535 {
            return Err(bad("invalid range"));
        }
        for p in lo..=hi {
            out.insert(format!("{p}/{}", proto.to_ascii_lowercase()));
        }
    }
    Ok(out)
}

/// Bytes of regular files under `dir` (not following symlinks).
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                stack.push(e.path());
            } else if md.is_file() {
                total += md.len();
            }
        }
    }
    total
}

/// Docker's checks of `RestartPolicy`.
pub(crate) fn restart_policy_ok(host_config: &HostConfig) -> Result<(), EngineError> {
    let p = &host_config.restart_policy;
    let name = p.name.as_str();
    let bad = |m: String| Err(EngineError::new(ErrorKind::InvalidArgument, m));
    if !["", "no", "always", "unless-stopped", "on-failure"].contains(&name) {
        return bad(format!("invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"));
    }
    let max = p.maximum_retry_count;
    if max < 0 {
        return bad("invalid restart policy: maximum retry count can't be negative".into());
    }
    if max > 0 && name != "on-failure" {
        return bad(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'".into(),
        );
    }
    if host_config.auto_remove && !["", "no"].contains(&name) {
        return bad("can't create 'AutoRemove' container with restart policy".into());
    }
    Ok(())
}

/// The number of a signal given by name or number (`TERM`, `SIGTERM`, `15`).
pub fn signal_number(s: &str) -> Option<i32> {
    runtime::container::parse_signal(s).ok().map(|s| s as i32)
}

/// Docker's rule for container names.
/// Whether a container's init has exited (gone, or a zombie its shim has
/// yet to reap): a pause that failed then had nothing left to freeze. A
/// pid reused meanwhile reads as alive, which refuses: the safe side.
fn init_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|st| st == 'Z' || st == 'X'),
    }
}

fn valid_name(n: &str) -> Result<(), EngineError> {
    let ok = !n.is_empty()
        && n.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphanumeric() || (i > 0 && b"_.-".contains(&b)));
    if ok {
        Ok(())
    } else {
        Err(EngineError::new(
            ErrorKind::InvalidArgument,
            format!("Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
        ))
    }
}

/// Docker's 409 for a name in use.
/// A name as Docker makes one up: `adjective_name`.
fn random_name() -> String {
    let r = random_hex(2);
    let i = usize::from_str_radix(&r, 16).unwrap_or(0);
    format!(
        "{}_{}",
        ADJECTIVES[i % ADJECTIVES.len()],
        NAMES[(i / ADJECTIVES.len()) % NAMES.len()]
    )
}

fn name_conflict(n: &str, id: &str) -> EngineError {
    EngineError::new(ErrorKind::Conflict, format!("Conflict. The container name \"/{n}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."))
}

/// The file in a container's directory naming the host directory on its
/// `/dev/shm`, while it runs with one to share.
const SHM_SOURCE: &str = "shm.source";

/// The prefix of a removed container's directory while a thread removes it
/// (`Engine::remove_dir_later`); never a container id (those are hex).
const DOOMED: &str = ".rm-";

fn is_mounted(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let p = path.to_string_lossy();
    info.lines().any(|l| l.split(' ').nth(4) == Some(&p))
}
