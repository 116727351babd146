//! Containers: the create body and its parts, `inspect`, the list, and the
//! small answers (`wait`, `top`, `changes`, `update`, `prune`).

mod config;
mod host_config;
mod inspect;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub use config::{Config, HealthConfig};
pub use host_config::{
    DeviceMapping, DeviceRequest, HostConfig, LogConfig, PortBinding, RestartPolicy,
    ThrottleDevice, Ulimit, WeightDevice,
};
pub use inspect::{
    GraphDriver, Health, HealthcheckResult, Inspect, Port, State, Summary, SummaryHostConfig,
};

use crate::network::NetworkingConfig;

/// `POST /containers/create`: moby's `ContainerConfigWrapper`, a `Config`
/// with `HostConfig` and `NetworkingConfig` beside its fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CreateBody {
    /// The container's config.
    #[serde(flatten)]
    pub config: Config,
    /// What the host gives it.
    #[serde(rename = "HostConfig")]
    pub host_config: HostConfig,
    /// The networks it joins.
    #[serde(rename = "NetworkingConfig")]
    pub networking_config: NetworkingConfig,
}

/// The body's own fields besides the config's.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Wrapper {
    #[serde(rename = "HostConfig")]
    host_config: HostConfig,
    #[serde(rename = "NetworkingConfig")]
    networking_config: NetworkingConfig,
}

impl<'de> Deserialize<'de> for CreateBody {
    /// Go embeds the `Config` in the wrapper; serde's `flatten` would lose
    /// the field names that Go's key matching needs, so the body is read
    /// twice, as the config and as the wrapper, each with Go's rules.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let config: Config = crate::de::from_value(v.clone()).map_err(D::Error::custom)?;
        let w: Wrapper = crate::de::from_value(v).map_err(D::Error::custom)?;
        Ok(CreateBody {
            config,
            host_config: w.host_config,
            networking_config: w.networking_config,
        })
    }
}

/// `POST /containers/create`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateResponse {
    /// The new container's id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Warnings (an empty list, never null).
    #[serde(rename = "Warnings")]
    pub warnings: Vec<String>,
}

/// `POST /containers/{id}/wait`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct WaitResponse {
    /// The exit code.
    pub status_code: i64,
    /// Why waiting failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<WaitError>,
}

/// The error of a wait.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct WaitError {
    /// What went wrong.
    pub message: String,
}

/// `GET /containers/{id}/top`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TopResponse {
    /// Column titles.
    pub titles: Vec<String>,
    /// One row per process.
    pub processes: Vec<Vec<String>>,
}

/// One entry of `GET /containers/{id}/changes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct FilesystemChange {
    /// The path.
    pub path: String,
    /// 0 modified, 1 added, 2 deleted.
    pub kind: u8,
}

/// `POST /containers/prune`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PruneReport {
    /// Ids of the removed containers.
    pub containers_deleted: Option<Vec<String>>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

/// `POST /containers/{id}/update`'s body: moby's `UpdateConfig`, the
/// `Resources` of a `HostConfig` and its `RestartPolicy`. It is those
/// fields of a [`HostConfig`], read with Go's rules (the others are
/// ignored, as dockerd ignores keys its struct lacks); a zero keeps what
/// the container has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UpdateConfig(pub HostConfig);

/// `POST /containers/{id}/update`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpdateResponse {
    /// Warnings.
    pub warnings: Option<Vec<String>>,
}

/// `HEAD`/`GET /containers/{id}/archive`'s `X-Docker-Container-Path-Stat`
/// (base64 of this JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PathStat {
    /// The base name.
    pub name: String,
    /// Bytes.
    pub size: i64,
    /// Go's `os.FileMode` bits (type bits above the permission bits).
    pub mode: u32,
    /// Modification time (RFC 3339).
    pub mtime: String,
    /// A symlink's target.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}
