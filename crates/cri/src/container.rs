//! CRI containers: Create (the root filesystem mounted and the spec
//! written, as containerd does at create), Start (a shim runs the bundle),
//! Stop with a timeout, Remove, List with filters, Status with the CRI's
//! reasons, UpdateContainerResources and ReopenContainerLog.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use prost::Message;
use serde_json::json;
use store::meta::Table;

use crate::api;
use crate::error::{CriError, Kind, Result};
use crate::records::{self, ContainerRecord, Live};
use crate::Cri;

impl Cri {
    pub(crate) fn container_dir(&self, id: &str) -> PathBuf {
        self.cfg.root.join("containers").join(id)
    }

    /// A container's record by id or unique prefix.
    pub fn container(&self, id: &str) -> Result<ContainerRecord> {
        records::find(
            self.engine.store().meta(),
            Table::CriContainers,
            id,
            "container",
        )
    }

    /// Every container.
    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        Ok(self.engine.store().meta().list(Table::CriContainers)?)
    }

    /// A container's live state.
    pub(crate) fn container_live(&self, c: &ContainerRecord) -> Live {
        records::live(&self.container_dir(&c.id), &self.cfg.runtime_root, &c.id)
    }

    /// `CreateContainer`.
    pub fn create_container(&self, req: api::CreateContainerRequest) -> Result<String> {
        let sandbox = self.sandbox(&req.pod_sandbox_id)?;
        let config = req
            .config
            .ok_or_else(|| CriError::invalid("container config must not be empty"))?;
        let md = config
            .metadata
            .clone()
            .ok_or_else(|| CriError::invalid("container metadata must not be empty"))?;
        if md.name.is_empty() {
            return Err(CriError::invalid("container name must not be empty"));
        }
        let pause_pid = match self.sandbox_live(&sandbox) {
            Live::Running(pid) if !sandbox.stopped => pid,
            _ => {
                return Err(CriError::new(
                    Kind::State,
                    format!("pod sandbox {} is not ready", sandbox.id),
                ))
            }
        };
        let image_name = config
            .image
            .as_ref()
            .map(|i| i.image.clone())
            .unwrap_or_default();
        let image = crate::images::lookup(&self.engine, &image_name)?
            .ok_or_else(|| CriError::not_found(format!("image {image_name:?} not found")))?;
        let image_config = self.engine.store().config(&image)?;
        let sandbox_config = sandbox.config();
        let log_path = match (&sandbox_config.log_directory, &config.log_path) {
            (d, p) if !d.is_empty() && !p.is_empty() => Path::new(d).join(p).display().to_string(),
            _ => String::new(),
        };
        let id = crate::random_id();
        let rec = ContainerRecord {
            id: id.clone(),
            sandbox_id: sandbox.id.clone(),
            config: config.encode_to_vec(),
            image_id: image.id.clone(),
            image_name,
            created_at: crate::time::now_ns(),
            layers: store::config::chain_ids(&image.diff_ids),
            log_path,
        };
        {
            let _names = self.names.lock().unwrap_or_else(|p| p.into_inner());
            let taken = self.containers()?.into_iter().any(|c| {
                c.sandbox_id == sandbox.id
                    && c.config()
                        .metadata
                        .is_some_and(|m| m.name == md.name && m.attempt == md.attempt)
            });
            if taken {
                return Err(CriError::new(
                    Kind::State,
                    format!(
                        "container name {}_{} is reserved in pod {}",
                        md.name, md.attempt, sandbox.id
                    ),
                ));
            }
            self.engine
                .store()
                .meta()
                .write(|w| w.put(Table::CriContainers, &id, &rec))?;
        }
        let target_pid = self.target_pid(&config)?;
        let made = self.prepare_bundle(
            &rec,
            &config,
            &image_config,
            &sandbox,
            pause_pid,
            target_pid,
        );
        if let Err(e) = made {
            if let Err(e) = self.remove_container(&id) {
                tracing::debug!("remove the container whose creation failed: {e}");
            }
            return Err(e);
        }
        self.events
            .container(&id, api::ContainerEventType::ContainerCreatedEvent);
        Ok(id)
    }

    /// The init pid of the container a `TARGET` pid namespace names.
    fn target_pid(&self, config: &api::ContainerConfig) -> Result<Option<i32>> {
        let target = config
            .linux
            .as_ref()
            .and_then(|l| l.security_context.as_ref())
            .and_then(|s| s.namespace_options.as_ref())
            .filter(|n| n.pid == api::NamespaceMode::Target as i32)
            .map(|n| n.target_id.clone());
        let Some(target) = target else {
            return Ok(None);
        };
        let t = self.container(&target)?;
        match self.container_live(&t) {
            Live::Running(pid) => Ok(Some(pid)),
            _ => Err(CriError::new(
                Kind::State,
                format!("target container {target} is not running"),
            )),
        }
    }

    fn prepare_bundle(
        &self,
        rec: &ContainerRecord,
        config: &api::ContainerConfig,
        image_config: &store::config::ImageConfig,
        sandbox: &records::SandboxRecord,
        pause_pid: i32,
        target_pid: Option<i32>,
    ) -> Result<()> {
        let dir = self.container_dir(&rec.id);
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(&dir)
            .map_err(|e| CriError::internal(format!("create {}: {e}", dir.display())))?;
        self.engine
            .store()
            .mount_layers_rw(&rec.layers, &dir, &rootfs)?;
        let spec = crate::spec::build(
            config,
            &crate::spec::Inputs {
                id: &rec.id,
                rootfs: &rootfs,
                image: image_config,
                sandbox_dir: &self.sandbox_dir(&sandbox.id),
                sandbox: &sandbox.config(),
                pause_pid,
                netns: &sandbox.netns,
                cgroup_parent: &sandbox.cgroup_parent,
                target_pid,
            },
        )?;
        // The working directory exists in the image, or is made (as the
        // runtime would, but owned by the process's user, as containerd).
        let write = |name: &str, body: String| {
            std::fs::write(dir.join(name), body)
                .map_err(|e| CriError::internal(format!("write {name}: {e}")))
        };
        let spec = serde_json::to_string(&spec)
            .map_err(|e| CriError::internal(format!("the spec: {e}")))?;
        write("config.json", spec)?;
        let log = if rec.log_path.is_empty() {
            models::log::LogOptions {
                driver: "none".into(),
                ..Default::default()
            }
        } else {
            if let Some(parent) = Path::new(&rec.log_path).parent() {
                if let Err(e) = std::fs::create_dir_all(parent) {
                    tracing::debug!(path = ?parent, "make the log directory: {e}");
                }
            }
            models::log::LogOptions {
                driver: "cri".into(),
                path: rec.log_path.clone(),
                ..Default::default()
            }
        };
        let log = serde_json::to_string(&log)
            .map_err(|e| CriError::internal(format!("log-opts.json: {e}")))?;
        write(shim_proto::files::LOG_OPTS, log)
    }

    /// `StartContainer`.
    pub fn start_container(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        match self.container_live(&c) {
            Live::Created => {}
            Live::Running(_) => {
                return Err(CriError::new(
                    Kind::State,
                    format!("container {} is already running", c.id),
                ))
            }
            Live::Exited(_) => {
                return Err(CriError::new(
                    Kind::State,
                    format!("container {} has already run; create a new one", c.id),
                ))
            }
        }
        let s = self.sandbox(&c.sandbox_id)?;
        if !self.sandbox_ready(&s) {
            return Err(CriError::new(
                Kind::State,
                format!("pod sandbox {} is not ready", s.id),
            ));
        }
        let dir = self.container_dir(&c.id);
        let config = c.config();
        // The start time before the start: an exit can never precede it.
        let tmp = dir.join(".started.tmp");
        std::fs::write(&tmp, crate::time::now_ns().to_string())
            .and_then(|()| std::fs::rename(&tmp, dir.join(shim_proto::files::STARTED)))
            .map_err(|e| CriError::internal(format!("record the start: {e}")))?;
        if let Err(e) = crate::shim::start(&self.cfg, &dir, &c.id, config.stdin && !config.tty) {
            // Recorded as exited with the reason, as containerd reports a
            // failed start.
            let body = json!({"ExitCode": 128, "FinishedAt": runtime::now_rfc3339(), "OOMKilled": false, "Error": e.message});
            if let Err(e) = std::fs::write(dir.join(shim_proto::files::EXIT), body.to_string()) {
                tracing::debug!(path = ?dir.join(shim_proto::files::EXIT), "record the failed start's exit: {e}");
            }
            return Err(e);
        }
        self.events
            .container(&c.id, api::ContainerEventType::ContainerStartedEvent);
        Ok(())
    }

    /// `StopContainer`: SIGTERM (or the image's stop signal), SIGKILL after
    /// `timeout` seconds; stopping a stopped container succeeds.
    pub fn stop_container(&self, id: &str, timeout: i64) -> Result<()> {
        let c = self.container(id)?;
        if !matches!(self.container_live(&c), Live::Running(_)) {
            return Ok(());
        }
        let dir = self.container_dir(&c.id);
        let signal = self
            .engine
            .store()
            .meta()
            .image(&c.image_id)
            .ok()
            .flatten()
            .and_then(|i| self.engine.store().config(&i).ok())
            .map(|cfg| cfg.config.stop_signal.clone())
            .filter(|s| !s.is_empty())
            .and_then(|s| runtime::container::parse_signal(&s).ok())
            .unwrap_or(nix::sys::signal::Signal::SIGTERM);
        if timeout > 0 {
            crate::shim::kill(&self.cfg, &c.id, signal, false);
            let wait = std::time::Duration::from_secs(timeout as u64);
            if crate::shim::wait_exit(&dir, wait) {
                self.events
                    .container(&c.id, api::ContainerEventType::ContainerStoppedEvent);
                return Ok(());
            }
        }
        crate::shim::kill(&self.cfg, &c.id, nix::sys::signal::Signal::SIGKILL, true);
        if !crate::shim::wait_exit(&dir, std::time::Duration::from_secs(30)) {
            return Err(CriError::internal(format!(
                "container {} did not exit after SIGKILL",
                c.id
            )));
        }
        self.events
            .container(&c.id, api::ContainerEventType::ContainerStoppedEvent);
        Ok(())
    }

    /// `RemoveContainer`: a running one is killed first; removing a
    /// container that is gone succeeds.
    pub fn remove_container(&self, id: &str) -> Result<()> {
        let c = match self.container(id) {
            Ok(c) => c,
            Err(e) if e.kind == Kind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let dir = self.container_dir(&c.id);
        if let Live::Running(_) = self.container_live(&c) {
            crate::shim::kill(&self.cfg, &c.id, nix::sys::signal::Signal::SIGKILL, true);
            crate::shim::wait_exit(&dir, std::time::Duration::from_secs(30));
        }
        crate::shim::delete(&self.cfg, &c.id);
        if let Err(e) = store::mount::unmount(&dir.join("rootfs")) {
            tracing::debug!("unmount the container's rootfs: {e}");
        }
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CriError::internal(format!("remove {}: {e}", dir.display()))),
        }
        self.engine
            .store()
            .meta()
            .write(|w| w.delete(Table::CriContainers, &c.id))?;
        self.events
            .container(&c.id, api::ContainerEventType::ContainerDeletedEvent);
        Ok(())
    }

    fn container_state(live: &Live) -> api::ContainerState {
        match live {
            Live::Created => api::ContainerState::ContainerCreated,
            Live::Running(_) => api::ContainerState::ContainerRunning,
            Live::Exited(_) => api::ContainerState::ContainerExited,
        }
    }

    /// `ListContainers`.
    pub fn list_containers(
        &self,
        filter: Option<&api::ContainerFilter>,
    ) -> Result<Vec<api::Container>> {
        let mut out = Vec::new();
        for c in self.containers()? {
            let config = c.config();
            let state = Self::container_state(&self.container_live(&c));
            if let Some(f) = filter {
                if !f.id.is_empty() && !c.id.starts_with(&f.id) {
                    continue;
                }
                if !f.pod_sandbox_id.is_empty() && !c.sandbox_id.starts_with(&f.pod_sandbox_id) {
                    continue;
                }
                if f.state.as_ref().is_some_and(|s| s.state != state as i32) {
                    continue;
                }
                if !crate::sandbox::labels_match(&config.labels, &f.label_selector) {
                    continue;
                }
            }
            out.push(api::Container {
                id: c.id.clone(),
                pod_sandbox_id: c.sandbox_id.clone(),
                metadata: config.metadata.clone(),
                image: config.image.clone(),
                image_ref: c.image_id.clone(),
                state: state as i32,
                created_at: c.created_at,
                labels: config.labels.clone(),
                annotations: config.annotations.clone(),
            });
        }
        out.sort_by_key(|c| std::cmp::Reverse(c.created_at));
        Ok(out)
    }

    /// `ContainerStatus`, with the CRI's reasons (`Completed`, `Error`,
    /// `OOMKilled`).
    pub fn container_status(
        &self,
        id: &str,
        verbose: bool,
    ) -> Result<api::ContainerStatusResponse> {
        let c = self.container(id)?;
        let config = c.config();
        let dir = self.container_dir(&c.id);
        let live = self.container_live(&c);
        let (mut finished_at, mut exit_code, mut reason, mut message) =
            (0, 0, String::new(), String::new());
        if let Live::Exited(e) = &live {
            finished_at = e.finished_at;
            exit_code = e.code;
            reason = if e.oom {
                "OOMKilled"
            } else if e.code == 0 {
                "Completed"
            } else {
                "Error"
            }
            .to_string();
            if let Ok(t) = std::fs::read(dir.join(shim_proto::files::EXIT)) {
                let v: serde_json::Value = serde_json::from_slice(&t).unwrap_or_default();
                if let Some(m) = v["Error"].as_str() {
                    reason = "StartError".into();
                    message = m.to_string();
                }
            }
        }
        let mut info = HashMap::new();
        if verbose {
            let pid = match live {
                Live::Running(p) => p,
                _ => 0,
            };
            let spec: serde_json::Value = std::fs::read(dir.join("config.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            info.insert(
                "info".to_string(),
                json!({"pid": pid, "sandboxID": c.sandbox_id, "runtimeSpec": spec}).to_string(),
            );
        }
        let resources = config
            .linux
            .as_ref()
            .and_then(|l| l.resources.clone())
            .map(|r| api::ContainerResources {
                linux: Some(r),
                windows: None,
            });
        let resources = self.updated_resources(&c.id).or(resources);
        Ok(api::ContainerStatusResponse {
            status: Some(api::ContainerStatus {
                id: c.id.clone(),
                metadata: config.metadata.clone(),
                state: Self::container_state(&live) as i32,
                created_at: c.created_at,
                started_at: records::started_at(&dir),
                finished_at,
                exit_code,
                image: config.image.clone(),
                image_ref: c.image_id.clone(),
                reason,
                message,
                labels: config.labels.clone(),
                annotations: config.annotations.clone(),
                mounts: config.mounts.clone(),
                log_path: c.log_path.clone(),
                resources,
            }),
            info,
        })
    }

    /// The resources an `UpdateContainerResources` set, if one did.
    fn updated_resources(&self, id: &str) -> Option<api::ContainerResources> {
        let b = std::fs::read(self.container_dir(id).join("resources.pb")).ok()?;
        let r = api::LinuxContainerResources::decode(b.as_slice()).ok()?;
        Some(api::ContainerResources {
            linux: Some(r),
            windows: None,
        })
    }

    /// `UpdateContainerResources`: the cgroup's limits of a running
    /// container, and the spec for a created one.
    pub fn update_container_resources(
        &self,
        req: &api::UpdateContainerResourcesRequest,
    ) -> Result<()> {
        let c = self.container(&req.container_id)?;
        let Some(r) = &req.linux else { return Ok(()) };
        let dir = self.container_dir(&c.id);
        let res = crate::spec::resources(r);
        let mut spec: oci_spec::runtime::Spec = std::fs::read(dir.join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| CriError::internal(format!("container {} has no spec", c.id)))?;
        if let Live::Running(_) = self.container_live(&c) {
            runtime::Runtime::new(&self.cfg.runtime_root)
                .update(&c.id, &res)
                .map_err(|e| CriError::internal(format!("update container {}: {e}", c.id)))?;
        }
        // The spec keeps its device rules; the limits are the new ones.
        let mut linux = spec.linux().clone().unwrap_or_default();
        let devices = linux.resources().as_ref().and_then(|r| r.devices().clone());
        let mut res = res;
        res.set_devices(devices);
        linux.set_resources(Some(res));
        spec.set_linux(Some(linux));
        let text = serde_json::to_string(&spec)
            .map_err(|e| CriError::internal(format!("the spec: {e}")))?;
        std::fs::write(dir.join("config.json"), text)
            .map_err(|e| CriError::internal(format!("write the spec: {e}")))?;
        std::fs::write(dir.join("resources.pb"), r.encode_to_vec())
            .map_err(|e| CriError::internal(format!("record the resources: {e}")))?;
        Ok(())
    }

    /// `ReopenContainerLog`: the shim opens the log's path anew.
    pub fn reopen_container_log(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        if !matches!(self.container_live(&c), Live::Running(_)) {
            return Err(CriError::new(
                Kind::State,
                format!("container {} is not running", c.id),
            ));
        }
        let answer =
            crate::shim::control(&self.container_dir(&c.id), shim_proto::Command::ReopenLog)?;
        match answer {
            shim_proto::Reply::Ok(_) => Ok(()),
            other => Err(CriError::internal(format!(
                "reopen the log of {}: {}",
                c.id,
                other.why()
            ))),
        }
    }
}
