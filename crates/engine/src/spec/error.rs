//! The errors of a create body's checks and of the spec made from it.

use crate::error::Cause;
use crate::ErrorKind;

/// An error of a create body (its host config, its mounts) or of the OCI spec
/// made from it: Docker's refusals are 400s.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
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

impl SpecError {
    /// What sort of failure, for the status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SpecError::Conflict(_) => ErrorKind::Conflict,
            SpecError::Invalid(_) => ErrorKind::InvalidArgument,
            SpecError::Failed { .. } | SpecError::Sys(_) => ErrorKind::System,
        }
    }

    /// `context` failed with `source`.
    pub(crate) fn failed(context: impl Into<String>, source: impl Into<Cause>) -> Self {
        SpecError::Failed {
            context: context.into(),
            source: source.into(),
        }
    }
}

impl crate::error::ModuleError for SpecError {
    fn kind(&self) -> crate::ErrorKind {
        SpecError::kind(self)
    }
}
