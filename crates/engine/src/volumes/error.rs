//! The errors of volume operations.

use crate::error::Cause;
use crate::ErrorKind;

/// An error of a volume operation (create, remove, mount, copy-up).
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// No volume by that name (404).
    #[error("get {0}: no such volume")]
    NoSuchVolume(String),
    /// Containers use the volume (409).
    #[error("remove {name}: volume is in use - [{}]", .ids.join(", "))]
    InUse {
        /// The volume.
        name: String,
        /// The containers that use it.
        ids: Vec<String>,
    },
    /// What was asked for does not exist (404), in Docker's words.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the object's state (409), in Docker's words.
    #[error("{0}")]
    Conflict(String),
    /// A refusal of what the caller asked (400), in Docker's words.
    #[error("{0}")]
    Invalid(String),
    /// An OS-level step that failed: what it did, on what, and the
    /// error (500).
    #[error("{context}: {source}")]
    Failed {
        /// What was being done, on what (the path, the id).
        context: String,
        /// The call's error.
        #[source]
        source: Cause,
    },
    /// A failure of the system whose text says it all (500).
    #[error(transparent)]
    Sys(#[from] Cause),
}

impl VolumeError {
    /// What sort of failure, for the status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            VolumeError::NoSuchVolume(_) => ErrorKind::NotFound,
            VolumeError::InUse { .. } => ErrorKind::Conflict,
            VolumeError::NotFound(_) => ErrorKind::NotFound,
            VolumeError::Conflict(_) => ErrorKind::Conflict,
            VolumeError::Invalid(_) => ErrorKind::InvalidArgument,
            VolumeError::Failed { .. } | VolumeError::Sys(_) => ErrorKind::System,
        }
    }

    /// `context` failed with `source`.
    pub(crate) fn failed(context: impl Into<String>, source: impl Into<Cause>) -> Self {
        VolumeError::Failed {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A failure of the system: a call's error, or a message.
    pub(crate) fn sys(e: impl Into<Cause>) -> Self {
        VolumeError::Sys(e.into())
    }
}

impl crate::error::ModuleError for VolumeError {
    fn kind(&self) -> crate::ErrorKind {
        VolumeError::kind(self)
    }
}
