//! Connections to a shim's control socket, `CTRDIR/ctl.sock`.
//!
//! A unix socket's path is limited to 107 bytes, and a container's
//! directory under a deep data root can be longer than that. The socket is
//! reached through a descriptor of the directory instead
//! (`/proc/self/fd/N/ctl.sock`), which is short whatever the data root.
//! The shim binds it the same way. The words are [`shim_proto`]'s.

use std::os::fd::AsRawFd;
use std::path::Path;

use shim_proto::{Command, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// The longest answer line a shim sends (`{"pid":N}`, `error <why>`).
const REPLY_BYTES: usize = 256;

/// Connects to the control socket in `dir`.
pub async fn connect(dir: &Path) -> std::io::Result<UnixStream> {
    let d = std::fs::File::open(dir)?;
    let path = format!(
        "/proc/self/fd/{}/{}",
        d.as_raw_fd(),
        shim_proto::files::CONTROL_SOCKET
    );
    let conn = UnixStream::connect(&path).await;
    drop(d);
    conn
}

/// Sends `command` on `conn` and reads the answer line, byte by byte: what
/// follows it (attach frames) belongs to the caller.
pub async fn ask(conn: &mut UnixStream, command: Command) -> std::io::Result<Reply> {
    conn.write_all(command.line().as_bytes()).await?;
    let mut line = Vec::new();
    loop {
        let b = conn.read_u8().await?;
        if b == b'\n' || line.len() >= REPLY_BYTES {
            break;
        }
        line.push(b);
    }
    Ok(Reply::parse(&String::from_utf8_lossy(&line)))
}
