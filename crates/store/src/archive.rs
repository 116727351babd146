//! `save` and `load`: images in and out of archives, in the two formats
//! people have.
//!
//! `save` writes what Docker 25+ writes: an OCI image layout (`oci-layout`,
//! `index.json`, `blobs/sha256/…` with OCI manifests and uncompressed layer
//! tars) plus Docker's `manifest.json` and `repositories`, so that both
//! `docker load` and OCI tools (`skopeo inspect oci:…`) read it. Entries are
//! written in a fixed order with fixed headers: the same images make the same
//! archive.
//!
//! `load` reads Docker's `manifest.json` (any Docker version's layout, and
//! skopeo's `docker-archive`) or, without it, an OCI layout's `index.json`.
//! The archive is untrusted: it is unpacked with the layer unpacker (no
//! escapes, bounded), every path it names is resolved inside it, every blob
//! is checked against its digest, and every layer against the diff id its
//! config gives. Nothing is recorded until all of an image is in place.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Component, Path, PathBuf};

use models::oci::{Descriptor, Index, Manifest};
use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};

use crate::config::{chain_ids, ImageConfig};
use crate::meta::{ImageRecord, LayerRecord};
use crate::reference::Reference;
use crate::store::{Store, StoreError, MAX_BLOB, MAX_CONFIG};

/// Media types berth writes.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Uncompressed OCI layer.
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The annotation containerd and Docker 25+ name an image by.
const NAME_ANNOTATION: &str = "io.containerd.image.name";
/// The OCI annotation of a reference's tag.
const REF_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// One entry of Docker's `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifest {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    /// (Read with Go's rules: a `null` list is empty.)
    #[serde(default)]
    layers: Vec<String>,
}

fn invalid(why: impl Into<String>) -> StoreError {
    StoreError::Invalid(why.into())
}

fn hex(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap_or(d)
}

/// Writes `images` (each with the references to record for it) as a tar.
pub fn save<W: Write>(
    store: &Store,
    images: &[(ImageRecord, Vec<Reference>)],
    out: W,
) -> Result<W, StoreError> {
    let mut w = ArchiveWriter {
        b: tar::Builder::new(out),
        written: std::collections::BTreeSet::new(),
    };
    let mut lists = SaveLists::default();
    w.dir("blobs")?;
    w.dir("blobs/sha256")?;
    for (image, refs) in images {
        save_image(store, &mut w, image, refs, &mut lists)?;
    }
    lists.write(&mut w)?;
    w.b.into_inner().map_err(archive_io)
}

/// An error of writing the archive.
fn archive_io(e: std::io::Error) -> StoreError {
    StoreError::Io {
        path: PathBuf::from("<archive>"),
        source: e,
    }
}

/// The archive being written, with fixed headers (mode, mtime 0) so that
/// the same images make the same archive, and each blob once.
struct ArchiveWriter<W: Write> {
    b: tar::Builder<W>,
    /// Digests of the blobs written.
    written: std::collections::BTreeSet<String>,
}

impl<W: Write> ArchiveWriter<W> {
    /// Adds the file `name` of `size` bytes read from `data`.
    fn file(&mut self, name: &str, data: &mut dyn Read, size: u64) -> Result<(), StoreError> {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_size(size);
        self.b.append_data(&mut h, name, data).map_err(archive_io)
    }

    /// Adds the directory `name`.
    fn dir(&mut self, name: &str) -> Result<(), StoreError> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_mtime(0);
        h.set_size(0);
        self.b
            .append_data(&mut h, name, std::io::empty())
            .map_err(archive_io)
    }

    /// Adds the blob `digest` under `blobs/sha256/`, unless it is there
    /// already (images share layers and configs).
    fn blob(&mut self, digest: &str, data: &mut dyn Read, size: u64) -> Result<(), StoreError> {
        if self.written.insert(digest.to_string()) {
            self.file(&format!("blobs/sha256/{}", hex(digest)), data, size)?;
        }
        Ok(())
    }
}

/// What the archive's top files list, gathered image by image.
#[derive(Default)]
struct SaveLists {
    /// Docker's `manifest.json`.
    docker: Vec<DockerManifest>,
    /// The OCI `index.json`'s manifests.
    index: Vec<Descriptor>,
    /// Docker's `repositories`: name, tag, top layer's diff id.
    repositories: BTreeMap<String, BTreeMap<String, String>>,
}

impl SaveLists {
    /// Writes `index.json`, `manifest.json`, `oci-layout` and
    /// `repositories`, in that order.
    fn write<W: Write>(self, w: &mut ArchiveWriter<W>) -> Result<(), StoreError> {
        let index = serde_json::to_vec(&Index {
            schema_version: 2,
            media_type: OCI_INDEX.into(),
            manifests: self.index,
            ..Index::default()
        })
        .expect("json");
        w.file("index.json", &mut index.as_slice(), index.len() as u64)?;
        let m = serde_json::to_vec(&self.docker).expect("json");
        w.file("manifest.json", &mut m.as_slice(), m.len() as u64)?;
        let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
        w.file("oci-layout", &mut layout.as_slice(), layout.len() as u64)?;
        let repos = serde_json::to_vec(&self.repositories).expect("json");
        w.file("repositories", &mut repos.as_slice(), repos.len() as u64)
    }
}

/// Writes one image's blobs (config, layers, OCI manifest) and lists it
/// under its references.
fn save_image<W: Write>(
    store: &Store,
    w: &mut ArchiveWriter<W>,
    image: &ImageRecord,
    refs: &[Reference],
    lists: &mut SaveLists,
) -> Result<(), StoreError> {
    let config_bytes = store.content().read(&image.id, MAX_CONFIG)?;
    w.blob(
        &image.id,
        &mut config_bytes.as_slice(),
        config_bytes.len() as u64,
    )?;
    let layer_descs = save_layers(store, w, image)?;
    let layer_paths = layer_descs
        .iter()
        .map(|d| format!("blobs/sha256/{}", hex(&d.digest)))
        .collect();
    let manifest = serde_json::to_vec(&Manifest {
        schema_version: 2,
        media_type: OCI_MANIFEST.into(),
        config: Descriptor {
            media_type: OCI_CONFIG.into(),
            digest: image.id.clone(),
            size: config_bytes.len() as i64,
            ..Descriptor::default()
        },
        layers: layer_descs,
        ..Manifest::default()
    })
    .expect("json");
    let manifest_digest = crate::config::sha256(&manifest);
    w.blob(
        &manifest_digest,
        &mut manifest.as_slice(),
        manifest.len() as u64,
    )?;
    let tags: Vec<String> = refs
        .iter()
        .filter(|r| r.tag.is_some())
        .map(|r| r.familiar())
        .collect();
    lists
        .index
        .push(index_entry(manifest_digest, manifest.len(), refs));
    for r in refs {
        if let (Some(tag), Some(top)) = (&r.tag, image.diff_ids.last()) {
            lists
                .repositories
                .entry(r.familiar_name())
                .or_default()
                .insert(tag.clone(), hex(top).to_string());
        }
    }
    lists.docker.push(DockerManifest {
        config: format!("blobs/sha256/{}", hex(&image.id)),
        // Go's nil slice: an image saved by id has no tags.
        repo_tags: Some(tags).filter(|t| !t.is_empty()),
        layers: layer_paths,
    });
    Ok(())
}

/// Writes an image's layers as uncompressed tars (each once in the
/// archive); their descriptors, bottom first.
fn save_layers<W: Write>(
    store: &Store,
    w: &mut ArchiveWriter<W>,
    image: &ImageRecord,
) -> Result<Vec<Descriptor>, StoreError> {
    let mut layer_descs = Vec::new();
    for (diff_id, chain) in image.diff_ids.iter().zip(chain_ids(&image.diff_ids)) {
        let rec = store
            .meta()
            .layer(&chain)?
            .ok_or_else(|| invalid(format!("layer {chain} of {} is missing", image.id)))?;
        let (size, mut reader) = layer_tar(store, &rec)?;
        w.blob(diff_id, &mut reader, size)?;
        layer_descs.push(Descriptor {
            media_type: OCI_LAYER.into(),
            digest: diff_id.clone(),
            size: size as i64,
            ..Descriptor::default()
        });
    }
    Ok(layer_descs)
}

/// The index's descriptor of an image's manifest, annotated with its
/// first tagged reference as containerd and Docker 25+ name images.
fn index_entry(manifest_digest: String, size: usize, refs: &[Reference]) -> Descriptor {
    let mut desc = Descriptor {
        media_type: OCI_MANIFEST.into(),
        digest: manifest_digest,
        size: size as i64,
        ..Descriptor::default()
    };
    if let Some(r) = refs.iter().find(|r| r.tag.is_some()) {
        desc.annotations = BTreeMap::from([
            (NAME_ANNOTATION.to_string(), r.to_string()),
            (
                REF_ANNOTATION.to_string(),
                r.tag.clone().unwrap_or_default(),
            ),
        ]);
    }
    desc
}

/// The uncompressed tar of a layer: its blob as received, decompressed when
/// it was compressed (its digest is then the diff id, checked at unpack).
fn layer_tar(store: &Store, rec: &LayerRecord) -> Result<(u64, Box<dyn Read>), StoreError> {
    let Some((blob, _)) = rec.blobs.first() else {
        return Err(invalid(format!("layer {} has no blob", rec.chain_id)));
    };
    if blob == &rec.diff_id {
        let f = store.content().open_blob(blob)?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        return Ok((size, Box::new(f)));
    }
    // Compressed: decompress once to learn the size, then stream again.
    let open = || -> Result<Box<dyn Read>, StoreError> {
        let mut f = std::io::BufReader::new(store.content().open_blob(blob)?);
        let head = std::io::BufRead::fill_buf(&mut f)
            .map_err(|e| StoreError::Io {
                path: PathBuf::from(blob),
                source: e,
            })?
            .to_vec();
        crate::layer::decoder(crate::layer::detect(&head), f).map_err(|e| StoreError::Io {
            path: PathBuf::from(blob),
            source: e,
        })
    };
    let size = std::io::copy(&mut open()?, &mut std::io::sink()).map_err(|e| StoreError::Io {
        path: PathBuf::from(blob),
        source: e,
    })?;
    Ok((size, open()?))
}

/// The unpacked archive: its directory, open.
struct Unpacked {
    fd: std::os::fd::OwnedFd,
}

impl Unpacked {
    fn at(dir: &Path) -> Result<Unpacked, StoreError> {
        let fd = nix::fcntl::open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| StoreError::Io {
            path: dir.to_path_buf(),
            source: e.into(),
        })?;
        Ok(Unpacked { fd })
    }

    /// Opens a path the archive names, resolved inside the archive: a
    /// symlink among the archive's own entries is followed only inside it
    /// (`openat2(RESOLVE_IN_ROOT)`, as Docker's FollowSymlinkInScope), never
    /// to the host's files; the path must name a regular file. `Ok(None)`:
    /// no such path in the archive.
    fn open(&self, name: &str) -> Result<Option<File>, StoreError> {
        let p = Path::new(name);
        if p.components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(invalid(format!("archive path {name:?} leaves the archive")));
        }
        let how = OpenHow::new()
            // O_NONBLOCK: a FIFO among the entries must not hang the load.
            .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let fd = match openat2(self.fd.as_fd(), p, how) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) | Err(Errno::ELOOP) => return Ok(None),
            Err(e) => {
                return Err(invalid(format!("archive entry {name:?}: {e}")));
            }
        };
        let st = nix::sys::stat::fstat(&fd).map_err(|e| invalid(format!("{name:?}: {e}")))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(invalid(format!(
                "archive entry {name:?} is not a regular file"
            )));
        }
        Ok(Some(File::from(fd)))
    }

    /// [`Unpacked::open`] of a path that must be there.
    fn file(&self, name: &str) -> Result<File, StoreError> {
        self.open(name)?
            .ok_or_else(|| invalid(format!("archive has no file {name:?}")))
    }

    /// The blob of `digest` in an OCI layout.
    fn blob(&self, digest: &str) -> Result<File, StoreError> {
        crate::content::parse_digest(digest)?;
        self.file(&format!("blobs/sha256/{}", hex(digest)))
    }
}

/// Reads a small file (a manifest, index or config) whole, bounded.
fn read_small(f: File, name: &str) -> Result<Vec<u8>, StoreError> {
    let mut buf = Vec::new();
    f.take(MAX_CONFIG + 1)
        .read_to_end(&mut buf)
        .map_err(|e| invalid(format!("{name}: {e}")))?;
    if buf.len() as u64 > MAX_CONFIG {
        return Err(invalid(format!("{name} is larger than {MAX_CONFIG} bytes")));
    }
    Ok(buf)
}

/// What `load` did: image ids and the references it set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// `(image id, references)` per image, in archive order.
    pub images: Vec<(String, Vec<String>)>,
}

/// Loads every image of the archive `data`.
pub fn load(store: &Store, data: impl Read + Send) -> Result<Loaded, StoreError> {
    let work = tempfile::tempdir().map_err(|source| StoreError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    // A scratch tree, read once: no flush to disk.
    let u = crate::layer::unpack(
        data,
        work.path(),
        "archive",
        crate::layer::Options {
            durability: crate::tree::Durability::None,
            ..Default::default()
        },
    )
    .map_err(|e| match e {
        // Not a tar at all (`docker load` of a text file): say so.
        crate::layer::LayerError::Read(e) => {
            invalid(format!("the archive is not a (compressed) tar: {e}"))
        }
        crate::layer::LayerError::Tar(e) => {
            invalid(format!("the archive is not a (compressed) tar: {e}"))
        }
        e => e.into(),
    })?;
    let root = Unpacked::at(&u.path)?;
    if let Some(f) = root.open("manifest.json")? {
        let list: Vec<DockerManifest> = models::de::from_slice(&read_small(f, "manifest.json")?)
            .map_err(|e| invalid(format!("manifest.json: {e}")))?;
        let mut out = Loaded::default();
        for m in list {
            let config = read_small(root.file(&m.config)?, &m.config)?;
            let files = m
                .layers
                .iter()
                .map(|l| root.file(l))
                .collect::<Result<Vec<_>, _>>()?;
            let refs = m.repo_tags.unwrap_or_default();
            out.images.push(load_one(store, &config, files, &refs)?);
        }
        return Ok(out);
    }
    if let Some(f) = root.open("index.json")? {
        return load_oci(store, &root, f);
    }
    Err(invalid("archive has neither manifest.json nor index.json"))
}

fn load_oci(store: &Store, root: &Unpacked, index: File) -> Result<Loaded, StoreError> {
    let index: Index = models::de::from_slice(&read_small(index, "index.json")?)
        .map_err(|e| invalid(format!("index.json: {e}")))?;
    let mut out = Loaded::default();
    let mut manifests = index.manifests;
    let mut depth = 0;
    while let Some(desc) = manifests.pop() {
        if desc.digest.is_empty() {
            return Err(invalid("index entry without digest"));
        }
        let digest = desc.digest.as_str();
        let bytes = read_small(root.blob(digest)?, digest)?;
        if crate::config::sha256(&bytes) != digest {
            return Err(invalid(format!("blob {digest} does not match its digest")));
        }
        // An index and a manifest differ by what they list.
        let doc: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("manifest {digest}: {e}")))?;
        if doc.get("manifests").is_some_and(|m| m.is_array()) {
            let nested: Index =
                models::de::from_value(doc).map_err(|e| invalid(format!("index {digest}: {e}")))?;
            // A nested index (multi-platform): take this platform's entries.
            depth += 1;
            if depth > 8 {
                return Err(invalid("indexes nested too deep"));
            }
            for mut m in nested.manifests {
                let this_platform = m.platform.as_ref().is_none_or(|p| {
                    p.os == "linux" && p.architecture == crate::config::host_arch()
                });
                if this_platform {
                    if m.annotations.is_empty() {
                        m.annotations = desc.annotations.clone();
                    }
                    manifests.push(m);
                }
            }
            continue;
        }
        let manifest: Manifest =
            models::de::from_value(doc).map_err(|e| invalid(format!("manifest {digest}: {e}")))?;
        if manifest.config.digest.is_empty() {
            return Err(invalid("manifest without config"));
        }
        let config = read_small(root.blob(&manifest.config.digest)?, &manifest.config.digest)?;
        let files = manifest
            .layers
            .iter()
            .map(|l| root.blob(&l.digest))
            .collect::<Result<Vec<_>, _>>()?;
        let ann = &desc.annotations;
        let name = ann.get(NAME_ANNOTATION).cloned().or_else(|| {
            ann.get(REF_ANNOTATION)
                .filter(|n| n.contains('/') || n.contains(':'))
                .cloned()
        });
        out.images.push(load_one(
            store,
            &config,
            files,
            &name.into_iter().collect::<Vec<_>>(),
        )?);
    }
    out.images.reverse();
    Ok(out)
}

/// Stores one image: config, layers (checked against its diff ids), tags.
fn load_one(
    store: &Store,
    config: &[u8],
    layer_files: Vec<File>,
    refs: &[String],
) -> Result<(String, Vec<String>), StoreError> {
    let cfg: ImageConfig =
        crate::config::parse(config).map_err(|e| invalid(format!("config: {e}")))?;
    if cfg.rootfs.diff_ids.len() != layer_files.len() {
        return Err(invalid(format!(
            "config lists {} layers, the manifest {}",
            cfg.rootfs.diff_ids.len(),
            layer_files.len()
        )));
    }
    let parsed = refs
        .iter()
        .map(|r| Reference::parse(r).map(Reference::with_default_tag))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    let mut layers = Vec::new();
    let mut parent: Option<String> = None;
    for (file, diff_id) in layer_files.into_iter().zip(&cfg.rootfs.diff_ids) {
        let blob = store.content().ingest(file, None, MAX_BLOB)?;
        let rec = store.unpack_blob(&blob.digest, parent.as_deref(), Some(diff_id))?;
        parent = Some(rec.chain_id.clone());
        layers.push(rec);
    }
    let image = store.add_image(config, &layers, None, None)?;
    store.meta().write(|w| {
        for r in &parsed {
            w.tag(&r.to_string(), &image.id)?;
        }
        Ok::<_, crate::meta::MetaError>(())
    })?;
    Ok((image.id, parsed.iter().map(|r| r.familiar()).collect()))
}

#[cfg(test)]
mod tests;
