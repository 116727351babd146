//! Compiled filters kept on disk, so a profile is compiled once per host
//! rather than once per container (crun keeps such a cache too).
//!
//! libseccomp takes about 13 ms of CPU to compile Docker's default profile
//! (three architectures, ~350 syscalls): more than the rest of a container's
//! creation. The BPF depends only on the profile, libseccomp's version and
//! the native architecture, so it is kept under the runtime's state root:
//!
//! ```text
//! <root>/:seccomp/<sha256 hex>   sha256 of the instructions, then the instructions
//! ```
//!
//! `:` is no character of a container id (`state::check_id`), so the
//! directory is never taken for a container. The key hashes a format tag,
//! libseccomp's version, the architecture and the profile's JSON. The
//! directory is made 0700 and used only when it and the file belong to the
//! caller and nobody else may write them; a file is written under a temporary
//! name and renamed, and read back only when its checksum holds, so a torn or
//! tampered file is compiled again, never loaded. At most [`MAX_ENTRIES`]
//! profiles are kept: storing one more empties the directory first.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};

use super::{Program, SeccompError};

/// The cache's directory under the runtime's state root.
pub const DIR: &str = ":seccomp";

/// Distinct profiles kept (Docker's default and a few custom ones).
const MAX_ENTRIES: usize = 64;

/// The kernel's limit on a filter's length (`BPF_MAXINSNS`).
const MAX_INSTRUCTIONS: usize = 4096;

const INSN: usize = std::mem::size_of::<libc::sock_filter>();

/// Compiles `profile`, or reads back what an earlier compile of the same
/// profile stored under `root` (the runtime's state directory).
pub fn compile_cached(profile: &LinuxSeccomp, root: &Path) -> Result<Program, SeccompError> {
    let dir = root.join(DIR);
    let key = key(profile);
    if let Some(p) = load(&dir, &key) {
        return Ok(p);
    }
    let program = super::compile(profile)?;
    // A cache that cannot be written costs only the next compile.
    let _ = store(&dir, &key, &program);
    Ok(program)
}

fn key(profile: &LinuxSeccomp) -> String {
    let v = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(b"berth-seccomp-1\0");
    h.update(v.as_bytes());
    h.update(b"\0");
    h.update(std::env::consts::ARCH.as_bytes());
    h.update(b"\0");
    h.update(serde_json::to_vec(profile).unwrap_or_default());
    hex(&h.finalize())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Ours and writable by nobody else.
fn trusted(m: &std::fs::Metadata) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    m.uid() == me && m.mode() & 0o022 == 0
}

fn encode(p: &Program) -> Vec<u8> {
    let mut body = Vec::with_capacity(p.instructions.len() * INSN);
    for i in &p.instructions {
        body.extend_from_slice(&i.code.to_ne_bytes());
        body.push(i.jt);
        body.push(i.jf);
        body.extend_from_slice(&i.k.to_ne_bytes());
    }
    let mut out = Sha256::digest(&body).to_vec();
    out.extend_from_slice(&body);
    out
}

fn decode(bytes: &[u8]) -> Option<Program> {
    let (sum, body) = bytes.split_at_checked(32)?;
    if body.is_empty() || body.len() % INSN != 0 || body.len() / INSN > MAX_INSTRUCTIONS {
        return None;
    }
    if Sha256::digest(body).as_slice() != sum {
        return None;
    }
    Some(super::from_bytes(body))
}

fn load(dir: &Path, key: &str) -> Option<Program> {
    if !trusted(&std::fs::symlink_metadata(dir).ok()?) {
        return None;
    }
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir.join(key))
        .ok()?;
    let m = f.metadata().ok()?;
    let limit = (32 + MAX_INSTRUCTIONS * INSN) as u64;
    if !m.is_file() || !trusted(&m) || m.len() > limit {
        return None;
    }
    let mut bytes = Vec::with_capacity(m.len() as usize);
    Read::by_ref(&mut f)
        .take(limit)
        .read_to_end(&mut bytes)
        .ok()?;
    decode(&bytes)
}

fn store(dir: &Path, key: &str, p: &Program) -> std::io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    if !trusted(&std::fs::symlink_metadata(dir)?) {
        return Err(std::io::Error::other("seccomp cache not private"));
    }
    let full = std::fs::read_dir(dir)?.take(MAX_ENTRIES + 1).count() > MAX_ENTRIES;
    if full {
        for e in std::fs::read_dir(dir)?.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let tmp: PathBuf = dir.join(format!(".{key}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        f.write_all(&encode(p))?;
        drop::<File>(f);
        std::fs::rename(&tmp, dir.join(key))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn profile(errno: u32) -> LinuxSeccomp {
        serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno}]
        }))
        .unwrap()
    }

    fn same(a: &Program, b: &Program) -> bool {
        encode(a) == encode(b)
    }

    #[test]
    fn a_second_compile_reads_the_first_back() {
        let root = tempfile::tempdir().unwrap();
        let first = compile_cached(&profile(1), root.path()).unwrap();
        let dir = root.path().join(DIR);
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(files.len(), 1);
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let again = load(&dir, &key(&profile(1))).expect("cached");
        assert!(same(&first, &again));
        assert!(same(&first, &super::super::compile(&profile(1)).unwrap()));
        // Another profile is another entry.
        let other = compile_cached(&profile(2), root.path()).unwrap();
        assert!(!same(&first, &other));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    }

    #[test]
    fn a_damaged_or_foreign_file_is_compiled_again() {
        let root = tempfile::tempdir().unwrap();
        let p = profile(1);
        let good = compile_cached(&p, root.path()).unwrap();
        let dir = root.path().join(DIR);
        let file = dir.join(key(&p));
        // One flipped bit in the instructions: the checksum fails.
        let mut bytes = std::fs::read(&file).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&file, &bytes).unwrap();
        assert!(load(&dir, &key(&p)).is_none());
        assert!(same(&compile_cached(&p, root.path()).unwrap(), &good));
        // Writable by others: not trusted.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(load(&dir, &key(&p)).is_none());
        // Truncated, or not a whole instruction.
        assert!(decode(&[0u8; 31]).is_none());
        assert!(decode(&encode(&good)[..40]).is_none());
    }

    #[test]
    fn the_cache_is_bounded() {
        let root = tempfile::tempdir().unwrap();
        for e in 0..(MAX_ENTRIES as u32 + 3) {
            compile_cached(&profile(e + 1), root.path()).unwrap();
        }
        let n = std::fs::read_dir(root.path().join(DIR)).unwrap().count();
        assert!(n <= MAX_ENTRIES, "{n} entries");
    }
}
