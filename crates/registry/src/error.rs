//! The registry client's errors. Each carries what failed and on what (the
//! URL, the digest), and sorts into a [`Kind`] that the daemon maps to an
//! HTTP status once.

/// What sort of failure, for the edge to map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The repository, tag or blob does not exist (404).
    NotFound,
    /// Credentials are missing or wrong (401).
    Unauthorized,
    /// The registry refused the credentials' access (403).
    Denied,
    /// The registry sent something wrong: a digest or size mismatch, an
    /// unknown media type, a manifest too large (hostile or broken input).
    Invalid,
    /// The network or the registry failed.
    Unavailable,
}

/// A registry error.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry answered with an error document (distribution's
    /// `{"errors":[{"code","message"}]}`) or a bare status.
    #[error("{message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Distribution's error code (`MANIFEST_UNKNOWN`), if any.
        code: String,
        /// Docker's text for it.
        message: String,
    },
    /// No connection, TLS failure, a stalled transfer.
    #[error("{method} \"{url}\": {why}")]
    Transport {
        /// `Get`, `Head`…, as Go prints them.
        method: &'static str,
        /// The URL.
        url: String,
        /// Why.
        why: String,
    },
    /// Content that does not match what it was announced as.
    #[error("{0}")]
    Invalid(String),
    /// A manifest or index of a media type berth does not know.
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    /// No manifest in the index for the platform asked.
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoPlatform(String),
    /// A `WWW-Authenticate` or token answer berth cannot use.
    #[error("authentication: {0}")]
    Auth(String),
}

impl RegistryError {
    /// The kind of failure.
    pub fn kind(&self) -> Kind {
        match self {
            RegistryError::Status { status, .. } => match status {
                404 => Kind::NotFound,
                401 => Kind::Unauthorized,
                403 => Kind::Denied,
                _ => Kind::Unavailable,
            },
            RegistryError::Transport { .. } => Kind::Unavailable,
            RegistryError::Auth(_) => Kind::Unauthorized,
            RegistryError::NoPlatform(_) => Kind::NotFound,
            RegistryError::Invalid(_) | RegistryError::UnsupportedMediaType(_) => Kind::Invalid,
        }
    }
}
