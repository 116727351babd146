//! Images as the Engine API shows them (API 1.47): `inspect`, the list,
//! `history`, and the answers of `rmi` and `prune`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::{Config, GraphDriver};

/// `GET /images/{name}/json` (`types.ImageInspect`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Inspect {
    /// `sha256:` and the config's digest.
    #[serde(rename = "Id")]
    pub id: String,
    /// `repo:tag` names.
    pub repo_tags: Vec<String>,
    /// `repo@sha256:` names.
    pub repo_digests: Vec<String>,
    /// The parent image (classic builds), else empty.
    pub parent: String,
    /// The commit message.
    pub comment: String,
    /// Creation time (RFC 3339, as the config gives it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created: String,
    /// Deprecated: the container a classic build committed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub container: String,
    /// Deprecated: that container's config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_config: Option<Config>,
    /// The Docker that made it.
    pub docker_version: String,
    /// The author.
    pub author: String,
    /// What containers inherit.
    pub config: Option<Config>,
    /// `amd64`.
    pub architecture: String,
    /// `v8`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub variant: String,
    /// `linux`.
    pub os: String,
    /// Windows only.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    /// Bytes of all its layers.
    pub size: i64,
    /// Deprecated (API < 1.44): the same as `Size`.
    #[serde(skip_serializing_if = "crate::is_default")]
    pub virtual_size: i64,
    /// Its storage.
    pub graph_driver: GraphDriver,
    /// Its layers.
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    /// Local facts.
    pub metadata: Metadata,
}

/// `RootFS` of an image inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RootFs {
    /// `layers`.
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub typ: String,
    /// Diff ids, bottom first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
}

/// `Metadata` of an image inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Metadata {
    /// When it was last tagged (`0001-01-01T00:00:00Z` for never).
    pub last_tag_time: String,
}

/// One entry of `GET /images/json` (`image.Summary`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// Containers using it (-1: not counted).
    #[serde(rename = "Containers")]
    pub containers: i64,
    /// Creation time, seconds since the epoch.
    #[serde(rename = "Created")]
    pub created: i64,
    /// `sha256:…`.
    #[serde(rename = "Id")]
    pub id: String,
    /// Its config's labels.
    #[serde(rename = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
    /// The parent image, else empty.
    #[serde(rename = "ParentId")]
    pub parent_id: String,
    /// `repo@sha256:` names.
    #[serde(rename = "RepoDigests")]
    pub repo_digests: Option<Vec<String>>,
    /// `repo:tag` names.
    #[serde(rename = "RepoTags")]
    pub repo_tags: Option<Vec<String>>,
    /// Bytes shared with other images (-1: not counted).
    #[serde(rename = "SharedSize")]
    pub shared_size: i64,
    /// Bytes of its layers.
    #[serde(rename = "Size")]
    pub size: i64,
    /// Deprecated (API < 1.44): the same as `Size`.
    #[serde(rename = "VirtualSize", skip_serializing_if = "crate::is_default")]
    pub virtual_size: i64,
}

/// One entry of `GET /images/{name}/history`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryItem {
    /// The image of this step (`<missing>` below the top).
    #[serde(rename = "Id")]
    pub id: String,
    /// Seconds since the epoch.
    #[serde(rename = "Created")]
    pub created: i64,
    /// The instruction.
    #[serde(rename = "CreatedBy")]
    pub created_by: String,
    /// `repo:tag` names of that image.
    #[serde(rename = "Tags")]
    pub tags: Option<Vec<String>>,
    /// Bytes of the step's layer.
    #[serde(rename = "Size")]
    pub size: i64,
    /// The step's comment.
    #[serde(rename = "Comment")]
    pub comment: String,
}

/// One entry of `DELETE /images/{name}` and of a prune.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeleteResponse {
    /// A removed reference.
    #[serde(rename = "Untagged", skip_serializing_if = "String::is_empty")]
    pub untagged: String,
    /// A removed image or layer.
    #[serde(rename = "Deleted", skip_serializing_if = "String::is_empty")]
    pub deleted: String,
}

/// `POST /images/prune`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PruneReport {
    /// What went.
    pub images_deleted: Option<Vec<DeleteResponse>>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

/// `POST /commit` and `POST /build`'s `aux`: the new image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdResponse {
    /// `sha256:…`.
    #[serde(rename = "Id")]
    pub id: String,
}

/// `aux` of a build's stream: the image it made (`types.BuildResult`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildResult {
    /// `sha256:…`.
    #[serde(rename = "ID")]
    pub id: String,
}

/// `GET /distribution/{name}/json` (moby's `registry.DistributionInspect`):
/// what a registry has under a name, without pulling it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DistributionInspect {
    /// The manifest's (or index's) descriptor.
    pub descriptor: crate::oci::Descriptor,
    /// The platforms it serves.
    pub platforms: Vec<crate::oci::Platform>,
}

/// An API version, `(1, 47)`.
pub type ApiVersion = (u32, u32);

impl Inspect {
    /// What dockerd 27 changes for older clients (moby's
    /// `getImagesByName`): `VirtualSize` and a zero `Created` before 1.44;
    /// no `Container` from 1.45.
    ///
    /// One departure: dockerd drops `ContainerConfig` from 1.45 on too,
    /// and writes none for an image no classic build made; berth always
    /// writes one (empty, as dockerd 20.10 writes its struct for an
    /// imported image). docker-compose 1.29 (Debian 12's) negotiates the
    /// daemon's newest version and reads `ContainerConfig.Volumes` when it
    /// recreates a container: without it, `KeyError: 'ContainerConfig'`, as
    /// that Compose fails against Docker 26 and later. Clients of 1.45 and
    /// later ignore a field they do not know.
    pub fn for_version(&mut self, v: ApiVersion) {
        if v < (1, 44) {
            self.virtual_size = self.size;
            if self.created.is_empty() {
                self.created = "0001-01-01T00:00:00Z".into();
            }
        } else {
            self.virtual_size = 0;
        }
        if self.container_config.is_none() {
            self.container_config = Some(Config::default());
        }
        if v >= (1, 45) {
            self.container.clear();
        }
    }
}

impl Summary {
    /// What dockerd 27 changes for older clients (moby's `getImagesJSON`):
    /// `<none>` names for an untagged image before 1.43 (empty lists from
    /// then on, never null), `VirtualSize` before 1.44.
    pub fn for_version(&mut self, v: ApiVersion) {
        let empty = |l: &Option<Vec<String>>| l.as_ref().is_none_or(|l| l.is_empty());
        if v < (1, 43) {
            if empty(&self.repo_tags) && empty(&self.repo_digests) {
                self.repo_tags = Some(vec!["<none>:<none>".into()]);
                self.repo_digests = Some(vec!["<none>@<none>".into()]);
            }
        } else {
            self.repo_tags.get_or_insert_with(Vec::new);
            self.repo_digests.get_or_insert_with(Vec::new);
        }
        self.virtual_size = if v < (1, 44) { self.size } else { 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_config_is_always_there() {
        for v in [(1, 38), (1, 47)] {
            let mut i = Inspect::default();
            i.for_version(v);
            let j = serde_json::to_value(&i).unwrap();
            assert_eq!(j["ContainerConfig"]["Volumes"], serde_json::Value::Null);
            assert_eq!(j["ContainerConfig"]["Hostname"], "");
        }
    }
}
