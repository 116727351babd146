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
//! shim.pid      the shim's pid while it runs
//! exit.json     {"ExitCode", "FinishedAt"}, written by the shim when the init exits
//! ```
//!
//! The record (name, image, create body, times) is in the metadata database;
//! the live state is derived from those files, so a daemon restart finds it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use store::meta::Table;

use crate::spec::{self, CreateRequest};
use crate::{Engine, EngineError, ErrorKind};

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
    /// The create body, as sent.
    pub config: Value,
    /// Creation time.
    pub created: String,
    /// Start time of the last start.
    pub started: String,
}

/// The live state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Never started.
    Created,
    /// Its init runs (pid).
    Running(i32),
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

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

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
        let all: Vec<ContainerRecord> = self.store().meta().list(Table::Containers)?;
        let wanted = name_or_id.trim_start_matches('/');
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
        if let Ok(text) = std::fs::read_to_string(dir.join("exit.json")) {
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            return State::Exited(
                v["ExitCode"].as_i64().unwrap_or(-1) as i32,
                v["FinishedAt"].as_str().unwrap_or("").to_string(),
            );
        }
        let shim_alive = std::fs::read_to_string(dir.join("shim.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
            .is_some_and(|p| runtime::state::pid_start_time(p).is_some());
        if shim_alive {
            let pid = self.runtime().state(&c.id).map(|s| s.pid).unwrap_or(0);
            return State::Running(pid);
        }
        if c.started.is_empty() {
            State::Created
        } else {
            State::Exited(-1, String::new())
        }
    }

    fn runtime(&self) -> runtime::Runtime {
        runtime::Runtime::new(self.exec_root.join("runtime"))
    }

    /// `POST /containers/create`.
    pub fn container_create(
        &self,
        name: Option<&str>,
        body: Value,
        created: String,
    ) -> Result<String, EngineError> {
        let req: CreateRequest = serde_json::from_value(body.clone()).map_err(|e| {
            EngineError::new(
                ErrorKind::InvalidArgument,
                format!("invalid create body: {e}"),
            )
        })?;
        let image_name = body["Image"].as_str().unwrap_or_default().to_string();
        if image_name.is_empty() {
            return Err(EngineError::new(
                ErrorKind::InvalidArgument,
                "config cannot be empty in order to create a container",
            ));
        }
        let image = store::images::find(self.store().meta(), &image_name)?;
        // Checks that the command and user resolve before anything is kept.
        spec::args(&self.store().config(&image)?, &req)?;
        let existing: Vec<ContainerRecord> = self.store().meta().list(Table::Containers)?;
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let n = n.trim_start_matches('/');
                if !n
                    .bytes()
                    .enumerate()
                    .all(|(i, b)| b.is_ascii_alphanumeric() || (i > 0 && b"_.-".contains(&b)))
                {
                    return Err(EngineError::new(ErrorKind::InvalidArgument, format!("Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")));
                }
                if let Some(c) = existing.iter().find(|c| c.name == n) {
                    return Err(EngineError::new(ErrorKind::Conflict, format!("Conflict. The container name \"/{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.", c.id)));
                }
                n.to_string()
            }
            None => loop {
                let r = random_hex(2);
                let i = usize::from_str_radix(&r, 16).unwrap_or(0);
                let n = format!(
                    "{}_{}",
                    ADJECTIVES[i % ADJECTIVES.len()],
                    NAMES[(i / ADJECTIVES.len()) % NAMES.len()]
                );
                if !existing.iter().any(|c| c.name == n) {
                    break n;
                }
            },
        };
        let id = random_hex(32);
        std::fs::create_dir_all(self.container_dir(&id)).map_err(sys)?;
        let rec = ContainerRecord {
            id: id.clone(),
            name,
            image: image.id,
            image_name,
            config: body,
            created,
            started: String::new(),
        };
        self.store()
            .meta()
            .write(|w| w.put(Table::Containers, &id, &rec))?;
        Ok(id)
    }

    /// `POST /containers/{id}/start`: mounts the root filesystem, writes the
    /// bundle and hands the container to a new shim.
    pub fn container_start(&self, name: &str, shim: &Path, now: String) -> Result<(), EngineError> {
        let mut c = self.find_container(name)?;
        match self.state(&c) {
            State::Running(_) => return Ok(()),
            State::Exited(..) => self.cleanup_run(&c),
            State::Created => {}
        }
        let dir = self.container_dir(&c.id);
        let image = self.store().meta().image(&c.image)?.ok_or_else(|| {
            EngineError::new(ErrorKind::NotFound, format!("No such image: {}", c.image))
        })?;
        let rootfs = dir.join("rootfs");
        if !is_mounted(&rootfs) {
            self.store().mount_rw(&image, &dir, &rootfs)?;
        }
        let req: CreateRequest = serde_json::from_value(c.config.clone()).unwrap_or_default();
        let spec = spec::build(
            &c.id,
            &self.store().config(&image)?,
            &req,
            &rootfs,
            &dir.join("etc"),
        )?;
        spec::write_etc_files(&dir.join("etc"), spec.hostname().as_deref().unwrap_or(""))
            .map_err(sys)?;
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_vec(&spec).map_err(sys)?,
        )
        .map_err(sys)?;
        let out = Command::new(shim)
            .arg(&dir)
            .arg(&c.id)
            .arg(self.exec_root.join("runtime"))
            .output()
            .map_err(|e| sys(format!("start shim {}: {e}", shim.display())))?;
        let msg = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() || !msg.starts_with("started ") {
            let why = msg
                .strip_prefix("error ")
                .unwrap_or(&msg)
                .trim()
                .to_string();
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
        c.started = now;
        self.store()
            .meta()
            .write(|w| w.put(Table::Containers, &c.id.clone(), &c))?;
        Ok(())
    }

    /// Forgets the files of a previous run (before a restart).
    fn cleanup_run(&self, c: &ContainerRecord) {
        let dir = self.container_dir(&c.id);
        let _ = std::fs::remove_file(dir.join("exit.json"));
        let _ = std::fs::remove_file(dir.join("shim.pid"));
    }

    /// Unmounts an exited container's root filesystem.
    pub fn container_release(&self, c: &ContainerRecord) {
        let _ = store::mount::unmount(&self.container_dir(&c.id).join("rootfs"));
    }

    /// Its exit code once exited, `None` while it runs or was never started.
    pub fn exit_code(&self, c: &ContainerRecord) -> Option<i32> {
        match self.state(c) {
            State::Exited(code, _) => Some(code),
            _ => None,
        }
    }

    /// `DELETE /containers/{id}`.
    pub fn container_remove(&self, name: &str, force: bool) -> Result<(), EngineError> {
        let c = self.find_container(name)?;
        if let State::Running(_) = self.state(&c) {
            if !force {
                return Err(EngineError::new(ErrorKind::Conflict, format!("cannot remove container \"/{}\": container is running: stop the container before removing or force remove", c.name)));
            }
            let _ = self
                .runtime()
                .kill(&c.id, nix::sys::signal::Signal::SIGKILL, true);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while matches!(self.state(&c), State::Running(_))
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        self.container_release(&c);
        let _ = self.runtime().delete(&c.id, true);
        let _ = std::fs::remove_dir_all(self.container_dir(&c.id));
        self.store()
            .meta()
            .write(|w| w.delete(Table::Containers, &c.id))?;
        Ok(())
    }

    /// The log lines (stream, bytes) of a container, in order.
    pub fn container_log(&self, c: &ContainerRecord, from: u64) -> (Vec<(u8, Vec<u8>)>, u64) {
        let path = self.container_dir(&c.id).join("ctr.log");
        let Ok(data) = std::fs::read(&path) else {
            return (Vec::new(), from);
        };
        let start = (from as usize).min(data.len());
        // Only whole lines; a partial last line waits for the next read.
        let end = data[start..]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(start, |p| start + p + 1);
        let mut out = Vec::new();
        for line in data[start..end]
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let v: Value = serde_json::from_slice(line).unwrap_or_default();
            let stream = if v["stream"] == "stderr" { 2 } else { 1 };
            out.push((stream, v["log"].as_str().unwrap_or("").as_bytes().to_vec()));
        }
        (out, end as u64)
    }

    /// `GET /containers/{id}/json`, the fields clients read most.
    pub fn container_inspect(&self, name: &str) -> Result<Value, EngineError> {
        let c = self.find_container(name)?;
        let state = self.state(&c);
        let (status, running, pid, code, finished) = match &state {
            State::Created => ("created", false, 0, 0, "0001-01-01T00:00:00Z".to_string()),
            State::Running(p) => ("running", true, *p, 0, "0001-01-01T00:00:00Z".to_string()),
            State::Exited(code, at) => ("exited", false, 0, *code, at.clone()),
        };
        let dir = self.container_dir(&c.id);
        Ok(json!({
            "Id": c.id,
            "Created": c.created,
            "Path": c.config["Cmd"].get(0).cloned().unwrap_or(Value::Null),
            "Args": c.config["Cmd"].as_array().map(|a| a[1.min(a.len())..].to_vec()).unwrap_or_default(),
            "State": {"Status": status, "Running": running, "Paused": false, "Restarting": false, "OOMKilled": false, "Dead": false, "Pid": pid, "ExitCode": code, "Error": "", "StartedAt": if c.started.is_empty() { "0001-01-01T00:00:00Z".to_string() } else { c.started.clone() }, "FinishedAt": finished},
            "Image": c.image,
            "Name": format!("/{}", c.name),
            "RestartCount": 0,
            "Driver": "overlay2",
            "Platform": "linux",
            "LogPath": dir.join("ctr.log"),
            "HostnamePath": dir.join("etc/hostname"),
            "HostsPath": dir.join("etc/hosts"),
            "ResolvConfPath": dir.join("etc/resolv.conf"),
            "Config": {"Image": c.image_name, "Cmd": c.config["Cmd"], "Entrypoint": c.config["Entrypoint"], "Env": c.config["Env"], "Tty": c.config["Tty"], "Labels": c.config["Labels"]},
            "HostConfig": c.config["HostConfig"],
            "GraphDriver": {"Name": "overlay2", "Data": {"MergedDir": dir.join("rootfs"), "UpperDir": dir.join("upper"), "WorkDir": dir.join("work")}},
            "Mounts": [],
        }))
    }

    /// `GET /containers/json`.
    pub fn container_list(&self, all: bool) -> Result<Vec<Value>, EngineError> {
        let mut out = Vec::new();
        let mut list: Vec<ContainerRecord> = self.store().meta().list(Table::Containers)?;
        list.sort_by(|a, b| b.created.cmp(&a.created));
        for c in list {
            let state = self.state(&c);
            let (st, status) = match &state {
                State::Created => ("created", "Created".to_string()),
                State::Running(_) => ("running", "Up".to_string()),
                State::Exited(code, _) => ("exited", format!("Exited ({code})")),
            };
            if !all && st != "running" {
                continue;
            }
            let cmd: Vec<String> = c.config["Cmd"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            out.push(json!({
                "Id": c.id, "Names": [format!("/{}", c.name)], "Image": c.image_name, "ImageID": c.image,
                "Command": cmd.join(" "), "Created": crate::time::unix_seconds(&c.created),
                "State": st, "Status": status, "Ports": [], "Labels": c.config["Labels"], "Mounts": [],
                "HostConfig": {"NetworkMode": "none"}, "NetworkSettings": {"Networks": {}},
            }));
        }
        Ok(out)
    }
}

fn is_mounted(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let p = path.to_string_lossy();
    info.lines().any(|l| l.split(' ').nth(4) == Some(&p))
}
