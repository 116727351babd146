//! `inspect`: a container's state and configuration in Docker's shape.

use std::path::PathBuf;

use serde_json::Value;

use models::container::Inspect;

use super::*;
use crate::{Engine, EngineError};

impl Engine {
    /// Whether the last run was ended by the OOM killer (the shim records it).
    pub(super) fn oom_killed(&self, c: &ContainerRecord) -> bool {
        std::fs::read(self.container_dir(&c.id).join(shim_proto::files::EXIT))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|v| v["OOMKilled"].as_bool().unwrap_or(false))
    }

    /// Docker's `State` of a container.
    pub(super) fn state_of(&self, c: &ContainerRecord) -> models::container::State {
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
            log_path: path(dir.join(shim_proto::files::LOG)),
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

    /// A container's mounts as `inspect` and `ps` show them (Docker leaves
    /// out `--tmpfs` ones).
    pub(super) fn mounts_of(&self, c: &ContainerRecord) -> Vec<models::mount::MountPoint> {
        c.mounts
            .iter()
            .filter(|m| !m.hidden)
            .map(|m| m.to_model(&self.volume_data(&m.name).to_string_lossy()))
            .collect()
    }
}
