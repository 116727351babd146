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

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

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

/// A sealed memfd copy of the binary at `path`. A daemon that starts many
/// processes of one binary (berthd and its shims) makes one copy and execs
/// it (through `/proc/PID/fd/N`) each time: the copies then share their
/// pages, and `ensure` in each finds itself sealed already.
pub fn copy(path: &std::path::Path, name: &str) -> std::io::Result<std::os::fd::OwnedFd> {
    let ctx = |what: &str, e: std::io::Error| std::io::Error::new(e.kind(), format!("{what}: {e}"));
    let mut src = File::open(path).map_err(|e| ctx(&format!("open {}", path.display()), e))?;
    let memfd = memfd_create(name, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)
        .map_err(|e| ctx("memfd_create", e.into()))?;
    let mut dst = File::from(memfd);
    std::io::copy(&mut src, &mut dst).map_err(|e| ctx("copy the binary to a memfd", e))?;
    fcntl(&dst, FcntlArg::F_ADD_SEALS(SEALS)).map_err(|e| ctx("seal the memfd", e.into()))?;
    Ok(dst.into())
}

/// Re-executes this process from a sealed memfd copy (named `name`), unless
/// it already runs from one. Returns only in the sealed copy, or with an
/// error. Every binary whose forks become container processes (berth-runtime,
/// the shim) calls this first.
pub fn ensure(name: &str) -> std::io::Result<()> {
    if running_sealed() {
        return Ok(());
    }
    let ctx = |what: &str, e: std::io::Error| std::io::Error::new(e.kind(), format!("{what}: {e}"));
    let mut src = File::open("/proc/self/exe").map_err(|e| ctx("open /proc/self/exe", e))?;
    let memfd = memfd_create(name, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)
        .map_err(|e| ctx("memfd_create", e.into()))?;
    let mut dst = File::from(memfd);
    std::io::copy(&mut src, &mut dst).map_err(|e| ctx("copy the binary to a memfd", e))?;
    fcntl(&dst, FcntlArg::F_ADD_SEALS(SEALS)).map_err(|e| ctx("seal the memfd", e.into()))?;
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).unwrap_or_default()
        })
        .collect();
    let err = nix::unistd::fexecve(dst.as_fd(), &args, &env).unwrap_err();
    Err(ctx("fexecve the sealed copy", err.into()))
}
