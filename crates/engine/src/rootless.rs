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

use crate::Engine;

/// Something held while a port is published (a bound socket, a forwarder);
/// dropping it lets the port go.
pub trait Held: Send + Sync + Debug {}
impl<T: Send + Sync + Debug> Held for T {}

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
    pub(crate) fn hold_port(&self, f: &net::Forward) -> Result<(Box<dyn Held>, u16), String> {
        match &self.port_driver {
            Some(d) => d.expose(f),
            None => net::ports::reserve(f.proto, f.host_ip, f.host_port)
                .map(|(fd, port)| (Box::new(fd) as Box<dyn Held>, port)),
        }
    }

    /// Whether this daemon is rootless (it has a port driver).
    pub fn is_rootless(&self) -> bool {
        self.port_driver.is_some()
    }
}
