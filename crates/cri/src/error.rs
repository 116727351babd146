//! The CRI server's errors: each has a kind, and the gRPC status is chosen
//! from it in one place ([`From<CriError> for tonic::Status`]).

/// What sort of failure, for the gRPC code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `NotFound`: no such sandbox, container or image.
    NotFound,
    /// `InvalidArgument`: a request the CRI does not allow.
    Invalid,
    /// `FailedPrecondition`: the object is in the wrong state.
    State,
    /// `DeadlineExceeded`: an exec ran out of its timeout.
    Timeout,
    /// `Unimplemented`.
    Unimplemented,
    /// `Internal`.
    Internal,
}

/// An error of the CRI server.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CriError {
    /// Kind, for the gRPC code.
    pub kind: Kind,
    /// What went wrong.
    pub message: String,
}

impl CriError {
    /// An error of `kind`.
    pub fn new(kind: Kind, message: impl Into<String>) -> CriError {
        CriError {
            kind,
            message: message.into(),
        }
    }

    /// `NotFound`.
    pub fn not_found(message: impl Into<String>) -> CriError {
        CriError::new(Kind::NotFound, message)
    }

    /// `InvalidArgument`.
    pub fn invalid(message: impl Into<String>) -> CriError {
        CriError::new(Kind::Invalid, message)
    }

    /// `Internal`.
    pub fn internal(message: impl Into<String>) -> CriError {
        CriError::new(Kind::Internal, message)
    }
}

/// Shorthand.
pub type Result<T, E = CriError> = std::result::Result<T, E>;

impl From<engine::EngineError> for CriError {
    fn from(e: engine::EngineError) -> CriError {
        let kind = match e.kind() {
            engine::ErrorKind::NotFound => Kind::NotFound,
            engine::ErrorKind::InvalidArgument => Kind::Invalid,
            engine::ErrorKind::Conflict | engine::ErrorKind::Forbidden => Kind::State,
            engine::ErrorKind::NotImplemented => Kind::Unimplemented,
            engine::ErrorKind::System => Kind::Internal,
        };
        CriError::new(kind, e.to_string())
    }
}

impl From<store::StoreError> for CriError {
    fn from(e: store::StoreError) -> CriError {
        engine::EngineError::from(e).into()
    }
}

impl From<store::meta::MetaError> for CriError {
    fn from(e: store::meta::MetaError) -> CriError {
        CriError::internal(e.to_string())
    }
}

impl From<CriError> for tonic::Status {
    fn from(e: CriError) -> tonic::Status {
        let code = match e.kind {
            Kind::NotFound => tonic::Code::NotFound,
            Kind::Invalid => tonic::Code::InvalidArgument,
            Kind::State => tonic::Code::FailedPrecondition,
            Kind::Timeout => tonic::Code::DeadlineExceeded,
            Kind::Unimplemented => tonic::Code::Unimplemented,
            Kind::Internal => tonic::Code::Internal,
        };
        tonic::Status::new(code, e.message)
    }
}
