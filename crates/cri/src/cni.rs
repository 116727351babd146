//! Pod networking through CNI, as containerd and CRI-O do it: the first
//! network config (`*.conflist`, `*.conf`, `*.json`, by name) of the conf
//! directory (`/etc/cni/net.d`), its plugins run in order from the plugin
//! directories (Debian's `containernetworking-plugins` in `/usr/lib/cni`)
//! with `CNI_COMMAND=ADD` and the previous plugin's result, and `DEL` in
//! reverse order when the pod stops. The pod's port mappings go to the
//! plugins that declare the `portMappings` capability (`portmap`).
//!
//! With no config in the directory, a default one is used (and nothing is
//! written there): a `bridge` network `berth-cri` on `cni-berth0` with
//! `host-local` addresses from [`DEFAULT_SUBNET`] (kept under the CRI's
//! state directory), then `portmap` and `loopback`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::api;
use crate::error::{CriError, Result};

/// The default network's subnet.
pub const DEFAULT_SUBNET: &str = "10.88.0.0/16";
/// A plugin's answer larger than this is refused.
const MAX_RESULT: usize = 1 << 20;
/// The CNI spec version the default config speaks.
const VERSION: &str = "0.4.0";

/// What an ADD gave the pod.
#[derive(Debug, Default)]
pub struct Added {
    /// The pod's first IPv4 address (without prefix), or empty.
    pub ip: String,
    /// The network's name.
    pub network: String,
}

/// The CNI settings.
#[derive(Debug, Clone)]
pub struct Cni {
    conf_dir: PathBuf,
    bin_dirs: Vec<PathBuf>,
    /// Where host-local keeps the default network's leases, and where each
    /// pod's last result is cached for its DEL.
    state: PathBuf,
}

impl Cni {
    /// CNI over `conf_dir`'s configs and `bin_dirs`' plugins.
    pub fn new(conf_dir: PathBuf, bin_dirs: Vec<PathBuf>, state: PathBuf) -> Cni {
        Cni {
            conf_dir,
            bin_dirs,
            state,
        }
    }

    /// The network list in force: the conf directory's first, else the
    /// default.
    pub fn network(&self) -> Result<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.conf_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("conflist" | "conf" | "json")
                )
            })
            .collect();
        files.sort();
        let Some(first) = files.first() else {
            return Ok(self.default_network());
        };
        let text = std::fs::read_to_string(first)
            .map_err(|e| CriError::internal(format!("read {}: {e}", first.display())))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| CriError::internal(format!("parse {}: {e}", first.display())))?;
        // A single `.conf` is a list of one.
        if v.get("plugins").is_some() {
            Ok(v)
        } else {
            Ok(json!({
                "cniVersion": v["cniVersion"],
                "name": v["name"],
                "plugins": [v],
            }))
        }
    }

    fn default_network(&self) -> Value {
        json!({
            "cniVersion": VERSION,
            "name": "berth-cri",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": "cni-berth0",
                    "isGateway": true,
                    "ipMasq": true,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "ranges": [[{"subnet": DEFAULT_SUBNET}]],
                        "dataDir": self.state.join("networks"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": true}},
                {"type": "loopback"},
            ],
        })
    }

    /// Whether the network is usable: a config (or the default) whose
    /// plugins are all installed. The reason when not.
    pub fn ready(&self) -> std::result::Result<(), String> {
        let net = self.network().map_err(|e| e.message)?;
        for p in net["plugins"].as_array().into_iter().flatten() {
            let typ = p["type"].as_str().unwrap_or("");
            if self.plugin(typ).is_none() {
                return Err(format!("cni plugin {typ:?} not found"));
            }
        }
        Ok(())
    }

    fn plugin(&self, typ: &str) -> Option<PathBuf> {
        if typ.is_empty() || typ.contains('/') {
            return None;
        }
        self.bin_dirs
            .iter()
            .map(|d| d.join(typ))
            .find(|p| p.is_file())
    }

    fn cache(&self, id: &str) -> PathBuf {
        self.state.join("results").join(id)
    }

    /// Adds the pod `id` (network namespace at `netns`) to the network.
    pub fn add(&self, id: &str, netns: &Path, config: &api::PodSandboxConfig) -> Result<Added> {
        let net = self.network()?;
        let name = net["name"].as_str().unwrap_or("").to_string();
        let args = pod_args(config);
        let mut prev: Option<Value> = None;
        for p in net["plugins"].as_array().into_iter().flatten() {
            let conf = plugin_conf(&net, p, prev.as_ref(), config);
            match self.exec("ADD", id, netns, &conf, &args) {
                Ok(r) => prev = Some(r),
                Err(e) => {
                    // Undo what the plugins before did.
                    self.del_with(id, netns, &net, prev.as_ref(), config);
                    return Err(e);
                }
            }
        }
        let result = prev.unwrap_or_else(|| json!({}));
        if let Some(parent) = self.cache(id).parent() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                tracing::debug!(path = ?parent, "make the CNI cache directory: {e}");
            }
        }
        if let Err(e) = std::fs::write(self.cache(id), result.to_string()) {
            tracing::debug!(path = ?self.cache(id), "write the CNI result cache: {e}");
        }
        let ip = result["ips"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["address"].as_str())
            .filter_map(|a| a.split('/').next())
            .find(|a| a.parse::<std::net::Ipv4Addr>().is_ok())
            .unwrap_or("")
            .to_string();
        Ok(Added { ip, network: name })
    }

    /// Removes the pod from the network (errors are ignored: the pod goes
    /// anyway, as the kubelet expects of a stop).
    pub fn del(&self, id: &str, netns: &Path, config: &api::PodSandboxConfig, _network: &str) {
        let Ok(net) = self.network() else { return };
        let prev: Option<Value> = std::fs::read(self.cache(id))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        self.del_with(id, netns, &net, prev.as_ref(), config);
        if let Err(e) = std::fs::remove_file(self.cache(id)) {
            tracing::debug!(path = ?self.cache(id), "remove the CNI result cache: {e}");
        }
    }

    fn del_with(
        &self,
        id: &str,
        netns: &Path,
        net: &Value,
        prev: Option<&Value>,
        config: &api::PodSandboxConfig,
    ) {
        let args = pod_args(config);
        for p in net["plugins"].as_array().into_iter().flatten().rev() {
            let conf = plugin_conf(net, p, prev, config);
            if let Err(e) = self.exec("DEL", id, netns, &conf, &args) {
                tracing::debug!("CNI DEL of {id}: {e}");
            }
        }
    }

    fn exec(
        &self,
        command: &str,
        id: &str,
        netns: &Path,
        conf: &Value,
        args: &str,
    ) -> Result<Value> {
        let typ = conf["type"].as_str().unwrap_or("");
        let bin = self
            .plugin(typ)
            .ok_or_else(|| CriError::internal(format!("cni plugin {typ:?} not found")))?;
        let path = std::env::join_paths(&self.bin_dirs).unwrap_or_default();
        let mut child = Command::new(&bin)
            .env_clear()
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", id)
            .env("CNI_NETNS", netns)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", path)
            .env("CNI_ARGS", args)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| CriError::internal(format!("run cni plugin {}: {e}", bin.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A plugin that exits without reading its config fails, and says why, below.
            let _ = stdin.write_all(conf.to_string().as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| CriError::internal(format!("cni plugin {typ}: {e}")))?;
        if out.stdout.len() > MAX_RESULT {
            return Err(CriError::internal(format!(
                "cni plugin {typ}: result too large"
            )));
        }
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if !out.status.success() || v.get("code").is_some() {
            let msg = v["msg"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| String::from_utf8_lossy(&out.stderr).trim().to_string());
            return Err(CriError::internal(format!(
                "cni plugin {typ} {command} failed: {msg}"
            )));
        }
        Ok(v)
    }
}

/// The pod's identity for plugins, as the kubelet's runtimes pass it.
fn pod_args(config: &api::PodSandboxConfig) -> String {
    let md = config.metadata.clone().unwrap_or_default();
    format!(
        "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_UID={}",
        md.namespace, md.name, md.uid
    )
}

/// One plugin's stdin: its config with the list's name and version, the
/// previous result, and the runtime config its capabilities ask for.
fn plugin_conf(
    net: &Value,
    plugin: &Value,
    prev: Option<&Value>,
    config: &api::PodSandboxConfig,
) -> Value {
    let mut conf = plugin.clone();
    conf["name"] = net["name"].clone();
    conf["cniVersion"] = net["cniVersion"].clone();
    if let Some(p) = prev {
        conf["prevResult"] = p.clone();
    }
    let caps: HashMap<String, bool> =
        serde_json::from_value(plugin["capabilities"].clone()).unwrap_or_default();
    if caps.get("portMappings") == Some(&true) {
        let maps: Vec<Value> = config
            .port_mappings
            .iter()
            .filter(|m| m.host_port > 0)
            .map(|m| {
                let proto = match api::Protocol::try_from(m.protocol) {
                    Ok(api::Protocol::Udp) => "udp",
                    Ok(api::Protocol::Sctp) => "sctp",
                    _ => "tcp",
                };
                let mut v = json!({"hostPort": m.host_port, "containerPort": m.container_port, "protocol": proto});
                if !m.host_ip.is_empty() {
                    v["hostIP"] = json!(m.host_ip);
                }
                v
            })
            .collect();
        conf["runtimeConfig"] = json!({"portMappings": maps});
    }
    conf
}
