//! The errors of container operations.

use crate::error::Cause;
use crate::ErrorKind;

/// An error of a container operation (create, start, stop, remove, commit,
/// exec, update...).
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// No container by that name or id (404).
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// The container is not running, and the operation needs it to (409).
    #[error("Container {0} is not running")]
    NotRunning(String),
    /// Another container has the name (409).
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse {
        /// The name asked for.
        name: String,
        /// The container that has it.
        id: String,
    },
    /// The shim could not start the container's process: a command that
    /// cannot run (400) or another failure (500), in the shim's words.
    #[error("failed to create task for container: {why}")]
    CreateTask {
        /// The shim's report.
        why: String,
        /// Whether the command is what cannot run (Docker's 400).
        not_runnable: bool,
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

impl ContainerError {
    /// What sort of failure, for the status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ContainerError::NoSuchContainer(_) => ErrorKind::NotFound,
            ContainerError::NotRunning(_) | ContainerError::NameInUse { .. } => ErrorKind::Conflict,
            ContainerError::CreateTask { not_runnable, .. } => {
                if *not_runnable {
                    ErrorKind::InvalidArgument
                } else {
                    ErrorKind::System
                }
            }
            ContainerError::NotFound(_) => ErrorKind::NotFound,
            ContainerError::Conflict(_) => ErrorKind::Conflict,
            ContainerError::Invalid(_) => ErrorKind::InvalidArgument,
            ContainerError::Failed { .. } | ContainerError::Sys(_) => ErrorKind::System,
        }
    }

    /// `context` failed with `source`.
    pub(crate) fn failed(context: impl Into<String>, source: impl Into<Cause>) -> Self {
        ContainerError::Failed {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A failure of the system: a call's error, or a message.
    pub(crate) fn sys(e: impl Into<Cause>) -> Self {
        ContainerError::Sys(e.into())
    }
}

impl crate::error::ModuleError for ContainerError {
    fn kind(&self) -> crate::ErrorKind {
        ContainerError::kind(self)
    }
}
