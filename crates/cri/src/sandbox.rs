//! Pod sandboxes: RunPodSandbox, Stop, Remove, Status, List.
//!
//! A pod is an infra process (the runtime's `pause` init: pid 1 of the
//! pod, it runs nothing and holds the namespaces) run by a shim like any
//! container, from an empty root. It owns the pod's UTS, IPC and (unless
//! the pod is on the host's) PID namespaces; the network namespace is a
//! file bind-mounted under the CRI's state directory, made before the
//! infra process so that CNI can configure it first. Containers join
//! them by path. The pod's `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`
//! and `/dev/shm` (a tmpfs) live in its directory and are bound into each
//! container.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use prost::Message;
use serde_json::json;
use store::meta::Table;

use crate::api::{self, NamespaceMode};
use crate::error::{CriError, Result};
use crate::records::{self, Live, SandboxRecord};
use crate::Cri;

impl Cri {
    pub(crate) fn sandbox_dir(&self, id: &str) -> PathBuf {
        self.cfg.root.join("sandboxes").join(id)
    }

    pub(crate) fn netns_path(&self, id: &str) -> PathBuf {
        self.cfg.state.join("netns").join(id)
    }

    /// A sandbox's record by id or unique prefix.
    pub fn sandbox(&self, id: &str) -> Result<SandboxRecord> {
        records::find(
            self.engine.store().meta(),
            Table::CriSandboxes,
            id,
            "pod sandbox",
        )
    }

    /// Every sandbox.
    pub fn sandboxes(&self) -> Result<Vec<SandboxRecord>> {
        Ok(self.engine.store().meta().list(Table::CriSandboxes)?)
    }

    /// The infra process's live state.
    pub(crate) fn sandbox_live(&self, s: &SandboxRecord) -> Live {
        records::live(&self.sandbox_dir(&s.id), &self.cfg.runtime_root, &s.id)
    }

    /// Ready: running infra process, not stopped.
    pub(crate) fn sandbox_ready(&self, s: &SandboxRecord) -> bool {
        !s.stopped && matches!(self.sandbox_live(s), Live::Running(_))
    }

    /// `RunPodSandbox`.
    pub fn run_pod_sandbox(&self, req: api::RunPodSandboxRequest) -> Result<String> {
        let config = req
            .config
            .ok_or_else(|| CriError::invalid("pod sandbox config must not be empty"))?;
        let md = config
            .metadata
            .clone()
            .ok_or_else(|| CriError::invalid("pod sandbox metadata must not be empty"))?;
        if md.name.is_empty() {
            return Err(CriError::invalid("pod sandbox name must not be empty"));
        }
        let id = crate::random_id();
        let linux = config.linux.clone().unwrap_or_default();
        let ns = namespace_options(linux.security_context.as_ref());
        let cgroup_parent = if linux.cgroup_parent.is_empty() {
            self.cfg.cgroup_parent.clone()
        } else {
            linux.cgroup_parent.clone()
        };
        let mut rec = SandboxRecord {
            id: id.clone(),
            config: config.encode_to_vec(),
            runtime_handler: req.runtime_handler,
            created_at: crate::time::now_ns(),
            cgroup_parent,
            ..Default::default()
        };
        {
            let _names = self.names.lock().unwrap_or_else(|p| p.into_inner());
            let taken = self.sandboxes()?.into_iter().any(|s| {
                s.config().metadata.is_some_and(|m| {
                    m.name == md.name
                        && m.namespace == md.namespace
                        && m.uid == md.uid
                        && m.attempt == md.attempt
                })
            });
            if taken {
                return Err(CriError::new(
                    crate::error::Kind::State,
                    format!(
                        "pod sandbox name {}_{}_{}_{} is reserved",
                        md.name, md.namespace, md.uid, md.attempt
                    ),
                ));
            }
            // Recorded first: whatever a crash leaves behind, a remove of
            // this id cleans up.
            self.engine
                .store()
                .meta()
                .write(|w| w.put(Table::CriSandboxes, &id, &rec))?;
        }
        match self.start_sandbox(&mut rec, &config, &ns) {
            Ok(()) => {
                self.engine
                    .store()
                    .meta()
                    .write(|w| w.put(Table::CriSandboxes, &id, &rec))?;
                self.events.sandbox_changed(&id);
                Ok(id)
            }
            Err(e) => {
                if let Err(e) = self.remove_sandbox_files(&rec) {
                    tracing::debug!("remove the files of a sandbox whose creation failed: {e}");
                }
                if let Err(e) = self
                    .engine
                    .store()
                    .meta()
                    .write(|w| w.delete(Table::CriSandboxes, &id))
                {
                    tracing::debug!("release a sandbox whose creation failed: {e}");
                }
                Err(e)
            }
        }
    }

    fn start_sandbox(
        &self,
        rec: &mut SandboxRecord,
        config: &api::PodSandboxConfig,
        ns: &api::NamespaceOption,
    ) -> Result<()> {
        let dir = self.sandbox_dir(&rec.id);
        let io = |what: &str, p: &Path, e: std::io::Error| {
            CriError::internal(format!("{what} {}: {e}", p.display()))
        };
        std::fs::create_dir_all(dir.join("rootfs")).map_err(|e| io("create", &dir, e))?;
        let host_net = ns.network == NamespaceMode::Node as i32;
        if !host_net {
            let path = self.netns_path(&rec.id);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
            }
            engine::net::netns::loopback_only(&path).map_err(|e| io("make netns", &path, e))?;
            rec.netns = path.display().to_string();
            let added = self.cni.add(&rec.id, &path, config)?;
            rec.ip = added.ip;
            rec.cni_network = added.network;
        }
        // The host's name on its network or when the pod names none, as
        // containerd's.
        let hostname = if host_net || config.hostname.is_empty() {
            nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_default()
        } else {
            config.hostname.clone()
        };
        write_etc(
            &dir,
            &hostname,
            host_net,
            &rec.ip,
            config.dns_config.as_ref(),
        )
        .map_err(|e| io("write files of", &dir, e))?;
        if ns.ipc != NamespaceMode::Node as i32 {
            let shm = dir.join("shm");
            std::fs::create_dir_all(&shm).map_err(|e| io("create", &shm, e))?;
            engine::spec::namespaces::mount_shm(&shm, engine::spec::resources::DEFAULT_SHM_SIZE)
                .map_err(|e| CriError::internal(format!("mount the pod's shm: {e}")))?;
        }
        let spec = pause_spec(rec, config, ns, &dir, &hostname);
        std::fs::write(dir.join("config.json"), spec.to_string())
            .map_err(|e| io("write", &dir, e))?;
        std::fs::write(
            dir.join(shim_proto::files::LOG_OPTS),
            r#"{"driver":"none"}"#,
        )
        .map_err(|e| io("write", &dir, e))?;
        crate::shim::start(&self.cfg, &dir, &rec.id, false)?;
        Ok(())
    }

    /// `StopPodSandbox`: stops its containers and the infra process, tears
    /// the network down; idempotent.
    pub fn stop_pod_sandbox(&self, id: &str) -> Result<()> {
        let mut s = match self.sandbox(id) {
            Ok(s) => s,
            // The kubelet may retry a stop of a sandbox already gone.
            Err(e) if e.kind == crate::error::Kind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for c in self
            .containers()?
            .into_iter()
            .filter(|c| c.sandbox_id == s.id)
        {
            self.stop_container(&c.id, 0)?;
        }
        let dir = self.sandbox_dir(&s.id);
        if let Live::Running(_) = self.sandbox_live(&s) {
            crate::shim::kill(&self.cfg, &s.id, nix::sys::signal::Signal::SIGKILL, true);
            crate::shim::wait_exit(&dir, std::time::Duration::from_secs(10));
        }
        if !s.netns.is_empty() && !s.stopped {
            self.cni
                .del(&s.id, Path::new(&s.netns), &s.config(), &s.cni_network);
        }
        if !s.stopped {
            s.stopped = true;
            self.engine
                .store()
                .meta()
                .write(|w| w.put(Table::CriSandboxes, &s.id, &s))?;
            self.events.sandbox_changed(&s.id);
        }
        Ok(())
    }

    /// `RemovePodSandbox`: its containers go too; idempotent.
    pub fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        let s = match self.sandbox(id) {
            Ok(s) => s,
            Err(e) if e.kind == crate::error::Kind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        self.stop_pod_sandbox(&s.id)?;
        for c in self
            .containers()?
            .into_iter()
            .filter(|c| c.sandbox_id == s.id)
        {
            self.remove_container(&c.id)?;
        }
        self.remove_sandbox_files(&s)?;
        self.engine
            .store()
            .meta()
            .write(|w| w.delete(Table::CriSandboxes, &s.id))?;
        Ok(())
    }

    fn remove_sandbox_files(&self, s: &SandboxRecord) -> Result<()> {
        let dir = self.sandbox_dir(&s.id);
        if let Live::Running(_) = self.sandbox_live(s) {
            crate::shim::kill(&self.cfg, &s.id, nix::sys::signal::Signal::SIGKILL, true);
            crate::shim::wait_exit(&dir, std::time::Duration::from_secs(10));
        }
        crate::shim::delete(&self.cfg, &s.id);
        if !s.netns.is_empty() {
            if !s.stopped {
                self.cni
                    .del(&s.id, Path::new(&s.netns), &s.config(), &s.cni_network);
            }
            if let Err(e) = engine::net::netns::remove(Path::new(&s.netns)) {
                tracing::debug!("remove the sandbox's network namespace: {e}");
            }
        }
        if let Err(e) = nix::mount::umount2(&dir.join("shm"), nix::mount::MntFlags::MNT_DETACH) {
            tracing::debug!("unmount the sandbox's shm: {e}");
        }
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(CriError::internal(format!("remove {}: {e}", dir.display()))),
        }
    }

    /// `PodSandboxStatus`.
    pub fn pod_sandbox_status(
        &self,
        id: &str,
        verbose: bool,
    ) -> Result<api::PodSandboxStatusResponse> {
        let s = self.sandbox(id)?;
        let config = s.config();
        let linux = config.linux.clone().unwrap_or_default();
        let ns = namespace_options(linux.security_context.as_ref());
        let mut info = HashMap::new();
        if verbose {
            let pid = match self.sandbox_live(&s) {
                Live::Running(p) => p,
                _ => 0,
            };
            info.insert(
                "info".to_string(),
                json!({"pid": pid, "netns": s.netns, "cniNetwork": s.cni_network, "cgroupParent": s.cgroup_parent, "runtimeHandler": s.runtime_handler}).to_string(),
            );
        }
        Ok(api::PodSandboxStatusResponse {
            status: Some(api::PodSandboxStatus {
                id: s.id.clone(),
                metadata: config.metadata.clone(),
                state: self.sandbox_state(&s) as i32,
                created_at: s.created_at,
                network: Some(api::PodSandboxNetworkStatus {
                    ip: s.ip.clone(),
                    additional_ips: Vec::new(),
                }),
                linux: Some(api::LinuxPodSandboxStatus {
                    namespaces: Some(api::Namespace { options: Some(ns) }),
                }),
                labels: config.labels.clone(),
                annotations: config.annotations.clone(),
                runtime_handler: s.runtime_handler.clone(),
            }),
            info,
            containers_statuses: Vec::new(),
            timestamp: 0,
        })
    }

    fn sandbox_state(&self, s: &SandboxRecord) -> api::PodSandboxState {
        if self.sandbox_ready(s) {
            api::PodSandboxState::SandboxReady
        } else {
            api::PodSandboxState::SandboxNotready
        }
    }

    /// `ListPodSandbox`.
    pub fn list_pod_sandbox(
        &self,
        filter: Option<&api::PodSandboxFilter>,
    ) -> Result<Vec<api::PodSandbox>> {
        let mut out = Vec::new();
        for s in self.sandboxes()? {
            let config = s.config();
            let state = self.sandbox_state(&s);
            if let Some(f) = filter {
                if !f.id.is_empty() && !s.id.starts_with(&f.id) {
                    continue;
                }
                if f.state.as_ref().is_some_and(|v| v.state != state as i32) {
                    continue;
                }
                if !labels_match(&config.labels, &f.label_selector) {
                    continue;
                }
            }
            out.push(api::PodSandbox {
                id: s.id.clone(),
                metadata: config.metadata.clone(),
                state: state as i32,
                created_at: s.created_at,
                labels: config.labels.clone(),
                annotations: config.annotations.clone(),
                runtime_handler: s.runtime_handler.clone(),
            });
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(out)
    }
}

/// Whether every selector label is on the object with the same value.
pub fn labels_match(labels: &HashMap<String, String>, selector: &HashMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The namespace options of a pod's security context (all `POD` when
/// absent).
pub fn namespace_options(sc: Option<&api::LinuxSandboxSecurityContext>) -> api::NamespaceOption {
    sc.and_then(|s| s.namespace_options.clone())
        .unwrap_or_default()
}

/// The pod's `/etc` files: `hostname`; `hosts` (the host's on its
/// network); `resolv.conf` from the DNS config, else the host's.
fn write_etc(
    dir: &Path,
    hostname: &str,
    host_net: bool,
    ip: &str,
    dns: Option<&api::DnsConfig>,
) -> std::io::Result<()> {
    std::fs::write(dir.join("hostname"), format!("{hostname}\n"))?;
    const BASE: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";
    let hosts = if host_net {
        std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| BASE.to_string())
    } else if ip.is_empty() {
        BASE.to_string()
    } else {
        format!("{BASE}{ip}\t{hostname}\n")
    };
    std::fs::write(dir.join("hosts"), hosts)?;
    let resolv = match dns {
        Some(d) if !(d.servers.is_empty() && d.searches.is_empty() && d.options.is_empty()) => {
            let mut s = String::new();
            for server in &d.servers {
                s.push_str(&format!("nameserver {server}\n"));
            }
            if !d.searches.is_empty() {
                s.push_str(&format!("search {}\n", d.searches.join(" ")));
            }
            if !d.options.is_empty() {
                s.push_str(&format!("options {}\n", d.options.join(" ")));
            }
            s
        }
        _ => std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
    };
    std::fs::write(dir.join("resolv.conf"), resolv)
}

/// The infra process's spec: an empty root, the runtime's `pause` init,
/// no capabilities, the pod's namespaces, sysctls and cgroup.
fn pause_spec(
    rec: &SandboxRecord,
    config: &api::PodSandboxConfig,
    ns: &api::NamespaceOption,
    dir: &Path,
    hostname: &str,
) -> serde_json::Value {
    let host_net = ns.network == NamespaceMode::Node as i32;
    let mut namespaces = vec![json!({"type": "mount"})];
    if ns.pid != NamespaceMode::Node as i32 {
        namespaces.push(json!({"type": "pid"}));
    }
    if ns.ipc != NamespaceMode::Node as i32 {
        namespaces.push(json!({"type": "ipc"}));
    }
    if !host_net {
        namespaces.push(json!({"type": "uts"}));
        namespaces.push(json!({"type": "network", "path": rec.netns}));
    }
    let sysctls: HashMap<String, String> = config
        .linux
        .as_ref()
        .map(|l| l.sysctls.clone())
        .unwrap_or_default();
    let mut spec = json!({
        "ociVersion": "1.2.0",
        "root": {"path": dir.join("rootfs"), "readonly": false},
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/pause"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "cwd": "/",
            "capabilities": {"bounding": [], "effective": [], "permitted": []},
            "noNewPrivileges": true,
            "oomScoreAdj": crate::spec::oom_score_adj(-998),
        },
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        ],
        "linux": {
            "namespaces": namespaces,
            "cgroupsPath": format!("{}/{}", rec.cgroup_parent.trim_end_matches('/'), rec.id),
            "sysctl": sysctls,
            "resources": {},
            "maskedPaths": crate::spec::MASKED_PATHS,
            "readonlyPaths": crate::spec::READONLY_PATHS,
        },
        "annotations": {runtime::process::INIT_ANNOTATION: "pause"},
    });
    if !host_net {
        spec["hostname"] = json!(hostname);
    }
    spec
}
