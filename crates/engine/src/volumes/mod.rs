//! Volumes of the `local` driver, as Docker's (moby's `volume/local`,
//! `volume/service`): named or anonymous directories that outlive the
//! containers using them.
//!
//! On disk, `<data-root>/volumes/<name>/_data` (Docker's layout); the record
//! (driver, options, labels, creation time) is in the `volumes` table of the
//! metadata database. A volume exists once its record is committed; the
//! directory is made before, so a crash between leaves a directory with no
//! record, which `sweep_volumes` removes at the next start.
//!
//! A volume is in use while any container (running or not) lists it among
//! its mounts; that is read from the container records, never counted
//! apart, so it cannot drift. Creates of containers and removals of volumes
//! take `volumes_lock`, so a volume cannot go between a create's check and
//! its record.
//!
//! Driver options `type`, `device`, `o` make the volume a mount (a tmpfs,
//! a bind of a host path, …) made on `_data` when a container using it
//! starts and undone when the last one stops, as Docker's local driver does.

mod copy_up;
mod error;
mod mount;

pub use copy_up::copy_up;
pub use error::VolumeError;
pub(crate) use mount::{is_mounted, sweep_subpaths};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use models::volume::{UsageData, Volume};
use serde::{Deserialize, Serialize};
use store::meta::Table;

use crate::mounts::{self};
use crate::{Engine, EngineError};

/// The label Docker puts on anonymous volumes (moby `volume/service`).
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// Most labels or driver options on one volume: a bound on what a request
/// makes us store.
const MAX_ENTRIES: usize = 256;

/// Most mounts of one container: far beyond real use; a bound on the
/// volumes (directories, records) one create body can make.
const MAX_MOUNTS: usize = 1024;

/// What the store records about a volume.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeRecord {
    /// Its name.
    pub name: String,
    /// `local`.
    pub driver: String,
    /// RFC 3339.
    pub created: String,
    /// User labels (and Docker's anonymous marker).
    pub labels: BTreeMap<String, String>,
    /// Driver options: `type`, `device`, `o`.
    pub options: BTreeMap<String, String>,
}

fn no_such(name: &str) -> EngineError {
    VolumeError::NoSuchVolume(name.to_string()).into()
}

/// Docker's local driver options (moby `volume/local/local_unix.go`).
fn check_options(opts: &BTreeMap<String, String>) -> Result<(), EngineError> {
    for k in opts.keys() {
        if !["type", "device", "o"].contains(&k.as_str()) {
            if k == "size" {
                return Err(VolumeError::Invalid(
                    "quota size requested but no quota support".into(),
                )
                .into());
            }
            return Err(VolumeError::Invalid(format!("invalid option: \"{k}\"")).into());
        }
    }
    if !opts.is_empty() && opts.get("device").is_none_or(|d| d.is_empty()) {
        return Err(VolumeError::Invalid("missing required option: \"device\"".into()).into());
    }
    if !opts.is_empty() && opts.get("type").is_none_or(|d| d.is_empty()) {
        return Err(VolumeError::Invalid("missing required option: \"type\"".into()).into());
    }
    Ok(())
}

fn check_map(what: &str, m: &BTreeMap<String, String>) -> Result<(), EngineError> {
    if m.len() > MAX_ENTRIES || m.iter().any(|(k, v)| k.len() + v.len() > 4096) {
        return Err(VolumeError::Invalid(format!(
            "too many or too long {what} (at most {MAX_ENTRIES}, 4096 bytes each)"
        ))
        .into());
    }
    Ok(())
}

/// Bytes below `dir`, not crossing into other filesystems' mounts below it.
fn du(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(top) = std::fs::symlink_metadata(dir) else {
        return 0;
    };
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(md) = e.path().symlink_metadata() else {
                continue;
            };
            if md.is_dir() && md.dev() == top.dev() {
                stack.push(e.path());
            } else if md.is_file() {
                total += md.len();
            }
        }
    }
    total
}

impl Engine {
    fn volumes_dir(&self) -> PathBuf {
        self.data_root.join("volumes")
    }

    /// Where a volume's data lives: `<data-root>/volumes/<name>/_data`.
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name).join("_data")
    }

    fn volume_record(&self, name: &str) -> Result<Option<VolumeRecord>, EngineError> {
        if !mounts::valid_volume_name(name) {
            return Ok(None);
        }
        Ok(self.store().meta().get(Table::Volumes, name)?)
    }

    fn volume_json(&self, r: &VolumeRecord) -> Volume {
        // Docker writes an empty label or option map as null.
        let map = |m: &BTreeMap<String, String>| (!m.is_empty()).then(|| m.clone());
        // Docker's local driver gives whole seconds (Go's time.RFC3339).
        let created = match (r.created.find('.'), r.created.rfind('Z')) {
            (Some(dot), Some(z)) if dot < z => format!("{}Z", &r.created[..dot]),
            _ => r.created.clone(),
        };
        Volume {
            name: r.name.clone(),
            driver: r.driver.clone(),
            mountpoint: self.volume_data(&r.name).to_string_lossy().into_owned(),
            created_at: created,
            labels: map(&r.labels),
            scope: "local".into(),
            options: map(&r.options),
            ..Default::default()
        }
    }

    /// Which containers use each volume, by name.
    pub fn volume_users(&self) -> Result<HashMap<String, Vec<String>>, EngineError> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for c in self.container_records()? {
            for m in c.mounts.iter().filter(|m| m.typ == "volume") {
                let ids = out.entry(m.name.clone()).or_default();
                if !ids.contains(&c.id) {
                    ids.push(c.id.clone());
                }
            }
        }
        Ok(out)
    }

    /// `POST /volumes/create`. An empty name makes a random one; an existing
    /// volume of the same driver is returned as it is, as Docker does.
    pub fn volume_create(
        &self,
        name: &str,
        driver: &str,
        options: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
        created: String,
    ) -> Result<Volume, EngineError> {
        let _l = self.volumes_lock.lock().unwrap_or_else(|p| p.into_inner());
        let r = self.create_volume_locked(name, driver, options, labels, created)?;
        Ok(self.volume_json(&r))
    }

    fn create_volume_locked(
        &self,
        name: &str,
        driver: &str,
        options: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
        created: String,
    ) -> Result<VolumeRecord, EngineError> {
        let mut labels = labels;
        let name = if name.is_empty() {
            // A volume created without a name is anonymous (moby 23+), so
            // a prune of API 1.42+ takes it as it takes containers' ones.
            labels.insert(ANONYMOUS_LABEL.into(), String::new());
            crate::container::record::random_hex(32)
        } else {
            name.to_string()
        };
        if name.len() < 2 {
            return Err(VolumeError::Invalid(format!("create {name}: volume name is too short, names should be at least two alphanumeric characters")).into());
        }
        if !mounts::valid_volume_name(&name) {
            return Err(VolumeError::Invalid(format!("create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")).into());
        }
        let driver = if driver.is_empty() { "local" } else { driver };
        if driver != "local" {
            return Err(VolumeError::NotFound(format!("create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found")).into());
        }
        check_map("labels", &labels)?;
        check_map("options", &options)?;
        check_options(&options).map_err(|e| VolumeError::Invalid(format!("create {name}: {e}")))?;
        if let Some(r) = self.volume_record(&name)? {
            return Ok(r);
        }
        let data = self.volume_data(&name);
        // `volumes/<name>` is root's; `_data` is the volume's root in
        // containers and keeps the usual 0755.
        if let Some(own) = data.parent() {
            crate::perms::private_dir(own)
                .map_err(|e| VolumeError::failed(format!("create {name}"), e))?;
        }
        std::fs::create_dir_all(&data)
            .map_err(|e| VolumeError::failed(format!("create {name}"), e))?;
        let rec = VolumeRecord {
            name: name.clone(),
            driver: driver.into(),
            created,
            labels,
            options,
        };
        self.store()
            .meta()
            .write(|w| w.put(Table::Volumes, &name, &rec))?;
        Ok(rec)
    }

    /// `GET /volumes/{name}`.
    pub fn volume_inspect(&self, name: &str) -> Result<Volume, EngineError> {
        let r = self.volume_record(name)?.ok_or_else(|| no_such(name))?;
        Ok(self.volume_json(&r))
    }

    /// `GET /volumes?filters=`: `dangling`, `name` (a substring), `label`
    /// (`key` or `key=value`), `driver`.
    pub fn volume_list(
        &self,
        filters: &BTreeMap<String, Vec<String>>,
    ) -> Result<Vec<Volume>, EngineError> {
        for (k, vals) in filters {
            if !["dangling", "name", "label", "label!", "driver"].contains(&k.as_str()) {
                return Err(VolumeError::Invalid(format!("invalid filter '{k}'")).into());
            }
            if k == "dangling" {
                for v in vals {
                    if !["true", "false", "1", "0"].contains(&v.as_str()) {
                        return Err(VolumeError::Invalid(format!(
                            "invalid filter 'dangling={v}': must be 'true' or 'false'"
                        ))
                        .into());
                    }
                }
            }
        }
        let users = self.volume_users()?;
        let mut out = Vec::new();
        let all: Vec<VolumeRecord> = self.store().meta().list(Table::Volumes)?;
        for r in all {
            if !matches(&r, filters, users.contains_key(&r.name)) {
                continue;
            }
            out.push(self.volume_json(&r));
        }
        Ok(out)
    }

    /// `DELETE /volumes/{name}?force=`: refused while a container uses it
    /// (Docker's 409 and text); `force` only makes a missing volume no error.
    /// Returns whether one was removed.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<bool, EngineError> {
        let _l = self.volumes_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.remove_volume_locked(name, force)
    }

    /// [`Engine::volume_remove`] with the volumes lock held.
    pub(crate) fn remove_volume_locked(
        &self,
        name: &str,
        force: bool,
    ) -> Result<bool, EngineError> {
        let Some(r) = self.volume_record(name)? else {
            return if force { Ok(false) } else { Err(no_such(name)) };
        };
        if let Some(ids) = self.volume_users()?.get(&r.name) {
            return Err(VolumeError::InUse {
                name: r.name.clone(),
                ids: ids.clone(),
            }
            .into());
        }
        let data = self.volume_data(&r.name);
        // Never delete through a mount (a volume binding a host path).
        crate::error::ignore(
            format_args!("unmount volume {} before removing it", r.name),
            store::mount::unmount(&data),
        );
        if is_mounted(&data) {
            return Err(VolumeError::sys(format!(
                "remove {}: {} is still mounted",
                r.name,
                data.display()
            ))
            .into());
        }
        self.store()
            .meta()
            .write(|w| w.delete(Table::Volumes, &r.name))?;
        // The record is gone: the volume is. A directory left by a crash
        // here goes at the next start (`sweep_volumes`).
        if let Err(e) = store::walk::remove_tree(&self.volumes_dir().join(&r.name)) {
            tracing::warn!("removing the data of volume {}: {e}", r.name);
        }
        Ok(true)
    }

    /// `POST /volumes/prune?filters=`: unused volumes; only anonymous ones
    /// unless `all=true` (API 1.42+, as Docker), narrowed by `label`.
    /// Returns the names removed and the bytes freed.
    pub fn volume_prune(
        &self,
        filters: &BTreeMap<String, Vec<String>>,
    ) -> Result<(Vec<String>, u64), EngineError> {
        for k in filters.keys() {
            if !["label", "label!", "all"].contains(&k.as_str()) {
                return Err(VolumeError::Invalid(format!("invalid filter '{k}'")).into());
            }
        }
        let all = filters
            .get("all")
            .is_some_and(|v| v.iter().any(|x| x == "true" || x == "1"));
        let _l = self.volumes_lock.lock().unwrap_or_else(|p| p.into_inner());
        let users = self.volume_users()?;
        let list: Vec<VolumeRecord> = self.store().meta().list(Table::Volumes)?;
        let (mut gone, mut space) = (Vec::new(), 0);
        for r in list {
            if users.contains_key(&r.name)
                || (!all && !r.labels.contains_key(ANONYMOUS_LABEL))
                || !matches(&r, filters, false)
            {
                continue;
            }
            let size = du(&self.volume_data(&r.name));
            if self.remove_volume_locked(&r.name, false).is_ok() {
                space += size;
                gone.push(r.name);
            }
        }
        Ok((gone, space))
    }

    /// The volumes of `/system/df`, with `UsageData` (size, containers).
    pub fn volumes_df(&self) -> Result<Vec<Volume>, EngineError> {
        let users = self.volume_users()?;
        let list: Vec<VolumeRecord> = self.store().meta().list(Table::Volumes)?;
        Ok(list
            .iter()
            .map(|r| {
                let mut v = self.volume_json(r);
                let refs = users.get(&r.name).map_or(0, |u| u.len());
                // A driver-option volume's data is elsewhere (a device, a tmpfs).
                let size = if r.options.is_empty() {
                    du(&self.volume_data(&r.name)) as i64
                } else {
                    -1
                };
                v.usage_data = Some(UsageData {
                    size,
                    ref_count: refs as i64,
                });
                v
            })
            .collect())
    }

    /// At daemon start: volume directories with no record (a create or a
    /// remove cut short) are removed, after undoing any mount on them.
    pub fn sweep_volumes(&self) -> Result<usize, EngineError> {
        // Creates make their directory before their record, under this lock.
        let _l = self.volumes_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut removed = 0;
        for e in std::fs::read_dir(self.volumes_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if self.volume_record(&name)?.is_some() {
                continue;
            }
            let data = e.path().join("_data");
            crate::error::ignore(
                format_args!("unmount orphaned volume data {}", data.display()),
                store::mount::unmount(&data),
            );
            if !is_mounted(&data) && store::walk::remove_tree(&e.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn matches(r: &VolumeRecord, filters: &BTreeMap<String, Vec<String>>, used: bool) -> bool {
    let label_ok = |l: &str| match l.split_once('=') {
        Some((k, v)) => r.labels.get(k).is_some_and(|x| x == v),
        None => r.labels.contains_key(l),
    };
    filters
        .get("dangling")
        .is_none_or(|v| v.iter().all(|d| (d == "true" || d == "1") != used))
        && filters.get("name").is_none_or(|v| {
            // Go's `Match`: the name, or a regular expression in it.
            let f = crate::filters::Filters::from_pairs(
                &v.iter().map(|n| ("name", n.as_str())).collect::<Vec<_>>(),
            );
            f.matches("name", &r.name)
        })
        && filters.get("driver").is_none_or(|v| v.contains(&r.driver))
        && filters
            .get("label")
            .is_none_or(|v| v.iter().all(|l| label_ok(l)))
        && filters
            .get("label!")
            .is_none_or(|v| v.iter().all(|l| !label_ok(l)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::stat::Mode;
    use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};

    #[test]
    fn copy_up_copies_the_tree_and_follows_no_symlink() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "host\n").unwrap();
        let seed = root.path().join("seed");
        std::fs::create_dir_all(seed.join("sub")).unwrap();
        std::fs::write(seed.join("file"), "img\n").unwrap();
        std::fs::set_permissions(seed.join("file"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        std::fs::write(seed.join("sub/deep"), "deep\n").unwrap();
        // Links to the host, absolute and climbing: copied as links.
        symlink(outside.path(), seed.join("abs")).unwrap();
        symlink("../../../../../..", seed.join("up")).unwrap();
        nix::unistd::mkfifo(&seed.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        // A destination that is itself a link to the host.
        symlink(outside.path(), root.path().join("evil")).unwrap();

        let data = tempfile::tempdir().unwrap();
        copy_up(root.path(), "/seed", data.path()).unwrap();
        let d = data.path();
        assert_eq!(std::fs::read_to_string(d.join("file")).unwrap(), "img\n");
        assert_eq!(
            std::fs::metadata(d.join("file")).unwrap().mode() & 0o777,
            0o640
        );
        assert_eq!(
            std::fs::read_to_string(d.join("sub/deep")).unwrap(),
            "deep\n"
        );
        assert_eq!(std::fs::read_link(d.join("abs")).unwrap(), outside.path());
        assert_eq!(
            std::fs::read_link(d.join("up")).unwrap(),
            Path::new("../../../../../..")
        );
        assert!(std::fs::symlink_metadata(d.join("fifo"))
            .unwrap()
            .file_type()
            .is_fifo());

        // The link at the destination resolves inside the root, where
        // nothing is: the host's files are not copied.
        let data2 = tempfile::tempdir().unwrap();
        copy_up(root.path(), "/evil", data2.path()).unwrap();
        assert_eq!(std::fs::read_dir(data2.path()).unwrap().count(), 0);

        // Only into an empty volume.
        let data3 = tempfile::tempdir().unwrap();
        std::fs::write(data3.path().join("mine"), "x").unwrap();
        copy_up(root.path(), "/seed", data3.path()).unwrap();
        assert_eq!(std::fs::read_dir(data3.path()).unwrap().count(), 1);
    }

    #[test]
    fn driver_options_as_the_local_driver_takes_them() {
        let m = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(check_options(&m(&[])).is_ok());
        assert!(check_options(&m(&[
            ("type", "tmpfs"),
            ("device", "tmpfs"),
            ("o", "size=1m")
        ]))
        .is_ok());
        assert_eq!(
            check_options(&m(&[("foo", "bar")]))
                .unwrap_err()
                .to_string(),
            "invalid option: \"foo\""
        );
        assert!(check_options(&m(&[("type", "tmpfs")])).is_err());
    }
}
