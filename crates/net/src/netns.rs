//! Network namespaces kept by a bind mount of their nsfs file, as
//! `ip netns add` keeps them: the namespace outlives the thread that made
//! it (and the daemon), and a container joins it by path.

use std::fs::File;
use std::io;
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

use crate::netlink::Netlink;

/// Makes a new network namespace kept at `path` (a file that is made) and
/// returns it open with a netlink socket inside it, for configuring it.
pub fn create(path: &Path) -> io::Result<(File, Netlink)> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    File::create(path)?;
    let target = path.to_path_buf();
    // A thread of its own: unshare(2) changes only the calling thread's
    // namespace, and this thread ends with it; the daemon's threads stay in
    // the host's namespace.
    let made = std::thread::spawn(move || -> io::Result<(File, Netlink)> {
        // 1. A new, empty network namespace for this thread alone.
        unshare(CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        // 2. Keep it: bind its nsfs file over the placeholder.
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(io::Error::from)?;
        // 3. A socket opened here talks to this namespace from any thread.
        let nl = Netlink::open()?;
        let f = File::open(&target)?;
        Ok((f, nl))
    })
    .join()
    .map_err(|_| io::Error::other("the namespace thread panicked"))?;
    if made.is_err() {
        let _ = remove(path);
    }
    made
}

/// Makes a namespace kept at `path` with only `lo`, up (Docker's `none`
/// network: loopback works, nothing else).
pub fn loopback_only(path: &Path) -> io::Result<()> {
    let (_ns, mut nl) = create(path)?;
    let up = nl.index("lo").and_then(|lo| nl.set_up(lo));
    if up.is_err() {
        let _ = remove(path);
    }
    up
}

/// Lets go of every namespace kept under `dir` but those named in `keep`;
/// returns how many went.
pub fn sweep(dir: &Path, keep: &[String]) -> usize {
    let mut removed = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !keep.contains(&name) && remove(&e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// A netlink socket inside the namespace kept at `path`.
pub fn netlink_in(path: &Path) -> io::Result<Netlink> {
    let ns = File::open(path)?;
    std::thread::spawn(move || -> io::Result<Netlink> {
        nix::sched::setns(&ns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        Netlink::open()
    })
    .join()
    .map_err(|_| io::Error::other("the namespace thread panicked"))?
}

/// Lets go of the namespace kept at `path` (it goes once no process is in
/// it) and removes the file. Missing is fine.
pub fn remove(path: &Path) -> io::Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(e.into()),
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
