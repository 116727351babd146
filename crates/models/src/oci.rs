//! Image configs, manifests and indexes: what registries, archives and the
//! store hold (OCI image-spec and Docker's schema 2, which share them).
//!
//! A config is read with Go's rules (Docker's own configs carry
//! `"Env":null`, `"Volumes":null`, a `container_config` full of nulls,
//! times with nanoseconds and offsets) and every field Docker's `image.Image`
//! knows is read; what berth writes for the images it makes is the OCI
//! form, every empty field left out. A config read from outside is never
//! written back: its bytes are kept as they came, since the image id is
//! their digest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::{Config, HealthConfig};
use crate::{is_default, Empty};

/// An image config (`application/vnd.oci.image.config.v1+json`, Docker's
/// `application/vnd.docker.container.image.v1+json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(default)]
pub struct ImageConfig {
    /// CPU architecture (`amd64`).
    pub architecture: String,
    /// OS (`linux`).
    pub os: String,
    /// CPU variant (`v8`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Creation time, RFC 3339 (any offset, up to nanoseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Author.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// What containers inherit.
    pub config: RunConfig,
    /// Layers.
    pub rootfs: RootFs,
    /// One entry per step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Legacy v1 id (old Docker).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Legacy v1 parent id.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub parent: String,
    /// The commit message (Docker).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// The container a classic build or commit came from (Docker).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub container: String,
    /// That container's config (Docker before 25).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_config: Option<Config>,
    /// The Docker that made it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub docker_version: String,
    /// Windows: the OS version.
    #[serde(rename = "os.version", skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    /// Required OS features.
    #[serde(rename = "os.features", skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

/// `config` of an image config: the OCI `ImageConfig` with Docker's
/// additions (`Healthcheck`, `OnBuild`, `Shell`). Docker writes its whole
/// `container.Config` here (`Hostname`, `AttachStdin`, `Image`…): those
/// are read and dropped, as they say nothing to a new container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RunConfig {
    /// `USER`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// `EXPOSE`: `"80/tcp": {}`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, Empty>,
    /// `ENV`, `KEY=value`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// `ENTRYPOINT`.
    #[serde(
        deserialize_with = "crate::de::str_slice",
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    /// `CMD`.
    #[serde(
        deserialize_with = "crate::de::str_slice",
        skip_serializing_if = "Option::is_none"
    )]
    pub cmd: Option<Vec<String>>,
    /// `VOLUME`: `"/data": {}`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Empty>,
    /// `WORKDIR`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// `LABEL`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `STOPSIGNAL`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    /// `ONBUILD` triggers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub on_build: Vec<String>,
    /// `SHELL`.
    #[serde(
        deserialize_with = "crate::de::str_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub shell: Vec<String>,
    /// `HEALTHCHECK`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    /// Windows only.
    #[serde(skip_serializing_if = "is_default")]
    pub args_escaped: bool,
}

/// `rootfs` of an image config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub typ: String,
    /// Diff ids, bottom first.
    pub diff_ids: Vec<String>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            typ: "layers".into(),
            diff_ids: Vec::new(),
        }
    }
}

/// One `history` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct History {
    /// When (RFC 3339).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created: String,
    /// The instruction.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    /// A comment (`Imported from -`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// Author.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// True when the step made no layer.
    #[serde(skip_serializing_if = "is_default")]
    pub empty_layer: bool,
}

impl ImageConfig {
    /// The config as berth writes it for an image it makes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("configs serialise")
    }
}

/// A content descriptor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Descriptor {
    /// Its media type.
    pub media_type: String,
    /// `sha256:…`.
    pub digest: String,
    /// Bytes.
    pub size: i64,
    /// Where else it may be fetched from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Annotations (`org.opencontainers.image.ref.name`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// In an index: the manifest's platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// In a manifest: the artifact type.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub artifact_type: String,
}

/// A platform of an index entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Platform {
    /// `amd64`.
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// Windows.
    #[serde(rename = "os.version", skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    /// Required OS features.
    #[serde(rename = "os.features", skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// `v8`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

/// An image manifest (OCI, or Docker's schema 2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(default, rename_all = "camelCase")]
pub struct Manifest {
    /// 2.
    pub schema_version: i64,
    /// Its media type.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    /// The config.
    pub config: Descriptor,
    /// The layers, bottom first.
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(default, rename_all = "camelCase")]
pub struct Index {
    /// 2.
    pub schema_version: i64,
    /// Its media type.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    /// The manifests.
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl From<&RunConfig> for Config {
    /// The image's config as a container's (`inspect`'s `Config`): Go's
    /// `container.Config`, nil where the image has nothing.
    fn from(r: &RunConfig) -> Config {
        let nil_if_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        Config {
            user: r.user.clone(),
            exposed_ports: r.exposed_ports.clone(),
            env: nil_if_empty(&r.env),
            cmd: r.cmd.clone(),
            healthcheck: r.healthcheck.clone(),
            args_escaped: r.args_escaped,
            volumes: (!r.volumes.is_empty()).then(|| r.volumes.clone()),
            working_dir: r.working_dir.clone(),
            entrypoint: r.entrypoint.clone(),
            on_build: nil_if_empty(&r.on_build),
            labels: (!r.labels.is_empty()).then(|| r.labels.clone()),
            stop_signal: r.stop_signal.clone(),
            shell: r.shell.clone(),
            ..Config::default()
        }
    }
}

crate::go_json!(ImageConfig, Manifest, Index);
