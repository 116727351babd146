//! What the engine does differently for a rootless daemon (one that runs in
//! a user namespace of an ordinary user, see berthd's `rootless` module).
//!
//! The daemon's network namespace, where the bridges, veths and nftables
//! rules live, is not the host's: a published port's DNAT never sees the
//! host's packets. So a port is exposed on the host by a [`PortDriver`],
//! which holds the host's port and carries its traffic to the container,
//! as RootlessKit's port drivers do for Docker rootless. The rest of the
//! network code is the same as root's.

use std::fmt::Debug;
use std::sync::OnceLock;

use models::container::HostConfig;
use runtime::cgroups::probe::Support;

use crate::Engine;

/// Something held while a port is published (a bound socket, a forwarder);
/// dropping it lets the port go.
pub trait Held: Send + Sync + Debug {}
impl<T: Send + Sync + Debug> Held for T {}

/// How a published port is held.
pub(crate) enum Hold {
    /// A socket bound in the daemon's (the host's) network namespace.
    Socket(std::os::fd::OwnedFd),
    /// What the rootless port driver keeps.
    Driver(Box<dyn Held>),
}

impl Hold {
    /// What keeps the port, whichever it is.
    pub(crate) fn into_held(self) -> Box<dyn Held> {
        match self {
            Hold::Socket(fd) => Box::new(fd),
            Hold::Driver(h) => h,
        }
    }
}

/// Exposes published ports on the host for a daemon whose network
/// namespace is not the host's.
pub trait PortDriver: Send + Sync + Debug {
    /// Holds `f.host_ip:f.host_port` on the host (port 0: a free one the
    /// kernel picks) and carries what reaches it to `f.ip:f.port`; returns
    /// what keeps it so and the host port. Errors are Docker's words (a
    /// port in use: `Bind for 0.0.0.0:80 failed: port is already allocated`).
    fn expose(&self, f: &net::Forward) -> Result<(Box<dyn Held>, u16), String>;
}

impl Engine {
    /// Holds a published port: through the port driver when there is one
    /// (rootless), else by a bound socket in the daemon's namespace (the
    /// DNAT of berth's table carries the traffic).
    pub(crate) fn hold_port(&self, f: &net::Forward) -> Result<(Hold, u16), String> {
        match &self.port_driver {
            Some(d) => d.expose(f).map(|(h, port)| (Hold::Driver(h), port)),
            None => net::ports::reserve(f.proto, f.host_ip, f.host_port)
                .map(|(fd, port)| (Hold::Socket(fd), port)),
        }
    }

    /// Whether this daemon is rootless (it has a port driver).
    pub fn is_rootless(&self) -> bool {
        self.port_driver.is_some()
    }
}

/// The cgroups of a rootless daemon, decided by berthd at its start.
#[derive(Debug, Clone)]
pub enum Cgroups {
    /// A cgroup v2 subtree delegated to the user: containers go under
    /// `parent` (a path from the hierarchy's root) and `support` says which
    /// controllers it was given.
    Delegated {
        /// The default cgroup parent of containers.
        parent: String,
        /// What the delegated controllers can limit.
        support: Support,
    },
    /// Nothing delegated (cgroup v1 or hybrid hosts, or a v2 tree that is
    /// root's): containers run without a cgroup; limits are dropped with
    /// one warning at create (Podman's behaviour on such hosts).
    None,
}

static CGROUPS: OnceLock<Cgroups> = OnceLock::new();

/// Sets this (rootless) daemon's cgroups; once, at start.
pub fn set_cgroups(c: Cgroups) {
    // Set once at start; a second call keeps the first value.
    let _ = CGROUPS.set(c);
}

/// The rootless daemon's cgroups, `None` as root.
pub fn cgroups() -> Option<&'static Cgroups> {
    CGROUPS.get()
}

/// Whether this is a rootless daemon without cgroups (nothing delegated):
/// no limits, no freezer.
pub(crate) fn without_cgroups() -> bool {
    matches!(cgroups(), Some(Cgroups::None))
}

/// The support probe's answer for a rootless daemon.
pub(crate) fn support() -> Option<&'static Support> {
    static NOTHING: OnceLock<Support> = OnceLock::new();
    match cgroups()? {
        Cgroups::Delegated { support, .. } => Some(support),
        Cgroups::None => Some(NOTHING.get_or_init(Support::default)),
    }
}

/// The resource limits a body asks for, by Docker's flag names.
fn limits_asked(hc: &HostConfig) -> Vec<&'static str> {
    let mut v = Vec::new();
    let mut ask = |set: bool, name| {
        if set {
            v.push(name)
        }
    };
    ask(hc.memory != 0, "--memory");
    ask(hc.memory_reservation != 0, "--memory-reservation");
    ask(hc.memory_swap != 0 && hc.memory_swap != -1, "--memory-swap");
    ask(
        hc.memory_swappiness.is_some_and(|s| s != -1),
        "--memory-swappiness",
    );
    ask(hc.oom_kill_disable == Some(true), "--oom-kill-disable");
    ask(hc.nano_cpus != 0, "--cpus");
    ask(hc.cpu_shares != 0, "--cpu-shares");
    ask(
        hc.cpu_period != 0 || hc.cpu_quota != 0,
        "--cpu-period/--cpu-quota",
    );
    ask(
        !hc.cpuset_cpus.is_empty() || !hc.cpuset_mems.is_empty(),
        "--cpuset-cpus/--cpuset-mems",
    );
    ask(hc.pids_limit.is_some_and(|p| p > 0), "--pids-limit");
    ask(
        hc.blkio_weight != 0
            || hc
                .blkio_weight_device
                .as_ref()
                .is_some_and(|d| !d.is_empty())
            || hc
                .blkio_device_read_bps
                .as_ref()
                .is_some_and(|d| !d.is_empty()),
        "--blkio-weight/--device-read-bps",
    );
    v
}

/// A rootless daemon without delegated cgroups answers one warning for
/// every limit it drops, naming them, instead of dockerd's line per limit
/// about the kernel (which is not the reason).
pub(crate) fn limit_warnings(hc: &HostConfig, warnings: Vec<String>) -> Vec<String> {
    let asked = limits_asked(hc);
    if !matches!(cgroups(), Some(Cgroups::None)) || warnings.is_empty() || asked.is_empty() {
        return warnings;
    }
    vec![format!(
        "Resource limits are not supported and ignored on this rootless daemon: no cgroup is \
         delegated to the user (a cgroup v1 or hybrid host, or a cgroup v2 tree that is root's); \
         discarded: {}",
        asked.join(", ")
    )]
}
