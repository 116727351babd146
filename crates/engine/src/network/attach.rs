//! Before a start and after a stop: a container's network mode made
//! (`none`, `host`, `container:<x>`, the networks it is on) and undone.

use std::path::PathBuf;

use crate::container::record::{ContainerRecord, State};
use crate::{Engine, EngineError};

use super::*;

impl Engine {
    /// Before a start: the container's namespace, veth, address and ports
    /// (bridge), or what the other modes need, and the `/etc` extras.
    pub(crate) fn network_attach(&self, c: &ContainerRecord) -> Result<NetPlan, EngineError> {
        let mut plan = self.attach_mode(c)?;
        if let Err(e) = self.plan_extras(c, &mut plan) {
            self.network_detach(&c.id);
            return Err(e);
        }
        Ok(plan)
    }

    pub(super) fn attach_mode(&self, c: &ContainerRecord) -> Result<NetPlan, EngineError> {
        let mode = mode_of(&c.config);
        match mode.as_str() {
            "none" => self.attach_none(c, mode),
            "host" => {
                self.write_attachment(
                    &c.id,
                    &Attachment {
                        mode,
                        ..Default::default()
                    },
                )?;
                Ok(NetPlan::new(NetNs::Host, EtcNet::Host))
            }
            m if m.starts_with("container:") => self.attach_container(c, m),
            _ => {
                let eps = endpoint::endpoints(&c.config);
                let on_bridge = eps.iter().any(|(n, _)| n == "bridge" || n == "default");
                if on_bridge && self.net.is_some() {
                    let plan = self.attach_bridge(c, &eps)?;
                    // User networks come after its `eth0`.
                    if let Err(e) = self.connect_wanted(c) {
                        self.network_detach(&c.id);
                        return Err(e);
                    }
                    Ok(plan)
                } else if eps.iter().all(|(n, _)| endpoint::predefined(n)) {
                    self.attach_none(c, "none".into())
                } else {
                    self.attach_user(c)
                }
            }
        }
    }

    /// `container:<name|id>`: that running container's namespace.
    pub(super) fn attach_container(
        &self,
        c: &ContainerRecord,
        m: &str,
    ) -> Result<NetPlan, EngineError> {
        let other = self.find_container(&m["container:".len()..])?;
        let State::Running(pid, _) = self.state(&other) else {
            return Err(NetworkError::Conflict(format!(
                "cannot join network of a non running container: {}",
                &m["container:".len()..]
            ))
            .into());
        };
        if other.id == c.id {
            return Err(NetworkError::Invalid("cannot join own network".into()).into());
        }
        let path = match self.attachment(&other.id) {
            Some(a) if a.mode.starts_with("container:") || a.mode == "host" => {
                PathBuf::from(format!("/proc/{pid}/ns/net"))
            }
            Some(Attachment {
                endpoint: Some(e), ..
            }) => e.netns,
            Some(Attachment { netns: Some(p), .. }) => p,
            _ => PathBuf::from(format!("/proc/{pid}/ns/net")),
        };
        self.write_attachment(
            &c.id,
            &Attachment {
                mode: format!("container:{}", other.id),
                ..Default::default()
            },
        )?;
        let netns = if self.attachment(&other.id).is_some_and(|a| a.mode == "host") {
            NetNs::Host
        } else {
            NetNs::Join(path)
        };
        // X's name too, as Docker gives a container joining X.
        let hostname = std::fs::read_to_string(self.container_dir(&other.id).join("etc/hostname"))
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty());
        let mut plan = NetPlan::new(
            netns,
            EtcNet::Shared(self.container_dir(&other.id).join("etc")),
        );
        plan.hostname = hostname;
        Ok(plan)
    }

    /// A namespace with `lo` up and nothing else.
    pub(super) fn attach_none(
        &self,
        c: &ContainerRecord,
        mode: String,
    ) -> Result<NetPlan, EngineError> {
        let path = self.netns_dir().join(&c.id);
        net::netns::loopback_only(&path)
            .map_err(|e| NetworkError::failed(format!("create {}", path.display()), e))?;
        self.write_attachment(
            &c.id,
            &Attachment {
                mode,
                netns: Some(path.clone()),
                ..Default::default()
            },
        )?;
        Ok(NetPlan::new(NetNs::Join(path), EtcNet::Loopback))
    }

    pub(super) fn write_attachment(&self, id: &str, a: &Attachment) -> Result<(), EngineError> {
        let path = self.attachment_path(id);
        let tmp = path.with_extension("tmp");
        crate::perms::write_private(&tmp, serde_json::to_vec(a).map_err(NetworkError::sys)?)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(NetworkError::sys)
            .map_err(EngineError::from)
    }

    /// After a stop (or a failed start): the veth, namespace, address and
    /// ports go. Idempotent.
    pub(crate) fn network_detach(&self, id: &str) {
        let _t = runtime::trace::span("network detach");
        let a = self.attachment(id);
        if let Some(path) = a.as_ref().and_then(|a| a.netns.as_ref()) {
            crate::error::ignore(
                format_args!("remove network namespace {}", path.display()),
                net::netns::remove(path),
            );
        }
        {
            let mut st = self.net_state.lock().unwrap_or_else(|p| p.into_inner());
            st.held.remove(id);
            if let Some(p) = &st.proxy {
                p.stop(id);
            }
            if st.forwards.remove(id).is_some_and(|f| !f.is_empty()) {
                if let Err(e) = self.apply_table(&mut st) {
                    tracing::warn!("removing the port forwards of {id}: {e}");
                }
            }
        }
        if let Some(a) = &a {
            self.release_user(id, a);
        }
        if let Some(ctx) = &self.net {
            let veth = a
                .as_ref()
                .and_then(|a| a.endpoint.as_ref())
                .map(|e| e.veth.clone())
                .unwrap_or_else(|| net::Bridge::veth_name(id));
            if a.as_ref().is_some_and(|a| a.endpoint.is_some()) {
                ctx.bridge.detach(&veth, &self.netns_dir().join(id));
            }
            runtime::trace::mark("veth detached");
            crate::error::ignore(
                format_args!("release the address of {id}"),
                self.free(ctx, id),
            );
        }
        crate::error::ignore(
            format_args!("remove the network attachment of {id}"),
            std::fs::remove_file(self.attachment_path(id)),
        );
    }
}
