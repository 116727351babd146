//! Images through the engine, in the Engine API's shapes: `ImageSummary`,
//! `ImageInspect`, `HistoryResponseItem`, `ImageDeleteResponseItem`,
//! `ImagePruneResponse`.

use std::io::{Read, Write};

use std::collections::BTreeMap;

use models::container::{Config, GraphDriver};
use models::image::{DeleteResponse, HistoryItem, Inspect, Metadata, PruneReport, RootFs, Summary};
use models::system::DiskUsage;
use store::images::{self as ops, Removed};
use store::meta::ImageRecord;
use store::reference::Reference;
use store::{ImportOptions, StoreError};

use crate::error::Cause;
use crate::time::unix_seconds;
use crate::{Engine, EngineError, ErrorKind};

/// One untag or delete of `rmi` and `prune`.
fn deleted(r: Removed) -> DeleteResponse {
    match r {
        Removed::Untagged(t) => DeleteResponse {
            untagged: t,
            ..Default::default()
        },
        Removed::Deleted(id) => DeleteResponse {
            deleted: id,
            ..Default::default()
        },
    }
}

/// The short form of a reference, as Docker prints it (`busybox:latest`).
pub fn familiar(r: &str) -> String {
    Reference::parse(r)
        .map(|x| x.familiar())
        .unwrap_or_else(|_| r.to_string())
}

impl Engine {
    fn repo_tags(&self, id: &str) -> Result<Vec<String>, EngineError> {
        Ok(ops::tags_of(self.store.meta(), id)?
            .iter()
            .map(|r| familiar(r))
            .collect())
    }

    /// `GET /system/df`: images (with how many containers use each),
    /// containers with their sizes, the layers' total size.
    pub fn system_df(&self) -> Result<DiskUsage, EngineError> {
        let users = self.image_users()?;
        let mut images = self.image_list(false)?;
        for img in &mut images {
            img.containers = users.get(&img.id).map_or(0, |u| u.len() as i64);
        }
        let containers = self.container_list(true, None, true, &Default::default())?;
        let layers: u64 = self.store.meta().layers()?.iter().map(|l| l.size).sum();
        Ok(DiskUsage {
            layers_size: layers as i64,
            images: Some(images),
            containers: Some(containers),
            volumes: Some(self.volumes_df()?),
            build_cache: Some(Vec::new()),
        })
    }

    /// `GET /images/json`: every image (with `all` too; there are no
    /// intermediate build images yet), dangling ones with `<none>`.
    pub fn image_list(&self, dangling_only: bool) -> Result<Vec<Summary>, EngineError> {
        let mut out = Vec::new();
        let mut images = self.store.meta().images()?;
        images.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        // How many images stand on each layer: a layer under two or more is
        // shared, and its size counts in each one's SharedSize.
        let mut users: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for img in &images {
            for c in store::config::chain_ids(&img.diff_ids) {
                *users.entry(c).or_default() += 1;
            }
        }
        let layer_size = |c: &str| {
            self.store
                .meta()
                .layer(c)
                .ok()
                .flatten()
                .map(|l| l.size)
                .unwrap_or(0)
        };
        for img in images {
            let shared: u64 = store::config::chain_ids(&img.diff_ids)
                .iter()
                .filter(|c| users[*c] > 1)
                .map(|c| layer_size(c))
                .sum();
            let tags = self.repo_tags(&img.id)?;
            if dangling_only && !tags.is_empty() {
                continue;
            }
            let cfg = self.store.config(&img)?;
            out.push(Summary {
                id: img.id.clone(),
                parent_id: img.parent.clone().unwrap_or_default(),
                repo_tags: Some(tags),
                repo_digests: Some(img.repo_digests.clone()),
                created: unix_seconds(&img.created),
                size: self.store.size(&img)? as i64,
                shared_size: shared as i64,
                labels: (!cfg.config.labels.is_empty()).then_some(cfg.config.labels),
                containers: -1,
                ..Default::default()
            });
        }
        Ok(out)
    }

    fn find(&self, name: &str) -> Result<ImageRecord, EngineError> {
        Ok(ops::find(self.store.meta(), name)?)
    }

    /// `GET /images/{name}/json`.
    /// The fields Docker drops for newer clients (`Container`,
    /// `ContainerConfig`) are filled: [`Inspect::for_version`] trims them.
    pub fn image_inspect(&self, name: &str) -> Result<Inspect, EngineError> {
        let img = self.find(name)?;
        let cfg = self.store.config(&img)?;
        let size = self.store.size(&img)?;
        let lower = self
            .store
            .lower_dirs(&img)
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":");
        // Docker's own configs carry the commit message at the top; berth's
        // import and commit put it in the last history entry.
        let comment = if cfg.comment.is_empty() {
            cfg.history
                .last()
                .map(|h| h.comment.clone())
                .unwrap_or_default()
        } else {
            cfg.comment.clone()
        };
        Ok(Inspect {
            id: img.id.clone(),
            repo_tags: self.repo_tags(&img.id)?,
            repo_digests: img.repo_digests.clone(),
            parent: img.parent.clone().unwrap_or_default(),
            comment,
            created: cfg.created.clone().unwrap_or_default(),
            container: cfg.container.clone(),
            container_config: cfg.container_config.clone(),
            docker_version: cfg.docker_version.clone(),
            author: cfg.author.clone().unwrap_or_default(),
            config: Some(Config::from(&cfg.config)),
            architecture: cfg.architecture.clone(),
            variant: cfg.variant.clone().unwrap_or_default(),
            os: cfg.os.clone(),
            os_version: cfg.os_version.clone(),
            size: size as i64,
            virtual_size: 0,
            graph_driver: GraphDriver {
                name: "overlay2".into(),
                data: Some(BTreeMap::from([("LowerDir".to_string(), lower)])),
            },
            root_fs: RootFs {
                typ: "layers".into(),
                layers: img.diff_ids.clone(),
            },
            metadata: Metadata {
                last_tag_time: "0001-01-01T00:00:00Z".into(),
            },
        })
    }

    /// `GET /images/{name}/history`, newest first, as Docker lists it.
    pub fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>, EngineError> {
        let img = self.find(name)?;
        let cfg = self.store.config(&img)?;
        let mut out = Vec::new();
        let chains = store::config::chain_ids(&img.diff_ids);
        let mut layer = 0;
        for h in &cfg.history {
            let size = if h.empty_layer {
                0
            } else {
                let s = chains
                    .get(layer)
                    .and_then(|c| self.store.meta().layer(c).ok().flatten())
                    .map(|l| l.size)
                    .unwrap_or(0);
                layer += 1;
                s
            };
            out.push(HistoryItem {
                id: "<missing>".into(),
                created: unix_seconds(&h.created),
                created_by: h.created_by.clone(),
                tags: None,
                size: size as i64,
                comment: h.comment.clone(),
            });
        }
        out.reverse();
        // As moby: the ids (and tags) of the image and of its parents, as
        // far as the parents recorded at build and commit are here.
        let mut at = Some(img);
        for item in out.iter_mut() {
            let Some(i) = at.take() else { break };
            item.id = i.id.clone();
            let tags = self.repo_tags(&i.id)?;
            item.tags = Some(tags).filter(|t| !t.is_empty());
            at = i
                .parent
                .as_deref()
                .and_then(|p| self.store.meta().image(p).ok().flatten());
        }
        Ok(out)
    }

    /// `POST /images/{name}/tag?repo=&tag=`.
    pub fn image_tag(&self, name: &str, repo: &str, tag: &str) -> Result<(), EngineError> {
        if repo.is_empty() {
            return Err(ImageError::Invalid(
                "repository name must have at least one component".into(),
            )
            .into());
        }
        let target = if tag.is_empty() {
            repo.to_string()
        } else {
            format!("{repo}:{tag}")
        };
        ops::tag(self.store.meta(), name, &target)?;
        Ok(())
    }

    /// `DELETE /images/{name}`: Docker's untag/delete items; garbage is
    /// collected unless `noprune`.
    pub fn image_remove(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> Result<Vec<DeleteResponse>, EngineError> {
        let users = self.image_users()?;
        let removed = ops::remove(self.store.meta(), name, force, &|id: &str| {
            users.get(id).cloned().unwrap_or_default()
        })?;
        if !noprune {
            self.collect_garbage()?;
        }
        Ok(removed.into_iter().map(deleted).collect())
    }

    /// `POST /images/prune`: dangling images (all unused with `all`).
    ///
    /// It runs alone from the list to the collection (the collector's turn
    /// of the lock): a build, pull, load, import or commit in flight holds
    /// it off, so the image it made and has not tagged yet is never taken
    /// for a dangling one (a build's image was, and the build's tag went
    /// with it: found by the torture harness).
    pub fn image_prune(&self, all: bool) -> Result<PruneReport, EngineError> {
        let alone = self.gc_lock.exclusive();
        let users = self.image_users()?;
        let users = |id: &str| users.get(id).cloned().unwrap_or_default();
        let ids = ops::prunable(self.store.meta(), all, &users)?;
        let before: u64 = self.store.meta().layers()?.iter().map(|l| l.size).sum();
        let mut deleted = Vec::new();
        for id in ids {
            // Tagged meanwhile (`docker tag` needs no lock): no longer dangling.
            if !all && !ops::tags_of(self.store.meta(), &id)?.is_empty() {
                continue;
            }
            // Removed meanwhile by another prune or rmi: nothing to do, as
            // Docker's prune skips it (found by the torture harness).
            match ops::remove(self.store.meta(), &id, true, &users) {
                Ok(removed) => deleted.extend(removed.into_iter().map(self::deleted)),
                Err(store::images::ImageError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.collect_garbage_alone(&alone)?;
        let after: u64 = self.store.meta().layers()?.iter().map(|l| l.size).sum();
        Ok(PruneReport {
            images_deleted: (!deleted.is_empty()).then_some(deleted),
            space_reclaimed: before.saturating_sub(after),
        })
    }

    /// `POST /images/load`: the lines Docker prints.
    pub fn image_load(&self, data: impl Read + Send) -> Result<Vec<String>, EngineError> {
        let loaded = {
            let _w = self.writing();
            store::archive::load(&self.store, data)?
        };
        let mut lines = Vec::new();
        for (id, refs) in loaded.images {
            if refs.is_empty() {
                lines.push(format!("Loaded image ID: {id}"));
            }
            for r in refs {
                lines.push(format!("Loaded image: {r}"));
            }
        }
        Ok(lines)
    }

    /// `GET /images/get?names=…`: the archive of the named images.
    pub fn image_save<W: Write>(&self, names: &[String], out: W) -> Result<W, EngineError> {
        // As moby's `tarexport` reads the names: an id (whole or short)
        // saves the image untagged; a repository without a tag saves its
        // every tag; a tag or digest saves that reference.
        let mut wanted: Vec<(ImageRecord, Option<Reference>)> = Vec::new();
        for name in names {
            let hex = name.strip_prefix("sha256:").unwrap_or(name);
            let is_id = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
            match Reference::parse(name).ok().filter(|_| !is_id) {
                Some(r) if r.tag.is_none() && r.digest.is_none() => {
                    let mut tagged: Vec<(String, String)> = self
                        .store
                        .meta()
                        .refs()
                        .map_err(StoreError::from)?
                        .into_iter()
                        .filter(|(t, _)| {
                            Reference::parse(t).is_ok_and(|t| {
                                t.domain == r.domain && t.path == r.path && t.tag.is_some()
                            })
                        })
                        .collect();
                    tagged.sort();
                    if tagged.is_empty() {
                        wanted.push((self.find(name)?, None));
                    }
                    for (t, _) in tagged {
                        wanted.push((self.find(&t)?, Reference::parse(&t).ok()));
                    }
                }
                Some(r) => wanted.push((self.find(name)?, Some(r))),
                None => wanted.push((self.find(name)?, None)),
            }
        }
        let mut list: Vec<(ImageRecord, Vec<Reference>)> = Vec::new();
        for (img, r) in wanted {
            let refs: Vec<Reference> = r.filter(|r| r.digest.is_none()).into_iter().collect();
            match list.iter_mut().find(|(i, _)| i.id == img.id) {
                Some((_, existing)) => {
                    for r in refs {
                        if !existing.contains(&r) {
                            existing.push(r);
                        }
                    }
                }
                None => list.push((img, refs)),
            }
        }
        Ok(store::archive::save(&self.store, &list, out)?)
    }

    /// `berth system check`: re-hashes every blob, checks every image's
    /// config and layers are there, and every layer's directory against its
    /// fingerprint. Returns one line per problem.
    pub fn system_check(&self) -> Result<Vec<String>, EngineError> {
        let mut problems = Vec::new();
        let content = self.store.content();
        for d in content.list().map_err(StoreError::from)? {
            if let Err(e) = content.verify(&d) {
                problems.push(format!("blob {d}: {e}"));
            }
        }
        for img in self.store.meta().images()? {
            if let Err(e) = self.store.config(&img) {
                problems.push(format!("image {}: {e}", img.id));
            }
            for c in store::config::chain_ids(&img.diff_ids) {
                if self.store.meta().layer(&c)?.is_none() || !self.store.layer_dir(&c).is_dir() {
                    problems.push(format!("image {}: layer {c} is missing", img.id));
                }
            }
        }
        problems.extend(self.store.check_layers()?);
        Ok(problems)
    }

    /// `POST /images/create?fromSrc=-`: `docker import`. Returns the image id.
    pub fn image_import(
        &self,
        data: impl Read,
        repo: &str,
        tag: &str,
        changes: Vec<String>,
        message: Option<String>,
        created: String,
    ) -> Result<String, EngineError> {
        let _w = self.writing();
        let reference = match repo {
            "" => None,
            r => {
                let full = if tag.is_empty() {
                    r.to_string()
                } else {
                    format!("{r}:{tag}")
                };
                Some(Reference::parse(&full).map_err(|e| ImageError::Invalid(e.to_string()))?)
            }
        };
        let img = self
            .store
            .import(
                data,
                &ImportOptions {
                    reference,
                    changes,
                    message,
                    created,
                },
            )
            .map_err(|e: StoreError| EngineError::from(e))?;
        Ok(img.id)
    }
}

/// An error of an image operation (pull, push, tag, search, import, load,
/// save).
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The registry refused or failed, in Docker's words for the common
    /// cases; the kind follows dockerd's (a denial is a 404).
    #[error("{message}")]
    Registry {
        /// Docker's message.
        message: String,
        /// The registry client's error.
        #[source]
        source: registry::RegistryError,
    },
    /// What was asked for does not exist (404), in Docker's words.
    #[error("{0}")]
    NotFound(String),
    /// A refusal of what the caller asked (400), in Docker's words.
    #[error("{0}")]
    Invalid(String),
    /// An OS-level step that failed: what it did, on what, and the
    /// error (500).
    #[error("{context}: {source}")]
    Failed {
        /// What was being done, on what (the path, the id).
        context: String,
        /// The call's error.
        #[source]
        source: Cause,
    },
    /// A failure of the system whose text says it all (500).
    #[error(transparent)]
    Sys(#[from] Cause),
}

impl ImageError {
    /// What sort of failure, for the status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            // dockerd's statuses (distribution/errors.go, translatePullError): a
            // denial is a 404 ("pull access denied"), an unauthorized answer an
            // unknown error (500). Not 401: the docker CLI answers a 401 with a
            // login prompt and a retry, which dockerd never triggers on pull.
            ImageError::Registry { source, .. } => match source.kind() {
                registry::Kind::NotFound | registry::Kind::Denied => ErrorKind::NotFound,
                registry::Kind::Unauthorized => ErrorKind::System,
                registry::Kind::Invalid => ErrorKind::InvalidArgument,
                registry::Kind::Unavailable => ErrorKind::System,
            },
            ImageError::NotFound(_) => ErrorKind::NotFound,
            ImageError::Invalid(_) => ErrorKind::InvalidArgument,
            ImageError::Failed { .. } | ImageError::Sys(_) => ErrorKind::System,
        }
    }

    /// `context` failed with `source`.
    pub(crate) fn failed(context: impl Into<String>, source: impl Into<Cause>) -> Self {
        ImageError::Failed {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A failure of the system: a call's error, or a message.
    pub(crate) fn sys(e: impl Into<Cause>) -> Self {
        ImageError::Sys(e.into())
    }
}

impl crate::error::ModuleError for ImageError {
    fn kind(&self) -> crate::ErrorKind {
        ImageError::kind(self)
    }
}
