//! What the spec mounts from outside the image: the files bound into
//! `/etc`, the host's device nodes for a privileged container, and the
//! propagation of a bind's source.

use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceBuilder, LinuxDeviceType};
use serde_json::{json, Value};

use super::namespaces::Namespaces;
use super::resources::DEFAULT_SHM_SIZE;
use super::SpecError;
use crate::mounts::MountPoint;
use crate::EngineError;
use models::container::HostConfig;

/// The spec's mounts: Docker's defaults (`/dev/shm` as the IPC mode says,
/// `/sys/fs/cgroup` read-only unless privileged or `writable-cgroups`),
/// the `/etc` files, then the user's mounts, each replacing a default at
/// the same destination.
pub fn mounts(
    hc: &HostConfig,
    ns: &Namespaces,
    etc_dir: &Path,
    user_mounts: &[MountPoint],
    writable_cgroups: bool,
) -> Result<Value, EngineError> {
    let bind = |dest: &str, file: &str| json!({"destination": dest, "type": "bind", "source": etc_dir.join(file), "options": ["rbind", "rprivate"]});
    let rw = |yes: bool| if yes { "rw" } else { "ro" };
    let shm_size = if hc.shm_size > 0 {
        hc.shm_size
    } else {
        DEFAULT_SHM_SIZE
    };
    let mut list = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", rw(hc.privileged)]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": [rw(hc.privileged || writable_cgroups), "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
    ];
    list.extend(super::namespaces::shm_mount(ns, shm_size));
    list.push(bind("/etc/resolv.conf", "resolv.conf"));
    list.push(bind("/etc/hostname", "hostname"));
    list.push(bind("/etc/hosts", "hosts"));
    for m in user_mounts {
        let mount = match m.typ.as_str() {
            // Docker's tmpfs defaults, then the user's options.
            "tmpfs" => {
                let mut options: Vec<String> = ["noexec", "nosuid", "nodev", "rprivate"]
                    .map(String::from)
                    .to_vec();
                options.extend(
                    m.tmpfs
                        .split(',')
                        .filter(|o| !o.is_empty())
                        .map(String::from),
                );
                if !m.rw && !options.iter().any(|o| o == "ro") {
                    options.push("ro".into());
                }
                json!({"destination": m.destination, "type": "tmpfs", "source": "tmpfs", "options": options})
            }
            _ => {
                let propagation = if m.propagation.is_empty() {
                    "rprivate"
                } else {
                    m.propagation.as_str()
                };
                let kind = if m.non_recursive { "bind" } else { "rbind" };
                let mut options = vec![kind.to_string(), propagation.to_string()];
                if !m.rw {
                    // Read-only all the way down unless asked otherwise
                    // (Docker 25+, API 1.44).
                    let recursive = !m.non_recursive && !m.ro_top_only;
                    options.push(if recursive { "rro" } else { "ro" }.into());
                }
                json!({"destination": m.destination, "type": "bind", "source": m.source, "options": options})
            }
        };
        // A mount over one of the defaults replaces it.
        list.retain(|x| x["destination"] != m.destination.as_str());
        list.push(mount);
    }
    Ok(Value::Array(list))
}

/// Docker's rules for bind propagation (moby `daemon/oci_linux.go`
/// WithMounts): a shared bind needs a shared source mount, a slave one a
/// shared or slave source, and the root's propagation follows so that
/// events reach.
pub fn root_propagation(user_mounts: &[MountPoint]) -> Result<Option<&'static str>, EngineError> {
    let mut root: Option<&'static str> = None;
    for m in user_mounts {
        match m.propagation.as_str() {
            "shared" | "rshared" => {
                let (at, tags) = source_mount(Path::new(&m.source));
                if !tags.contains("shared:") {
                    return Err(SpecError::Invalid(format!(
                        "path {} is mounted on {at} but it is not a shared mount",
                        m.source
                    ))
                    .into());
                }
                root = Some("shared");
            }
            "slave" | "rslave" => {
                let (at, tags) = source_mount(Path::new(&m.source));
                if !tags.contains("shared:") && !tags.contains("master:") {
                    return Err(SpecError::Invalid(format!(
                        "path {} is mounted on {at} but it is not a shared or slave mount",
                        m.source
                    ))
                    .into());
                }
                root.get_or_insert("rslave");
            }
            _ => {}
        }
    }
    Ok(root)
}

/// The mount point that holds `path` and its mountinfo optional fields
/// (`shared:N`, `master:N`), from `/proc/self/mountinfo`.
fn source_mount(path: &Path) -> (String, String) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut best: (String, String) = ("/".into(), String::new());
    let mut best_len = 0;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(at), Some(dash)) = (fields.get(4), fields.iter().position(|f| *f == "-")) else {
            continue;
        };
        // Later lines are mounted on top: on a tie, the last one wins.
        if path.starts_with(at) && at.len() >= best_len {
            best_len = at.len();
            best = (at.to_string(), fields[6..dash].join(" "));
        }
    }
    best
}

/// A TTY's first size as the spec says it (`[0, 0]` is none).
pub(crate) fn console_size(tty: bool, size: [u32; 2]) -> Option<Value> {
    match size {
        [h, w] if tty && h > 0 && w > 0 => Some(json!({"height": h, "width": w})),
        _ => None,
    }
}

/// Every device node of the host's `/dev` (a privileged container gets them
/// all, as Docker's), except the container's own pts, shm and mqueue.
pub fn host_devices() -> Vec<LinuxDevice> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::from("/dev")];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            let Ok(md) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let ft = md.file_type();
            if ft.is_dir() {
                if !["/dev/pts", "/dev/shm", "/dev/mqueue"]
                    .iter()
                    .any(|p| path == Path::new(p))
                {
                    stack.push(path);
                }
                continue;
            }
            let typ = if ft.is_char_device() {
                LinuxDeviceType::C
            } else if ft.is_block_device() {
                LinuxDeviceType::B
            } else {
                continue;
            };
            // /dev/console and the default devices are made by the runtime.
            if path == Path::new("/dev/console") || path == Path::new("/dev/ptmx") {
                continue;
            }
            let rdev = md.rdev();
            let built = LinuxDeviceBuilder::default()
                .path(path)
                .typ(typ)
                .major(i64::from(libc::major(rdev)))
                .minor(i64::from(libc::minor(rdev)))
                .file_mode(md.mode() & 0o7777)
                .uid(md.uid())
                .gid(md.gid())
                .build();
            out.extend(built.ok());
        }
    }
    out.sort_by(|a, b| a.path().cmp(b.path()));
    out
}
