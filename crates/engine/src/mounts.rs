//! A container's mounts, resolved once at create from every form Docker
//! takes them in (moby's `volume/mounts/linux_parser.go` and
//! `daemon/volumes.go` `registerMountPoints`), in Docker's order of
//! precedence:
//!
//! 1. `HostConfig.VolumesFrom` (`name[:ro|rw]`): the other container's mounts;
//! 2. `HostConfig.Binds` (`src:dst[:opts]`: a host path, or a volume name),
//!    `HostConfig.Mounts` (typed: bind, volume, tmpfs) and `HostConfig.Tmpfs`
//!    (`{"/dst": "size=…,mode=…"}`), which replace a volumes-from mount at the
//!    same destination and may not share one among themselves;
//! 3. `Config.Volumes` (the image's `VOLUME`s and `-v /path`): an anonymous
//!    volume at each destination nothing else mounts.
//!
//! The result, a list of [`MountPoint`]s, is kept in the container's record:
//! what a start mounts and what inspect shows never depend on re-parsing.

use std::collections::BTreeMap;

use models::container::HostConfig;
use models::mount::Mount;
use serde::{Deserialize, Serialize};

use crate::{EngineError, ErrorKind};

/// A refusal of a create body's mounts (its binds, `Mounts`, tmpfs and
/// volumes-from), in Docker's words: a 400.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// What is wrong with the mount asked for.
    #[error("{0}")]
    Invalid(String),
}

impl crate::error::ModuleError for MountError {
    fn kind(&self) -> ErrorKind {
        match self {
            MountError::Invalid(_) => ErrorKind::InvalidArgument,
        }
    }
}

/// Longest mount specification or path taken from a request: far beyond
/// any real path (`PATH_MAX` is 4096), short of a memory problem.
const MAX_SPEC: usize = 4096;

/// One mount of a container, as Docker's `MountPoint`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    pub typ: String,
    /// The volume's name (volumes only).
    pub name: String,
    /// The host path of a bind (a volume's is its `_data`, known at start).
    pub source: String,
    /// Absolute path in the container.
    pub destination: String,
    /// The volume driver (`local`).
    pub driver: String,
    /// The mode string as given (`ro`, `z`, `rw,nocopy`, …), as inspect shows it.
    pub mode: String,
    /// Writable.
    pub rw: bool,
    /// Propagation of a bind (`rprivate` unless asked).
    pub propagation: String,
    /// A volume made for this container (no name given): `rm -v` and
    /// `--rm` remove it.
    pub anonymous: bool,
    /// Fill an empty volume with the image's content at the destination.
    pub copy_data: bool,
    /// A missing bind source is made (`-v`), or refused (`--mount`).
    pub create_source: bool,
    /// tmpfs data options (`size=…,mode=…`).
    pub tmpfs: String,
    /// A volume's subdirectory mounted instead of all of it (API 1.45's
    /// `VolumeOptions.Subpath`), relative; resolved inside the volume.
    pub subpath: String,
    /// Left out of inspect's `Mounts` (`--tmpfs`, as Docker).
    pub hidden: bool,
    /// A bind of the source alone, not the mounts below it
    /// (`bind-nonrecursive`, `bind-recursive=disabled`).
    pub non_recursive: bool,
    /// Read-only only at the top, mounts below it writable
    /// (`bind-recursive=writable`); otherwise a read-only bind is
    /// read-only all the way down, as Docker 25+ makes it.
    pub ro_top_only: bool,
    /// Labels and driver options for a named volume a `--mount` creates.
    #[serde(skip)]
    pub volume_labels: BTreeMap<String, String>,
    /// Driver options for a volume a `--mount` creates.
    #[serde(skip)]
    pub volume_opts: BTreeMap<String, String>,
}

impl MountPoint {
    /// Docker's `MountPoint` (inspect, ps); `volume_source` is the volume's `_data`.
    pub fn to_model(&self, volume_source: &str) -> models::mount::MountPoint {
        let base = models::mount::MountPoint {
            destination: self.destination.clone(),
            mode: self.mode.clone(),
            rw: self.rw,
            ..Default::default()
        };
        match self.typ.as_str() {
            "volume" => models::mount::MountPoint {
                typ: "volume".into(),
                name: self.name.clone(),
                source: volume_source.into(),
                driver: self.driver.clone(),
                ..base
            },
            "tmpfs" => models::mount::MountPoint {
                typ: "tmpfs".into(),
                ..base
            },
            _ => models::mount::MountPoint {
                typ: "bind".into(),
                source: self.source.clone(),
                propagation: self.propagation.clone(),
                ..base
            },
        }
    }
}

const PROPAGATIONS: &[&str] = &[
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
];

/// Docker's local volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_volume_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b.len() <= 255
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

fn check_destination(spec: &str, dst: &str) -> Result<(), EngineError> {
    let invalid = |why: String| {
        MountError::Invalid(format!(
            "invalid volume specification: '{spec}': invalid mount config for type \"bind\": {why}"
        ))
    };
    if !dst.starts_with('/') {
        return Err(invalid(format!(
            "invalid mount path: '{dst}' mount path must be absolute"
        ))
        .into());
    }
    if clean(dst) == "/" {
        return Err(invalid("invalid specification: destination can't be '/'".into()).into());
    }
    if dst.split('/').any(|c| c == "..") {
        return Err(invalid(format!("invalid mount path: '{dst}'")).into());
    }
    Ok(())
}

/// Docker's path cleaning for destinations: no trailing or doubled slashes.
fn clean(p: &str) -> String {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

/// Parses one `Binds` entry: `/host:/ctr[:opts]` or `name:/ctr[:opts]`.
pub fn parse_bind(spec: &str) -> Result<MountPoint, EngineError> {
    if spec.len() > MAX_SPEC {
        return Err(MountError::Invalid("invalid volume specification: too long".into()).into());
    }
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => {
            return Err(
                MountError::Invalid(format!("invalid volume specification: '{spec}'")).into(),
            )
        }
    };
    if src.is_empty() {
        return Err(MountError::Invalid(format!("invalid volume specification: '{spec}'")).into());
    }
    check_destination(spec, dst)?;
    let mut m = MountPoint {
        destination: clean(dst),
        mode: mode.to_string(),
        rw: true,
        ..Default::default()
    };
    let mut nocopy = false;
    for o in mode.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => m.rw = false,
            "rw" => m.rw = true,
            // SELinux relabelling means nothing without SELinux (see
            // `warnings`).
            "z" | "Z" => {}
            "nocopy" => nocopy = true,
            p if PROPAGATIONS.contains(&p) => m.propagation = p.to_string(),
            _ => return Err(MountError::Invalid(format!("invalid mode: {o}")).into()),
        }
    }
    if src.starts_with('/') {
        if nocopy {
            return Err(MountError::Invalid(format!("invalid mode: {mode}")).into());
        }
        m.typ = "bind".into();
        m.source = clean(src);
        m.create_source = true;
        if m.propagation.is_empty() {
            m.propagation = "rprivate".into();
        }
    } else {
        if !valid_volume_name(src) {
            return Err(MountError::Invalid(format!("create {src}: \"{src}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")).into());
        }
        if !m.propagation.is_empty() {
            return Err(MountError::Invalid(format!("invalid mode: {mode}")).into());
        }
        m.typ = "volume".into();
        m.name = src.to_string();
        m.driver = "local".into();
        m.copy_data = !nocopy;
    }
    Ok(m)
}

/// Parses one `HostConfig.Mounts` entry (moby's `mount.Mount`).
pub fn parse_mount(v: &Mount) -> Result<MountPoint, EngineError> {
    let typ = v.typ.clone();
    let target = v.target.clone();
    let source = v.source.clone();
    let invalid = |why: String| invalid_mount(&typ, why);
    if target.is_empty() {
        return Err(invalid("field Target must not be empty".into()));
    }
    if target.len() > MAX_SPEC || source.len() > MAX_SPEC {
        return Err(invalid("path too long".into()));
    }
    if !target.starts_with('/') {
        return Err(invalid(format!(
            "invalid mount path: '{target}' mount path must be absolute"
        )));
    }
    if clean(&target) == "/" || target.split('/').any(|c| c == "..") {
        return Err(invalid(format!("invalid mount path: '{target}'")));
    }
    let mut m = MountPoint {
        destination: clean(&target),
        rw: !v.read_only,
        mode: String::new(),
        ..Default::default()
    };
    match typ.as_str() {
        "bind" => {
            only_options(v, "BindOptions")?;
            bind_mount(v, &mut m)?;
        }
        "volume" => {
            only_options(v, "VolumeOptions")?;
            volume_mount(v, &mut m)?;
        }
        "tmpfs" => {
            only_options(v, "TmpfsOptions")?;
            tmpfs_mount(v, &mut m)?;
        }
        "" => {
            return Err(
                MountError::Invalid("invalid mount config: mount type unknown".into()).into(),
            )
        }
        other => {
            return Err(MountError::Invalid(format!(
                "invalid mount config for type \"{other}\": mount type unknown"
            ))
            .into())
        }
    }
    Ok(m)
}

/// Docker's words for a `--mount` it refuses.
fn invalid_mount(typ: &str, why: String) -> EngineError {
    MountError::Invalid(format!("invalid mount config for type \"{typ}\": {why}")).into()
}

/// Refuses the options of another type than the mount's (`allowed`).
fn only_options(v: &Mount, allowed: &str) -> Result<(), EngineError> {
    let given = |k: &str| match k {
        "BindOptions" => v.bind_options.is_some(),
        "VolumeOptions" => v.volume_options.is_some(),
        _ => v.tmpfs_options.is_some(),
    };
    for k in ["BindOptions", "VolumeOptions", "TmpfsOptions"] {
        if given(k) && k != allowed {
            return Err(invalid_mount(
                &v.typ,
                format!("field {k} must not be specified"),
            ));
        }
    }
    Ok(())
}

/// A `type=bind` mount: an absolute source that exists (unless
/// `CreateMountpoint`), its propagation and recursive read-only options.
fn bind_mount(v: &Mount, m: &mut MountPoint) -> Result<(), EngineError> {
    let source = &v.source;
    let ro = v.read_only;
    let invalid = |why: String| invalid_mount(&v.typ, why);
    if source.is_empty() {
        return Err(invalid("field Source must not be empty".into()));
    }
    if !source.starts_with('/') {
        return Err(invalid(format!(
            "invalid mount path: '{source}' mount path must be absolute"
        )));
    }
    let bo = v.bind_options.clone().unwrap_or_default();
    let prop = bo.propagation.as_str();
    if !prop.is_empty() && !PROPAGATIONS.contains(&prop) {
        return Err(invalid(format!("invalid propagation mode: {prop}")));
    }
    m.typ = "bind".into();
    m.source = clean(source);
    m.propagation = if prop.is_empty() { "rprivate" } else { prop }.into();
    m.non_recursive = bo.non_recursive;
    m.ro_top_only = bo.read_only_non_recursive;
    // moby's ValidateMountConfig rules for the recursive options.
    let (top, force) = (bo.read_only_non_recursive, bo.read_only_force_recursive);
    if top && force {
        return Err(invalid(
            "must not specify both ReadOnlyNonRecursive and ReadOnlyForceRecursive".into(),
        ));
    }
    if (top || force) && !ro {
        return Err(invalid(
            "must not specify ReadOnlyNonRecursive or ReadOnlyForceRecursive without ReadOnly"
                .into(),
        ));
    }
    if force && (m.non_recursive || m.propagation != "rprivate") {
        return Err(invalid(
            "ReadOnlyForceRecursive requires a recursive, rprivate bind".into(),
        ));
    }
    // --mount never makes the source unless asked (CreateMountpoint).
    m.create_source = bo.create_mountpoint;
    if !m.create_source && !std::path::Path::new(&m.source).exists() {
        return Err(invalid(format!(
            "bind source path does not exist: {}",
            m.source
        )));
    }
    Ok(())
}

/// A `type=volume` mount: a named (or anonymous) local volume, its
/// subpath inside it, its labels and driver options.
fn volume_mount(v: &Mount, m: &mut MountPoint) -> Result<(), EngineError> {
    let source = v.source.clone();
    let invalid = |why: String| invalid_mount(&v.typ, why);
    if !source.is_empty() && !valid_volume_name(&source) {
        return Err(invalid(format!("invalid volume name: {source:?}")));
    }
    let vo = v.volume_options.clone().unwrap_or_default();
    // moby's rule (`filepath.IsLocal`): relative, inside the volume.
    let sub = std::path::Path::new(&vo.subpath);
    if !vo.subpath.is_empty()
        && (vo.subpath.len() > MAX_SPEC
            || sub.is_absolute()
            || sub
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir)))
    {
        return Err(invalid(
            "subpath must be a relative path within the volume".into(),
        ));
    }
    let dc = vo.driver_config.clone().unwrap_or_default();
    let driver = dc.name.as_str();
    if !driver.is_empty() && driver != "local" {
        return Err(MountError::Invalid(format!(
            "error looking up volume plugin {driver}: plugin \"{driver}\" not found (berth has only the local volume driver)"
        )).into());
    }
    m.typ = "volume".into();
    m.driver = "local".into();
    m.anonymous = source.is_empty();
    m.name = source;
    // A subpath is of what the volume holds: nothing copied into it.
    m.copy_data = !vo.no_copy && vo.subpath.is_empty();
    m.subpath = vo.subpath.clone();
    m.volume_labels = vo.labels;
    m.volume_opts = dc.options;
    Ok(())
}

/// A `type=tmpfs` mount: its options as the `mount(2)` data string.
fn tmpfs_mount(v: &Mount, m: &mut MountPoint) -> Result<(), EngineError> {
    let ro = v.read_only;
    let invalid = |why: String| invalid_mount(&v.typ, why);
    if !v.source.is_empty() {
        return Err(invalid("field Source must not be specified".into()));
    }
    let t = v.tmpfs_options.clone().unwrap_or_default();
    // Docker's ConvertTmpfsOptions: ro, mode, size.
    let mut data = Vec::new();
    if ro {
        data.push("ro".to_string());
    }
    if t.mode > 0 {
        data.push(format!("mode={:o}", t.mode & 0o7777));
    }
    // API 1.46's `Options`: `[["noexec"], ["nr_inodes", "1k"]]`.
    for o in &t.options {
        let opt = match o.as_slice() {
            [k] => k.clone(),
            [k, v] => format!("{k}={v}"),
            _ => return Err(invalid(format!("invalid tmpfs option {o:?}"))),
        };
        check_tmpfs(&v.target, &opt)?;
        data.push(opt);
    }
    if t.size_bytes > 0 {
        let size = t.size_bytes;
        // Docker's ConvertTmpfsOptions: the largest unit that divides.
        let (n, unit) = [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)]
            .iter()
            .find(|(_, d)| size % d == 0)
            .map_or((size, ""), |(u, d)| (size / d, *u));
        data.push(format!("size={n}{unit}"));
    }
    m.typ = "tmpfs".into();
    m.tmpfs = data.join(",");
    Ok(())
}

/// Checks a `--tmpfs` option string: what `mount(2)` takes for tmpfs.
fn check_tmpfs(dst: &str, opts: &str) -> Result<(), EngineError> {
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let key = o.split('=').next().unwrap_or(o);
        let known = [
            "size",
            "mode",
            "uid",
            "gid",
            "nr_inodes",
            "nr_blocks",
            "huge",
            "mpol",
            "ro",
            "rw",
            "exec",
            "noexec",
            "suid",
            "nosuid",
            "dev",
            "nodev",
            "atime",
            "noatime",
            "diratime",
            "nodiratime",
            "relatime",
            "norelatime",
            "strictatime",
            "nostrictatime",
            "sync",
            "async",
            "dirsync",
            "private",
            "rprivate",
            "shared",
            "rshared",
            "slave",
            "rslave",
            "tmpcopyup",
            "notmpcopyup",
        ];
        if !known.contains(&key) {
            return Err(
                MountError::Invalid(format!("invalid tmpfs option [\"{o}\"] for {dst}")).into(),
            );
        }
    }
    Ok(())
}

/// The mounts a create body asks for, before volumes-from and the image's
/// volumes: parsed and checked, nothing made yet.
pub fn parse_requested(host: &HostConfig) -> Result<Vec<MountPoint>, EngineError> {
    let mut out: Vec<MountPoint> = Vec::new();
    let push = |out: &mut Vec<MountPoint>, m: MountPoint| {
        if out.iter().any(|x| x.destination == m.destination) {
            return Err(EngineError::from(MountError::Invalid(format!(
                "Duplicate mount point: {}",
                m.destination
            ))));
        }
        out.push(m);
        Ok(())
    };
    for b in host.binds() {
        push(&mut out, parse_bind(b)?)?;
    }
    for m in &host.mounts {
        push(&mut out, parse_mount(m)?)?;
    }
    for (dst, opts) in &host.tmpfs {
        if dst.len() > MAX_SPEC || opts.len() > MAX_SPEC {
            return Err(MountError::Invalid("invalid tmpfs: too long".into()).into());
        }
        if !dst.starts_with('/') || clean(dst) == "/" || dst.split('/').any(|c| c == "..") {
            return Err(MountError::Invalid(format!("invalid tmpfs destination: {dst}")).into());
        }
        check_tmpfs(dst, opts)?;
        push(
            &mut out,
            MountPoint {
                typ: "tmpfs".into(),
                destination: clean(dst),
                rw: !opts.split(',').any(|o| o == "ro"),
                tmpfs: opts.to_string(),
                hidden: true,
                ..Default::default()
            },
        )?;
    }
    for v in host.volumes_from.iter().flatten() {
        split_volumes_from(v)?;
    }
    Ok(out)
}

/// `name[:ro|rw]` of `--volumes-from`: the container and whether its mounts
/// stay writable (`None`: as they are).
pub fn split_volumes_from(v: &str) -> Result<(&str, Option<bool>), EngineError> {
    if v.is_empty() {
        return Err(MountError::Invalid(
            "volumes-from specification cannot be an empty string".into(),
        )
        .into());
    }
    match v.split_once(':') {
        None => Ok((v, None)),
        Some((c, "rw")) => Ok((c, Some(true))),
        Some((c, "ro")) => Ok((c, Some(false))),
        Some((_, m)) => Err(MountError::Invalid(format!("invalid mode: {m}")).into()),
    }
}

/// What a create body's mounts warrant saying (Docker's create `Warnings`).
pub fn warnings(host: &HostConfig) -> Vec<String> {
    let mut out = Vec::new();
    for b in host.binds() {
        let mode = b.splitn(3, ':').nth(2).unwrap_or("");
        if mode.split(',').any(|o| o == "z" || o == "Z") {
            out.push(format!(
                "SELinux relabeling of {b} ignored: this host has no SELinux labels to apply"
            ));
        }
    }
    out
}

/// Sorts mounts so that a parent is mounted before what lies below it
/// (Docker sorts by the number of path components).
pub fn sort(mounts: &mut [MountPoint]) {
    mounts.sort_by_key(|m| m.destination.split('/').filter(|c| !c.is_empty()).count());
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn mount(v: Value) -> Mount {
        models::de::from_value(v).unwrap()
    }

    #[test]
    fn binds_and_volumes_from_v() {
        let m = parse_bind("/h:/c:ro,rslave").unwrap();
        assert_eq!(
            (
                m.typ.as_str(),
                m.rw,
                m.propagation.as_str(),
                m.create_source
            ),
            ("bind", false, "rslave", true)
        );
        let m = parse_bind("data:/d/:nocopy").unwrap();
        assert_eq!(
            (
                m.typ.as_str(),
                m.name.as_str(),
                m.destination.as_str(),
                m.copy_data
            ),
            ("volume", "data", "/d", false)
        );
        for bad in [
            "/h",
            "/h:rel",
            "/h:/",
            "/h:/a/../b",
            "a:/x",
            "bad name:/x",
            "/h:/x:bogus",
            "v1:/x:rshared",
            "/h:/x:nocopy",
        ] {
            assert!(parse_bind(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn typed_mounts() {
        let t = parse_mount(&mount(json!({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 448}}))).unwrap();
        assert_eq!(t.tmpfs, "mode=700,size=1m");
        let v = parse_mount(&mount(json!({"Type": "volume", "Target": "/v"}))).unwrap();
        assert!(v.anonymous && v.copy_data);
        let e = parse_mount(&mount(
            json!({"Type": "bind", "Source": "/no/such/dir/here", "Target": "/b"}),
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid mount config for type \"bind\": bind source path does not exist: /no/such/dir/here"
        );
        assert!(parse_mount(&mount(
            json!({"Type": "tmpfs", "Source": "x", "Target": "/t"})
        ))
        .is_err());
        assert!(parse_mount(&mount(json!({"Type": "npipe", "Target": "/t"}))).is_err());
    }

    #[test]
    fn duplicates_refused() {
        let host: HostConfig =
            models::de::from_value(json!({"Binds": ["/a:/x"], "Tmpfs": {"/x": ""}})).unwrap();
        assert_eq!(
            parse_requested(&host).unwrap_err().to_string(),
            "Duplicate mount point: /x"
        );
    }
}
