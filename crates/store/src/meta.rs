//! The metadata database: one embedded transactional store (redb) for
//! everything that is not content: image records, references, layer records,
//! and tables that the engine's containers, volumes and networks will use.
//!
//! On disk, `<root>/meta.redb`. Tables, version 1:
//!
//! ```text
//! schema      "version" -> 1
//! images      image id ("sha256:<hex>", the config's digest) -> ImageRecord (JSON)
//! refs        normalized reference ("docker.io/library/busybox:latest") -> image id
//! layers      chain id -> LayerRecord (JSON)
//! containers  container id -> the engine's JSON
//! volumes     volume name -> the engine's JSON
//! networks    network id -> the engine's JSON
//! cri_sandboxes   pod sandbox id -> the CRI server's JSON
//! cri_containers  CRI container id -> the CRI server's JSON (with the
//!                 chain ids of its layers under "layers", which the
//!                 garbage collector keeps)
//! ```
//!
//! Records are JSON so that fields can be added without a migration (unknown
//! fields are ignored, missing ones take defaults); a change that needs more
//! bumps `version`, and `open` refuses a newer version than it knows.
//!
//! Every change is a transaction: a `kill -9` at any instant leaves the state
//! of the last committed transaction, whole. Callers group what belongs
//! together (the layers, the image and its tag of one import) in one
//! [`Meta::write`].

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// A hook called with `"meta commit >"` and `"meta commit <"` around each
/// write transaction's durable commit (berthd sets `runtime::trace::mark`
/// when `BERTH_TRACE` is set), so a trace shows each commit and its fsync.
static TRACE: std::sync::OnceLock<fn(&str)> = std::sync::OnceLock::new();

/// Sets the commit hook (once; later calls are ignored).
pub fn set_trace(mark: fn(&str)) {
    let _ = TRACE.set(mark);
}

/// The schema version this code writes.
pub const VERSION: u64 = 1;

const SCHEMA: TableDefinition<&str, u64> = TableDefinition::new("schema");
const IMAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("images");
const REFS: TableDefinition<&str, &str> = TableDefinition::new("refs");
const LAYERS: TableDefinition<&str, &[u8]> = TableDefinition::new("layers");

/// The engine's own tables, kept here so that all metadata commits together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Containers.
    Containers,
    /// Volumes.
    Volumes,
    /// Networks.
    Networks,
    /// The build cache: a step's key to the image it made.
    BuildCache,
    /// The CRI's pod sandboxes.
    CriSandboxes,
    /// The CRI's containers.
    CriContainers,
    /// Container names to ids: an index of `Containers`, written in the
    /// same transactions as the records, so that a create checks its name
    /// with one lookup instead of reading every record.
    ContainerNames,
}

impl Table {
    fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        match self {
            Table::Containers => TableDefinition::new("containers"),
            Table::Volumes => TableDefinition::new("volumes"),
            Table::Networks => TableDefinition::new("networks"),
            Table::BuildCache => TableDefinition::new("build_cache"),
            Table::CriSandboxes => TableDefinition::new("cri_sandboxes"),
            Table::CriContainers => TableDefinition::new("cri_containers"),
            Table::ContainerNames => TableDefinition::new("container_names"),
        }
    }
}

/// Errors of the metadata database.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The database failed.
    #[error("metadata database: {0}")]
    Db(String),
    /// A record could not be read.
    #[error("metadata record {key}: {source}")]
    Corrupt {
        /// Its key.
        key: String,
        /// The decoding error.
        source: serde_json::Error,
    },
    /// Written by a newer berth.
    #[error("metadata database has schema version {0}; this berth knows up to {VERSION}")]
    TooNew(u64),
}

fn dberr<E: std::fmt::Display>(e: E) -> MetaError {
    MetaError::Db(e.to_string())
}

/// An image as the store records it. The config itself is a blob in the
/// content store, under `id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageRecord {
    /// The image id: the digest of its config.
    pub id: String,
    /// Diff ids of its layers, bottom first.
    pub diff_ids: Vec<String>,
    /// Chain id of its top layer (empty for an image without layers).
    pub top_layer: String,
    /// Manifests it was pulled or pushed as, `name@sha256:…`.
    pub repo_digests: Vec<String>,
    /// The image it was built or committed on, if any.
    pub parent: Option<String>,
    /// Creation time, RFC 3339 (from the config).
    pub created: String,
}

/// A layer unpacked in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LayerRecord {
    /// Chain id: identifies the layer with everything below it.
    pub chain_id: String,
    /// Digest of the uncompressed tar.
    pub diff_id: String,
    /// Chain id of the layer below, if any.
    pub parent: Option<String>,
    /// Bytes on disk, unpacked.
    pub size: u64,
    /// Compressed blobs known to hold this layer (digest, media type), for push.
    pub blobs: Vec<(String, String)>,
    /// The unpacked directory's fingerprint ([`crate::tree::fingerprint`]),
    /// checked by `system check`; empty in records older than it.
    pub tree: String,
}

/// The database.
#[derive(Debug)]
pub struct Meta {
    db: Database,
}

/// What a write transaction can do; everything commits together or not at all.
pub struct Writer<'a> {
    tx: &'a redb::WriteTransaction,
}

fn decode<T: for<'de> Deserialize<'de>>(key: &str, bytes: &[u8]) -> Result<T, MetaError> {
    serde_json::from_slice(bytes).map_err(|source| MetaError::Corrupt {
        key: key.to_string(),
        source,
    })
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialise")
}

impl Meta {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Meta, MetaError> {
        let db = Database::create(path).map_err(dberr)?;
        let tx = db.begin_write().map_err(dberr)?;
        {
            let mut schema = tx.open_table(SCHEMA).map_err(dberr)?;
            let found = schema.get("version").map_err(dberr)?.map(|v| v.value());
            match found {
                Some(v) if v > VERSION => return Err(MetaError::TooNew(v)),
                Some(_) => {}
                None => {
                    schema.insert("version", VERSION).map_err(dberr)?;
                }
            }
            tx.open_table(IMAGES).map_err(dberr)?;
            tx.open_table(REFS).map_err(dberr)?;
            tx.open_table(LAYERS).map_err(dberr)?;
            for t in [
                Table::Containers,
                Table::Volumes,
                Table::Networks,
                Table::BuildCache,
                Table::CriSandboxes,
                Table::CriContainers,
                Table::ContainerNames,
            ] {
                tx.open_table(t.def()).map_err(dberr)?;
            }
        }
        tx.commit().map_err(dberr)?;
        Ok(Meta { db })
    }

    /// Runs `f` in one write transaction and commits it (durably) if `f`
    /// returns `Ok`; on `Err` nothing of it is kept.
    pub fn write<T, E: From<MetaError>>(
        &self,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self.db.begin_write().map_err(dberr)?;
        let out = f(&mut Writer { tx: &tx })?;
        let mark = TRACE.get();
        if let Some(m) = mark {
            m("meta commit >");
        }
        tx.commit().map_err(dberr)?;
        if let Some(m) = mark {
            m("meta commit <");
        }
        Ok(out)
    }

    fn read_table<T: for<'de> Deserialize<'de>>(
        &self,
        def: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<T>, MetaError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let table = tx.open_table(def).map_err(dberr)?;
        match table.get(key).map_err(dberr)? {
            Some(v) => Ok(Some(decode(key, v.value())?)),
            None => Ok(None),
        }
    }

    fn list_table<T: for<'de> Deserialize<'de>>(
        &self,
        def: TableDefinition<&str, &[u8]>,
    ) -> Result<Vec<T>, MetaError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let table = tx.open_table(def).map_err(dberr)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(dberr)? {
            let (k, v) = entry.map_err(dberr)?;
            out.push(decode(k.value(), v.value())?);
        }
        Ok(out)
    }

    /// An image by id.
    pub fn image(&self, id: &str) -> Result<Option<ImageRecord>, MetaError> {
        self.read_table(IMAGES, id)
    }

    /// Every image.
    pub fn images(&self) -> Result<Vec<ImageRecord>, MetaError> {
        self.list_table(IMAGES)
    }

    /// A layer by chain id.
    pub fn layer(&self, chain_id: &str) -> Result<Option<LayerRecord>, MetaError> {
        self.read_table(LAYERS, chain_id)
    }

    /// Every layer.
    pub fn layers(&self) -> Result<Vec<LayerRecord>, MetaError> {
        self.list_table(LAYERS)
    }

    /// The image a reference names.
    pub fn resolve(&self, reference: &str) -> Result<Option<String>, MetaError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let refs = tx.open_table(REFS).map_err(dberr)?;
        Ok(refs
            .get(reference)
            .map_err(dberr)?
            .map(|v| v.value().to_string()))
    }

    /// Every (reference, image id).
    pub fn refs(&self) -> Result<Vec<(String, String)>, MetaError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let refs = tx.open_table(REFS).map_err(dberr)?;
        let mut out = Vec::new();
        for entry in refs.iter().map_err(dberr)? {
            let (k, v) = entry.map_err(dberr)?;
            out.push((k.value().to_string(), v.value().to_string()));
        }
        Ok(out)
    }

    /// A record of one of the engine's tables.
    pub fn get<T: for<'de> Deserialize<'de>>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<T>, MetaError> {
        self.read_table(table.def(), key)
    }

    /// The keys of one of the engine's tables.
    pub fn keys(&self, table: Table) -> Result<Vec<String>, MetaError> {
        let tx = self.db.begin_read().map_err(dberr)?;
        let t = tx.open_table(table.def()).map_err(dberr)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(dberr)? {
            let (k, _) = item.map_err(dberr)?;
            out.push(k.value().to_string());
        }
        Ok(out)
    }

    /// Every record of one of the engine's tables.
    pub fn list<T: for<'de> Deserialize<'de>>(&self, table: Table) -> Result<Vec<T>, MetaError> {
        self.list_table(table.def())
    }
}

impl Writer<'_> {
    fn put_in(
        &mut self,
        def: TableDefinition<&str, &[u8]>,
        key: &str,
        bytes: &[u8],
    ) -> Result<(), MetaError> {
        let mut t = self.tx.open_table(def).map_err(dberr)?;
        t.insert(key, bytes).map_err(dberr)?;
        Ok(())
    }

    fn remove_in(
        &mut self,
        def: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<bool, MetaError> {
        let mut t = self.tx.open_table(def).map_err(dberr)?;
        let existed = t.remove(key).map_err(dberr)?.is_some();
        Ok(existed)
    }

    /// Adds or replaces an image record.
    pub fn put_image(&mut self, rec: &ImageRecord) -> Result<(), MetaError> {
        self.put_in(IMAGES, &rec.id, &encode(rec))
    }

    /// Removes an image record (not its references); true if it existed.
    pub fn delete_image(&mut self, id: &str) -> Result<bool, MetaError> {
        self.remove_in(IMAGES, id)
    }

    /// Adds or replaces a layer record.
    pub fn put_layer(&mut self, rec: &LayerRecord) -> Result<(), MetaError> {
        self.put_in(LAYERS, &rec.chain_id, &encode(rec))
    }

    /// Removes a layer record; true if it existed.
    pub fn delete_layer(&mut self, chain_id: &str) -> Result<bool, MetaError> {
        self.remove_in(LAYERS, chain_id)
    }

    /// Points `reference` at image `id`; returns the image it named before.
    pub fn tag(&mut self, reference: &str, id: &str) -> Result<Option<String>, MetaError> {
        let mut refs = self.tx.open_table(REFS).map_err(dberr)?;
        let old = refs
            .insert(reference, id)
            .map_err(dberr)?
            .map(|v| v.value().to_string());
        Ok(old)
    }

    /// Removes `reference`; returns the image it named.
    pub fn untag(&mut self, reference: &str) -> Result<Option<String>, MetaError> {
        let mut refs = self.tx.open_table(REFS).map_err(dberr)?;
        let old = refs
            .remove(reference)
            .map_err(dberr)?
            .map(|v| v.value().to_string());
        Ok(old)
    }

    /// The references naming image `id`, as this transaction sees them.
    pub fn refs_to(&mut self, id: &str) -> Result<Vec<String>, MetaError> {
        let refs = self.tx.open_table(REFS).map_err(dberr)?;
        let mut out = Vec::new();
        for entry in refs.iter().map_err(dberr)? {
            let (k, v) = entry.map_err(dberr)?;
            if v.value() == id {
                out.push(k.value().to_string());
            }
        }
        Ok(out)
    }

    /// An image record as this transaction sees it (read-modify-write of
    /// its repo digests without a lost update).
    pub fn image(&mut self, id: &str) -> Result<Option<ImageRecord>, MetaError> {
        self.get_in(IMAGES, id)
    }

    /// A layer record as this transaction sees it.
    pub fn layer(&mut self, chain_id: &str) -> Result<Option<LayerRecord>, MetaError> {
        self.get_in(LAYERS, chain_id)
    }

    fn get_in<T: for<'de> Deserialize<'de>>(
        &mut self,
        def: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<T>, MetaError> {
        let t = self.tx.open_table(def).map_err(dberr)?;
        let v = t.get(key).map_err(dberr)?;
        match v {
            Some(v) => Ok(Some(decode(key, v.value())?)),
            None => Ok(None),
        }
    }

    /// A record of one of the engine's tables, as this transaction sees it
    /// (for read-modify-write without a lost update).
    pub fn get<T: for<'de> Deserialize<'de>>(
        &mut self,
        table: Table,
        key: &str,
    ) -> Result<Option<T>, MetaError> {
        let t = self.tx.open_table(table.def()).map_err(dberr)?;
        let v = t.get(key).map_err(dberr)?;
        match v {
            Some(v) => Ok(Some(decode(key, v.value())?)),
            None => Ok(None),
        }
    }

    /// Every record of one of the engine's tables, as this transaction sees
    /// it: a check over all of them (a name in use) and the write that
    /// depends on it commit together, with no other writer in between.
    pub fn list<T: for<'de> Deserialize<'de>>(
        &mut self,
        table: Table,
    ) -> Result<Vec<T>, MetaError> {
        let t = self.tx.open_table(table.def()).map_err(dberr)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(dberr)? {
            let (k, v) = item.map_err(dberr)?;
            out.push(decode(k.value(), v.value())?);
        }
        Ok(out)
    }

    /// The keys of one of the engine's tables, as this transaction sees
    /// them.
    pub fn keys(&mut self, table: Table) -> Result<Vec<String>, MetaError> {
        let t = self.tx.open_table(table.def()).map_err(dberr)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(dberr)? {
            let (k, _) = item.map_err(dberr)?;
            out.push(k.value().to_string());
        }
        Ok(out)
    }

    /// Adds or replaces a record in one of the engine's tables.
    pub fn put<T: Serialize>(
        &mut self,
        table: Table,
        key: &str,
        value: &T,
    ) -> Result<(), MetaError> {
        self.put_in(table.def(), key, &encode(value))
    }

    /// Removes a record from one of the engine's tables; true if it existed.
    pub fn delete(&mut self, table: Table, key: &str) -> Result<bool, MetaError> {
        self.remove_in(table.def(), key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str) -> ImageRecord {
        ImageRecord {
            id: id.into(),
            diff_ids: vec!["sha256:d1".into()],
            top_layer: "sha256:c1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn transactions_commit_whole_or_not_at_all() {
        let d = tempfile::tempdir().unwrap();
        let meta = Meta::open(&d.path().join("meta.redb")).unwrap();
        meta.write(|w| {
            w.put_layer(&LayerRecord {
                chain_id: "sha256:c1".into(),
                diff_id: "sha256:d1".into(),
                ..Default::default()
            })?;
            w.put_image(&image("sha256:i1"))?;
            w.tag("docker.io/library/a:latest", "sha256:i1")?;
            Ok::<_, MetaError>(())
        })
        .unwrap();
        // A failing transaction leaves nothing of itself.
        let r: Result<(), MetaError> = meta.write(|w| {
            w.put_image(&image("sha256:i2"))?;
            w.tag("docker.io/library/a:latest", "sha256:i2")?;
            Err(MetaError::Db("boom".into()))
        });
        assert!(r.is_err());
        assert_eq!(
            meta.resolve("docker.io/library/a:latest")
                .unwrap()
                .as_deref(),
            Some("sha256:i1")
        );
        assert!(meta.image("sha256:i2").unwrap().is_none());
        assert_eq!(meta.images().unwrap(), [image("sha256:i1")]);
        assert_eq!(meta.layers().unwrap().len(), 1);
        // Re-tagging returns the old target; untagging removes.
        let old = meta
            .write(|w| w.tag("docker.io/library/a:latest", "sha256:i3"))
            .unwrap();
        assert_eq!(old.as_deref(), Some("sha256:i1"));
        meta.write(|w| w.untag("docker.io/library/a:latest"))
            .unwrap();
        assert!(meta.refs().unwrap().is_empty());
    }

    #[test]
    fn survives_reopen_and_refuses_newer_schema() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("meta.redb");
        {
            let meta = Meta::open(&path).unwrap();
            meta.write(|w| w.put(Table::Volumes, "v1", &serde_json::json!({"name": "v1"})))
                .unwrap();
        }
        let meta = Meta::open(&path).unwrap();
        let v: Option<serde_json::Value> = meta.get(Table::Volumes, "v1").unwrap();
        assert_eq!(v.unwrap()["name"], "v1");
        {
            let tx = meta.db.begin_write().unwrap();
            tx.open_table(SCHEMA)
                .unwrap()
                .insert("version", VERSION + 1)
                .unwrap();
            tx.commit().unwrap();
        }
        drop(meta);
        assert!(matches!(Meta::open(&path), Err(MetaError::TooNew(_))));
    }

    /// Run as a child by `kill_9_leaves_whole_transactions`: writes image +
    /// tag pairs, one transaction each, until killed. A no-op otherwise.
    #[test]
    fn writer_child() {
        let Ok(path) = std::env::var("BERTH_META_WRITER") else {
            return;
        };
        let meta = Meta::open(Path::new(&path)).unwrap();
        for i in 0.. {
            meta.write(|w| {
                w.put_image(&image(&format!("sha256:{i}")))?;
                w.tag(&format!("docker.io/library/x:{i}"), &format!("sha256:{i}"))?;
                Ok::<_, MetaError>(())
            })
            .unwrap();
        }
    }

    #[test]
    fn kill_9_leaves_whole_transactions() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("meta.redb");
        for round in 0..3 {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "meta::tests::writer_child", "--test-threads=1"])
                .env("BERTH_META_WRITER", &path)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(150 + 50 * round));
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            let meta = Meta::open(&path).unwrap();
            let refs = meta.refs().unwrap();
            // Every committed tag has its image, and every image its tag.
            for (_, id) in &refs {
                assert!(meta.image(id).unwrap().is_some(), "{id} tagged but missing");
            }
            assert_eq!(meta.images().unwrap().len(), refs.len());
            if round == 2 {
                assert!(!refs.is_empty(), "the writer committed something");
            }
        }
    }
}
