//! OCI hooks: programs the spec asks to run at points of the lifecycle, each
//! given the container's state as JSON on stdin (runtime spec, config.md
//! "POSIX-platform Hooks").
//!
//! | hook | where it runs | when |
//! | --- | --- | --- |
//! | `prestart`, `createRuntime` | the runtime | namespaces made, mounts done, before `pivot_root` |
//! | `createContainer` | the init, before `pivot_root` | right after the above |
//! | `startContainer` | the init, inside the container | after `start`, before the exec |
//! | `poststart` | the runtime (`start`) | once the process was released |
//! | `poststop` | the runtime (`delete`) | after the container is gone |
//!
//! A failing prestart, createRuntime, createContainer or startContainer hook
//! fails the container; poststart and poststop failures are reported but do
//! not undo anything, as the spec says.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::error::{Error, Result};
use crate::state::OciState;

/// Runs `hooks` in order, each with `state` on stdin; stops at the first failure.
pub fn run(kind: &str, hooks: &[Hook], state: &OciState) -> Result<()> {
    let json = serde_json::to_vec(state).expect("state serialises");
    for hook in hooks {
        run_one(kind, hook, &json)?;
    }
    Ok(())
}

fn run_one(kind: &str, hook: &Hook, state: &[u8]) -> Result<()> {
    let path = hook.path();
    let fail = |why: String| Error::Init(format!("{kind} hook {}: {why}", path.display()));
    let mut cmd = Command::new(path);
    // args[0] is the program's own name, as in execve.
    let args = hook.args().as_deref().unwrap_or(&[]);
    if let Some(arg0) = args.first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, arg0);
    }
    cmd.args(args.iter().skip(1)).env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is no failure.
        let _ = stdin.write_all(state);
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        if let Some(status) = child.try_wait().map_err(|e| fail(e.to_string()))? {
            if status.success() {
                return Ok(());
            }
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut s, &mut err);
            }
            return Err(fail(format!("{status}: {}", err.trim())));
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail("timed out".into()));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
