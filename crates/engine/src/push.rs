//! `docker push`: an image's layers and config put into a repository of a
//! registry, then its manifest under the tag, in Docker's words
//! (`Preparing`, `Pushing`, `Pushed`, `Layer already exists`, `Mounted
//! from …`, `latest: digest: sha256:… size: 527`).
//!
//! Each layer goes up as a compressed blob kept in the content store and
//! named in the layer's record (`LayerRecord::blobs`), so that a second push
//! of the layer sends the same bytes and manifests keep their digests. A
//! layer pulled compressed is pushed as it came; one built or committed here
//! is compressed once (gzip by default, zstd on request) from the tar the
//! store keeps. Per layer: `HEAD` in the target repository (skipped when
//! there), else a cross-repository mount from a repository of the same
//! registry that an image holding the layer was pulled from or pushed to
//! (its `RepoDigests`), else an upload. Nothing changes locally unless the
//! manifest went up: then the repo digest is recorded.

use std::io::{Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use registry::manifest::Descriptor;
use registry::upload::Mount;
use registry::{Credentials, Session};
use serde_json::json;
use sha2::Digest as _;
use store::config::{chain_ids, ImageConfig};
use store::meta::{ImageRecord, LayerRecord};
use store::reference::Reference;

use crate::images::ImageError;
use crate::pull::{registry_error, Progress, Sink};
use crate::{Engine, EngineError};

/// Layers pushed at once (Docker's default `max-concurrent-uploads` is 5;
/// two cores here).
pub const PARALLEL: usize = 3;
/// `Pushing` progress is reported at most every this many bytes, or every
/// chunk when chunks are smaller.
const PROGRESS_STEP: u64 = 512 << 10;

/// Docker's schema2 media types, the default manifest.
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// OCI's, for zstd layers (Docker's schema2 has no zstd type).
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// How layers are compressed for the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// gzip, in a Docker schema2 manifest (as Docker pushes).
    #[default]
    Gzip,
    /// zstd, in an OCI manifest.
    Zstd,
}

impl Compression {
    /// `gzip` or `zstd` (the API's `compression=` value).
    pub fn parse(s: &str) -> Result<Compression, EngineError> {
        match s {
            "" | "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            other => Err(ImageError::Invalid(format!(
                "unsupported compression {other:?}: gzip or zstd"
            ))
            .into()),
        }
    }

    fn layer_media(self) -> &'static str {
        match self {
            Compression::Gzip => DOCKER_GZIP,
            Compression::Zstd => OCI_ZSTD,
        }
    }
}

/// How a push goes.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// The layers' compression.
    pub compression: Compression,
    /// Blobs larger than this go up in chunks of this size.
    pub chunk: u64,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            compression: Compression::Gzip,
            chunk: registry::upload::DEFAULT_CHUNK,
        }
    }
}

/// What a push gave: Docker's `aux` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The tag pushed.
    pub tag: String,
    /// The manifest's digest.
    pub digest: String,
    /// The manifest's size.
    pub size: u64,
}

/// A push whose image and registry are known: what [`Push::run`] needs.
pub struct Push {
    engine: Arc<Engine>,
    session: Session,
    reference: Reference,
    image: ImageRecord,
    options: PushOptions,
}

impl std::fmt::Debug for Push {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Push")
            .field("reference", &self.reference)
            .field("image", &self.image.id)
            .finish()
    }
}

/// A message without progress bytes.
fn status(id: Option<&str>, text: impl Into<String>) -> Progress {
    Progress {
        id: id.map(String::from),
        status: text.into(),
        detail: None,
    }
}

fn short(digest: &str) -> String {
    digest
        .strip_prefix("sha256:")
        .unwrap_or(digest)
        .chars()
        .take(12)
        .collect()
}

impl Engine {
    /// The tagged references of `repository` (a name without tag), sorted:
    /// what `docker push --all-tags` pushes.
    pub fn push_tags(&self, repository: &Reference) -> Result<Vec<Reference>, EngineError> {
        let name = repository.name();
        let mut out: Vec<Reference> = self
            .store()
            .meta()
            .refs()?
            .into_iter()
            .filter_map(|(r, _)| Reference::parse(&r).ok())
            .filter(|r| r.name() == name && r.tag.is_some())
            .collect();
        out.sort_by(|a, b| a.tag.cmp(&b.tag));
        if out.is_empty() {
            return Err(ImageError::NotFound(format!(
                "An image does not exist locally with the tag: {}",
                repository.familiar_name()
            ))
            .into());
        }
        Ok(out)
    }

    /// Finds the image tagged `reference` and opens a session to its
    /// registry: the failures a push can have before it sends anything.
    pub async fn push_prepare(
        self: &Arc<Self>,
        client: &registry::Client,
        reference: Reference,
        credentials: Credentials,
        options: PushOptions,
    ) -> Result<Push, EngineError> {
        let reference = reference.with_default_tag();
        let image = self
            .store()
            .meta()
            .resolve(&reference.to_string())?
            .and_then(|id| self.store().meta().image(&id).ok().flatten())
            .ok_or_else(|| {
                ImageError::NotFound(format!(
                    "An image does not exist locally with the tag: {}",
                    reference.familiar_name()
                ))
            })?;
        let session = client
            .session(&reference, credentials)
            .await
            .map_err(|e| push_error(e, &reference))?;
        Ok(Push {
            engine: self.clone(),
            session,
            reference,
            image,
            options,
        })
    }
}

/// A registry error during a push, in Docker's words where they differ
/// from a pull's.
fn push_error(e: registry::RegistryError, reference: &Reference) -> EngineError {
    match e.kind() {
        registry::Kind::Unauthorized | registry::Kind::Denied => ImageError::sys(e).into(),
        _ => registry_error(e, reference),
    }
}

/// One layer's push.
struct LayerJob {
    engine: Arc<Engine>,
    session: Session,
    record: LayerRecord,
    compression: Compression,
    chunk: u64,
    /// Other repositories of the registry that hold images with this layer.
    mount_from: Vec<String>,
    sink: Sink,
}

impl Push {
    /// Pushes the layers, the config and the manifest; records the repo
    /// digest. Reports each step to `sink`, the digest line included.
    pub async fn run(self, sink: Sink) -> Result<Pushed, EngineError> {
        // The collector waits until the push is over: the blobs it read from
        // the layer records are uploaded later, and an rmi or prune
        // meanwhile took one whose record another image had rewritten
        // (found by the torture harness). Let go when `_release` drops.
        let (_release, _held) = self.engine.hold_writes().await;
        let r = &self.reference;
        let err = |e| push_error(e, r);
        let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
        sink(status(
            None,
            format!("The push refers to repository [{}]", r.name()),
        ));
        let store = self.engine.store();
        let config_bytes = store
            .content()
            .read(&self.image.id, registry::session::MAX_CONFIG)
            .map_err(store::store::StoreError::from)?;
        let config: ImageConfig = store::config::parse(&config_bytes)
            .map_err(|e| ImageError::failed(format!("config {}", self.image.id), e))?;
        let chains = chain_ids(&config.rootfs.diff_ids);
        let mut records = Vec::new();
        for c in &chains {
            let rec = store
                .meta()
                .layer(c)?
                .ok_or_else(|| ImageError::sys(format!("layer {c} is not in the store")))?;
            records.push(rec);
        }
        let candidates = self.mount_candidates()?;
        // Top layer first, as Docker lists them.
        for rec in records.iter().rev() {
            sink(status(Some(&short(&rec.diff_id)), "Preparing"));
        }
        let mut jobs = Vec::new();
        for (n, (i, rec)) in records.iter().enumerate().rev().enumerate() {
            if n >= PARALLEL {
                sink(status(Some(&short(&rec.diff_id)), "Waiting"));
            }
            let job = LayerJob {
                engine: self.engine.clone(),
                session: self.session.clone(),
                record: rec.clone(),
                compression: self.options.compression,
                chunk: self.options.chunk,
                mount_from: candidates
                    .iter()
                    .filter(|(_, diff_ids)| diff_ids.contains(&rec.diff_id))
                    .map(|(repo, _)| repo.clone())
                    .collect(),
                sink: sink.clone(),
            };
            jobs.push((i, async move { job.run().await }));
        }
        let mut layers: Vec<Option<Descriptor>> = vec![None; records.len()];
        for (i, d) in crate::pull::run_bounded(jobs, "layer upload").await? {
            layers[i] = Some(d);
        }
        let layers: Vec<Descriptor> = layers.into_iter().flatten().collect();

        // The config, then the manifest naming everything: last, so that a
        // registry never serves a manifest whose blobs are missing.
        let (config_media, manifest_media) = match self.options.compression {
            Compression::Gzip => (DOCKER_CONFIG, registry::manifest::DOCKER_MANIFEST),
            Compression::Zstd => (OCI_CONFIG, registry::manifest::OCI_MANIFEST),
        };
        let config_desc = Descriptor {
            media_type: config_media.into(),
            digest: self.image.id.clone(),
            size: config_bytes.len() as u64,
            ..Default::default()
        };
        if !self.session.blob_exists(&config_desc).await.map_err(err)? {
            let location = self.session.start_upload().await.map_err(err)?;
            self.session
                .upload_blob(
                    location,
                    &config_desc,
                    &config_bytes[..],
                    self.options.chunk,
                    &mut |_| {},
                )
                .await
                .map_err(err)?;
        }
        let manifest = manifest_bytes(manifest_media, &config_desc, &layers);
        let size = manifest.len() as u64;
        let digest = self
            .session
            .put_manifest(&tag, manifest_media, Bytes::from(manifest))
            .await
            .map_err(err)?;
        sink(status(
            None,
            format!("{tag}: digest: {digest} size: {size}"),
        ));
        // Recorded as a pull records it, so that `RepoDigests` shows it and
        // later pushes can mount from this repository.
        let repo_digest = format!("{}@{digest}", r.familiar_name());
        let id = self.image.id.clone();
        store.meta().write(|w| {
            if let Some(mut img) = w.image(&id)? {
                if !img.repo_digests.contains(&repo_digest) {
                    img.repo_digests.push(repo_digest.clone());
                    w.put_image(&img)?;
                }
            }
            Ok::<_, store::meta::MetaError>(())
        })?;
        Ok(Pushed { tag, digest, size })
    }

    /// Repositories of the same registry (not the target) that images were
    /// pulled from or pushed to, with their images' diff ids.
    fn mount_candidates(&self) -> Result<Vec<(String, Vec<String>)>, EngineError> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for img in self.engine.store().meta().images()? {
            for rd in &img.repo_digests {
                let Ok(r) = Reference::parse(rd) else {
                    continue;
                };
                if r.domain != self.reference.domain || r.path == self.reference.path {
                    continue;
                }
                match out.iter_mut().find(|(p, _)| *p == r.path) {
                    Some((_, ids)) => ids.extend(img.diff_ids.iter().cloned()),
                    None => out.push((r.path.clone(), img.diff_ids.clone())),
                }
            }
        }
        Ok(out)
    }
}

/// The manifest, compact JSON: the same image always gives the same bytes.
fn manifest_bytes(media: &str, config: &Descriptor, layers: &[Descriptor]) -> Vec<u8> {
    let desc =
        |d: &Descriptor| json!({"mediaType": d.media_type, "size": d.size, "digest": d.digest});
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media,
        "config": desc(config),
        "layers": layers.iter().map(desc).collect::<Vec<_>>(),
    }))
    .unwrap_or_default()
}

impl LayerJob {
    async fn run(self) -> Result<Descriptor, EngineError> {
        let id = short(&self.record.diff_id);
        let fail = |e: registry::RegistryError| ImageError::sys(e);
        let engine = self.engine.clone();
        let (record, compression) = (self.record.clone(), self.compression);
        let desc = tokio::task::spawn_blocking(move || layer_blob(&engine, &record, compression))
            .await
            .map_err(|e| ImageError::failed("compressing", e))??;
        if self.session.blob_exists(&desc).await.map_err(fail)? {
            (self.sink)(status(Some(&id), "Layer already exists"));
            return Ok(desc);
        }
        let mut location = None;
        for from in &self.mount_from {
            match self.session.mount_blob(&desc.digest, from).await {
                Ok(Mount::Mounted) => {
                    (self.sink)(status(Some(&id), format!("Mounted from {from}")));
                    return Ok(desc);
                }
                Ok(Mount::Upload(l)) => {
                    location = Some(l);
                    break;
                }
                // A refused mount is no failure: upload instead.
                Err(_) => continue,
            }
        }
        let location = match location {
            Some(l) => l,
            None => self.session.start_upload().await.map_err(fail)?,
        };
        let path = self
            .engine
            .store()
            .content()
            .path(&desc.digest)
            .map_err(store::store::StoreError::from)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| ImageError::failed(path.display().to_string(), e))?;
        let total = desc.size;
        let sink = self.sink.clone();
        let mut reported = 0u64;
        let layer_id = id.clone();
        // Every chunk is worth a line when chunks are small.
        let step = PROGRESS_STEP.min(self.chunk);
        let mut progress = move |sent: u64| {
            if sent - reported >= step || sent == total {
                reported = sent;
                sink(Progress {
                    id: Some(layer_id.clone()),
                    status: "Pushing".into(),
                    detail: Some((sent, total)),
                });
            }
        };
        (self.sink)(Progress {
            id: Some(id.clone()),
            status: "Pushing".into(),
            detail: Some((0, total)),
        });
        self.session
            .upload_blob(location, &desc, file, self.chunk, &mut progress)
            .await
            .map_err(fail)?;
        (self.sink)(status(Some(&id), "Pushed"));
        Ok(desc)
    }
}

/// What the first bytes of a blob say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gzip,
    Zstd,
    Tar,
}

fn sniff(path: &std::path::Path) -> std::io::Result<Kind> {
    let mut head = [0u8; 4];
    let mut f = std::fs::File::open(path)?;
    let n = f.read(&mut head)?;
    Ok(match &head[..n] {
        [0x1f, 0x8b, ..] => Kind::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Kind::Zstd,
        _ => Kind::Tar,
    })
}

/// A layer's blob in `compression`: one its record names if there is one,
/// else made now from any blob it has (decompressed, its tar checked
/// against the diff id, compressed), stored and named in the record.
fn layer_blob(
    engine: &Engine,
    record: &LayerRecord,
    compression: Compression,
) -> Result<Descriptor, EngineError> {
    let _hold = engine.writing();
    let content = engine.store().content();
    let (path, kind) = match stored_blob(content, record, compression)? {
        Stored::Ready(d) => return Ok(d),
        Stored::Other(path, kind) => (path, kind),
    };
    let (tmp, digest, size) = recompress(content, record, &path, kind, compression)?;
    if !content.exists(&digest) {
        content
            .commit(tmp, &digest)
            .map_err(store::store::StoreError::from)?;
    }
    let media = compression.layer_media().to_string();
    let chain = record.chain_id.clone();
    engine.store().meta().write(|w| {
        if let Some(mut rec) = w.layer(&chain)? {
            if !rec.blobs.iter().any(|(d, _)| *d == digest) {
                rec.blobs.push((digest.clone(), media.clone()));
                w.put_layer(&rec)?;
            }
        }
        Ok::<_, store::meta::MetaError>(())
    })?;
    Ok(Descriptor {
        media_type: media,
        digest,
        size,
        ..Default::default()
    })
}

/// What the store holds of a layer: a blob already in the compression
/// wanted, or another one (the first found) to make it from.
enum Stored {
    Ready(Descriptor),
    Other(std::path::PathBuf, Kind),
}

/// An I/O error on `path`, as the push reports it.
fn io_error(path: &std::path::Path, e: std::io::Error) -> EngineError {
    ImageError::failed(path.display().to_string(), e).into()
}

/// Looks through the blobs the layer's record names for one in
/// `compression`; an error when the store has none of them.
fn stored_blob(
    content: &store::content::Content,
    record: &LayerRecord,
    compression: Compression,
) -> Result<Stored, EngineError> {
    let want = match compression {
        Compression::Gzip => Kind::Gzip,
        Compression::Zstd => Kind::Zstd,
    };
    let io = io_error;
    let mut source = None;
    for (digest, _) in &record.blobs {
        let Ok(path) = content.path(digest) else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let kind = sniff(&path).map_err(|e| io(&path, e))?;
        if kind == want {
            return Ok(Stored::Ready(Descriptor {
                media_type: compression.layer_media().into(),
                digest: digest.clone(),
                size: meta.len(),
                ..Default::default()
            }));
        }
        source.get_or_insert((path, kind));
    }
    let Some((path, kind)) = source else {
        return Err(ImageError::sys(format!(
            "layer {}: no blob of it is in the store to push",
            record.diff_id
        ))
        .into());
    };
    Ok(Stored::Other(path, kind))
}

/// Decompresses the blob at `path` (of `kind`) and compresses its tar in
/// `compression` into a new uncommitted blob, checking the tar against
/// the layer's diff id. Returns the blob, its digest and size.
fn recompress(
    content: &store::content::Content,
    record: &LayerRecord,
    path: &std::path::Path,
    kind: Kind,
    compression: Compression,
) -> Result<(tempfile::NamedTempFile, String, u64), EngineError> {
    let io = io_error;
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut tar: Box<dyn Read> = match kind {
        Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Kind::Zstd => Box::new(zstd::stream::read::Decoder::new(file).map_err(|e| io(path, e))?),
        Kind::Tar => Box::new(file),
    };
    let tmp = content.begin().map_err(store::store::StoreError::from)?;
    let file = tmp.as_file().try_clone().map_err(|e| io(tmp.path(), e))?;
    let out = HashingWriter {
        inner: std::io::BufWriter::new(file),
        hasher: sha2::Sha256::new(),
        size: 0,
    };
    let mut diff_hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut copy = |enc: &mut dyn Write,
                    tar: &mut dyn Read,
                    diff_hasher: &mut sha2::Sha256|
     -> std::io::Result<()> {
        loop {
            let n = tar.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            diff_hasher.update(&buf[..n]);
            enc.write_all(&buf[..n])?;
        }
    };
    // Fixed settings and no name or time in the gzip header: the same tar
    // always compresses to the same blob.
    let out = match compression {
        Compression::Gzip => {
            let mut enc = flate2::GzBuilder::new().write(out, flate2::Compression::default());
            copy(&mut enc, &mut tar, &mut diff_hasher).map_err(|e| io(path, e))?;
            enc.finish().map_err(|e| io(path, e))?
        }
        Compression::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(out, 3).map_err(|e| io(path, e))?;
            copy(&mut enc, &mut tar, &mut diff_hasher).map_err(|e| io(path, e))?;
            enc.finish().map_err(|e| io(path, e))?
        }
    };
    let diff_id = store::config::digest_string(&diff_hasher.finalize());
    if diff_id != record.diff_id {
        return Err(ImageError::sys(format!(
            "layer {}: its stored blob holds a tar with diff id {diff_id}",
            record.diff_id
        ))
        .into());
    }
    let HashingWriter {
        inner,
        hasher,
        size,
    } = out;
    inner.into_inner().map_err(|e| io(path, e.into_error()))?;
    let digest = store::config::digest_string(&hasher.finalize());
    Ok((tmp, digest, size))
}

/// Hashes and counts what goes through to `inner`.
struct HashingWriter<W> {
    inner: W,
    hasher: sha2::Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_stable_and_schema2() {
        let config = Descriptor {
            media_type: DOCKER_CONFIG.into(),
            digest: "sha256:c".into(),
            size: 3,
            ..Default::default()
        };
        let layer = Descriptor {
            media_type: DOCKER_GZIP.into(),
            digest: "sha256:l".into(),
            size: 9,
            ..Default::default()
        };
        let a = manifest_bytes(
            registry::manifest::DOCKER_MANIFEST,
            &config,
            std::slice::from_ref(&layer),
        );
        let b = manifest_bytes(registry::manifest::DOCKER_MANIFEST, &config, &[layer]);
        assert_eq!(a, b);
        let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(v["layers"][0]["size"], 9);
        assert_eq!(v["config"]["mediaType"], DOCKER_CONFIG);
    }

    #[test]
    fn compression_names() {
        for (s, want) in [
            ("", Some(Compression::Gzip)),
            ("gzip", Some(Compression::Gzip)),
            ("zstd", Some(Compression::Zstd)),
            ("lz4", None),
        ] {
            assert_eq!(Compression::parse(s).ok(), want, "{s}");
        }
    }
}
