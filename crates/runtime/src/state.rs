//! A container's recorded state, kept under the runtime's root directory:
//!
//! ```text
//! <root>/<id>/state.json   the record below, replaced atomically (temp + rename)
//! <root>/<id>/exec.fifo    present between create and start: the init blocks on it
//! ```
//!
//! The live status is derived, not stored: a recorded pid whose start time no
//! longer matches is a stopped container (the pid was reused), and a frozen
//! cgroup is a paused one.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cgroups::Cgroup;
use crate::error::{Error, Result};

/// Name of the fifo the init waits on until `start`.
pub const EXEC_FIFO: &str = "exec.fifo";
const STATE_FILE: &str = "state.json";

/// The lifecycle status, as the runtime spec names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being set up.
    Creating,
    /// Set up; the user process has not started.
    Created,
    /// The user process runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The process has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        };
        f.write_str(s)
    }
}

/// What the runtime records about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Container id.
    pub id: String,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Start time of that pid (clock ticks after boot), to detect pid reuse.
    pub pid_start: u64,
    /// Canonical bundle path.
    pub bundle: PathBuf,
    /// Canonical rootfs path.
    pub rootfs: PathBuf,
    /// The container's cgroup.
    pub cgroup: Cgroup,
    /// Creation time, RFC 3339.
    pub created: String,
    /// The spec's annotations.
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Whether the spec asked for a new pid namespace (then killing the init
    /// kills everything in it).
    #[serde(default)]
    pub own_pid_ns: bool,
}

/// The JSON `state` prints: the runtime spec's state plus runc's extra fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    /// Spec version.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Live status.
    pub status: Status,
    /// Init pid (0 once stopped, as runc reports).
    pub pid: i32,
    /// Bundle path.
    pub bundle: PathBuf,
    /// Rootfs path.
    pub rootfs: PathBuf,
    /// Creation time.
    pub created: String,
    /// Annotations from the spec.
    pub annotations: HashMap<String, String>,
}

/// A container directory under the runtime root.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// `<root>/<id>`.
    pub path: PathBuf,
}

/// Checks `id` is a safe single path component (runc's rule).
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.+".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId(id.to_string()))
    }
}

impl StateDir {
    /// The directory of `id` under `root`, which must exist.
    pub fn open(root: &Path, id: &str) -> Result<StateDir> {
        check_id(id)?;
        let path = root.join(id);
        if !path.join(STATE_FILE).exists() {
            return Err(Error::NotFound(id.to_string()));
        }
        Ok(StateDir { path })
    }

    /// Makes the directory of a new container; fails if the id is taken.
    ///
    /// The root is made 0700 (as runc's) and the container's directory is
    /// 0700 whatever the root's mode: the exec fifo in it is writable by any
    /// user (the container's user opens it, through its descriptor), so only
    /// root may reach it by path, or a host user could start a created
    /// container early.
    pub fn create(root: &Path, id: &str) -> Result<StateDir> {
        use std::os::unix::fs::DirBuilderExt;
        check_id(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|e| Error::io("create", root, e))?;
        let path = root.join(id);
        match fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => Ok(StateDir { path }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::Exists(id.to_string()))
            }
            Err(e) => Err(Error::io("create", &path, e)),
        }
    }

    /// Path of the exec fifo.
    pub fn fifo(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// Reads the record.
    pub fn load(&self) -> Result<Record> {
        let file = self.path.join(STATE_FILE);
        let bytes = fs::read(&file).map_err(|e| Error::io("read", &file, e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::io("parse", &file, std::io::Error::other(e)))
    }

    /// Writes the record atomically: a reader sees the old or the new one whole.
    pub fn save(&self, record: &Record) -> Result<()> {
        let file = self.path.join(STATE_FILE);
        let tmp = self.path.join(".state.json.tmp");
        let body = serde_json::to_vec(record).expect("state serialises");
        let mut f = fs::File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        f.write_all(&body)
            .map_err(|e| Error::io("write", &tmp, e))?;
        fs::rename(&tmp, &file).map_err(|e| Error::io("rename", &file, e))
    }

    /// Removes the directory and everything in it.
    pub fn remove(&self) -> Result<()> {
        match fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io("remove", &self.path, e))
            }
            _ => Ok(()),
        }
    }
}

/// Start time of `pid` in clock ticks after boot (field 22 of `/proc/PID/stat`),
/// or `None` if there is no such process (or it is a zombie: it has exited).
pub fn pid_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: split after
    // its last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // `rest` starts at field 3; field 22 is 19 further on.
    fields.nth(18)?.parse().ok()
}

/// The id the kernel gave this boot (`/proc/sys/kernel/random/boot_id`).
pub fn boot_id() -> Option<String> {
    let id = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_string())
}

/// A process named in a file (a shim's `shim.pid`) so that a later reader can
/// tell it from another process that got the same pid once it was gone: the
/// pid, its start time and the boot's id, one line `PID START BOOT_ID`. After
/// a reboot (another boot id) or with another start time, the pid is someone
/// else's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidFile {
    /// The pid.
    pub pid: i32,
    /// Its start time in clock ticks after boot; `None` in files written
    /// before the start time was recorded (a bare pid).
    pub start: Option<u64>,
    /// The boot it ran in.
    pub boot: Option<String>,
}

impl PidFile {
    /// The line naming the calling process.
    pub fn of_self() -> String {
        let pid = std::process::id() as i32;
        format!(
            "{pid} {} {}",
            pid_start_time(pid).unwrap_or(0),
            boot_id().unwrap_or_default()
        )
    }

    /// Reads a line written by [`PidFile::of_self`] (or a bare pid).
    pub fn parse(text: &str) -> Option<PidFile> {
        let mut words = text.split_whitespace();
        let pid = words.next()?.parse().ok().filter(|p| *p > 0)?;
        Some(PidFile {
            pid,
            start: words.next().and_then(|w| w.parse().ok()),
            boot: words.next().map(String::from),
        })
    }

    /// Whether the named process still runs: same boot, same start time. A
    /// bare pid (an older file) counts only if that process's `argv[0]` is
    /// `legacy_name`.
    pub fn alive(&self, legacy_name: &str) -> bool {
        let Some(now) = pid_start_time(self.pid) else {
            return false;
        };
        if let Some(boot) = &self.boot {
            if boot_id().as_ref() != Some(boot) {
                return false;
            }
        }
        match self.start {
            Some(start) => start == now,
            None => fs::read(format!("/proc/{}/cmdline", self.pid))
                .is_ok_and(|c| c.split(|b| *b == 0).next() == Some(legacy_name.as_bytes())),
        }
    }
}

impl Record {
    /// Whether the recorded init still runs (and is the same process).
    pub fn alive(&self) -> bool {
        self.pid > 0 && pid_start_time(self.pid) == Some(self.pid_start)
    }

    /// The live status, given the container's directory.
    pub fn status(&self, dir: &StateDir) -> Status {
        if !self.alive() {
            return Status::Stopped;
        }
        if dir.fifo().exists() {
            return Status::Created;
        }
        if self.cgroup.is_frozen().unwrap_or(false) {
            return Status::Paused;
        }
        Status::Running
    }

    /// The state as `berth-runtime state` prints it.
    pub fn oci_state(&self, dir: &StateDir) -> OciState {
        let status = self.status(dir);
        OciState {
            oci_version: "1.2.0".into(),
            id: self.id.clone(),
            status,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            annotations: self.annotations.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for (id, ok) in [
            ("abc", true),
            ("a-b_c.d+e", true),
            ("", false),
            ("..", false),
            ("a/b", false),
            ("a b", false),
        ] {
            assert_eq!(check_id(id).is_ok(), ok, "{id}");
        }
    }

    #[test]
    fn pid_files_tell_a_recycled_pid() {
        let me = PidFile::parse(&PidFile::of_self()).unwrap();
        assert_eq!(me.pid, std::process::id() as i32);
        assert!(me.alive("nobody"));
        // Another start time, another boot: someone else with the same pid.
        let other = PidFile {
            start: me.start.map(|s| s + 1),
            ..me.clone()
        };
        assert!(!other.alive("nobody"));
        let rebooted = PidFile {
            boot: Some("00000000-0000-0000-0000-000000000000".into()),
            ..me.clone()
        };
        assert!(!rebooted.alive("nobody"));
        // A bare pid counts only if the process is the one named.
        let bare = PidFile::parse(&format!("{}\n", me.pid)).unwrap();
        assert_eq!(bare.start, None);
        assert!(!bare.alive("berth-shim"));
        assert_eq!(PidFile::parse("x"), None);
        assert_eq!(PidFile::parse("0 1 b"), None);
    }

    #[test]
    fn own_start_time_is_readable() {
        let me = std::process::id() as i32;
        assert!(pid_start_time(me).is_some());
        assert_eq!(pid_start_time(i32::MAX), None);
    }
}
