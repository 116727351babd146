//! Rootless berthd: the daemon started by an ordinary user, with no setuid
//! binary of its own. Everything that needs privileges runs as root of a
//! user namespace mapped from the user's `/etc/subuid` and `/etc/subgid`
//! ranges by Debian's `newuidmap`/`newgidmap` (package `uidmap`), with a
//! mount namespace of its own and a network namespace for the containers'
//! bridges, reached from the host by a user-mode stack (`stack.rs`) and a
//! port forwarder (`ports.rs`). Placement follows Docker rootless:
//! `$XDG_RUNTIME_DIR/berth.sock`, `$XDG_RUNTIME_DIR/berth` (exec root),
//! `$XDG_RUNTIME_DIR/berth.pid`, `~/.local/share/berth` (data root).
//!
//! The process model is in `holder.rs`; docs/ROOTLESS.md says what works
//! and what cannot.

pub mod cgroups;
pub mod holder;
pub mod hostnet;
pub mod ports;
pub mod stack;
pub mod subid;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Whether this berthd was started by a user other than root: rootless.
pub fn wanted() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// The user a rootless daemon runs for, and where its files go.
#[derive(Debug, Clone)]
pub struct UserEnv {
    /// The user's id.
    pub uid: u32,
    /// Its primary group.
    pub gid: u32,
    /// Its login name (`/etc/subuid` keys ranges by name or uid).
    pub name: String,
    /// `$HOME`, else the password database's.
    pub home: PathBuf,
    /// `$XDG_RUNTIME_DIR`.
    pub runtime_dir: Option<PathBuf>,
    /// `$XDG_DATA_HOME`.
    pub data_home: Option<PathBuf>,
}

impl UserEnv {
    /// The calling user's.
    pub fn current() -> Result<UserEnv> {
        let uid = nix::unistd::getuid();
        let user = nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .with_context(|| format!("user {uid} is not in the password database"))?;
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        Ok(UserEnv {
            uid: uid.as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            name: user.name,
            home: var("HOME").unwrap_or(user.dir),
            runtime_dir: var("XDG_RUNTIME_DIR"),
            data_home: var("XDG_DATA_HOME"),
        })
    }

    fn runtime_dir(&self, what: &str) -> Result<&Path> {
        match &self.runtime_dir {
            Some(d) => Ok(d),
            None => bail!(
                "rootless berthd needs XDG_RUNTIME_DIR for its {what} (as Docker rootless does): \
                 set it to a directory of yours that only you can read (pam_systemd makes \
                 /run/user/{}), or give --host, --exec-root and --pidfile",
                self.uid
            ),
        }
    }

    /// `$XDG_RUNTIME_DIR/berth.sock`.
    pub fn socket(&self) -> Result<PathBuf> {
        Ok(self.runtime_dir("socket")?.join("berth.sock"))
    }

    /// `$XDG_RUNTIME_DIR/berth`.
    pub fn exec_root(&self) -> Result<PathBuf> {
        Ok(self.runtime_dir("exec root")?.join("berth"))
    }

    /// `$XDG_RUNTIME_DIR/berth.pid`.
    pub fn pidfile(&self) -> Result<PathBuf> {
        Ok(self.runtime_dir("pid file")?.join("berth.pid"))
    }

    /// `$XDG_DATA_HOME/berth`, else `~/.local/share/berth`.
    pub fn data_root(&self) -> PathBuf {
        self.data_home
            .clone()
            .unwrap_or_else(|| self.home.join(".local/share"))
            .join("berth")
    }
}

/// A rootless daemon, once inside its namespaces.
#[derive(Debug)]
pub struct Rootless {
    /// The holder of the namespaces.
    pub holder: holder::Record,
}

/// Enters the rootless daemon's namespaces, starting their holder when
/// none runs. Must be called while the process is single-threaded (joining
/// a user namespace requires it).
pub fn enter(exec_root: &Path, network: stack::Stack, user: &UserEnv) -> Result<Rootless> {
    // Read while ids are the host's: inside the user namespace, the range's
    // groups read back as the overflow group.
    // Set once per process: a second set keeps the first value, the same one.
    let _ = PING_GROUP_RANGE
        .set(std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default());
    let dir = exec_root.join("rootless");
    make_private_dir(exec_root)?;
    make_private_dir(&dir)?;
    let rec = match holder::find_live(&dir) {
        Some(rec) => rec,
        None => {
            preflight(network)?;
            let cfg = holder::Config {
                dir: dir.clone(),
                stack: network,
            };
            holder::spawn(&cfg, |pid| write_maps(pid, user))?
        }
    };
    let cwd = std::env::current_dir().ok();
    holder::join(&rec).context("join the rootless namespaces")?;
    if let Some(cwd) = cwd {
        if let Err(e) = std::env::set_current_dir(cwd) {
            tracing::debug!("go back to the working directory: {e}");
        }
    }
    // The one thread left in the host's network namespace, made before
    // this one moves.
    hostnet::start().context("start the host network thread")?;
    let netns = holder::netns_path(&dir);
    let ns = std::fs::File::open(&netns).with_context(|| format!("open {}", netns.display()))?;
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("join {}", netns.display()))?;
    registry::transport::set_dialer(hostnet::dial);
    Ok(Rootless { holder: rec })
}

fn make_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("create {}", dir.display())),
    }
}

/// What the stack needs from the host, said before anything starts.
fn preflight(network: stack::Stack) -> Result<()> {
    if nix::unistd::access(
        "/dev/net/tun",
        nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
    )
    .is_err()
    {
        bail!(
            "rootless networking ({}) needs /dev/net/tun readable and writable by this user \
             (mode 0666, as udev sets it on Debian): it is not here",
            network.program()
        );
    }
    Ok(())
}

/// Writes the holder's id maps with the setuid helpers: the user is 0,
/// its subordinate ranges follow from 1.
fn write_maps(pid: u32, user: &UserEnv) -> Result<()> {
    for (tool, file, own) in [
        ("newuidmap", "/etc/subuid", user.uid),
        ("newgidmap", "/etc/subgid", user.gid),
    ] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        // Both files key ranges by the login name (or the uid).
        let ranges = subid::ranges(&text, &user.name, user.uid);
        if ranges.is_empty() {
            bail!(
                "no range for {} ({}) in {file}: rootless berthd maps the user's subordinate ids \
                 into its user namespace, as Docker rootless does; add one, e.g. \
                 `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {}` as root",
                user.name,
                user.uid,
                user.name
            );
        }
        let out = std::process::Command::new(tool)
            .arg(pid.to_string())
            .args(subid::map_args(own, &ranges))
            .output()
            .with_context(|| format!("run {tool} (install Debian's uidmap package)"))?;
        if !out.status.success() {
            bail!(
                "{tool} {pid} for {} ({file}: {}): {}",
                user.name,
                subid::describe(&ranges),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
    Ok(())
}

/// The host's `net.ipv4.ping_group_range`, as read before entering.
static PING_GROUP_RANGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// What `/info` says of a rootless daemon, in dockerd rootless's words:
/// `name=rootless` among the security options, the `none` cgroup driver
/// and its warning when nothing is delegated, and what the host's sysctls
/// keep from working (ports below the unprivileged start, ping).
pub fn info(info: &mut models::system::Info) {
    info.security_options
        .get_or_insert_with(Vec::new)
        .push("name=rootless".into());
    let mut warnings = info.warnings.take().unwrap_or_default();
    if matches!(
        engine::rootless::cgroups(),
        Some(engine::rootless::Cgroups::None)
    ) {
        info.cgroup_driver = "none".into();
        // Nothing to limit with: the docker CLI then warns of each
        // (`WARNING: No memory limit support`), as with dockerd rootless.
        info.memory_limit = false;
        info.swap_limit = false;
        info.kernel_memory_tcp = false;
        info.cpu_cfs_period = false;
        info.cpu_cfs_quota = false;
        info.cpu_shares = false;
        info.cpu_set = false;
        info.pids_limit = false;
        info.oom_kill_disable = false;
        warnings.push(if info.cgroup_version == "2" {
            "WARNING: Running in rootless-mode without cgroups. Systemd is required to enable cgroups in rootless-mode.".into()
        } else {
            "WARNING: Running in rootless-mode without cgroups. To enable cgroups in rootless-mode, you need to boot the system in cgroup v2 mode.".into()
        });
    }
    // The host's sysctls (they are per network namespace).
    let read = |k: &'static str| {
        hostnet::run(move || std::fs::read_to_string(k).unwrap_or_default()).unwrap_or_default()
    };
    let start = read("/proc/sys/net/ipv4/ip_unprivileged_port_start");
    if let Ok(n) = start.trim().parse::<u32>() {
        if n > 0 {
            warnings.push(format!(
                "WARNING: ports below {n} cannot be published by a rootless daemon \
                 (net.ipv4.ip_unprivileged_port_start={n})"
            ));
        }
    }
    let range = PING_GROUP_RANGE.get().map_or("", |s| s.as_str());
    let mut r = range
        .split_whitespace()
        .filter_map(|v| v.parse::<u64>().ok());
    if let (Some(lo), Some(hi)) = (r.next(), r.next()) {
        if !(lo..=hi).contains(&u64::from(host_gid())) {
            warnings.push(format!(
                "WARNING: ping from containers to beyond the host fails: net.ipv4.ping_group_range \
                 ({lo} {hi}) leaves out this user's group; add net.ipv4.ping_group_range = 0 2147483647 \
                 to /etc/sysctl.conf"
            ));
        }
    }
    // Go's nil slice when there is nothing to warn of.
    info.warnings = (!warnings.is_empty()).then_some(warnings);
}

/// The daemon user's group on the host (0 inside the namespace maps to it).
fn host_gid() -> u32 {
    std::fs::read_to_string("/proc/self/gid_map")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.first() == Some(&"0"))
                    .then(|| f.get(1)?.parse().ok())
                    .flatten()
            })
        })
        .unwrap_or(0)
}
