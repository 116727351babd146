//! Re-exec from a sealed copy of ourselves, so that a container can never
//! overwrite the runtime binary on the host (CVE-2019-5736).
//!
//! The attack: a process inside the container execs `/proc/self/exe` while it
//! still names the runtime (during `exec` or before the init's own `execve`),
//! then reopens that file for writing once the runtime exits, and replaces the
//! host's binary. Defence, as runc 1.0–1.1 did it: copy the binary into a memfd,
//! seal it against writes, shrinking and growing, and `fexecve` it before
//! touching any container. `/proc/self/exe` then names the sealed memfd, which
//! nobody can write. It costs one copy of the binary (see `bench/`).

use std::fs::File;
use std::os::fd::AsRawFd;

use anyhow::{Context, Result};
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};

const SEALS: SealFlag = SealFlag::F_SEAL_SEAL
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_WRITE);

/// Whether the running binary is a sealed memfd.
fn running_sealed() -> bool {
    let Ok(exe) = File::open("/proc/self/exe") else {
        return false;
    };
    match fcntl(&exe, FcntlArg::F_GET_SEALS) {
        Ok(bits) => SealFlag::from_bits_truncate(bits).contains(SEALS),
        Err(_) => false,
    }
}

/// Re-executes this process from a sealed memfd copy, unless it already runs
/// from one. Returns only in the sealed copy (or with an error).
pub fn ensure() -> Result<()> {
    if running_sealed() {
        return Ok(());
    }
    let mut src = File::open("/proc/self/exe").context("open /proc/self/exe")?;
    let memfd = memfd_create(
        "berth-runtime",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
    .context("memfd_create")?;
    let mut dst = File::from(memfd);
    std::io::copy(&mut src, &mut dst).context("copy runtime binary to memfd")?;
    fcntl(&dst, FcntlArg::F_ADD_SEALS(SEALS)).context("seal memfd")?;
    let args: Vec<std::ffi::CString> = std::env::args_os()
        .map(|a| {
            std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str()))
                .unwrap_or_default()
        })
        .collect();
    let env: Vec<std::ffi::CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = std::os::unix::ffi::OsStrExt::as_bytes(k.as_os_str()).to_vec();
            kv.push(b'=');
            kv.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()));
            std::ffi::CString::new(kv).unwrap_or_default()
        })
        .collect();
    let _ = dst.as_raw_fd();
    let err = nix::unistd::fexecve(&dst, &args, &env).unwrap_err();
    Err(err).context("fexecve sealed runtime")
}
