//! The services' error: what went wrong, with a kind that the API layer
//! maps to Docker's status in one place (`api::ApiError`'s `From`).

pub use engine::ErrorKind as Kind;

/// An error of a daemon service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine's, with its own kind.
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    /// A request the service refuses as it stands (400).
    #[error("{0}")]
    Invalid(String),
    /// What the request names does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the object's state (409).
    #[error("{0}")]
    Conflict(String),
    /// The daemon failed (500).
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The kind, for the status.
    pub fn kind(&self) -> Kind {
        match self {
            Error::Engine(e) => e.kind(),
            Error::Invalid(_) => Kind::InvalidArgument,
            Error::NotFound(_) => Kind::NotFound,
            Error::Conflict(_) => Kind::Conflict,
            Error::Internal(_) => Kind::System,
        }
    }
}

/// Runs a (blocking) engine call off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, engine::EngineError> + Send + 'static,
) -> Result<T, Error> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(Error::from),
        Err(e) => Err(Error::Internal(format!("engine task failed: {e}"))),
    }
}
