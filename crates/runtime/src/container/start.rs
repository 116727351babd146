//! `start`: release a created container's init from the exec fifo.

use std::io::Read;
use std::os::fd::AsFd;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::Runtime;
use crate::error::{Error, Result};
use crate::state::Status;

impl Runtime {
    /// Lets the init of a created container exec its process.
    pub fn start(&self, id: &str) -> Result<()> {
        let (dir, record) = self.open(id)?;
        self.require(&dir, &record, &[Status::Created], "start")?;
        let path = dir.fifo();
        // Non-blocking: if the init died, a blocking open would wait forever.
        let mut fifo = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        loop {
            let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
            let n = poll(&mut fds, PollTimeout::from(100u16))
                .map_err(|e| Error::sys("poll exec fifo", e))?;
            if n > 0 {
                let mut byte = [0u8; 1];
                match fifo.read(&mut byte) {
                    Ok(1) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(Error::io("read", &path, e)),
                }
                // POLLHUP before the writer came: wait a little for it.
                std::thread::sleep(Duration::from_millis(1));
            }
            if !record.alive() {
                let _ = std::fs::remove_file(&path);
                return Err(Error::BadState {
                    id: id.into(),
                    status: "stopped".into(),
                    op: "start",
                });
            }
        }
        std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
        // poststart: a failure is no reason to stop the container (runtime spec).
        if let Ok(spec) =
            crate::spec::read_json::<oci_spec::runtime::Spec>(&record.bundle.join("config.json"))
        {
            if let Some(hooks) = spec.hooks().as_ref().and_then(|h| h.poststart().as_ref()) {
                let _ = crate::hooks::run("poststart", hooks, &record.oci_state(&dir));
            }
        }
        Ok(())
    }
}

use std::os::unix::fs::OpenOptionsExt;
