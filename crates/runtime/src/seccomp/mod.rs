//! Seccomp: the spec's `linux.seccomp` compiled to a BPF program with libseccomp,
//! and Docker's default profile ([`docker_default`]), kept as data, for the
//! engine to hand over.
//!
//! Compilation happens in the runtime before it forks the container; the child
//! only installs the ready program with one `prctl`, so the container's start
//! path does no parsing or allocation for it. A compiled profile is kept
//! under the runtime's state root and read back next time (`cache`).

mod cache;
mod default;

use std::io::{Read, Seek};
use std::str::FromStr;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator};

pub use cache::compile_cached;
pub use default::docker_default;

/// Errors from compiling or loading a filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// A syscall, action, architecture or argument in the profile is not valid.
    #[error("seccomp profile: {0}")]
    Invalid(String),
    /// libseccomp refused the filter.
    #[error("seccomp: {0}")]
    Lib(String),
    /// Installing the program failed.
    #[error("seccomp: installing the filter: {0}")]
    Load(std::io::Error),
}

/// A compiled filter: classic BPF instructions (`struct sock_filter`).
#[derive(Clone)]
pub struct Program {
    /// The raw instructions, as the kernel takes them.
    pub instructions: Vec<libc::sock_filter>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Program({} instructions)", self.instructions.len())
    }
}

fn lib(e: libseccomp::error::SeccompError) -> SeccompError {
    SeccompError::Lib(e.to_string())
}

/// The name the spec uses for a value (`SCMP_ACT_ERRNO`, `SCMP_ARCH_X86_64`...).
fn spec_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction, SeccompError> {
    let name = spec_name(&a);
    match name.as_str() {
        // Notify needs a listener (seccomp agent); not supported yet.
        "SCMP_ACT_NOTIFY" => Err(SeccompError::Invalid(
            "SCMP_ACT_NOTIFY is not supported".into(),
        )),
        // EPERM when no errno is given, as runc.
        "SCMP_ACT_ERRNO" => Ok(ScmpAction::Errno(
            i32::try_from(errno.unwrap_or(1)).unwrap_or(1),
        )),
        "SCMP_ACT_TRACE" => Ok(ScmpAction::Trace(
            u16::try_from(errno.unwrap_or(1)).unwrap_or(1),
        )),
        _ => ScmpAction::from_str(&name, None)
            .map_err(|_| SeccompError::Invalid(format!("unknown action {name:?}"))),
    }
}

fn compare(arg: &LinuxSeccompArg) -> Result<ScmpArgCompare, SeccompError> {
    let index = u32::try_from(arg.index())
        .ok()
        .filter(|i| *i < 6)
        .ok_or_else(|| {
            SeccompError::Invalid(format!("argument index {} is over 5", arg.index()))
        })?;
    let op = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // The spec's value is the mask and valueTwo the datum.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            return Ok(ScmpArgCompare::new(
                index,
                ScmpCompareOp::MaskedEqual(arg.value()),
                arg.value_two().unwrap_or(0),
            ));
        }
    };
    Ok(ScmpArgCompare::new(index, op, arg.value()))
}

/// Compiles a spec profile for the native architecture plus those it lists.
/// Syscall names unknown on this architecture are skipped, as runc does.
pub fn compile(profile: &LinuxSeccomp) -> Result<Program, SeccompError> {
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default).map_err(lib)?;
    // The runtime sets no_new_privs itself, when the spec asks.
    ctx.set_ctl_nnp(false).map_err(lib)?;
    for arch in profile.architectures().iter().flatten() {
        let name = spec_name(arch);
        let a = ScmpArch::from_str(&name)
            .map_err(|_| SeccompError::Invalid(format!("unknown architecture {name:?}")))?;
        ctx.add_arch(a).map_err(lib)?;
    }
    for flag in profile.flags().iter().flatten() {
        let name = spec_name(flag);
        match name.as_str() {
            "SECCOMP_FILTER_FLAG_LOG" => {
                ctx.set_ctl_log(true).map_err(lib)?;
            }
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => {
                ctx.set_ctl_ssb(true).map_err(lib)?;
            }
            // TSYNC is meaningless for a single-threaded init; libseccomp sets
            // WAIT_KILLABLE_RECV only with notify.
            "SECCOMP_FILTER_FLAG_TSYNC" | "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => {}
            other => return Err(SeccompError::Invalid(format!("unsupported flag {other:?}"))),
        }
    }
    for rule in profile.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            // libseccomp refuses rules that repeat the default action.
            continue;
        }
        let args = rule.args().as_deref().unwrap_or(&[]);
        let conds = args.iter().map(compare).collect::<Result<Vec<_>, _>>()?;
        let mut seen = [false; 6];
        let unique = args
            .iter()
            .all(|a| !std::mem::replace(&mut seen[a.index().min(5)], true));
        for name in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                continue;
            };
            if conds.is_empty() {
                ctx.add_rule(act, sc).map_err(lib)?;
            } else if unique {
                ctx.add_rule_conditional(act, sc, &conds).map_err(lib)?;
            } else {
                // Several conditions on one argument: one rule each (any may
                // match), as runc does.
                for c in &conds {
                    ctx.add_rule_conditional(act, sc, std::slice::from_ref(c))
                        .map_err(lib)?;
                }
            }
        }
    }
    export(&ctx)
}

fn export(ctx: &ScmpFilterContext) -> Result<Program, SeccompError> {
    let memfd =
        nix::sys::memfd::memfd_create("berth-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| SeccompError::Load(e.into()))?;
    let mut file = std::fs::File::from(memfd);
    ctx.export_bpf(&file).map_err(lib)?;
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(SeccompError::Load)?;
    let size = std::mem::size_of::<libc::sock_filter>();
    if bytes.is_empty() || bytes.len() % size != 0 {
        return Err(SeccompError::Lib(format!(
            "exported filter has {} bytes",
            bytes.len()
        )));
    }
    Ok(from_bytes(&bytes))
}

/// A program from its instructions in the kernel's layout, as libseccomp
/// exports them (whole `sock_filter`s: the caller checked the length).
pub(crate) fn from_bytes(bytes: &[u8]) -> Program {
    let instructions = bytes
        .chunks_exact(std::mem::size_of::<libc::sock_filter>())
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    Program { instructions }
}

/// Installs `program` in the calling thread. Call after `no_new_privs` is set or
/// while `CAP_SYS_ADMIN` is held. Does not allocate.
pub fn install(program: &Program) -> Result<(), SeccompError> {
    let prog = libc::sock_fprog {
        len: u16::try_from(program.instructions.len())
            .map_err(|_| SeccompError::Load(std::io::Error::other("filter too long")))?,
        filter: program.instructions.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `program.instructions`, alive and unchanged for
    // the call; the kernel copies the program.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
        )
    };
    if r != 0 {
        return Err(SeccompError::Load(std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
