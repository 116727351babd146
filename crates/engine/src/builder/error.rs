//! The errors of a build.

use crate::error::Cause;
use crate::ErrorKind;

/// An error of a build (its context, its steps, a `RUN`, a `COPY`).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// What was asked for does not exist (404), in Docker's words.
    #[error("{0}")]
    NotFound(String),
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

impl BuildError {
    /// What sort of failure, for the status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BuildError::NotFound(_) => ErrorKind::NotFound,
            BuildError::Invalid(_) => ErrorKind::InvalidArgument,
            BuildError::Failed { .. } | BuildError::Sys(_) => ErrorKind::System,
        }
    }

    /// `context` failed with `source`.
    pub(crate) fn failed(context: impl Into<String>, source: impl Into<Cause>) -> Self {
        BuildError::Failed {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A failure of the system: a call's error, or a message.
    pub(crate) fn sys(e: impl Into<Cause>) -> Self {
        BuildError::Sys(e.into())
    }
}

impl crate::error::ModuleError for BuildError {
    fn kind(&self) -> crate::ErrorKind {
        BuildError::kind(self)
    }
}
