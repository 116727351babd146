//! The errors of network operations.

use crate::error::Cause;
use crate::ErrorKind;

/// An error of a network operation (create, connect, publish, remove).
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// No network by that name or id (404).
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    /// What was asked for does not exist (404), in Docker's words.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the object's state (409), in Docker's words.
    #[error("{0}")]
    Conflict(String),
    /// A refusal of what the caller asked (400), in Docker's words.
    #[error("{0}")]
    Invalid(String),
    /// A refusal Docker gives as forbidden (403).
    #[error("{0}")]
    Forbidden(String),
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

impl NetworkError {
    /// What sort of failure, for the status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            NetworkError::NoSuchNetwork(_) => ErrorKind::NotFound,
            NetworkError::NotFound(_) => ErrorKind::NotFound,
            NetworkError::Conflict(_) => ErrorKind::Conflict,
            NetworkError::Invalid(_) => ErrorKind::InvalidArgument,
            NetworkError::Forbidden(_) => ErrorKind::Forbidden,
            NetworkError::Failed { .. } | NetworkError::Sys(_) => ErrorKind::System,
        }
    }

    /// `context` failed with `source`.
    pub(crate) fn failed(context: impl Into<String>, source: impl Into<Cause>) -> Self {
        NetworkError::Failed {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A failure of the system: a call's error, or a message.
    pub(crate) fn sys(e: impl Into<Cause>) -> Self {
        NetworkError::Sys(e.into())
    }
}

impl crate::error::ModuleError for NetworkError {
    fn kind(&self) -> crate::ErrorKind {
        NetworkError::kind(self)
    }
}
