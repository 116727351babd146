//! Loading and checking a bundle: `config.json` read with `oci-spec`, the root
//! filesystem resolved, and everything the container setup relies on validated
//! before anything is created.
//!
//! The bundle is untrusted input: its size is bounded, its rootfs may not be (or
//! lead to) the host's root or leave the bundle when given as a relative path,
//! and mount destinations may not climb out with `..`.

use std::fs;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};

/// Upper bound on `config.json`: real specs are a few KiB; seccomp profiles
/// bring them to ~100 KiB. Anything far beyond is not a spec.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// A loaded and checked bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Canonical path of the bundle directory.
    pub dir: PathBuf,
    /// Canonical path of the root filesystem.
    pub rootfs: PathBuf,
    /// The parsed spec.
    pub spec: Spec,
}

impl Bundle {
    /// Reads and checks the bundle at `dir`.
    pub fn load(dir: &Path) -> Result<Bundle> {
        let dir = fs::canonicalize(dir).map_err(|e| Error::io("open bundle", dir, e))?;
        let config = dir.join("config.json");
        let spec = read_spec(&config)?;
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| Error::InvalidSpec("root.path is missing".into()))?;
        let given = root.path();
        let joined = if given.is_absolute() {
            given.clone()
        } else {
            dir.join(given)
        };
        let rootfs = fs::canonicalize(&joined).map_err(|e| Error::io("open rootfs", &joined, e))?;
        if rootfs == Path::new("/") {
            return Err(Error::InvalidSpec(format!(
                "rootfs {} resolves to the host's root",
                given.display()
            )));
        }
        if !given.is_absolute() && !rootfs.starts_with(&dir) {
            return Err(Error::InvalidSpec(format!(
                "rootfs {} leads outside the bundle (to {})",
                given.display(),
                rootfs.display()
            )));
        }
        if !rootfs.is_dir() {
            return Err(Error::InvalidSpec(format!(
                "rootfs {} is not a directory",
                rootfs.display()
            )));
        }
        validate(&spec)?;
        Ok(Bundle { dir, rootfs, spec })
    }
}

/// Reads a spec (or a process JSON for `exec`) with the size bound applied.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let meta = fs::metadata(path).map_err(|e| Error::io("read", path, e))?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(Error::InvalidSpec(format!(
            "{} is {} bytes, over the {} byte limit",
            path.display(),
            meta.len(),
            MAX_CONFIG_BYTES
        )));
    }
    let bytes = fs::read(path).map_err(|e| Error::io("read", path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::InvalidSpec(format!("{}: {e}", path.display())))
}

fn read_spec(path: &Path) -> Result<Spec> {
    read_json(path)
}

/// Checks what the setup code relies on.
pub fn validate(spec: &Spec) -> Result<()> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::InvalidSpec("process is missing".into()))?;
    validate_process(process)?;
    for mount in spec.mounts().iter().flatten() {
        check_destination(mount.destination())?;
    }
    let linux = spec.linux().as_ref();
    let mut seen = Vec::new();
    for ns in linux
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
    {
        if seen.contains(&ns.typ()) {
            return Err(Error::InvalidSpec(format!(
                "namespace {:?} is listed twice",
                ns.typ()
            )));
        }
        seen.push(ns.typ());
    }
    let has_userns = seen.contains(&LinuxNamespaceType::User);
    let has_maps = linux.is_some_and(|l| {
        l.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            || l.gid_mappings().as_ref().is_some_and(|m| !m.is_empty())
    });
    if has_maps && !has_userns {
        return Err(Error::InvalidSpec(
            "uid/gid mappings given without a user namespace".into(),
        ));
    }
    for path in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .chain(linux.and_then(|l| l.readonly_paths().as_ref()))
        .flatten()
    {
        check_destination(Path::new(path))?;
    }
    Ok(())
}

/// Checks a process (the spec's, or one given to `exec`).
pub fn validate_process(process: &oci_spec::runtime::Process) -> Result<()> {
    match process.args() {
        Some(args) if !args.is_empty() => {}
        _ => return Err(Error::InvalidSpec("process.args is empty".into())),
    }
    if !process.cwd().is_absolute() {
        return Err(Error::InvalidSpec(format!(
            "process.cwd {} is not absolute",
            process.cwd().display()
        )));
    }
    Ok(())
}

/// A mount destination (or masked/readonly path) must be absolute and must not
/// contain `..`: it is resolved inside the rootfs, never above it.
pub fn check_destination(dest: &Path) -> Result<()> {
    if !dest.is_absolute() {
        return Err(Error::InvalidSpec(format!(
            "mount destination {} is not absolute",
            dest.display()
        )));
    }
    if dest.components().any(|c| c == Component::ParentDir) {
        return Err(Error::InvalidSpec(format!(
            "mount destination {} contains '..'",
            dest.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        for (dest, ok) in [
            ("/proc", true),
            ("/a/b/c", true),
            ("relative", false),
            ("/a/../../etc", false),
            ("/..", false),
        ] {
            assert_eq!(check_destination(Path::new(dest)).is_ok(), ok, "{dest}");
        }
    }

    fn bundle_with(
        config: &str,
        rootfs: impl FnOnce(&Path),
    ) -> (tempfile::TempDir, Result<Bundle>) {
        let dir = tempfile::tempdir().unwrap();
        rootfs(dir.path());
        fs::write(dir.path().join("config.json"), config).unwrap();
        let b = Bundle::load(dir.path());
        (dir, b)
    }

    const MINIMAL: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}}}"#;

    #[test]
    fn loads_a_minimal_bundle() {
        let (_d, b) = bundle_with(MINIMAL, |d| fs::create_dir(d.join("rootfs")).unwrap());
        let b = b.unwrap();
        assert!(b.rootfs.ends_with("rootfs"));
    }

    #[test]
    fn rejects_rootfs_symlink_out_of_bundle() {
        let (_d, b) = bundle_with(MINIMAL, |d| {
            std::os::unix::fs::symlink("/", d.join("rootfs")).unwrap()
        });
        assert!(matches!(b, Err(Error::InvalidSpec(m)) if m.contains("host's root")));
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().to_owned();
        let (_d, b) = bundle_with(MINIMAL, |d| {
            std::os::unix::fs::symlink(&target, d.join("rootfs")).unwrap()
        });
        assert!(matches!(b, Err(Error::InvalidSpec(m)) if m.contains("outside the bundle")));
    }

    #[test]
    fn rejects_malformed_configs() {
        for config in [
            "{",
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"}}"#,
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":[],"user":{"uid":0,"gid":0}}}"#,
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"rel","args":["a"],"user":{"uid":0,"gid":0}}}"#,
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":["a"],"user":{"uid":0,"gid":0}},
               "mounts":[{"destination":"/x/../../etc","type":"bind","source":"/tmp"}]}"#,
        ] {
            let (_d, b) = bundle_with(config, |d| fs::create_dir(d.join("rootfs")).unwrap());
            assert!(matches!(b, Err(Error::InvalidSpec(_))), "{config}: {b:?}");
        }
    }
}
