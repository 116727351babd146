//! The holder: the process that owns a rootless daemon's namespaces, so
//! that they outlive the daemon (containers run on through a `kill -9` of
//! berthd, and a new berthd finds them), as Podman's pause process does.
//!
//! ```text
//! berthd (the user, host namespaces)
//!   └─ spawns berthd again as the holder (setsid; env _BERTH_ROOTLESS_HOLDER)
//!        1. unshare(CLONE_NEWUSER); "u" ─> berthd runs newuidmap/newgidmap
//!           on it (the user is 0, the subordinate ranges from 1); "m" <─
//!        2. root inside; unshare(CLONE_NEWNS), `/` made a slave
//!        3. the containers' network namespace, kept at <dir>/netns, lo up,
//!           and a sysfs of it on /sys (the host's cgroup tree kept)
//!        4. slirp4netns or pasta attached to it (stack.rs); "r" ─> berthd
//!        5. waits: restarts the stack if it dies, and on SIGTERM stops it,
//!           lets the namespace go and exits
//! berthd then joins the holder's user and mount namespaces (setns), makes
//! its host-network thread (hostnet.rs) and moves its other threads into
//! <dir>/netns. A later berthd finds the holder in <dir>/holder.json and
//! joins it the same way.
//! ```
//!
//! The holder stays in the host's network namespace: the stack's sockets
//! are the user's own on the host.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use serde::{Deserialize, Serialize};

use super::stack::{self, Stack};

/// Set in the environment of the holder's process.
pub const ENV: &str = "_BERTH_ROOTLESS_HOLDER";
/// The holder's end of its sync socket.
const SYNC_FD: i32 = 3;
/// Most bytes of a line on the sync socket (an error text at most).
const MAX_LINE: u64 = 4096;

/// What the holder is told.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Its directory (`<exec-root>/rootless`): `netns`, `holder.json`,
    /// `holder.log`.
    pub dir: PathBuf,
    /// The user-mode network stack.
    pub stack: Stack,
}

/// A live holder, as recorded in `<dir>/holder.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Its pid.
    pub pid: i32,
    /// Its start time (`/proc/PID/stat`), against pid reuse.
    pub start: u64,
    /// The stack it runs.
    pub stack: Stack,
}

/// Where the containers' network namespace is kept.
pub fn netns_path(dir: &Path) -> PathBuf {
    dir.join("netns")
}

fn record_path(dir: &Path) -> PathBuf {
    dir.join("holder.json")
}

/// The holder recorded in `dir`, if it still runs.
pub fn find_live(dir: &Path) -> Option<Record> {
    let text = std::fs::read(record_path(dir)).ok()?;
    let rec: Record = serde_json::from_slice(&text).ok()?;
    (runtime::state::pid_start_time(rec.pid) == Some(rec.start)).then_some(rec)
}

/// In berthd's `main`, first thing: when this process is a holder, runs it
/// and exits.
pub fn run_if_holder() {
    let Some(cfg) = std::env::var_os(ENV) else {
        return;
    };
    let code = match serde_json::from_str::<Config>(&cfg.to_string_lossy()) {
        Ok(cfg) => holder_main(&cfg),
        Err(_) => 2,
    };
    std::process::exit(code)
}

fn holder_main(cfg: &Config) -> i32 {
    // SAFETY: the daemon that spawned us placed its socket at SYNC_FD
    // (`spawn`'s pre_exec) and nothing else in this process owns it.
    let mut sync = unsafe { UnixStream::from_raw_fd(SYNC_FD) };
    let log = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(cfg.dir.join("holder.log"))
    {
        Ok(f) => f,
        Err(e) => {
            // The sync pipe is the only channel to the parent: if it is gone, so is the parent.
            let _ = writeln!(sync, "e open holder.log: {e}");
            return 1;
        }
    };
    match setup(cfg, &mut sync, &log) {
        Err(e) => {
            // The sync pipe is the only channel to the parent: if it is gone, so is the parent.
            let _ = writeln!(sync, "e {e}");
            1
        }
        Ok(child) => {
            // The sync pipe is the only channel to the parent: if it is gone, so is the parent.
            let _ = sync.write_all(b"r\n");
            drop(sync);
            serve(cfg, child, log)
        }
    }
}

fn setup(cfg: &Config, sync: &mut UnixStream, log: &File) -> io::Result<Child> {
    // 1. A user namespace; its id maps are written from outside by the
    //    setuid helpers, once we said we are in it.
    unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| ctx("unshare a user namespace", e))?;
    sync.write_all(b"u\n")?;
    expect(sync, "m")?;
    // 2. Root inside it (its capabilities are ours already).
    become_root()?;
    // 3. A mount namespace for the daemon's mounts; the host's still reach
    //    it (slave), ours never reach the host.
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| ctx("unshare a mount namespace", e))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| ctx("make / a slave", e))?;
    // 4. The containers' network namespace, with lo up.
    let netns = netns_path(&cfg.dir);
    if let Err(e) = engine::net::netns::remove(&netns) {
        tracing::debug!("remove the holder's network namespace: {e}");
    }
    engine::net::netns::loopback_only(&netns)
        .map_err(|e| io::Error::new(e.kind(), format!("make {}: {e}", netns.display())))?;
    // 5. /sys for that namespace (sysfs shows the devices of its
    //    mounter's): the bridges' and veths' files are written there.
    remount_sys(&cfg.dir, &netns)?;
    // 6. Its way out.
    stack::spawn(cfg.stack, &netns, log)
}

/// Mounts a sysfs of the namespace kept at `netns` on `/sys`, keeping the
/// host's cgroup tree at `/sys/fs/cgroup` (as RootlessKit does): moved
/// aside to `<dir>/cgroup`, then back over the new sysfs.
fn remount_sys(dir: &Path, netns: &Path) -> io::Result<()> {
    let aside = dir.join("cgroup");
    std::fs::create_dir_all(&aside)?;
    let cgroup = Path::new("/sys/fs/cgroup");
    mount(
        Some(cgroup),
        &aside,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| ctx("bind /sys/fs/cgroup aside", e))?;
    let ns = File::open(netns)?;
    std::thread::spawn(move || -> io::Result<()> {
        setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| ctx("enter the namespace", e))?;
        mount(
            Some("sysfs"),
            "/sys",
            Some("sysfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .map_err(|e| ctx("mount sysfs", e))
    })
    .join()
    .map_err(|_| io::Error::other("the namespace thread panicked"))??;
    mount(
        Some(&aside),
        cgroup,
        None::<&str>,
        MsFlags::MS_MOVE,
        None::<&str>,
    )
    .map_err(|e| ctx("move the cgroup tree back", e))?;
    if let Err(e) = std::fs::remove_dir(&aside) {
        tracing::debug!(path = ?&aside, "remove the set-aside directory: {e}");
    }
    Ok(())
}

/// Root of the user namespace just entered: uid and gid 0, no other groups.
pub fn become_root() -> io::Result<()> {
    let root_gid = Gid::from_raw(0);
    let root_uid = Uid::from_raw(0);
    setresgid(root_gid, root_gid, root_gid).map_err(|e| ctx("setresgid 0", e))?;
    setgroups(&[]).map_err(|e| ctx("setgroups", e))?;
    setresuid(root_uid, root_uid, root_uid).map_err(|e| ctx("setresuid 0", e))
}

fn ctx(what: &str, e: nix::errno::Errno) -> io::Error {
    io::Error::new(io::Error::from(e).kind(), format!("{what}: {e}"))
}

/// Waits for signals: the stack's death (started again, at most once a
/// second) or SIGTERM/SIGINT (the stack stopped, the namespace let go).
fn serve(cfg: &Config, mut child: Child, mut log: File) -> i32 {
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGCHLD] {
        set.add(s);
    }
    if set.thread_block().is_err() {
        return 1;
    }
    let netns = netns_path(&cfg.dir);
    loop {
        match set.wait() {
            Ok(Signal::SIGCHLD) => {
                let Ok(Some(status)) = child.try_wait() else {
                    continue;
                };
                // The holder's log is where errors go; failing to write it leaves nowhere else.
                let _ = writeln!(
                    log,
                    "{} exited ({status}); starting it again",
                    cfg.stack.program()
                );
                std::thread::sleep(std::time::Duration::from_secs(1));
                match stack::spawn(cfg.stack, &netns, &log) {
                    Ok(c) => child = c,
                    Err(e) => {
                        // The holder's log is where errors go; failing to write it leaves nowhere else.
                        let _ = writeln!(log, "{e}; the containers have no way out");
                    }
                }
            }
            Ok(_) => {
                if let Err(e) = child.kill() {
                    tracing::debug!("kill the network helper: {e}");
                }
                if let Err(e) = child.wait() {
                    tracing::debug!("reap the network helper: {e}");
                }
                if let Err(e) = engine::net::netns::remove(&netns) {
                    tracing::debug!("remove the holder's network namespace: {e}");
                }
                if let Err(e) = std::fs::remove_file(record_path(&cfg.dir)) {
                    tracing::debug!(path = ?record_path(&cfg.dir), "remove the holder's record: {e}");
                }
                return 0;
            }
            Err(_) => return 1,
        }
    }
}

/// One line, a byte at a time: nothing after it is taken from the socket.
fn read_line(mut r: impl Read) -> io::Result<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while (line.len() as u64) < MAX_LINE && r.read(&mut b)? == 1 && b[0] != b'\n' {
        line.push(b[0]);
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn expect(sync: &mut UnixStream, want: &str) -> io::Result<()> {
    let got = read_line(&*sync)?;
    if got == want {
        return Ok(());
    }
    Err(io::Error::other(match got.strip_prefix("e ") {
        Some(why) => why.to_string(),
        None if got.is_empty() => "the other side went away".to_string(),
        None => format!("unexpected {got:?} from the other side"),
    }))
}

/// Starts a holder (from the daemon, before it joins anything): `maps` is
/// called with the holder's pid once it is in its user namespace, to write
/// its id maps. Returns the holder's record, also written to `<dir>`.
pub fn spawn(cfg: &Config, maps: impl FnOnce(u32) -> anyhow::Result<()>) -> anyhow::Result<Record> {
    use anyhow::Context;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(cfg.dir.join("holder.log"))
        .with_context(|| format!("open {}", cfg.dir.join("holder.log").display()))?;
    let (mut ours, theirs) = UnixStream::pair().context("socketpair")?;
    let fd = theirs.as_raw_fd();
    let mut cmd = Command::new("/proc/self/exe");
    cmd.env(ENV, serde_json::to_string(cfg)?)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: between fork and exec only dup2(2), fcntl(2) and setsid(2),
    // async-signal-safe, on descriptors this process owns.
    unsafe {
        cmd.pre_exec(move || {
            if fd == SYNC_FD {
                // dup2 onto itself would keep close-on-exec set.
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(fd, SYNC_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            // Its own session: no signal meant for the daemon's terminal
            // or process group reaches it.
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("start the rootless holder")?;
    drop(theirs);
    let pid = child.id();
    let started = (|| -> anyhow::Result<()> {
        expect(&mut ours, "u").context("the rootless holder")?;
        maps(pid)?;
        ours.write_all(b"m\n")?;
        expect(&mut ours, "r").context("the rootless holder")?;
        Ok(())
    })();
    if let Err(e) = started {
        if let Err(e) = child.kill() {
            tracing::debug!("kill the network helper: {e}");
        }
        if let Err(e) = child.wait() {
            tracing::debug!("reap the network helper: {e}");
        }
        return Err(e);
    }
    let pid = i32::try_from(pid).context("pid")?;
    let rec = Record {
        pid,
        start: runtime::state::pid_start_time(pid).unwrap_or(0),
        stack: cfg.stack,
    };
    let path = record_path(&cfg.dir);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(&rec)?)
        .with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("write {}", path.display()))?;
    Ok(rec)
}

/// Joins the holder's user and mount namespaces (the process must still
/// be single-threaded) and becomes root in them.
pub fn join(rec: &Record) -> io::Result<()> {
    let open = |ns: &str| {
        File::open(format!("/proc/{}/ns/{ns}", rec.pid))
            .map_err(|e| io::Error::new(e.kind(), format!("open the holder's {ns} namespace: {e}")))
    };
    let (user, mnt) = (open("user")?, open("mnt")?);
    setns(&user, CloneFlags::CLONE_NEWUSER)
        .map_err(|e| ctx("join the holder's user namespace", e))?;
    setns(&mnt, CloneFlags::CLONE_NEWNS)
        .map_err(|e| ctx("join the holder's mount namespace", e))?;
    become_root()
}

/// Whether any process but this one, the holder and the holder's children
/// (its stack) is in this process's user namespace: containers and their
/// shims, which need the holder to stay.
pub fn others_inside(holder: i32) -> bool {
    let own = std::fs::read_link("/proc/self/ns/user").ok();
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me && pid != holder)
        .filter(|&pid| std::fs::read_link(format!("/proc/{pid}/ns/user")).ok() == own)
        .any(|pid| parent(pid) != Some(holder))
}

fn parent(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}
