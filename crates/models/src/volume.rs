//! Volumes (API 1.47's `volume` types).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A volume as `GET /volumes/{name}` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Volume {
    /// When it was made (RFC 3339).
    #[serde(rename = "CreatedAt", skip_serializing_if = "String::is_empty")]
    pub created_at: String,
    /// `local`.
    #[serde(rename = "Driver")]
    pub driver: String,
    /// Labels.
    #[serde(rename = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Its directory on the host.
    #[serde(rename = "Mountpoint")]
    pub mountpoint: String,
    /// Its name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Driver options.
    #[serde(rename = "Options")]
    pub options: Option<BTreeMap<String, String>>,
    /// `local`.
    #[serde(rename = "Scope")]
    pub scope: String,
    /// Driver-specific status.
    #[serde(rename = "Status", skip_serializing_if = "BTreeMap::is_empty")]
    pub status: BTreeMap<String, String>,
    /// With `system df`: its size and users.
    #[serde(rename = "UsageData", skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<UsageData>,
}

/// `UsageData` of a volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageData {
    /// Containers using it (-1: not counted).
    #[serde(rename = "RefCount")]
    pub ref_count: i64,
    /// Bytes (-1: not counted).
    #[serde(rename = "Size")]
    pub size: i64,
}

/// `POST /volumes/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[serde(default)]
pub struct CreateOptions {
    /// Its name (empty: a random one).
    #[serde(rename = "Name", skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `local`.
    #[serde(rename = "Driver", skip_serializing_if = "String::is_empty")]
    pub driver: String,
    /// `type`, `device`, `o`.
    #[serde(rename = "DriverOpts", skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    /// Labels.
    #[serde(rename = "Labels", skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `GET /volumes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListResponse {
    /// The volumes.
    #[serde(rename = "Volumes")]
    pub volumes: Option<Vec<Volume>>,
    /// Warnings.
    #[serde(rename = "Warnings")]
    pub warnings: Option<Vec<String>>,
}

/// `POST /volumes/prune`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PruneReport {
    /// Names of the removed volumes.
    pub volumes_deleted: Option<Vec<String>>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

crate::go_json!(CreateOptions);
