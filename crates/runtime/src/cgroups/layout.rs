//! Where the hierarchies are and where a container's cgroup goes in them.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::{io_err, read, write, Cgroup, CgroupError};

/// The key of the hybrid layout's cgroup2 tree among a v1 cgroup's paths
/// (runc's too).
pub const UNIFIED_KEY: &str = "";

/// The parent under which containers without a cgroups path of their own
/// go (`/berth/<id>`). It is berth's: removed when its last container goes
/// (see [`super::Cgroup::destroy`]), so nothing is left once all are gone.
pub const DEFAULT_PARENT: &str = "berth";

/// v1 controllers berth manages. Named hierarchies (`name=systemd`) carry
/// none, but the container is placed in them too (see [`Mounts::named`]).
const V1_CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
    "rdma",
    "misc",
];

/// The cgroup mounts of this host.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mounts {
    /// The cgroup2 mount point, if any.
    pub v2: Option<PathBuf>,
    /// v1 controller to its hierarchy's mount point.
    pub v1: BTreeMap<String, PathBuf>,
    /// Named v1 hierarchies without controllers (`name=systemd` to its
    /// mount point). A container is placed in each, as runc does, so that
    /// its cgroup namespace (and the hierarchy mounted in it) shows its own
    /// cgroup, not the host's whole tree of every engine's cgroups.
    pub named: BTreeMap<String, PathBuf>,
}

impl Mounts {
    /// The host's cgroup mounts (see [`Hierarchy::of_host`]); `own` is
    /// `/proc/self/cgroup`.
    pub fn of_host(own: &str) -> Result<Mounts, CgroupError> {
        Ok(Mounts::from_hierarchies(&Hierarchy::of_host(own)?))
    }

    /// Reads `/proc/self/mountinfo` text.
    #[cfg(test)]
    pub fn parse(mountinfo: &str) -> Mounts {
        Mounts::from_hierarchies(&from_mountinfo(mountinfo))
    }

    /// The first mount of each controller, of the cgroup2 tree and of each
    /// named hierarchy.
    fn from_hierarchies(all: &[Hierarchy]) -> Mounts {
        let mut m = Mounts::default();
        for h in all {
            if h.v2 {
                m.v2.get_or_insert_with(|| h.point.clone());
                continue;
            }
            for c in &h.controllers {
                m.v1.entry(c.clone()).or_insert_with(|| h.point.clone());
            }
            if let (Some(name), true) = (&h.name, h.controllers.is_empty()) {
                m.named
                    .entry(name.clone())
                    .or_insert_with(|| h.point.clone());
            }
        }
        m
    }
}

/// One cgroup hierarchy as this host mounts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Its mount point.
    pub point: PathBuf,
    /// The cgroup2 tree (else a v1 hierarchy).
    pub v2: bool,
    /// The v1 controllers it carries (those berth knows), in the kernel's
    /// order (`cpu,cpuacct`).
    pub controllers: Vec<String>,
    /// A v1 hierarchy's `name=…` option (`name=systemd`).
    pub name: Option<String>,
}

/// Where hosts mount their cgroup hierarchies.
const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

impl Hierarchy {
    /// The host's hierarchies; `own` is `/proc/self/cgroup`.
    ///
    /// The usual layout (cgroup2 at `/sys/fs/cgroup`, or a tmpfs there with
    /// each hierarchy of `/proc/self/cgroup` mounted under its name) is
    /// found with `statfs`, as runc finds it: `/proc/self/mountinfo` lists
    /// every mount of the host, with each running container's overlay and
    /// its long options, so reading it costs more with every container (the
    /// kernel formats 180 KB for 220 containers). Any other layout is read
    /// from mountinfo.
    pub fn of_host(own: &str) -> Result<Vec<Hierarchy>, CgroupError> {
        if let Some(found) = from_default_root(Path::new(DEFAULT_ROOT), own) {
            return Ok(found);
        }
        Ok(from_mountinfo(&read(Path::new("/proc/self/mountinfo"))?))
    }

    /// A v1 hierarchy's options to mount it again (`cpu,cpuacct`,
    /// `name=systemd`).
    pub fn options(&self) -> String {
        self.controllers
            .iter()
            .map(String::as_str)
            .chain(self.name.as_deref())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Every cgroup mount of mountinfo text that berth can use.
fn from_mountinfo(mountinfo: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        // "<id> <parent> <maj:min> <root> <mount point> <opts> [tags] - <fstype> <source> <super opts>"
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        let (Some(fstype), Some(_), Some(sopts)) = (r.next(), r.next(), r.next()) else {
            continue;
        };
        let Some(point) = left.split(' ').nth(4) else {
            continue;
        };
        let point = PathBuf::from(unescape(point));
        match fstype {
            "cgroup2" => out.push(Hierarchy {
                point,
                v2: true,
                controllers: Vec::new(),
                name: None,
            }),
            "cgroup" => {
                if let Some(h) = v1_hierarchy(point, sopts) {
                    out.push(h);
                }
            }
            _ => {}
        }
    }
    out
}

/// A v1 hierarchy from its options (mountinfo's super options, or the
/// controllers of a `/proc/self/cgroup` line): none if it carries neither a
/// known controller nor a name.
fn v1_hierarchy(point: PathBuf, opts: &str) -> Option<Hierarchy> {
    let controllers: Vec<String> = opts
        .split(',')
        .filter(|o| V1_CONTROLLERS.contains(o))
        .map(String::from)
        .collect();
    let name = opts
        .split(',')
        .find(|o| o.starts_with("name="))
        .map(String::from);
    (!controllers.is_empty() || name.is_some()).then_some(Hierarchy {
        point,
        v2: false,
        controllers,
        name,
    })
}

/// The hierarchies of `own` (`/proc/self/cgroup`) found under `root` by
/// name, each checked to be a cgroup mount of the right version (a
/// directory, not a symlink, on a device other than `root`'s); none when
/// `root` is not laid out that way, or a hierarchy is not where its name
/// says (then mountinfo decides). The cgroup2 tree of a tmpfs root is its
/// `unified` directory (systemd's hybrid layout), absent if nothing is
/// there.
pub(super) fn from_default_root(root: &Path, own: &str) -> Option<Vec<Hierarchy>> {
    use std::os::unix::fs::MetadataExt;
    let fs_type = |p: &Path| {
        nix::sys::statfs::statfs(p)
            .ok()
            .map(|s| s.filesystem_type())
    };
    let root_type = fs_type(root)?;
    if root_type == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
        return Some(vec![Hierarchy {
            point: root.to_path_buf(),
            v2: true,
            controllers: Vec::new(),
            name: None,
        }]);
    }
    if root_type != nix::sys::statfs::TMPFS_MAGIC {
        return None;
    }
    let root_dev = std::fs::symlink_metadata(root).ok()?.dev();
    let mounted = |p: &Path, want| {
        std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir() && m.dev() != root_dev)
            && fs_type(p) == Some(want)
    };
    let mut out = Vec::new();
    for line in own.lines() {
        let Some((_, rest)) = line.split_once(':') else {
            continue;
        };
        let Some((opts, _)) = rest.split_once(':') else {
            continue;
        };
        if opts.is_empty() {
            let unified = root.join("unified");
            if mounted(&unified, nix::sys::statfs::CGROUP2_SUPER_MAGIC) {
                out.push(Hierarchy {
                    point: unified,
                    v2: true,
                    controllers: Vec::new(),
                    name: None,
                });
            } else if std::fs::symlink_metadata(&unified).is_ok() {
                return None;
            }
            continue;
        }
        let Some(h) = v1_hierarchy(PathBuf::new(), opts) else {
            continue;
        };
        let names: Vec<&str> = match h.name.as_deref() {
            Some(n) if h.controllers.is_empty() => vec![n.trim_start_matches("name=")],
            _ => std::iter::once(opts)
                .chain(h.controllers.iter().map(String::as_str))
                .collect(),
        };
        let point = names
            .iter()
            .filter(|n| !n.is_empty() && !n.contains('/') && **n != "." && **n != "..")
            .map(|n| root.join(n))
            .find(|p| mounted(p, nix::sys::statfs::CGROUP_SUPER_MAGIC))?;
        out.push(Hierarchy { point, ..h });
    }
    Some(out)
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// The caller's own cgroup per v1 controller and for v2, from `/proc/self/cgroup`.
fn own_paths(own: &str) -> (BTreeMap<String, String>, Option<String>) {
    let mut v1 = BTreeMap::new();
    let mut v2 = None;
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            v2 = Some(path.to_string());
        }
        for c in ctrls.split(',') {
            v1.insert(c.to_string(), path.to_string());
        }
    }
    (v1, v2)
}

/// The container's path relative to a hierarchy root, given the caller's own
/// cgroup in that hierarchy (for relative spec paths).
fn container_path(spec: Option<&Path>, id: &str, own: &str) -> Result<PathBuf, CgroupError> {
    let given = spec
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = if given.is_empty() {
        format!("/{DEFAULT_PARENT}/{id}")
    } else if !given.starts_with('/') && given.matches(':').count() == 2 {
        // systemd's "slice:prefix:name"; without systemd, a plain path.
        let mut it = given.split(':');
        let (slice, prefix, name) = (
            it.next().unwrap_or(""),
            it.next().unwrap_or(""),
            it.next().unwrap_or(""),
        );
        let slice = if slice.is_empty() {
            "system.slice"
        } else {
            slice
        };
        format!("/{slice}/{prefix}-{name}.scope")
    } else if given.starts_with('/') {
        given.clone()
    } else {
        format!("{}/{given}", own.trim_end_matches('/'))
    };
    let path = PathBuf::from(path);
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(CgroupError::InvalidPath(given));
    }
    Ok(path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect())
}

/// Builds the container's [`Cgroup`] from the host's mounts.
pub fn resolve(
    mounts: &Mounts,
    own: &str,
    spec: Option<&Path>,
    id: &str,
) -> Result<Cgroup, CgroupError> {
    let (own_v1, own_v2) = own_paths(own);
    if mounts.v1.contains_key("memory")
        || mounts.v1.contains_key("pids")
        || mounts.v1.contains_key("cpu")
    {
        let mut paths = BTreeMap::new();
        for (ctrl, mount) in mounts.v1.iter().chain(&mounts.named) {
            let own = own_v1.get(ctrl).map(String::as_str).unwrap_or("/");
            paths.insert(ctrl.clone(), mount.join(container_path(spec, id, own)?));
        }
        // The hybrid layout's cgroup2 tree, controller-less: the container
        // gets its own cgroup there too, or it would see the whole tree.
        if let Some(v2) = &mounts.v2 {
            let own = own_v2.as_deref().unwrap_or("/");
            paths.insert(
                UNIFIED_KEY.to_string(),
                v2.join(container_path(spec, id, own)?),
            );
        }
        return Ok(Cgroup::V1 { paths });
    }
    let mount = mounts.v2.as_ref().ok_or(CgroupError::NoHierarchy)?;
    let rel = container_path(spec, id, own_v2.as_deref().unwrap_or("/"))?;
    Ok(Cgroup::V2 {
        path: mount.join(rel),
    })
}

/// Creates a v2 cgroup, enabling in each ancestor the controllers it offers, so
/// that the container's cgroup gets its limit files. Ancestors missing below
/// the mount are made one by one, each enabled before its child is made (a
/// child made before its parent enables a controller lacks its files). The
/// leaf is made last with `mkdir`, not `mkdir -p`: if a concurrent destroy
/// removed an empty parent meanwhile, this fails with `NotFound` (and
/// [`super::Cgroup::create`] tries again) instead of making the parent anew
/// without its controllers.
pub fn create_v2(path: &Path) -> Result<(), CgroupError> {
    let mut ancestors: Vec<&Path> = path.ancestors().skip(1).collect();
    ancestors.reverse();
    for dir in ancestors {
        if !dir.join("cgroup.controllers").exists() {
            let in_cgroupfs = dir
                .parent()
                .is_some_and(|p| p.join("cgroup.controllers").exists());
            if !in_cgroupfs {
                continue;
            }
            mkdir(dir)?;
        }
        let available = read(&dir.join("cgroup.controllers")).unwrap_or_default();
        let wanted: Vec<String> = available
            .split_whitespace()
            .filter(|c| ["cpu", "cpuset", "io", "memory", "pids", "hugetlb"].contains(c))
            .map(|c| format!("+{c}"))
            .collect();
        if !wanted.is_empty() {
            // Refused where the parent has processes of its own (the "no
            // internal processes" rule): the limits then cannot apply, which
            // `apply` reports when it finds the files missing.
            let _ = write(&dir.join("cgroup.subtree_control"), &wanted.join(" "));
        }
    }
    mkdir(path)
}

/// `mkdir` with mode 0755 whatever the umask (see [`create_dir`]), an
/// existing directory being fine; a missing parent is `NotFound`.
fn mkdir(dir: &Path) -> Result<(), CgroupError> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(CGROUP_DIR_MODE))
            .map_err(io_err(dir)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_err(dir)(e)),
    }
}

/// Creates `path` and its missing parents with mode 0755 whatever the
/// process's umask (the shim runs with 077): as runc makes them, so that a
/// container's non-root user reads its own limits in `/sys/fs/cgroup` (the
/// JVM, Go's automaxprocs, busybox `free` do), and host users can list them.
pub fn create_dir(path: &Path) -> Result<(), CgroupError> {
    use std::os::unix::fs::PermissionsExt;
    let missing: Vec<&Path> = path.ancestors().take_while(|p| !p.exists()).collect();
    std::fs::create_dir_all(path).map_err(io_err(path))?;
    for dir in missing {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(CGROUP_DIR_MODE))
            .map_err(io_err(dir))?;
    }
    Ok(())
}

/// The mode of the cgroup directories the runtime makes (runc's).
pub const CGROUP_DIR_MODE: u32 = 0o755;

/// A new v1 cpuset cgroup starts with empty cpus and mems, and refuses tasks
/// until they are set: copy them down from the first ancestor that has them.
pub fn fill_cpuset(path: &Path) -> Result<(), CgroupError> {
    let mut chain: Vec<&Path> = path
        .ancestors()
        .take_while(|p| p.join("cpuset.cpus").exists())
        .collect();
    chain.reverse();
    for pair in chain.windows(2) {
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let mine = read(&pair[1].join(file)).unwrap_or_default();
            if mine.trim().is_empty() {
                let parent = read(&pair[0].join(file))?;
                write(&pair[1].join(file), parent.trim())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup/cpu rw,relatime shared:7 - cgroup cgroup rw,cpu
31 25 0:27 / /sys/fs/cgroup/memory rw,relatime shared:8 - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 25 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
34 25 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const UNIFIED: &str = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";

    #[test]
    fn hybrid_hosts_use_v1() {
        let m = Mounts::parse(HYBRID);
        assert_eq!(m.v2, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(
            m.v1.keys().collect::<Vec<_>>(),
            ["cpu", "cpuacct", "memory"]
        );
        assert_eq!(
            m.named.get("name=systemd"),
            Some(&PathBuf::from("/sys/fs/cgroup/systemd"))
        );
        let own = "2:memory:/user.slice\n1:cpu:/\n0::/init.scope\n";
        let cg = resolve(&m, own, None, "abc").unwrap();
        let Cgroup::V1 { paths } = cg else {
            panic!("v1 expected")
        };
        assert_eq!(
            paths["memory"],
            Path::new("/sys/fs/cgroup/memory/berth/abc")
        );
        assert_eq!(
            paths["cpuacct"],
            Path::new("/sys/fs/cgroup/cpu,cpuacct/berth/abc")
        );
        // Issue 15: the named hierarchy and the hybrid cgroup2 tree too.
        assert_eq!(
            paths["name=systemd"],
            Path::new("/sys/fs/cgroup/systemd/berth/abc")
        );
        assert_eq!(
            paths[UNIFIED_KEY],
            Path::new("/sys/fs/cgroup/unified/berth/abc")
        );
        // Relative paths go under the caller's own cgroup, per hierarchy.
        let cg = resolve(&m, own, Some(Path::new("sub/x")), "abc").unwrap();
        let Cgroup::V1 { paths } = cg else { panic!() };
        assert_eq!(
            paths["memory"],
            Path::new("/sys/fs/cgroup/memory/user.slice/sub/x")
        );
    }

    #[test]
    fn unified_hosts_use_v2() {
        let m = Mounts::parse(UNIFIED);
        for (spec, want) in [
            (None, "/sys/fs/cgroup/berth/c1"),
            (
                Some("/libpod_parent/libpod-c1"),
                "/sys/fs/cgroup/libpod_parent/libpod-c1",
            ),
            (
                Some("machine.slice:libpod:c1"),
                "/sys/fs/cgroup/machine.slice/libpod-c1.scope",
            ),
            (Some("rel"), "/sys/fs/cgroup/init.scope/rel"),
        ] {
            let cg = resolve(&m, "0::/init.scope\n", spec.map(Path::new), "c1").unwrap();
            assert_eq!(
                cg,
                Cgroup::V2 {
                    path: PathBuf::from(want)
                },
                "{spec:?}"
            );
        }
        assert!(matches!(
            resolve(&m, "0::/\n", Some(Path::new("/a/../../etc")), "c"),
            Err(CgroupError::InvalidPath(_))
        ));
        assert!(matches!(
            resolve(&Mounts::default(), "", None, "c"),
            Err(CgroupError::NoHierarchy)
        ));
    }

    #[test]
    fn cpuset_is_filled_from_ancestors() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::write(root.join("cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(root.join("cpuset.mems"), "0\n").unwrap();
        let leaf = root.join("berth/c");
        for dir in [root.join("berth"), leaf.clone()] {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("cpuset.cpus"), "").unwrap();
            std::fs::write(dir.join("cpuset.mems"), "").unwrap();
        }
        fill_cpuset(&leaf).unwrap();
        assert_eq!(
            std::fs::read_to_string(leaf.join("cpuset.cpus")).unwrap(),
            "0-1"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("berth/cpuset.mems")).unwrap(),
            "0"
        );
    }
}
