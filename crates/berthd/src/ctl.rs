//! Connections to a shim's control socket, `CTRDIR/ctl.sock`.
//!
//! A unix socket's path is limited to 107 bytes, and a container's
//! directory under a deep data root can be longer than that. The socket is
//! reached through a descriptor of the directory instead
//! (`/proc/self/fd/N/ctl.sock`), which is short whatever the data root.
//! The shim binds it the same way.

use std::os::fd::AsRawFd;
use std::path::Path;

use tokio::net::UnixStream;

/// Connects to the control socket in `dir`.
pub async fn connect(dir: &Path) -> std::io::Result<UnixStream> {
    let d = std::fs::File::open(dir)?;
    let path = format!("/proc/self/fd/{}/ctl.sock", d.as_raw_fd());
    let conn = UnixStream::connect(&path).await;
    drop(d);
    conn
}
