//! The CRI server's settings, resolved by berthd from its flags.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the CRI server keeps things and what it runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The gRPC socket (`/run/berth/cri.sock`).
    pub socket: PathBuf,
    /// Persistent state: `<data-root>/cri`.
    pub root: PathBuf,
    /// Runtime state (network namespaces, exec files): `<exec-root>/cri`.
    pub state: PathBuf,
    /// The OCI runtime's state directory (`<exec-root>/runtime`, shared
    /// with the Docker API's containers; ids never collide).
    pub runtime_root: PathBuf,
    /// The shim binary (berthd's sealed copy).
    pub shim: PathBuf,
    /// `berth-runtime` (berthd's sealed copy), for execs.
    pub runtime_bin: PathBuf,
    /// The streaming server's address (`127.0.0.1:0`: a free port).
    pub stream_addr: SocketAddr,
    /// CNI network configs (`/etc/cni/net.d`).
    pub cni_conf_dir: PathBuf,
    /// CNI plugin directories (`/usr/lib/cni`, `/opt/cni/bin`).
    pub cni_bin_dirs: Vec<PathBuf>,
    /// The cgroup under which pods without a cgroup parent go.
    pub cgroup_parent: String,
    /// The registry client (insecure registries, certificates).
    pub registry: registry::Client,
}
