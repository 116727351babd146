//! `docker pull`: a reference resolved at its registry, the config fetched,
//! missing layers downloaded (at most [`PARALLEL`] at once) and unpacked as
//! they stream in, then the image recorded with its tag and repo digest in
//! one transaction.
//!
//! Two steps, so that the daemon can answer failures that come before any
//! download with a status code (a missing tag is a 404) and stream the rest:
//! [`Engine::pull_prepare`] talks to the registry until the manifest is
//! known, [`Pull::run`] does the transfer and reports [`Progress`] in
//! Docker's words (`Pulling fs layer`, `Downloading`, `Pull complete`…).

use std::sync::Arc;

use bytes::Bytes;
use registry::{Credentials, Platform, RegistryError, Resolved, Session};
use store::config::{chain_ids, ImageConfig};
use store::meta::LayerRecord;
use store::reference::Reference;

use crate::images::ImageError;
use crate::{Engine, EngineError};

/// Layers downloaded at once, as Docker's default `max-concurrent-downloads`.
pub const PARALLEL: usize = 3;
/// Chunks in flight between a download and its unpack (each up to a few
/// hundred KiB).
const CHANNEL_CHUNKS: usize = 16;
/// Downloading progress is reported at most every this many bytes.
const PROGRESS_STEP: u64 = 256 << 10;

/// One progress message, in the shape of Docker's JSON messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// A layer's short id, or the tag for the first line; none for the
    /// summary lines.
    pub id: Option<String>,
    /// `Pulling fs layer`, `Downloading`…
    pub status: String,
    /// Bytes done and total, for `Downloading` and `Extracting`.
    pub detail: Option<(u64, u64)>,
}

impl Progress {
    fn new(id: Option<&str>, status: impl Into<String>) -> Progress {
        Progress {
            id: id.map(String::from),
            status: status.into(),
            detail: None,
        }
    }
}

/// Where progress goes.
pub type Sink = Arc<dyn Fn(Progress) + Send + Sync>;

/// A pull whose manifest is known: what [`Pull::run`] needs.
pub struct Pull {
    engine: Arc<Engine>,
    session: Session,
    reference: Reference,
    resolved: Resolved,
}

impl std::fmt::Debug for Pull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pull")
            .field("reference", &self.reference)
            .field("digest", &self.resolved.digest)
            .finish()
    }
}

/// A registry error as the engine reports it, in Docker's words for the
/// common cases.
pub fn registry_error(e: RegistryError, reference: &Reference) -> EngineError {
    let message = match &e {
        RegistryError::Status { code, message, .. } if code == "MANIFEST_UNKNOWN" => {
            format!(
                "manifest for {} not found: {message}",
                reference.familiar()
            )
        }
        RegistryError::Status { code, message, .. } if code == "NAME_UNKNOWN" => {
            format!(
                "repository {} not found: {message}",
                reference.familiar_name()
            )
        }
        RegistryError::Status { status: 401, code, message } if code == "UNAUTHORIZED" && message.starts_with("Get ") => message.clone(),
        RegistryError::Status { status: 401 | 403, message, .. } => format!(
            "pull access denied for {}, repository does not exist or may require 'docker login': {message}",
            reference.familiar_name()
        ),
        other => other.to_string(),
    };
    ImageError::Registry { message, source: e }.into()
}

/// Runs `jobs` (each with its index), at most [`PARALLEL`] at once, and
/// returns their results with their indexes. The first failure aborts the
/// others (their futures are dropped) and is returned; `what` names a task
/// that panicked.
pub(crate) async fn run_bounded<T, F>(
    jobs: Vec<(usize, F)>,
    what: &str,
) -> Result<Vec<(usize, T)>, EngineError>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, EngineError>> + Send + 'static,
{
    let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, job) in jobs {
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (i, job.await)
        });
    }
    let mut out = Vec::new();
    let mut failure = None;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((i, Ok(v))) => out.push((i, v)),
            Ok((_, Err(e))) => {
                failure = Some(e);
                break;
            }
            Err(e) => {
                failure = Some(ImageError::failed(what, e).into());
                break;
            }
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    match failure {
        Some(e) => Err(e),
        None => Ok(out),
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
    /// Resolves `reference` (a tag or digest; `latest` when neither) at its
    /// registry for `platform`, with `credentials`.
    pub async fn pull_prepare(
        self: &Arc<Self>,
        client: &registry::Client,
        reference: Reference,
        platform: &Platform,
        credentials: Credentials,
    ) -> Result<Pull, EngineError> {
        let reference = reference.with_default_tag();
        let err = |e| registry_error(e, &reference);
        let session = client.session(&reference, credentials).await.map_err(err)?;
        let want = reference
            .digest
            .clone()
            .or_else(|| reference.tag.clone())
            .unwrap_or_else(|| "latest".into());
        let resolved = session.resolve(&want, platform).await.map_err(err)?;
        Ok(Pull {
            engine: self.clone(),
            session,
            reference,
            resolved,
        })
    }
}

impl Engine {
    /// The tags of `reference`'s repository at its registry
    /// (`docker pull --all-tags`).
    pub async fn pull_tags(
        &self,
        client: &registry::Client,
        reference: &Reference,
        credentials: Credentials,
    ) -> Result<Vec<String>, EngineError> {
        let err = |e| registry_error(e, reference);
        let session = client.session(reference, credentials).await.map_err(err)?;
        session.tags().await.map_err(err)
    }
}

impl Pull {
    /// The digest the reference resolved to.
    pub fn digest(&self) -> &str {
        &self.resolved.digest
    }

    /// Downloads and records the image; returns its id. Reports each step
    /// to `sink`, the summary lines (`Digest:`, `Status:`) included.
    pub async fn run(self, sink: Sink) -> Result<String, EngineError> {
        let r = &self.reference;
        let first_id = r.digest.clone().or_else(|| r.tag.clone());
        sink(Progress::new(
            first_id.as_deref(),
            format!("Pulling from {}", r.path),
        ));
        let (config_bytes, diff_ids) = self.fetch_config().await?;
        let image_id = self.resolved.config.digest.clone();
        let store = self.engine.store();
        let tag_ref = r.tag.as_ref().map(|_| r.clone());
        let current = match &tag_ref {
            Some(t) => store.meta().resolve(&t.to_string())?,
            None => None,
        };
        let repo_digest = format!("{}@{}", r.familiar_name(), self.resolved.digest);

        // Hold off the garbage collector until the image is recorded: it
        // would take blobs and layers that no record names yet.
        let (release, held) = self.engine.hold_writes().await;

        let chains = chain_ids(&diff_ids);
        let tag_current = current.as_deref() == Some(image_id.as_str());
        let (mut records, missing) = self.known_layers(&chains, tag_current, &sink)?;
        if let Err(e) = self.room_for(&missing) {
            drop(release);
            // Waits for the holder thread to let go; an `Err` (the thread gone
            // without a word) leaves nothing to undo.
            let _ = held.await;
            return Err(e);
        }
        let downloaded = !missing.is_empty();
        // A failure aborts the other downloads; their unpacks see the
        // stream end early and clean up after themselves.
        match self.download(&missing, &chains, &diff_ids, &sink).await {
            Ok(done) => {
                for (i, rec) in done {
                    records[i] = Some(rec);
                }
            }
            Err(e) => {
                drop(release);
                // Waits for the holder thread to let go; an `Err` (the thread gone
                // without a word) leaves nothing to undo.
                let _ = held.await;
                return Err(e);
            }
        }
        let records: Vec<LayerRecord> = records.into_iter().flatten().collect();
        let engine = self.engine.clone();
        let tag = tag_ref.clone();
        let rd = repo_digest.clone();
        let added = tokio::task::spawn_blocking(move || {
            engine
                .store()
                .add_image(&config_bytes, &records, tag.as_ref(), Some(rd))
        })
        .await
        .map_err(|e| ImageError::failed("recording the image", e));
        drop(release);
        // Waits for the holder thread to let go; an `Err` (the thread gone
        // without a word) leaves nothing to undo.
        let _ = held.await;
        let image = added??;
        sink(Progress::new(
            None,
            format!("Digest: {}", self.resolved.digest),
        ));
        let shown = r.familiar();
        let up_to_date = !downloaded
            && match &tag_ref {
                Some(_) => tag_current,
                None => true,
            };
        sink(Progress::new(
            None,
            if up_to_date {
                format!("Status: Image is up to date for {shown}")
            } else {
                format!("Status: Downloaded newer image for {shown}")
            },
        ));
        Ok(image.id)
    }

    /// The image's config (bounded), and its layers' diff ids, as many as
    /// the manifest has layers.
    async fn fetch_config(&self) -> Result<(Vec<u8>, Vec<String>), EngineError> {
        let r = &self.reference;
        let err = |e| registry_error(e, r);
        let config_bytes = self
            .session
            .blob_bytes(&self.resolved.config, registry::session::MAX_CONFIG)
            .await
            .map_err(err)?;
        let config: ImageConfig = store::config::parse(&config_bytes)
            .map_err(|e| ImageError::Invalid(format!("invalid image config: {e}")))?;
        let diff_ids = config.rootfs.diff_ids.clone();
        let layers = &self.resolved.layers;
        if diff_ids.len() != layers.len() {
            return Err(ImageError::Invalid(format!(
                "the config lists {} layers, the manifest {}",
                diff_ids.len(),
                layers.len()
            ))
            .into());
        }
        Ok((config_bytes, diff_ids))
    }

    /// The layers the store already has (their records), and the indexes
    /// of those missing; says which is which to `sink` (nothing per known
    /// layer when the tag already names this image: `tag_current`).
    #[allow(clippy::type_complexity)]
    fn known_layers(
        &self,
        chains: &[String],
        tag_current: bool,
        sink: &Sink,
    ) -> Result<(Vec<Option<LayerRecord>>, Vec<usize>), EngineError> {
        let store = self.engine.store();
        let layers = &self.resolved.layers;
        let mut records: Vec<Option<LayerRecord>> = Vec::with_capacity(layers.len());
        let mut missing = Vec::new();
        for (i, (desc, chain)) in layers.iter().zip(chains).enumerate() {
            let known = store.meta().layer(chain)?;
            let id = short(&desc.digest);
            match known.filter(|_| store.layer_dir(chain).is_dir()) {
                Some(rec) => {
                    // Nothing to say per layer when the tag is already there.
                    if !tag_current {
                        sink(Progress::new(Some(&id), "Already exists"));
                    }
                    records.push(Some(rec));
                }
                None => {
                    sink(Progress::new(Some(&id), "Pulling fs layer"));
                    records.push(None);
                    missing.push(i);
                }
            }
        }
        Ok((records, missing))
    }

    /// Downloads and unpacks the `missing` layers, [`PARALLEL`] at a time
    /// (the others `Waiting`); returns each one's record by index.
    async fn download(
        &self,
        missing: &[usize],
        chains: &[String],
        diff_ids: &[String],
        sink: &Sink,
    ) -> Result<Vec<(usize, LayerRecord)>, EngineError> {
        let layers = &self.resolved.layers;
        let mut jobs = Vec::new();
        for (n, &i) in missing.iter().enumerate() {
            if n >= PARALLEL {
                sink(Progress::new(Some(&short(&layers[i].digest)), "Waiting"));
            }
            let job = LayerJob {
                engine: self.engine.clone(),
                session: self.session.clone(),
                desc: layers[i].clone(),
                parent: if i == 0 {
                    None
                } else {
                    Some(chains[i - 1].clone())
                },
                diff_id: diff_ids[i].clone(),
                sink: sink.clone(),
            };
            jobs.push((i, async move { job.run().await }));
        }
        run_bounded(jobs, "layer download").await
    }
}

impl Pull {
    /// Refuses, before a byte is fetched, layers that declare more than
    /// the store takes ([`store::store::MAX_BLOB`], as for imports) or more
    /// than the data root has free: a registry may declare any size, and
    /// the bytes of each layer are kept as they come (the unpacked tree
    /// comes on top). The stream itself never exceeds what was declared.
    fn room_for(&self, missing: &[usize]) -> Result<(), EngineError> {
        let layers = &self.resolved.layers;
        let mut declared: u64 = 0;
        for &i in missing {
            let d = &layers[i];
            if d.size > store::store::MAX_BLOB {
                return Err(ImageError::Invalid(format!(
                    "layer {} declares {} bytes, more than the limit of {} bytes",
                    d.digest,
                    d.size,
                    store::store::MAX_BLOB
                ))
                .into());
            }
            declared = declared.saturating_add(d.size);
        }
        let root = self.engine.data_root.join("image");
        if let Ok(st) = nix::sys::statvfs::statvfs(&root) {
            let free = st.blocks_available().saturating_mul(st.fragment_size());
            if declared > free {
                return Err(ImageError::sys(format!(
                        "not enough space in {}: the layers to pull declare {declared} bytes, {free} are free",
                        root.display()
                    )).into());
            }
        }
        Ok(())
    }
}

/// One layer's download and unpack.
struct LayerJob {
    engine: Arc<Engine>,
    session: Session,
    desc: registry::manifest::Descriptor,
    parent: Option<String>,
    diff_id: String,
    sink: Sink,
}

impl LayerJob {
    async fn run(self) -> Result<LayerRecord, EngineError> {
        let id = short(&self.desc.digest);
        let total = self.desc.size;
        let fail = |e: RegistryError| ImageError::sys(e);
        let mut stream = self.session.blob(&self.desc).await.map_err(fail)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(CHANNEL_CHUNKS);
        let engine = self.engine.clone();
        let (digest, media) = (self.desc.digest.clone(), self.desc.media_type.clone());
        let (parent, diff_id) = (self.parent.clone(), self.diff_id.clone());
        let unpack = tokio::task::spawn_blocking(move || {
            let reader = ChannelReader {
                rx,
                chunk: Bytes::new(),
            };
            engine.store().unpack_stream(
                reader,
                (&digest, total, &media),
                parent.as_deref(),
                &diff_id,
            )
        });
        let mut reported = 0u64;
        let streamed = loop {
            match stream.next().await {
                Ok(Some(chunk)) => {
                    if tx.send(Ok(chunk)).await.is_err() {
                        // The unpack stopped: its error tells why.
                        break Ok(());
                    }
                    let got = stream.received();
                    if got - reported >= PROGRESS_STEP || got == total {
                        reported = got;
                        (self.sink)(Progress {
                            id: Some(id.clone()),
                            status: "Downloading".into(),
                            detail: Some((got, total)),
                        });
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => {
                    // The reader gone (it failed first) has its own error to report.
                    let _ = tx.send(Err(e.to_string())).await;
                    break Err(e);
                }
            }
        };
        drop(tx);
        if streamed.is_ok() && stream.received() == total {
            (self.sink)(Progress::new(Some(&id), "Verifying Checksum"));
            (self.sink)(Progress::new(Some(&id), "Download complete"));
        }
        let unpacked = unpack.await.map_err(|e| ImageError::failed("unpack", e))?;
        streamed.map_err(fail)?;
        let rec =
            unpacked.map_err(|e| ImageError::Invalid(format!("failed to register layer: {e}")))?;
        (self.sink)(Progress {
            id: Some(id.clone()),
            status: "Extracting".into(),
            detail: Some((total, total)),
        });
        (self.sink)(Progress::new(Some(&id), "Pull complete"));
        Ok(rec)
    }
}

/// The blocking side of a download: reads the chunks the async side sends.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    chunk: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(c)) => self.chunk = c,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        bytes::Buf::advance(&mut self.chunk, n);
        Ok(n)
    }
}

impl Engine {
    /// A shared hold on the store against the garbage collector, for work
    /// that spans awaits: a thread holds it until `release` is dropped;
    /// await the returned receiver after dropping it.
    pub(crate) async fn hold_writes(
        self: &Arc<Self>,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::sync::oneshot::Receiver<()>,
    ) {
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (held_tx, held_rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let engine = self.clone();
        std::thread::spawn(move || {
            let guard = engine.writing();
            // The awaiting side is gone only if its task was dropped: nothing to tell.
            let _ = held_tx.send(());
            // `Err` is the release: the sender was dropped.
            let _ = release_rx.recv();
            drop(guard);
            // The awaiting side is gone only if its task was dropped: nothing to tell.
            let _ = done_tx.send(());
        });
        // The holder thread always sends before it can end.
        let _ = held_rx.await;
        (release_tx, done_rx)
    }
}
