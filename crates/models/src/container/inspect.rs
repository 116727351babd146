//! `GET /containers/{id}/json` and `GET /containers/json` (API 1.47's
//! `ContainerJSON` and `Container`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Config, HostConfig};
use crate::mount::MountPoint;
use crate::network::{NetworkSettings, SummaryNetworkSettings};

/// `ContainerJSON`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Inspect {
    /// 64 hex characters.
    #[serde(rename = "Id")]
    pub id: String,
    /// Creation time (RFC 3339, nanoseconds).
    pub created: String,
    /// The command's first word.
    pub path: String,
    /// The rest of it.
    pub args: Vec<String>,
    /// Its live state.
    pub state: Option<State>,
    /// The image's id.
    pub image: String,
    /// Paths of the files berth binds into it.
    pub resolv_conf_path: String,
    /// `/etc/hostname`'s source.
    pub hostname_path: String,
    /// `/etc/hosts`'s source.
    pub hosts_path: String,
    /// The json-file log.
    pub log_path: String,
    /// `/name`.
    pub name: String,
    /// Restarts by its policy.
    pub restart_count: i64,
    /// `overlay2`.
    pub driver: String,
    /// `linux`.
    pub platform: String,
    /// SELinux.
    pub mount_label: String,
    /// SELinux.
    pub process_label: String,
    /// AppArmor.
    pub app_armor_profile: String,
    /// Running execs.
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    /// What the host gives it.
    pub host_config: Option<HostConfig>,
    /// Its storage.
    pub graph_driver: GraphDriver,
    /// Bytes of its writable layer (with `size=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    /// Bytes of its whole root filesystem (with `size=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    /// Its mounts.
    pub mounts: Vec<MountPoint>,
    /// Its config.
    pub config: Option<Config>,
    /// Its network.
    pub network_settings: Option<NetworkSettings>,
}

/// `ContainerState`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct State {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`.
    pub status: String,
    /// Running (paused too).
    pub running: bool,
    /// Frozen.
    pub paused: bool,
    /// Waiting to be restarted.
    pub restarting: bool,
    /// The last run ended by the OOM killer.
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Dead.
    pub dead: bool,
    /// The init's pid while running, else 0.
    pub pid: i64,
    /// The last exit code.
    pub exit_code: i64,
    /// Why the last start failed.
    pub error: String,
    /// RFC 3339 (`0001-01-01T00:00:00Z` for never).
    pub started_at: String,
    /// RFC 3339 (`0001-01-01T00:00:00Z` for never).
    pub finished_at: String,
    /// With a healthcheck.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// `Health`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy`, `unhealthy`.
    pub status: String,
    /// Consecutive failures.
    pub failing_streak: i64,
    /// The last results, oldest first.
    pub log: Option<Vec<HealthcheckResult>>,
}

/// One healthcheck probe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct HealthcheckResult {
    /// When it started (RFC 3339).
    pub start: String,
    /// When it ended.
    pub end: String,
    /// 0 healthy, 1 unhealthy.
    pub exit_code: i64,
    /// Its output.
    pub output: String,
}

/// `GraphDriverData`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct GraphDriver {
    /// `overlay2`.
    pub name: String,
    /// `MergedDir`, `UpperDir`, `WorkDir`, `LowerDir`.
    pub data: Option<BTreeMap<String, String>>,
}

/// One entry of `GET /containers/json` (`types.Container`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Summary {
    /// 64 hex characters.
    #[serde(rename = "Id")]
    pub id: String,
    /// `/name`.
    pub names: Vec<String>,
    /// The image as the user named it.
    pub image: String,
    /// The image's id.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// Entrypoint and command, joined.
    pub command: String,
    /// Creation time, seconds since the epoch.
    pub created: i64,
    /// Exposed and published ports.
    pub ports: Vec<Port>,
    /// Bytes of its writable layer (with `size=true`).
    #[serde(skip_serializing_if = "crate::is_default")]
    pub size_rw: i64,
    /// Bytes of its root filesystem (with `size=true`).
    #[serde(skip_serializing_if = "crate::is_default")]
    pub size_root_fs: i64,
    /// Labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// `running`, `exited`, …
    pub state: String,
    /// `Up 5 minutes`, `Exited (0) 2 seconds ago`.
    pub status: String,
    /// Its network mode.
    pub host_config: SummaryHostConfig,
    /// Its networks.
    pub network_settings: Option<SummaryNetworkSettings>,
    /// Its mounts.
    pub mounts: Vec<MountPoint>,
}

/// `HostConfig` of a list entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SummaryHostConfig {
    /// `bridge`, `host`, …
    #[serde(skip_serializing_if = "String::is_empty")]
    pub network_mode: String,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A port of a list entry (`types.Port`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Port {
    /// The host address of a published port.
    #[serde(rename = "IP", skip_serializing_if = "String::is_empty")]
    pub ip: String,
    /// The container's port.
    #[serde(rename = "PrivatePort")]
    pub private_port: u16,
    /// The host's port (published only).
    #[serde(rename = "PublicPort", skip_serializing_if = "crate::is_default")]
    pub public_port: u16,
    /// `tcp`, `udp`, `sctp`.
    #[serde(rename = "Type")]
    pub typ: String,
}

/// Whether a network of a container's `Networks` is one the user made
/// (Go's `NetworkMode.IsUserDefined`): not `default`, `bridge`, `host`,
/// `none`, nor a `container:` peer.
fn user_defined(network: &str) -> bool {
    !matches!(network, "default" | "bridge" | "host" | "none") && !network.starts_with("container:")
}

impl Inspect {
    /// What dockerd 27 changes for older clients (moby's
    /// `daemon.ContainerInspect`, API version history): before 1.45 the
    /// `Aliases` of an endpoint on a user-defined network also hold the
    /// short container id and the hostname (`DNSNames` took them over
    /// from 1.45 on, `Aliases` then being what the create asked for).
    pub fn for_version(&mut self, v: crate::image::ApiVersion) {
        if v >= (1, 45) {
            return;
        }
        let short: String = self.id.chars().take(12).collect();
        let hostname = self
            .config
            .as_ref()
            .map(|c| c.hostname.clone())
            .unwrap_or_default();
        let networks = self
            .network_settings
            .iter_mut()
            .flat_map(|n| n.networks.iter_mut().flatten());
        for (name, ep) in networks {
            if !user_defined(name) {
                continue;
            }
            // `sliceutil.Dedup(append(Aliases, shortCID, Hostname))`: the
            // first of each value stays, in order.
            let mut all = ep.aliases.take().unwrap_or_default();
            all.extend([short.clone(), hostname.clone()]);
            let mut seen = std::collections::BTreeSet::new();
            all.retain(|a| seen.insert(a.clone()));
            ep.aliases = Some(all);
        }
    }
}

impl Summary {
    /// What dockerd 27 changes for older clients (moby's
    /// `getContainersJSON`): no `HostConfig.Annotations` before 1.46.
    pub fn for_version(&mut self, v: crate::image::ApiVersion) {
        if v < (1, 46) {
            self.host_config.annotations.clear();
        }
    }
}
