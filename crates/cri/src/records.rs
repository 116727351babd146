//! What the CRI server keeps about its pod sandboxes and containers, in the
//! engine's metadata database (tables `cri_sandboxes` and `cri_containers`),
//! and the live state derived from the files a container's shim writes.
//!
//! On disk, under the CRI's root (`<data-root>/cri`):
//!
//! ```text
//! sandboxes/<id>/      the infra process's bundle (config.json, an empty
//!                      rootfs/), hostname, hosts, resolv.conf, shm/ (the
//!                      pod's /dev/shm, a tmpfs), shim.pid, exit.json
//! containers/<id>/     config.json, rootfs/ (overlay; upper/, work/),
//!                      log-opts.json, ctl.sock, shim.pid, started, exit.json
//! ```
//!
//! The requests are kept as the kubelet sent them (protobuf, base64 in the
//! JSON record), so that status and list answers give back what was asked.

use std::path::Path;

use prost::Message;
use serde::{Deserialize, Serialize};

use crate::api;
use crate::error::{CriError, Result};

/// A pod sandbox.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxRecord {
    /// 64 hex characters.
    pub id: String,
    /// The `PodSandboxConfig`, protobuf-encoded.
    #[serde(with = "b64")]
    pub config: Vec<u8>,
    /// The runtime handler asked for.
    pub runtime_handler: String,
    /// Creation time, ns since the epoch.
    pub created_at: i64,
    /// The network namespace file (none on the host's network).
    pub netns: String,
    /// The pod's IPv4 address from CNI (empty without one).
    pub ip: String,
    /// The CNI network the pod was added to (its config file's name).
    pub cni_network: String,
    /// StopPodSandbox ran: not ready, the network is torn down.
    pub stopped: bool,
    /// The cgroup path the pod's processes go under.
    pub cgroup_parent: String,
}

/// A container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerRecord {
    /// 64 hex characters.
    pub id: String,
    /// Its pod.
    pub sandbox_id: String,
    /// The `ContainerConfig`, protobuf-encoded.
    #[serde(with = "b64")]
    pub config: Vec<u8>,
    /// The image's id (`sha256:…`).
    pub image_id: String,
    /// The image as the request named it.
    pub image_name: String,
    /// Creation time, ns since the epoch.
    pub created_at: i64,
    /// The chain ids of the image's layers (the garbage collector keeps
    /// them while this record exists).
    pub layers: Vec<String>,
    /// The full log path (the sandbox's log directory joined with the
    /// container's log path), empty for none.
    pub log_path: String,
}

impl SandboxRecord {
    /// The decoded config.
    pub fn config(&self) -> api::PodSandboxConfig {
        api::PodSandboxConfig::decode(self.config.as_slice()).unwrap_or_default()
    }
}

impl ContainerRecord {
    /// The decoded config.
    pub fn config(&self) -> api::ContainerConfig {
        api::ContainerConfig::decode(self.config.as_slice()).unwrap_or_default()
    }
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

/// A process's live state, from its shim's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// Never started.
    Created,
    /// Its init runs with this pid.
    Running(i32),
    /// It exited.
    Exited(Exit),
}

/// An exit as the shim recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exit {
    /// Exit code (128 + signal for a signal).
    pub code: i32,
    /// When, ns since the epoch.
    pub finished_at: i64,
    /// The OOM killer struck in its cgroup.
    pub oom: bool,
}

/// Whether `dir`'s shim runs: the process `shim.pid` names (pid, start
/// time and boot), as the engine checks it, not another with its pid.
pub fn shim_alive(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(shim_proto::files::SHIM_PID))
        .ok()
        .and_then(|t| runtime::state::PidFile::parse(&t))
        .is_some_and(|p| p.alive("berth-shim"))
}

/// The live state of the process run from `dir` by a shim, whose runtime
/// state is under `runtime_root` with `id`.
pub fn live(dir: &Path, runtime_root: &Path, id: &str) -> Live {
    if shim_alive(dir) {
        let pid = runtime::Runtime::new(runtime_root)
            .state(id)
            .map(|s| s.pid)
            .unwrap_or(0);
        return Live::Running(pid);
    }
    if let Ok(text) = std::fs::read_to_string(dir.join(shim_proto::files::EXIT)) {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        return Live::Exited(Exit {
            code: v["ExitCode"].as_i64().unwrap_or(-1) as i32,
            finished_at: engine::time::unix_nanos(v["FinishedAt"].as_str().unwrap_or(""))
                .unwrap_or(0),
            oom: v["OOMKilled"].as_bool().unwrap_or(false),
        });
    }
    if dir.join(shim_proto::files::STARTED).exists() {
        // Started, but neither running nor recorded an exit: its shim was
        // killed. Unknown exit, as a crashed task.
        return Live::Exited(Exit {
            code: 255,
            finished_at: 0,
            oom: false,
        });
    }
    Live::Created
}

/// The start time recorded in `dir/started` (ns), 0 if never started.
pub fn started_at(dir: &Path) -> i64 {
    std::fs::read_to_string(dir.join(shim_proto::files::STARTED))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// Loads a record by id or unique id prefix from `table`.
pub fn find<T>(
    meta: &store::meta::Meta,
    table: store::meta::Table,
    id: &str,
    what: &str,
) -> Result<T>
where
    T: for<'de> Deserialize<'de>,
{
    if id.is_empty() {
        return Err(CriError::invalid(format!("{what} id must not be empty")));
    }
    if let Some(r) = meta.get::<T>(table, id)? {
        return Ok(r);
    }
    let keys: Vec<String> = meta
        .keys(table)?
        .into_iter()
        .filter(|k| k.starts_with(id))
        .collect();
    match keys.as_slice() {
        [one] => meta
            .get::<T>(table, one)?
            .ok_or_else(|| CriError::not_found(format!("{what} {id:?} not found"))),
        [] => Err(CriError::not_found(format!("{what} {id:?} not found"))),
        _ => Err(CriError::invalid(format!(
            "{what} id prefix {id:?} is ambiguous"
        ))),
    }
}
