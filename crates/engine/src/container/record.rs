//! What berth records about a container, and the live state read from its files.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::meta::Table;

use models::container::CreateBody;

use super::ContainerError;
use crate::{Engine, EngineError};

pub(crate) use crate::ids::random_hex;

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

impl Engine {
    pub(super) fn containers_dir(&self) -> PathBuf {
        self.data_root.join("containers")
    }

    /// A container's directory.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    /// Finds a container by full id, unique id prefix, or name.
    pub fn find_container(&self, name_or_id: &str) -> Result<ContainerRecord, EngineError> {
        let wanted = name_or_id.trim_start_matches('/');
        // A full id and a name are one lookup each; a prefix reads the ids.
        if wanted.len() == 64 {
            if let Some(c) = self
                .store()
                .meta()
                .get::<ContainerRecord>(Table::Containers, wanted)?
            {
                return Ok(self.with_started(c));
            }
        }
        let meta = self.store().meta();
        let by_name = meta.get::<String>(Table::ContainerNames, wanted)?;
        if let Some(c) = by_name.and_then(|id| {
            meta.get::<ContainerRecord>(Table::Containers, &id)
                .ok()
                .flatten()
        }) {
            return Ok(self.with_started(c));
        }
        let not_found =
            || -> EngineError { ContainerError::NoSuchContainer(name_or_id.to_string()).into() };
        let ids = meta.keys(Table::Containers)?;
        let mut prefixed = ids
            .iter()
            .filter(|id| !wanted.is_empty() && id.starts_with(wanted));
        match (prefixed.next(), prefixed.next()) {
            (Some(id), None) => meta
                .get::<ContainerRecord>(Table::Containers, id)?
                .map(|c| self.with_started(c))
                .ok_or_else(not_found),
            (Some(_), Some(_)) => Err(ContainerError::Invalid(format!(
                "multiple IDs found with provided prefix: {wanted}"
            ))
            .into()),
            _ => Err(not_found()),
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
        if let Ok(text) = std::fs::read_to_string(dir.join(shim_proto::files::EXIT)) {
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
        let text =
            std::fs::read_to_string(self.container_dir(id).join(shim_proto::files::SHIM_PID))
                .ok()?;
        let p = runtime::state::PidFile::parse(&text)?;
        p.alive("berth-shim").then_some(p.pid)
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
    pub(super) fn with_started(&self, mut c: ContainerRecord) -> ContainerRecord {
        if let Ok(t) =
            std::fs::read_to_string(self.container_dir(&c.id).join(shim_proto::files::STARTED))
        {
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

    fn restarting(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.restarting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the container waits out a restart back-off.
    pub fn is_restarting(&self, id: &str) -> bool {
        self.restarting().contains(id)
    }

    /// The restart supervisor's back-off for the container begins: until
    /// [`Engine::end_restart_wait`], it shows as restarting and removing it
    /// without force is refused.
    pub fn begin_restart_wait(&self, id: &str) {
        self.restarting().insert(id.to_string());
    }

    /// The back-off ends (the restart is due) or is cancelled (a stop, a
    /// removal): true when it was still waiting, so the one who ends it
    /// first decides.
    pub fn end_restart_wait(&self, id: &str) -> bool {
        self.restarting().remove(id)
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

    /// Its exit code once exited, `None` while it runs or was never started.
    pub fn exit_code(&self, c: &ContainerRecord) -> Option<i32> {
        match self.state(c) {
            State::Exited(code, _) => Some(code),
            _ => None,
        }
    }
}

/// Drops `name` from the names index if it is `id`'s (an index rebuilt
/// since may have given it to no one).
pub(super) fn unindex_name(
    w: &mut store::meta::Writer<'_>,
    name: &str,
    id: &str,
) -> Result<(), EngineError> {
    if !name.is_empty() && w.get::<String>(Table::ContainerNames, name)?.as_deref() == Some(id) {
        w.delete(Table::ContainerNames, name)?;
    }
    Ok(())
}

/// Rebuilds the names index (`Table::ContainerNames`) from the records, in
/// one transaction: once per start of the engine, so a database written by
/// an older berth, which had no index, gets one.
pub(crate) fn index_names(meta: &store::meta::Meta) -> Result<(), EngineError> {
    meta.write(|w| {
        for name in w.keys(Table::ContainerNames)? {
            w.delete(Table::ContainerNames, &name)?;
        }
        let all: Vec<ContainerRecord> = w.list(Table::Containers)?;
        for c in all.iter().filter(|c| !c.name.is_empty()) {
            w.put(Table::ContainerNames, &c.name, &c.id)?;
        }
        Ok(())
    })
}
