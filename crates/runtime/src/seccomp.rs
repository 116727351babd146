//! Seccomp: the spec's `linux.seccomp` compiled to a BPF program with libseccomp,
//! and Docker's default profile, kept as data, for the engine to hand over.
//!
//! Compilation happens in the runtime before it forks the container; the child
//! only installs the ready program with one syscall, so the container's start path
//! does no parsing or allocation for it.

use oci_spec::runtime::LinuxSeccomp;

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

/// A compiled filter: classic BPF instructions (`struct sock_filter`, 8 bytes each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The raw instructions, as the kernel takes them.
    pub instructions: Vec<libc::sock_filter>,
}

/// Compiles a spec profile for the architecture this runtime runs on (plus the
/// architectures the profile lists).
pub fn compile(profile: &LinuxSeccomp) -> Result<Program, SeccompError> {
    let _ = profile;
    todo!()
}

/// Installs `program` in the calling thread. Call after `no_new_privs` is set or
/// while `CAP_SYS_ADMIN` is still held. Does not allocate.
pub fn install(program: &Program) -> Result<(), SeccompError> {
    let _ = program;
    todo!()
}
