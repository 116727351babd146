//! The image store as one object: content, layers and metadata under one root,
//! and the operations that need more than one of them.
//!
//! ```text
//! <root>/blobs/sha256/<hex>    blobs: configs, manifests, layer blobs as received
//! <root>/ingest/               blobs being written (emptied at open)
//! <root>/layers/<chain hex>/   unpacked layers, overlay lower directories
//! <root>/layers/.tmp-*         layers being unpacked (removed at open)
//! <root>/meta.redb             images, references, layer records
//! ```
//!
//! Order of writes, so that a crash (or a power cut) at any point leaves
//! nothing visible that is not whole: blob (fsynced, renamed in, directory
//! fsynced), layer tree (unpacked under a temp name, flushed to disk,
//! fingerprinted, renamed in, directory fsynced), then one metadata
//! transaction naming them (redb commits durably). A blob or layer directory
//! no record names is garbage, collected by [`Store::gc`], which renames a
//! layer's directory away before removing it. See docs/CRASH-SAFETY.md.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::{apply_changes, chain_ids, History, ImageConfig};
use crate::content::{Content, ContentError};
use crate::images::ImageError;
use crate::layer::{self, LayerError};
use crate::meta::{ImageRecord, LayerRecord, Meta, MetaError};
use crate::reference::Reference;
use sha2::Digest as _;

/// Largest config we read (configs are a few KiB; history of a huge build
/// some hundred).
pub const MAX_CONFIG: u64 = 8 << 20;
/// Largest layer blob we accept (compressed).
pub const MAX_BLOB: u64 = 64 << 30;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Content.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// Layers.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// Metadata.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// Image rules.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// A change instruction.
    #[error(transparent)]
    Change(#[from] crate::config::ChangeError),
    /// A config or manifest that does not say what it should.
    #[error("invalid image: {0}")]
    Invalid(String),
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The store.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    content: Content,
    meta: Meta,
}

/// What `import` needs besides the data.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Tag the image with this reference.
    pub reference: Option<Reference>,
    /// Dockerfile-style `--change` lines.
    pub changes: Vec<String>,
    /// History comment (`--message`); Docker's default is "Imported from -".
    pub message: Option<String>,
    /// Creation time, RFC 3339.
    pub created: String,
}

fn hex(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

impl Store {
    /// Opens the store under `root`, clearing what a crash left half-done.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let layers = root.join("layers");
        std::fs::create_dir_all(&layers).map_err(|source| StoreError::Io {
            path: layers.clone(),
            source,
        })?;
        let content = Content::open(root)?;
        content.cleanup()?;
        for e in std::fs::read_dir(&layers)
            .map_err(|source| StoreError::Io {
                path: layers.clone(),
                source,
            })?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") || name.starts_with(".unpacked-") {
                let _ = crate::walk::remove_tree(&e.path());
            }
        }
        let meta = Meta::open(&root.join("meta.redb"))?;
        Ok(Store {
            root: root.to_path_buf(),
            content,
            meta,
        })
    }

    /// The metadata.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The content store.
    pub fn content(&self) -> &Content {
        &self.content
    }

    /// Directory of an unpacked layer.
    pub fn layer_dir(&self, chain_id: &str) -> PathBuf {
        self.root.join("layers").join(hex(chain_id))
    }

    /// Lower directories of an image, top first, for its overlay.
    pub fn lower_dirs(&self, image: &ImageRecord) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = chain_ids(&image.diff_ids)
            .iter()
            .map(|c| self.layer_dir(c))
            .collect();
        out.reverse();
        out
    }

    /// Makes sure the layer in blob `digest` is unpacked on top of `parent`;
    /// returns its record (not yet in the metadata: the caller commits it
    /// with the image that needs it). `expected_diff_id`, when known (from a
    /// config), must match.
    pub fn unpack_blob(
        &self,
        digest: &str,
        parent: Option<&str>,
        expected_diff_id: Option<&str>,
    ) -> Result<LayerRecord, StoreError> {
        // Known already? A chain id names the layer with all below it.
        if let Some(diff_id) = expected_diff_id {
            let chain = chain_of(parent, diff_id);
            if let Some(rec) = self.meta.layer(&chain)? {
                if self.layer_dir(&chain).is_dir() {
                    return Ok(rec);
                }
            }
        }
        let blob = self.content.open_blob(digest)?;
        let parent_dir = self.root.join("layers");
        // A name of its own: two loads of one layer may run at once, and
        // neither may touch the other's tree.
        let name = unique_name(".unpacked-", digest);
        let u = layer::unpack(blob, &parent_dir, &name, layer::Options::default())?;
        if let Some(want) = expected_diff_id {
            if want != u.diff_id {
                let _ = crate::walk::remove_tree(&u.path);
                return Err(StoreError::Invalid(format!(
                    "layer {digest} has diff id {}, its config says {want}",
                    u.diff_id
                )));
            }
        }
        let chain = chain_of(parent, &u.diff_id);
        self.place(&u, &chain)?;
        Ok(LayerRecord {
            chain_id: chain,
            diff_id: u.diff_id,
            parent: parent.map(String::from),
            size: u.size,
            blobs: vec![(digest.to_string(), String::new())],
            tree: u.tree,
        })
    }

    /// Unpacks a layer blob as it streams in (a pull): the compressed bytes
    /// go to the content store and through the layer unpack in one pass.
    /// The blob must be `size` bytes hashing to `digest`, and its tar must
    /// hash to `diff_id` (from the image's config); only when all three
    /// hold does anything become visible: the blob renamed in, then the
    /// layer directory renamed to its chain id. A failure, or a crash,
    /// leaves temp files that [`Store::open`] clears. Returns the layer's
    /// record, to be committed with its image by [`Store::add_image`].
    pub fn unpack_stream(
        &self,
        reader: impl Read + Send,
        desc: (&str, u64, &str),
        parent: Option<&str>,
        diff_id: &str,
    ) -> Result<LayerRecord, StoreError> {
        let (digest, size, media_type) = desc;
        crate::content::parse_digest(digest)?;
        let chain = chain_of(parent, diff_id);
        let tmp = if self.content.exists(digest) {
            None
        } else {
            Some(self.content.begin()?)
        };
        let mut tee = Tee {
            inner: reader,
            out: tmp,
            hasher: sha2::Sha256::new(),
            seen: 0,
            size,
            digest,
            verified: false,
        };
        let parent_dir = self.root.join("layers");
        // A name of its own: two pulls of one layer may run at once.
        let name = unique_name(".unpacked-", digest);
        let u = layer::unpack(&mut tee, &parent_dir, &name, layer::Options::default())?;
        let checked = (|| {
            // The tar may end before the blob does: the rest must still be
            // read, and hashed, before the blob counts as verified.
            std::io::copy(&mut tee, &mut std::io::sink())
                .map_err(|e| StoreError::Layer(LayerError::Read(e)))?;
            if !tee.verified {
                return Err(StoreError::Invalid(format!(
                    "layer {digest} was not verified"
                )));
            }
            if u.diff_id != diff_id {
                return Err(StoreError::Invalid(format!(
                    "layer {digest} has diff id {}, its config says {diff_id}",
                    u.diff_id
                )));
            }
            if let Some(tmp) = tee.out.take() {
                self.content.commit(tmp, digest)?;
            }
            Ok(())
        })();
        if let Err(e) = checked {
            let _ = crate::walk::remove_tree(&u.path);
            return Err(e);
        }
        self.place(&u, &chain)?;
        Ok(LayerRecord {
            chain_id: chain,
            diff_id: u.diff_id,
            parent: parent.map(String::from),
            size: u.size,
            blobs: vec![(digest.to_string(), media_type.to_string())],
            tree: u.tree,
        })
    }

    /// `docker import`: a root filesystem tar (plain or compressed) becomes a
    /// one-layer image.
    pub fn import(&self, data: impl Read, opts: &ImportOptions) -> Result<ImageRecord, StoreError> {
        let blob = self.content.ingest(data, None, MAX_BLOB)?;
        let layer = match self.unpack_blob(&blob.digest, None, None) {
            Ok(l) => l,
            Err(e) => {
                // A blob that made no layer is garbage now, unless a layer
                // already holds the same bytes.
                if !self
                    .meta
                    .layers()?
                    .iter()
                    .any(|l| l.blobs.iter().any(|(d, _)| *d == blob.digest))
                {
                    let _ = self.content.delete(&blob.digest);
                }
                return Err(e);
            }
        };
        let mut config = crate::config::new_config(&opts.created);
        apply_changes(&mut config.config, &opts.changes)?;
        config.rootfs.diff_ids = vec![layer.diff_id.clone()];
        config.history.push(History {
            created: opts.created.clone(),
            comment: opts
                .message
                .clone()
                .unwrap_or_else(|| "Imported from -".into()),
            ..Default::default()
        });
        self.add_image(&config.to_bytes(), &[layer], opts.reference.as_ref(), None)
    }

    /// Stores a config blob and records the image over `layers` (bottom
    /// first, as unpacked), tagging it; all metadata in one transaction.
    pub fn add_image(
        &self,
        config_bytes: &[u8],
        layers: &[LayerRecord],
        reference: Option<&Reference>,
        repo_digest: Option<String>,
    ) -> Result<ImageRecord, StoreError> {
        let config: ImageConfig = crate::config::parse(config_bytes)
            .map_err(|e| StoreError::Invalid(format!("config: {e}")))?;
        let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id.clone()).collect();
        if config.rootfs.diff_ids != diff_ids {
            return Err(StoreError::Invalid(
                "the config's diff ids do not match the layers".into(),
            ));
        }
        let desc = self.content.ingest(config_bytes, None, MAX_CONFIG)?;
        let record = ImageRecord {
            id: desc.digest,
            top_layer: layers
                .last()
                .map(|l| l.chain_id.clone())
                .unwrap_or_default(),
            diff_ids,
            repo_digests: repo_digest.into_iter().collect(),
            parent: None,
            created: config.created.clone().unwrap_or_default(),
        };
        let old = self.meta.image(&record.id)?;
        self.meta.write(|w| {
            for l in layers {
                // Blobs known to hold a layer only accumulate: a push's
                // compressed blob stays named when an import of the same
                // layer records it again (else the collector takes it).
                let mut l = l.clone();
                if let Some(known) = w.layer(&l.chain_id)? {
                    for b in known.blobs {
                        if !l.blobs.iter().any(|(d, _)| *d == b.0) {
                            l.blobs.push(b);
                        }
                    }
                }
                w.put_layer(&l)?;
            }
            let mut rec = record.clone();
            if let Some(old) = &old {
                // Keep what an earlier pull recorded.
                for d in &old.repo_digests {
                    if !rec.repo_digests.contains(d) {
                        rec.repo_digests.push(d.clone());
                    }
                }
            }
            w.put_image(&rec)?;
            if let Some(r) = reference {
                w.tag(&r.clone().with_default_tag().to_string(), &rec.id)?;
            }
            Ok::<_, MetaError>(())
        })?;
        Ok(self.meta.image(&record.id)?.unwrap_or(record))
    }

    /// An image's config.
    pub fn config(&self, image: &ImageRecord) -> Result<ImageConfig, StoreError> {
        let bytes = self.content.read(&image.id, MAX_CONFIG)?;
        crate::config::parse(&bytes)
            .map_err(|e| StoreError::Invalid(format!("config {}: {e}", image.id)))
    }

    /// Bytes of an image's layers on disk.
    pub fn size(&self, image: &ImageRecord) -> Result<u64, StoreError> {
        let mut total = 0;
        for c in chain_ids(&image.diff_ids) {
            total += self.meta.layer(&c)?.map(|l| l.size).unwrap_or(0);
        }
        Ok(total)
    }

    /// Writes an image's filesystem, all layers merged, as a tar (`docker
    /// image save` has layers; this is the flattened view `export` gives).
    pub fn export_image<W: std::io::Write>(
        &self,
        image: &ImageRecord,
        out: W,
    ) -> Result<W, StoreError> {
        let lowers = self.lower_dirs(image);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        if lowers.len() == 1 {
            return crate::diff::write_layer(&lowers[0], out).map_err(io(&lowers[0]));
        }
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-export-")
            .tempdir_in(self.root.join("layers"))
            .map_err(io(&self.root))?;
        let target = tmp.path();
        if lowers.is_empty() {
            return crate::diff::write_layer(target, out).map_err(io(target));
        }
        crate::mount::Overlay {
            lower: &lowers,
            upper: None,
        }
        .mount(target)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let res = crate::diff::write_layer(target, out).map_err(io(target));
        let _ = crate::mount::unmount(target);
        res
    }

    /// Mounts a container's root filesystem at `target`: the image's layers
    /// under the container's own writable layer (`<dir>/upper`, `<dir>/work`,
    /// made if missing).
    pub fn mount_rw(
        &self,
        image: &ImageRecord,
        dir: &Path,
        target: &Path,
    ) -> Result<(), StoreError> {
        self.mount_layers_rw(&chain_ids(&image.diff_ids), dir, target)
    }

    /// As `mount_rw`, from the chain ids of the layers (bottom first): a
    /// container keeps its layers when its image was removed with force.
    pub fn mount_layers_rw(
        &self,
        chain: &[String],
        dir: &Path,
        target: &Path,
    ) -> Result<(), StoreError> {
        let (upper, work) = (dir.join("upper"), dir.join("work"));
        for d in [&upper, &work, &target.to_path_buf()] {
            std::fs::create_dir_all(d).map_err(|source| StoreError::Io {
                path: d.clone(),
                source,
            })?;
        }
        let mut lowers: Vec<PathBuf> = chain.iter().rev().map(|c| self.layer_dir(c)).collect();
        if lowers.is_empty() {
            // overlayfs needs a lower layer: an empty one stands in for scratch.
            let empty = self.root.join("layers").join("empty");
            std::fs::create_dir_all(&empty).map_err(|source| StoreError::Io {
                path: empty.clone(),
                source,
            })?;
            lowers.push(empty);
        }
        crate::mount::Overlay {
            lower: &lowers,
            upper: Some((&upper, &work)),
        }
        .mount(target)
        .map_err(|e| StoreError::Invalid(e.to_string()))
    }

    /// `commit`: the writable layer `upper` on top of `image` becomes a new
    /// image with `config` edits applied by the caller (`edit`), and one
    /// history entry.
    pub fn commit(
        &self,
        image: &ImageRecord,
        upper: &Path,
        history: History,
        reference: Option<&Reference>,
        edit: impl FnOnce(&mut ImageConfig),
    ) -> Result<ImageRecord, StoreError> {
        let tar = crate::diff::write_layer(
            upper,
            tempfile::tempfile().map_err(|source| StoreError::Io {
                path: upper.to_path_buf(),
                source,
            })?,
        )
        .map_err(|source| StoreError::Io {
            path: upper.to_path_buf(),
            source,
        })?;
        let mut tar = tar;
        std::io::Seek::rewind(&mut tar).map_err(|source| StoreError::Io {
            path: upper.to_path_buf(),
            source,
        })?;
        let blob = self.content.ingest(tar, None, MAX_BLOB)?;
        let mut layers: Vec<LayerRecord> = Vec::new();
        for c in chain_ids(&image.diff_ids) {
            layers.push(self.meta.layer(&c)?.ok_or_else(|| {
                StoreError::Invalid(format!("layer {c} of {} is missing", image.id))
            })?);
        }
        let parent = layers.last().map(|l| l.chain_id.clone());
        // The blob is the uncompressed tar: its digest is the diff id.
        let top = self.unpack_blob(&blob.digest, parent.as_deref(), Some(&blob.digest))?;
        let mut config = self.config(image)?;
        config.rootfs.diff_ids.push(top.diff_id.clone());
        config.created = Some(history.created.clone());
        config.history.push(history);
        edit(&mut config);
        layers.push(top);
        let mut rec = self.add_image(&config.to_bytes(), &layers, reference, None)?;
        if rec.parent.is_none() {
            rec.parent = Some(image.id.clone());
            self.meta.write(|w| w.put_image(&rec))?;
        }
        Ok(rec)
    }

    /// A build step's image: over the layers `chain` (chain ids, bottom
    /// first), the diff of `upper` as a new top layer when given (a
    /// metadata-only step has none), with `config` (whose `rootfs` is set
    /// here from the layers) and `parent` recorded.
    pub fn commit_step(
        &self,
        chain: &[String],
        upper: Option<&Path>,
        mut config: ImageConfig,
        parent: Option<&str>,
    ) -> Result<ImageRecord, StoreError> {
        let mut layers: Vec<LayerRecord> = Vec::new();
        for c in chain {
            layers.push(
                self.meta
                    .layer(c)?
                    .ok_or_else(|| StoreError::Invalid(format!("layer {c} is missing")))?,
            );
        }
        if let Some(upper) = upper {
            let io = |source| StoreError::Io {
                path: upper.to_path_buf(),
                source,
            };
            let mut tar =
                crate::diff::write_layer(upper, tempfile::tempfile().map_err(io)?).map_err(io)?;
            std::io::Seek::rewind(&mut tar).map_err(io)?;
            let blob = self.content.ingest(tar, None, MAX_BLOB)?;
            let below = layers.last().map(|l| l.chain_id.clone());
            layers.push(self.unpack_blob(&blob.digest, below.as_deref(), Some(&blob.digest))?);
        }
        config.rootfs.diff_ids = layers.iter().map(|l| l.diff_id.clone()).collect();
        let mut rec = self.add_image(&config.to_bytes(), &layers, None, None)?;
        if rec.parent.is_none() && parent.is_some() {
            rec.parent = parent.map(String::from);
            self.meta.write(|w| w.put_image(&rec))?;
        }
        Ok(rec)
    }

    /// Removes layers and blobs no image needs (`keep` adds chain ids that
    /// containers use). Returns the number of layers and blobs removed.
    pub fn gc(&self, keep: &[String]) -> Result<(usize, usize), StoreError> {
        let dead: Vec<LayerRecord> = crate::images::unreferenced_layers(&self.meta)?
            .into_iter()
            .filter(|l| !keep.contains(&l.chain_id))
            .collect();
        // The records go first (one transaction), then each directory is
        // renamed away (one atomic step), then the trees are removed: a
        // crash at any point leaves a layer's directory whole under its name
        // (with no record: reused by the next unpack after a fingerprint
        // check, or collected below by the next gc) or not there at all (a
        // `.tmp-gc-…` tree, removed at open); never a partial directory that
        // a later pull or load could take for complete, and never a record
        // whose directory is gone.
        self.meta.write(|w| {
            for l in &dead {
                w.delete_layer(&l.chain_id)?;
            }
            Ok::<_, MetaError>(())
        })?;
        let layers_dir = self.root.join("layers");
        let mut doomed = Vec::new();
        let mut away = |from: PathBuf, chain: &str| -> Result<(), StoreError> {
            let to = layers_dir.join(unique_name(".tmp-gc-", chain));
            match std::fs::rename(&from, &to) {
                Ok(()) => {
                    doomed.push(to);
                    Ok(())
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(StoreError::Io { path: from, source }),
            }
        };
        // Every directory no record names: the dead layers', and those an
        // unpack left when a crash kept its image from being recorded (no
        // writer is between the two while the collector runs).
        let recorded: std::collections::BTreeSet<String> = self
            .meta
            .layers()?
            .into_iter()
            .map(|l| hex(&l.chain_id).to_string())
            .collect();
        let dead_names: std::collections::BTreeSet<String> =
            dead.iter().map(|l| hex(&l.chain_id).to_string()).collect();
        let mut orphans = 0;
        for e in std::fs::read_dir(&layers_dir)
            .map_err(|source| StoreError::Io {
                path: layers_dir.clone(),
                source,
            })?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.len() == 64
                && name.bytes().all(|b| b.is_ascii_hexdigit())
                && !recorded.contains(&name)
            {
                away(e.path(), &name)?;
                if !dead_names.contains(&name) {
                    orphans += 1;
                }
            }
        }
        let _ = crate::content::sync_dir(&layers_dir);
        for d in &doomed {
            let _ = crate::walk::remove_tree(d);
        }
        // Blobs: configs of images, and layer blobs of layers, are live.
        let mut live: std::collections::BTreeSet<String> =
            self.meta.images()?.into_iter().map(|i| i.id).collect();
        for l in self.meta.layers()? {
            live.extend(l.blobs.into_iter().map(|(d, _)| d));
        }
        let mut blobs = 0;
        for d in self.content.list()? {
            if !live.contains(&d) {
                self.content.delete(&d)?;
                blobs += 1;
            }
        }
        Ok((dead.len() + orphans, blobs))
    }

    /// Puts the freshly unpacked tree `u` at `chain`'s directory. A directory
    /// already there is kept when a record names it (it was whole when it
    /// was recorded) or when it has the same fingerprint (a twin unpacked
    /// meanwhile, or one whose record a crash lost). Otherwise it is a tree
    /// a crash cut short, and the new one takes its place in one atomic
    /// exchange. The layers directory is synced, so the name is on disk
    /// before any record names it.
    fn place(&self, u: &layer::Unpacked, chain: &str) -> Result<(), StoreError> {
        let dest = self.layer_dir(chain);
        let layers_dir = self.root.join("layers");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        match std::fs::rename(&u.path, &dest) {
            Ok(()) => {
                crate::content::sync_dir(&layers_dir).map_err(io(&layers_dir))?;
                return Ok(());
            }
            Err(e)
                if e.raw_os_error() == Some(libc::ENOTEMPTY)
                    || e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => {
                let _ = crate::walk::remove_tree(&u.path);
                return Err(io(&dest)(e));
            }
        }
        let whole = self.meta.layer(chain)?.is_some()
            || crate::tree::fingerprint(&dest, crate::tree::Durability::None)
                .is_ok_and(|(t, _)| t == u.tree);
        if !whole {
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                &u.path,
                rustix::fs::CWD,
                &dest,
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .map_err(|e| io(&dest)(e.into()))?;
            crate::content::sync_dir(&layers_dir).map_err(io(&layers_dir))?;
        }
        // The new tree when the old one was kept, else the old one.
        let _ = crate::walk::remove_tree(&u.path);
        Ok(())
    }

    /// Checks every recorded layer's directory against the fingerprint taken
    /// when it was unpacked; one line per problem.
    pub fn check_layers(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        for l in self.meta.layers()? {
            let dir = self.layer_dir(&l.chain_id);
            if !dir.is_dir() {
                problems.push(format!("layer {}: its directory is missing", l.chain_id));
                continue;
            }
            if l.tree.is_empty() {
                continue;
            }
            match crate::tree::fingerprint(&dir, crate::tree::Durability::None) {
                Ok((t, _)) if t == l.tree => {}
                Ok(_) => problems.push(format!(
                    "layer {}: its directory differs from the layer as unpacked",
                    l.chain_id
                )),
                Err(e) => problems.push(format!("layer {}: {e}", l.chain_id)),
            }
        }
        Ok(problems)
    }
}

/// A name under `layers/` no other unpack or collection uses: `prefix`, a
/// short digest, this process and a counter.
fn unique_name(prefix: &str, digest: &str) -> String {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let h = hex(digest);
    format!(
        "{prefix}{}-{}-{}",
        &h[..h.len().min(12)],
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Copies what it reads into a blob's temp file and checks, at the end,
/// that it was `size` bytes hashing to `digest`: an error instead of the
/// end of the stream otherwise, so that the unpack fails with it.
struct Tee<'a, R> {
    inner: R,
    out: Option<tempfile::NamedTempFile>,
    hasher: sha2::Sha256,
    seen: u64,
    size: u64,
    digest: &'a str,
    verified: bool,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest as _;
        use std::io::Write as _;
        let n = self.inner.read(buf)?;
        if n == 0 {
            if self.verified {
                return Ok(0);
            }
            let actual = crate::config::digest_string(&std::mem::take(&mut self.hasher).finalize());
            if self.seen != self.size || actual != self.digest {
                return Err(std::io::Error::other(format!(
                    "blob {}: got {} bytes hashing to {actual}, expected {} bytes",
                    self.digest, self.seen, self.size
                )));
            }
            self.verified = true;
            return Ok(0);
        }
        self.seen += n as u64;
        if self.seen > self.size {
            return Err(std::io::Error::other(format!(
                "blob {}: more than its {} bytes",
                self.digest, self.size
            )));
        }
        self.hasher.update(&buf[..n]);
        if let Some(f) = &mut self.out {
            f.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

/// Chain id of `diff_id` on top of `parent`.
pub fn chain_of(parent: Option<&str>, diff_id: &str) -> String {
    match parent {
        None => diff_id.to_string(),
        Some(p) => crate::config::sha256(format!("{p} {diff_id}").as_bytes()),
    }
}

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod tests;
