//! The errors of copies into and out of containers.

use crate::error::Cause;
use crate::ErrorKind;

/// An error of a copy into or out of a container (docker cp); hostile archives
/// are refused with a 400.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The path is not in the container (404), in Docker's words.
    #[error("Could not find the file {0} in container")]
    NoSuchPath(String),
    /// The archive is malformed or hostile (400): what is wrong with it.
    #[error("bad archive: {0}")]
    BadArchive(String),
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

impl ArchiveError {
    /// What sort of failure, for the status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ArchiveError::NoSuchPath(_) => ErrorKind::NotFound,
            ArchiveError::BadArchive(_) => ErrorKind::InvalidArgument,
            ArchiveError::Invalid(_) => ErrorKind::InvalidArgument,
            ArchiveError::Failed { .. } | ArchiveError::Sys(_) => ErrorKind::System,
        }
    }

    /// `context` failed with `source`.
    pub(crate) fn failed(context: impl Into<String>, source: impl Into<Cause>) -> Self {
        ArchiveError::Failed {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A failure of the system: a call's error, or a message.
    pub(crate) fn sys(e: impl Into<Cause>) -> Self {
        ArchiveError::Sys(e.into())
    }
}

impl crate::error::ModuleError for ArchiveError {
    fn kind(&self) -> crate::ErrorKind {
        ArchiveError::kind(self)
    }
}
