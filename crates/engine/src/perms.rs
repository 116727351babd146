//! File modes of the daemon's own state, so that no host user but root can
//! read, write or walk through it (the CVE-2021-41091 class: a container's
//! mounted root holds its setuid binaries, its `config.json` holds its
//! environment, often secrets).
//!
//! Docker's answer, kept here: modes, not `nosuid` (a container's own setuid
//! binaries must keep working inside it):
//!
//! ```text
//! <data-root>/                    0710  (and <exec-root>/)
//! <data-root>/containers/         0700
//! <data-root>/containers/<id>/    0700  config.json, logs, state: 0600
//! <data-root>/containers/<id>/etc 0700  hostname, hosts, resolv.conf stay
//!                                       0644: they are bound into the
//!                                       container for its users to read
//! <data-root>/volumes/<name>/     0700  (`_data` keeps its mode: it is the
//!                                       volume's root inside containers)
//! <data-root>/image/              0700  meta.redb 0600
//! <exec-root>/execs/              0700  process files 0600
//! <exec-root>/runtime/            0700
//! ```
//!
//! The roots are 0710 (group root may traverse, as Docker's, so that a
//! remapped root group could be given access later); everything under them
//! is reachable by root only. An existing data root made by an older berth
//! is tightened by [`tighten`] when the engine opens.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use shim_proto::files;

/// The data root and the exec root: root and group root may enter.
pub const ROOT_DIR: u32 = 0o710;
/// Directories below them.
pub const PRIVATE_DIR: u32 = 0o700;
/// Files holding configuration, environments, logs and state.
pub const PRIVATE_FILE: u32 = 0o600;

/// Makes `path` (and missing parents, with the same mode) a directory of
/// mode `mode`, tightening it when it already exists.
pub fn dir(path: &Path, mode: u32) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(mode).create(path)?;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.permissions().mode() & 0o7777 != mode {
        std::fs::set_permissions(path, Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// [`dir`] with [`PRIVATE_DIR`].
pub fn private_dir(path: &Path) -> std::io::Result<()> {
    dir(path, PRIVATE_DIR)
}

/// Writes `bytes` to `path` (created or truncated) readable by root only;
/// a file that exists with a wider mode is narrowed before it is written.
pub fn write_private(path: &Path, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(PRIVATE_FILE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    f.set_permissions(Permissions::from_mode(PRIVATE_FILE))?;
    f.write_all(bytes.as_ref())
}

/// Files of a container's directory that hold its configuration,
/// environment, output or state (a rotated log's older files too).
fn is_private_container_file(name: &str) -> bool {
    matches!(
        name,
        "config.json"
            | files::LOG_OPTS
            | "network.json"
            | files::STARTED
            | files::EXIT
            | files::SHIM_PID
            | files::CONTROL_SOCKET
    ) || name.starts_with(files::LOG)
        || name.starts_with('.')
}

/// Narrows the modes of a data root and an exec root made by an older
/// berth (or by hand) to the layout above. Best effort past the roots
/// themselves: a file that cannot be changed is reached by root only anyway.
pub fn tighten(data_root: &Path, exec_root: &Path) -> std::io::Result<()> {
    dir(data_root, ROOT_DIR)?;
    dir(exec_root, ROOT_DIR)?;
    let chmod = |p: &Path, mode: u32| {
        if let Ok(meta) = std::fs::symlink_metadata(p) {
            if !meta.file_type().is_symlink() && meta.permissions().mode() & 0o7777 & !mode != 0 {
                crate::error::ignore(
                    format_args!("tighten the mode of {}", p.display()),
                    std::fs::set_permissions(p, Permissions::from_mode(mode)),
                );
            }
        }
    };
    let children = |p: &Path| -> Vec<std::fs::DirEntry> {
        std::fs::read_dir(p)
            .map(|rd| rd.flatten().collect())
            .unwrap_or_default()
    };
    let containers = data_root.join("containers");
    chmod(&containers, PRIVATE_DIR);
    for c in children(&containers) {
        let dir = c.path();
        chmod(&dir, PRIVATE_DIR);
        chmod(&dir.join("etc"), PRIVATE_DIR);
        for f in children(&dir) {
            if is_private_container_file(&f.file_name().to_string_lossy()) {
                chmod(&f.path(), PRIVATE_FILE);
            }
        }
    }
    let volumes = data_root.join("volumes");
    chmod(&volumes, PRIVATE_DIR);
    for v in children(&volumes) {
        chmod(&v.path(), PRIVATE_DIR);
    }
    for d in ["image", "build"] {
        chmod(&data_root.join(d), PRIVATE_DIR);
    }
    chmod(&data_root.join("image/meta.redb"), PRIVATE_FILE);
    chmod(&data_root.join("engine-id"), PRIVATE_FILE);
    for d in ["execs", "runtime", "netns"] {
        chmod(&exec_root.join(d), PRIVATE_DIR);
    }
    for f in children(&exec_root.join("execs")) {
        chmod(&f.path(), PRIVATE_FILE);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn tighten_narrows_an_old_layout() {
        let d = tempfile::tempdir().unwrap();
        let (data, exec) = (d.path().join("data"), d.path().join("exec"));
        let ctr = data.join("containers/abc");
        std::fs::create_dir_all(ctr.join("etc")).unwrap();
        std::fs::create_dir_all(data.join("volumes/v/_data")).unwrap();
        std::fs::create_dir_all(exec.join("execs")).unwrap();
        for f in ["config.json", "ctr.log", "ctr.log.1", "etc/hosts"] {
            std::fs::write(ctr.join(f), "x").unwrap();
            std::fs::set_permissions(ctr.join(f), Permissions::from_mode(0o644)).unwrap();
        }
        std::fs::write(exec.join("execs/e.json"), "{}").unwrap();
        for p in [&data, &exec, &ctr] {
            std::fs::set_permissions(p, Permissions::from_mode(0o755)).unwrap();
        }
        tighten(&data, &exec).unwrap();
        assert_eq!(mode(&data), 0o710);
        assert_eq!(mode(&exec), 0o710);
        assert_eq!(mode(&data.join("containers")), 0o700);
        assert_eq!(mode(&ctr), 0o700);
        assert_eq!(mode(&ctr.join("etc")), 0o700);
        assert_eq!(mode(&ctr.join("config.json")), 0o600);
        assert_eq!(mode(&ctr.join("ctr.log.1")), 0o600);
        // Bound into the container for its users: stays readable.
        assert_eq!(mode(&ctr.join("etc/hosts")), 0o644);
        assert_eq!(mode(&data.join("volumes/v")), 0o700);
        assert_eq!(mode(&data.join("volumes/v/_data")), 0o755);
        assert_eq!(mode(&exec.join("execs/e.json")), 0o600);
    }

    #[test]
    fn write_private_narrows_an_existing_file() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("config.json");
        std::fs::write(&f, "old, longer").unwrap();
        std::fs::set_permissions(&f, Permissions::from_mode(0o644)).unwrap();
        write_private(&f, "new").unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "new");
        // A symlink planted in its place is not written through.
        let target = d.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(write_private(&link, "x").is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
