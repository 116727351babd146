//! The process of an `exec` in a running container.

use serde_json::{json, Value};

use models::exec::ExecConfig;

use super::*;
use crate::spec;
use crate::{Engine, EngineError};

impl Engine {
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
                return Err(ContainerError::Conflict(format!(
                    "Container {} is paused, unpause the container before exec",
                    c.id
                ))
                .into())
            }
            _ => return Err(Self::not_running(&c)),
        }
        let cmd: Vec<String> = cfg.cmd.clone().unwrap_or_default();
        if cmd.is_empty() {
            return Err(ContainerError::Invalid("No exec command specified".into()).into());
        }
        let dir = self.container_dir(&c.id);
        let spec: Value = std::fs::read(dir.join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                ContainerError::sys(format!("container {} has no readable spec", c.id))
            })?;
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
                return Err(ContainerError::Invalid(format!(
                    "the working directory '{w}' is invalid, it needs to be an absolute path"
                ))
                .into());
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
        let p = serde_json::from_value(p).map_err(|e| ContainerError::failed("exec process", e))?;
        Ok((c, p))
    }
}

/// The strings of a JSON array (none for anything else).
pub(super) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
