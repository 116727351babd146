//! moby's `mount.Mount` (`HostConfig.Mounts`, `--mount`) and the
//! `MountPoint`s that `inspect` and `ps` show.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::is_default;

/// One `--mount`: everything `omitempty`, as Go writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Mount {
    /// `bind`, `volume`, `tmpfs`, `image`, `npipe`, `cluster`.
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub typ: String,
    /// Host path or volume name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Path in the container.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Read-only.
    #[serde(skip_serializing_if = "is_default")]
    pub read_only: bool,
    /// macOS only.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub consistency: String,
    /// For `bind`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    /// For `volume`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    /// For `tmpfs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// `BindOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct BindOptions {
    /// `rprivate`, `shared`, …
    #[serde(skip_serializing_if = "String::is_empty")]
    pub propagation: String,
    /// Not recursive (no submounts).
    #[serde(skip_serializing_if = "is_default")]
    pub non_recursive: bool,
    /// Make the host path when missing.
    #[serde(skip_serializing_if = "is_default")]
    pub create_mountpoint: bool,
    /// Read-only without making submounts read-only.
    #[serde(skip_serializing_if = "is_default")]
    pub read_only_non_recursive: bool,
    /// Read-only, submounts too, or fail.
    #[serde(skip_serializing_if = "is_default")]
    pub read_only_force_recursive: bool,
}

/// `VolumeOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct VolumeOptions {
    /// Do not fill an empty volume from the image.
    #[serde(skip_serializing_if = "is_default")]
    pub no_copy: bool,
    /// Labels of a volume made for it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// A path inside the volume (API 1.45).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subpath: String,
    /// The driver of a volume made for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_config: Option<Driver>,
}

/// A volume driver and its options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Driver {
    /// Its name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its options.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// `TmpfsOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TmpfsOptions {
    /// Size in bytes (0: the kernel's default).
    #[serde(skip_serializing_if = "is_default")]
    pub size_bytes: i64,
    /// Permission bits.
    #[serde(skip_serializing_if = "is_default")]
    pub mode: u32,
    /// Other options (`[["noexec"]]`), API 1.46.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Vec<String>>,
}

/// A mount as `inspect` and `ps` show it (`container.MountPoint`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MountPoint {
    /// `bind`, `volume`, `tmpfs`.
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub typ: String,
    /// The volume's name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Host path.
    pub source: String,
    /// Path in the container.
    pub destination: String,
    /// The volume's driver.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    /// The mode as given (`ro`, `z`).
    pub mode: String,
    /// Writable.
    #[serde(rename = "RW")]
    pub rw: bool,
    /// `rprivate`, …
    pub propagation: String,
}
