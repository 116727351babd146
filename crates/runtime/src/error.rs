//! The runtime's error type. Every variant carries what failed and on what, and
//! has a [`Kind`] that the command line maps to an exit status once.

use std::path::PathBuf;

use crate::cgroups::CgroupError;
use crate::seccomp::SeccompError;

/// What sort of failure an [`Error`] is, for the edge to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The container does not exist.
    NotFound,
    /// The operation conflicts with the container's state or an existing one.
    Conflict,
    /// The bundle, spec or an argument is not acceptable.
    Invalid,
    /// The system refused or failed.
    System,
}

/// Errors of the runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`read`, `create`, `mount` ...).
        op: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{op}: {source}")]
    Sys {
        /// The call and its subject.
        op: String,
        /// The cause.
        source: nix::Error,
    },
    /// The bundle's `config.json` is malformed or asks for something refused.
    #[error("invalid bundle: {0}")]
    InvalidSpec(String),
    /// A container id is not of the accepted form.
    #[error("invalid container id {0:?}: use letters, digits, '_', '-', '.' and '+'")]
    InvalidId(String),
    /// An argument is not acceptable.
    #[error("{0}")]
    InvalidArgument(String),
    /// No container has this id.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// A container with this id exists already.
    #[error("container with id {0} already exists")]
    Exists(String),
    /// The container's state does not allow the operation.
    #[error("container {id} is {status}: cannot {op}")]
    BadState {
        /// The container.
        id: String,
        /// Its status.
        status: String,
        /// The refused operation.
        op: &'static str,
    },
    /// The container's init reported a failure while being set up.
    #[error("{0}")]
    Init(String),
    /// A cgroup operation failed.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// A seccomp profile failed to compile.
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> Kind {
        match self {
            Error::NotFound(_) => Kind::NotFound,
            Error::Exists(_) | Error::BadState { .. } => Kind::Conflict,
            Error::InvalidSpec(_) | Error::InvalidId(_) | Error::InvalidArgument(_) => {
                Kind::Invalid
            }
            Error::Seccomp(SeccompError::Invalid(_)) => Kind::Invalid,
            _ => Kind::System,
        }
    }

    /// An [`Error::Io`] for `op` on `path`.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Sys`] for the call described by `op`.
    pub fn sys(op: impl Into<String>, source: nix::Error) -> Error {
        Error::Sys {
            op: op.into(),
            source,
        }
    }
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
