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

use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use models::container::CreateBody;
use models::volume::{UsageData, Volume};
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstatat, Mode, SFlag};
use serde::{Deserialize, Serialize};
use store::meta::Table;

use crate::containers::{ContainerRecord, State};
use crate::mounts::{self, MountPoint};
use crate::{Engine, EngineError, ErrorKind};

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

fn sys(e: impl std::fmt::Display) -> EngineError {
    EngineError::new(ErrorKind::System, e.to_string())
}

/// Staging points of subpaths (see `prepare_mounts`), unmounted and
/// removed when dropped.
#[derive(Debug, Default)]
pub(crate) struct Staged(Vec<PathBuf>);

impl Drop for Staged {
    fn drop(&mut self) {
        for at in &self.0 {
            // Detached, then the empty point: never a walk into the volume.
            let _ = nix::mount::umount2(at, nix::mount::MntFlags::MNT_DETACH);
            let _ = std::fs::remove_dir(at).or_else(|_| std::fs::remove_file(at));
        }
    }
}

/// At open, no start runs: staging points a killed daemon left under
/// `<exec-root>/subpaths` are unmounted and removed (never a walk into
/// what they bind).
pub(crate) fn sweep_subpaths(exec_root: &Path) {
    let Ok(entries) = std::fs::read_dir(exec_root.join("subpaths")) else {
        return;
    };
    let at: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    drop(Staged(at));
}

/// Binds what `fd` names onto `at` (made: a directory or an empty file,
/// as what it names), privately.
fn stage(fd: &OwnedFd, at: &Path) -> Result<(), EngineError> {
    use nix::mount::{mount, MsFlags};
    let fail = |e: String| sys(format!("stage subpath at {}: {e}", at.display()));
    if let Some(parent) = at.parent() {
        crate::perms::private_dir(parent).map_err(|e| fail(e.to_string()))?;
    }
    let is_dir = nix::sys::stat::fstat(fd)
        .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
        .map_err(|e| fail(e.to_string()))?;
    let _ = nix::mount::umount2(at, nix::mount::MntFlags::MNT_DETACH);
    if is_dir {
        let _ = std::fs::remove_file(at);
        if !at.is_dir() {
            std::fs::create_dir(at).map_err(|e| fail(e.to_string()))?;
        }
    } else {
        let _ = std::fs::remove_dir(at);
        std::fs::File::create(at).map_err(|e| fail(e.to_string()))?;
    }
    let src = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    mount(Some(&src), at, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| fail(e.to_string()))?;
    // Private: nothing mounted there shows anywhere else.
    mount(
        None::<&str>,
        at,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// Opens `subpath` of the volume whose data is `data`, resolved inside it
/// (`RESOLVE_IN_ROOT`: a symlink there cannot lead out); it must exist, as
/// Docker's ("cannot access path").
fn open_subpath(data: &Path, subpath: &str) -> Result<OwnedFd, EngineError> {
    let shown = data.join(subpath);
    let fail = |e: String| {
        bad(format!(
            "invalid mount config for type \"volume\": cannot access path {}: {e}",
            shown.display()
        ))
    };
    let root = nix::fcntl::open(
        data,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail(e.to_string()))?;
    runtime::rootfs::resolve::open_in_root(
        &root,
        &Path::new("/").join(subpath),
        runtime::rootfs::resolve::Create::No,
    )
    .map_err(|e| fail(e.to_string()))
}

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::new(ErrorKind::InvalidArgument, msg)
}

fn no_such(name: &str) -> EngineError {
    EngineError::new(ErrorKind::NotFound, format!("get {name}: no such volume"))
}

/// Docker's local driver options (moby `volume/local/local_unix.go`).
fn check_options(opts: &BTreeMap<String, String>) -> Result<(), EngineError> {
    for k in opts.keys() {
        if !["type", "device", "o"].contains(&k.as_str()) {
            if k == "size" {
                return Err(bad("quota size requested but no quota support"));
            }
            return Err(bad(format!("invalid option: \"{k}\"")));
        }
    }
    if !opts.is_empty() && opts.get("device").is_none_or(|d| d.is_empty()) {
        return Err(bad("missing required option: \"device\""));
    }
    if !opts.is_empty() && opts.get("type").is_none_or(|d| d.is_empty()) {
        return Err(bad("missing required option: \"type\""));
    }
    Ok(())
}

fn check_map(what: &str, m: &BTreeMap<String, String>) -> Result<(), EngineError> {
    if m.len() > MAX_ENTRIES || m.iter().any(|(k, v)| k.len() + v.len() > 4096) {
        return Err(bad(format!(
            "too many or too long {what} (at most {MAX_ENTRIES}, 4096 bytes each)"
        )));
    }
    Ok(())
}

pub(crate) fn is_mounted(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let p = path.to_string_lossy();
    info.lines().any(|l| l.split(' ').nth(4) == Some(&p))
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
            crate::ids::random_hex(32)
        } else {
            name.to_string()
        };
        if name.len() < 2 {
            return Err(bad(format!("create {name}: volume name is too short, names should be at least two alphanumeric characters")));
        }
        if !mounts::valid_volume_name(&name) {
            return Err(bad(format!("create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")));
        }
        let driver = if driver.is_empty() { "local" } else { driver };
        if driver != "local" {
            return Err(EngineError::new(
                ErrorKind::NotFound,
                format!("create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"),
            ));
        }
        check_map("labels", &labels)?;
        check_map("options", &options)?;
        check_options(&options).map_err(|e| bad(format!("create {name}: {}", e.message)))?;
        if let Some(r) = self.volume_record(&name)? {
            return Ok(r);
        }
        let data = self.volume_data(&name);
        // `volumes/<name>` is root's; `_data` is the volume's root in
        // containers and keeps the usual 0755.
        if let Some(own) = data.parent() {
            crate::perms::private_dir(own).map_err(|e| sys(format!("create {name}: {e}")))?;
        }
        std::fs::create_dir_all(&data).map_err(|e| sys(format!("create {name}: {e}")))?;
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
                return Err(bad(format!("invalid filter '{k}'")));
            }
            if k == "dangling" {
                for v in vals {
                    if !["true", "false", "1", "0"].contains(&v.as_str()) {
                        return Err(bad(format!(
                            "invalid filter 'dangling={v}': must be 'true' or 'false'"
                        )));
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
            return Err(EngineError::new(
                ErrorKind::Conflict,
                format!("remove {}: volume is in use - [{}]", r.name, ids.join(", ")),
            ));
        }
        let data = self.volume_data(&r.name);
        // Never delete through a mount (a volume binding a host path).
        let _ = store::mount::unmount(&data);
        if is_mounted(&data) {
            return Err(sys(format!(
                "remove {}: {} is still mounted",
                r.name,
                data.display()
            )));
        }
        self.store()
            .meta()
            .write(|w| w.delete(Table::Volumes, &r.name))?;
        // The record is gone: the volume is. A directory left by a crash
        // here goes at the next start (`sweep_volumes`).
        let _ = store::walk::remove_tree(&self.volumes_dir().join(&r.name));
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
                return Err(bad(format!("invalid filter '{k}'")));
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
            let _ = store::mount::unmount(&data);
            if !is_mounted(&data) && store::walk::remove_tree(&e.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Resolves a create body's mounts (see `mounts`), making the volumes
    /// they name that do not exist yet. Called under `volumes_lock`.
    pub(crate) fn resolve_mounts(
        &self,
        body: &CreateBody,
        created: &str,
    ) -> Result<Vec<MountPoint>, EngineError> {
        let requested = mounts::parse_requested(&body.host_config)?;
        let mut out: Vec<MountPoint> = Vec::new();
        for v in body.host_config.volumes_from.iter().flatten() {
            let (name, rw) = mounts::split_volumes_from(v)?;
            // A 404 here would read to the docker CLI as a missing image.
            let other = self.find_container(name).map_err(|e| bad(e.message))?;
            // Its `--tmpfs` mounts are no mount points in Docker: not copied.
            for m in other.mounts.into_iter().filter(|m| !m.hidden) {
                let mut m = MountPoint {
                    rw: m.rw && rw != Some(false),
                    copy_data: false,
                    ..m
                };
                // What the other container made is not ours to remove.
                m.anonymous = false;
                m.mode = String::new();
                out.retain(|x| x.destination != m.destination);
                out.push(m);
            }
        }
        for m in requested {
            out.retain(|x| x.destination != m.destination);
            out.push(m);
        }
        // The image's volumes and `-v /path`: anonymous, where nothing else is.
        let mut image_volumes: Vec<&String> = body
            .config
            .volumes
            .iter()
            .flatten()
            .map(|(k, _)| k)
            .collect();
        image_volumes.sort();
        for dst in image_volumes {
            if !dst.starts_with('/') || dst.len() > 4096 || dst.split('/').any(|c| c == "..") {
                return Err(bad(format!("invalid volume destination: {dst:?}")));
            }
            let dst = format!(
                "/{}",
                dst.split('/')
                    .filter(|c| !c.is_empty())
                    .collect::<Vec<_>>()
                    .join("/")
            );
            if dst == "/" {
                return Err(bad("invalid volume destination: '/'"));
            }
            if out.iter().any(|m| m.destination == dst) {
                continue;
            }
            out.push(MountPoint {
                typ: "volume".into(),
                destination: dst,
                driver: "local".into(),
                rw: true,
                anonymous: true,
                copy_data: true,
                ..Default::default()
            });
        }
        if out.len() > MAX_MOUNTS {
            return Err(bad(format!(
                "too many mounts: {} (at most {MAX_MOUNTS})",
                out.len()
            )));
        }
        // `VolumeDriver` names the driver of the volumes made here; dockerd
        // looks it up only then (a container that makes none is created
        // with any: docker-py's test_create_with_volume_driver).
        let wanted = match body.host_config.volume_driver.as_str() {
            "" | "local" => None,
            d => Some(d),
        };
        for m in out.iter_mut().filter(|m| m.typ == "volume") {
            let missing = m.name.is_empty() || self.volume_record(&m.name)?.is_none();
            if let (Some(d), true) = (wanted, missing) {
                // A 400, not the 404 of a volume create: the docker CLI
                // takes a 404 of a container create for a missing image.
                return Err(bad(format!(
                    "error looking up volume plugin {d}: plugin \"{d}\" not found (berth has only the local volume driver)"
                )));
            }
            if m.name.is_empty() {
                let mut labels = std::mem::take(&mut m.volume_labels);
                labels.insert(ANONYMOUS_LABEL.into(), String::new());
                let r = self.create_volume_locked(
                    "",
                    "local",
                    std::mem::take(&mut m.volume_opts),
                    labels,
                    created.to_string(),
                )?;
                m.name = r.name;
                m.anonymous = true;
            } else if self.volume_record(&m.name)?.is_none() {
                self.create_volume_locked(
                    &m.name.clone(),
                    "local",
                    std::mem::take(&mut m.volume_opts),
                    std::mem::take(&mut m.volume_labels),
                    created.to_string(),
                )?;
            }
        }
        mounts::sort(&mut out);
        Ok(out)
    }

    /// Before a start: each volume ready (its driver mount made), bind
    /// sources made where `-v` makes them, and empty volumes filled from the
    /// image (copy-up). Returns the mounts with their host sources.
    ///
    /// A volume's subpath is opened inside the volume (its symlinks cannot
    /// lead out) and that descriptor is bound onto a root-only staging
    /// point under the exec root, the source the runtime binds: what is
    /// mounted is what was checked, even if a container swaps the path
    /// meanwhile (the runtime cannot bind the descriptor itself: it is in a
    /// mount namespace of its own by then). The staging points come back
    /// with the mounts; hold them until the start is through.
    pub(crate) fn prepare_mounts(
        &self,
        c: &ContainerRecord,
        rootfs: &Path,
    ) -> Result<(Vec<MountPoint>, Staged), EngineError> {
        let mut out = c.mounts.clone();
        let mut held = Staged::default();
        for m in &mut out {
            match m.typ.as_str() {
                "volume" => {
                    // Two containers starting on one volume: the second finds
                    // it mounted and filled, never mounts or copies twice.
                    let _l = self.volumes_lock.lock().unwrap_or_else(|p| p.into_inner());
                    let r = self
                        .volume_record(&m.name)?
                        .ok_or_else(|| no_such(&m.name))?;
                    let data = self.volume_data(&r.name);
                    if !r.options.is_empty() && !is_mounted(&data) {
                        mount_driver_options(&r, &data)?;
                    }
                    if m.copy_data {
                        copy_up(rootfs, &m.destination, &data)?;
                    }
                    m.source = data.to_string_lossy().into_owned();
                    if !m.subpath.is_empty() {
                        let fd = open_subpath(&data, &m.subpath)?;
                        let at = self.exec_root.join("subpaths").join(format!(
                            "{}-{}",
                            &c.id[..12],
                            held.0.len()
                        ));
                        m.source = at.to_string_lossy().into_owned();
                        held.0.push(at.clone());
                        stage(&fd, &at)?;
                    }
                }
                "bind" if m.create_source && !Path::new(&m.source).exists() => {
                    // Docker's -v makes a missing host directory.
                    std::fs::create_dir_all(&m.source)
                        .map_err(|e| sys(format!("create bind source {}: {e}", m.source)))?;
                }
                "bind" if !Path::new(&m.source).exists() => {
                    return Err(bad(format!(
                        "invalid mount config for type \"bind\": bind source path does not exist: {}",
                        m.source
                    )));
                }
                _ => {}
            }
        }
        Ok((out, held))
    }

    /// After a container stopped: driver-option volumes that no running
    /// container uses any more are unmounted (a tmpfs volume's data goes,
    /// as with Docker's local driver).
    pub(crate) fn release_volumes(&self, c: &ContainerRecord) {
        let with_opts: Vec<&MountPoint> = c
            .mounts
            .iter()
            .filter(|m| m.typ == "volume")
            .filter(|m| {
                self.volume_record(&m.name)
                    .ok()
                    .flatten()
                    .is_some_and(|r| !r.options.is_empty())
            })
            .collect();
        if with_opts.is_empty() {
            return;
        }
        let _l = self.volumes_lock.lock().unwrap_or_else(|p| p.into_inner());
        // Running, or being started (its lifecycle lock held: it may have
        // mounted the volume and not run yet).
        let running: Vec<ContainerRecord> = self
            .container_records()
            .unwrap_or_default()
            .into_iter()
            .filter(|o| {
                o.id != c.id
                    && (matches!(self.state(o), State::Running(..))
                        || self.lifecycle(&o.id).try_lock().is_err())
            })
            .collect();
        for m in with_opts {
            if !running.iter().any(|o| {
                o.mounts
                    .iter()
                    .any(|x| x.typ == "volume" && x.name == m.name)
            }) {
                let _ = store::mount::unmount(&self.volume_data(&m.name));
            }
        }
    }

    /// `rm -v`, `--rm`: the container's anonymous volumes go, unless another
    /// container uses one (Docker ignores that conflict). Call after the
    /// container's record is gone.
    pub(crate) fn remove_anonymous_volumes(&self, c: &ContainerRecord) {
        let _l = self.volumes_lock.lock().unwrap_or_else(|p| p.into_inner());
        for m in c.mounts.iter().filter(|m| m.typ == "volume" && m.anonymous) {
            let _ = self.remove_volume_locked(&m.name, true);
        }
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

/// Mounts a volume made with driver options on its `_data`, as Docker's
/// local driver: `mount -t TYPE -o O DEVICE _data` (`o` split into flags
/// and filesystem data).
fn mount_driver_options(r: &VolumeRecord, data: &Path) -> Result<(), EngineError> {
    let typ = r.options.get("type").map(String::as_str).unwrap_or("");
    let device = r.options.get("device").map(String::as_str).unwrap_or("");
    let o: Vec<&str> = r
        .options
        .get("o")
        .map(|o| o.split(',').filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    let parsed = runtime::mount_opts::parse(&o);
    let bind = parsed.flags.contains(nix::mount::MsFlags::MS_BIND);
    let fstype = if bind || typ == "none" {
        None
    } else {
        Some(typ)
    };
    let data_opt = (!parsed.data.is_empty()).then_some(parsed.data.as_str());
    let what = |e: nix::Error| {
        sys(format!(
            "error while mounting volume '{}': failed to mount local volume: mount {device}:{} (type {typ}, options {}): {e}",
            data.display(),
            data.display(),
            o.join(",")
        ))
    };
    nix::mount::mount(Some(device), data, fstype, parsed.flags, data_opt).map_err(what)?;
    if bind && parsed.flags.contains(nix::mount::MsFlags::MS_RDONLY) {
        nix::mount::mount(
            None::<&str>,
            data,
            None::<&str>,
            nix::mount::MsFlags::MS_REMOUNT
                | nix::mount::MsFlags::MS_BIND
                | nix::mount::MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(what)?;
    }
    Ok(())
}

fn stat_kind(st: &nix::sys::stat::FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Docker's copy-up (moby `container.CopyImagePathContent`): an empty
/// volume mounted over `dest` is first filled with what the container's
/// root filesystem has there. The root is the image's (hostile): `dest` is
/// resolved inside it (`openat2(RESOLVE_IN_ROOT)`, a symlink cannot lead
/// out), and the tree below is walked by descriptors, every open
/// `O_NOFOLLOW`; symlinks are copied as symlinks, never followed.
pub fn copy_up(rootfs: &Path, dest: &str, data: &Path) -> Result<(), EngineError> {
    if std::fs::read_dir(data).map_err(sys)?.next().is_some() {
        return Ok(());
    }
    let root = nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| sys(format!("open {}: {e}", rootfs.display())))?;
    let src = match runtime::rootfs::resolve::open_in_root(
        &root,
        Path::new(dest),
        runtime::rootfs::resolve::Create::No,
    ) {
        Ok(fd) => fd,
        // Nothing there in the image: nothing to copy.
        Err(_) => return Ok(()),
    };
    let rd = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let Ok(src) = openat(&src, ".", rd, Mode::empty()) else {
        return Ok(()); // not a directory
    };
    let dst = nix::fcntl::open(data, rd | OFlag::O_NOFOLLOW, Mode::empty()).map_err(sys)?;
    // The volume's root takes the owner and mode of the image's directory.
    let st = nix::sys::stat::fstat(&src).map_err(sys)?;
    let _ = nix::unistd::fchown(
        &dst,
        Some(nix::unistd::Uid::from_raw(st.st_uid)),
        Some(nix::unistd::Gid::from_raw(st.st_gid)),
    );
    let _ = nix::sys::stat::fchmod(&dst, Mode::from_bits_truncate(st.st_mode & 0o7777));
    copy_dir(&src, &dst, 0)
}

/// Deepest directory nesting copied up: a bound on a hostile image's tree
/// (the descriptors held open are one per level).
const MAX_DEPTH: usize = 256;

fn copy_dir(src: &OwnedFd, dst: &OwnedFd, depth: usize) -> Result<(), EngineError> {
    use nix::sys::stat::{fchmodat, mknodat, utimensat, FchmodatFlags, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    if depth > MAX_DEPTH {
        return Err(bad(format!(
            "copy-up: directories nested deeper than {MAX_DEPTH}"
        )));
    }
    let dir = nix::dir::Dir::from_fd(src.try_clone().map_err(sys)?).map_err(sys)?;
    let names: Vec<std::ffi::CString> = dir
        .into_iter()
        .flatten()
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in names {
        let name = std::ffi::OsStr::from_bytes(name.as_bytes());
        let st = match fstatat(src, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(_) => continue,
        };
        let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
        let err =
            |op: &str, e: nix::Error| sys(format!("copy-up: {op} {}: {e}", name.to_string_lossy()));
        match stat_kind(&st) {
            SFlag::S_IFDIR => {
                nix::sys::stat::mkdirat(dst, name, Mode::from_bits_truncate(0o700))
                    .map_err(|e| err("mkdir", e))?;
                let flags =
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                let s = openat(src, name, flags, Mode::empty()).map_err(|e| err("open", e))?;
                let d = openat(dst, name, flags, Mode::empty()).map_err(|e| err("open", e))?;
                copy_dir(&s, &d, depth + 1)?;
            }
            SFlag::S_IFREG => {
                // O_NONBLOCK and the check: never wait on a FIFO put in
                // the file's place since the stat.
                let s = openat(
                    src,
                    name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| err("open", e))?;
                if nix::sys::stat::fstat(&s)
                    .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT)
                    .ok()
                    != Some(SFlag::S_IFREG)
                {
                    return Err(sys(format!(
                        "copy-up: {}: not a regular file",
                        name.to_string_lossy()
                    )));
                }
                let d = openat(
                    dst,
                    name,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(|e| err("create", e))?;
                let mut s = std::fs::File::from(s);
                let mut d = std::fs::File::from(d);
                std::io::copy(&mut s, &mut d).map_err(|e| sys(format!("copy-up: {e}")))?;
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(src, name).map_err(|e| err("readlink", e))?;
                nix::unistd::symlinkat(target.as_os_str(), dst, name)
                    .map_err(|e| err("symlink", e))?;
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
                mknodat(dst, name, stat_kind(&st), perm, st.st_rdev)
                    .map_err(|e| err("mknod", e))?;
            }
            _ => continue, // sockets
        }
        let _ = nix::unistd::fchownat(
            dst,
            name,
            Some(nix::unistd::Uid::from_raw(st.st_uid)),
            Some(nix::unistd::Gid::from_raw(st.st_gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        );
        if stat_kind(&st) != SFlag::S_IFLNK {
            // After the chown, which clears set-id bits.
            let _ = fchmodat(dst, name, perm, FchmodatFlags::FollowSymlink);
        }
        let _ = utimensat(
            dst,
            name,
            &TimeSpec::new(st.st_atime, st.st_atime_nsec),
            &TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
            UtimensatFlags::NoFollowSymlink,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
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
            check_options(&m(&[("foo", "bar")])).unwrap_err().message,
            "invalid option: \"foo\""
        );
        assert!(check_options(&m(&[("type", "tmpfs")])).is_err());
    }
}
