//! Engine errors carry a kind; the daemon maps kinds to HTTP statuses once.

use store::images::ImageError;
use store::StoreError;

/// What sort of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 404.
    NotFound,
    /// 409.
    Conflict,
    /// 400.
    InvalidArgument,
    /// 403 (Docker's for what is refused as such: removing a network in
    /// use, an overlapping pool).
    Forbidden,
    /// 501 (what a driver cannot do: reading a `none` log).
    NotImplemented,
    /// 500.
    System,
}

/// An engine error: a kind and Docker's message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    /// Kind, for the status code.
    pub kind: ErrorKind,
    /// Message, for `{"message": …}`.
    pub message: String,
    /// The exit code of the process whose failure this is (a build's
    /// `RUN`: Docker's `errorDetail.code`).
    pub code: Option<i64>,
}

impl EngineError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> EngineError {
        EngineError {
            kind,
            message: message.into(),
            code: None,
        }
    }

    /// What sort of failure, for the daemon's status code.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The same error, caused by a process that exited with `code`.
    pub fn with_code(mut self, code: i64) -> EngineError {
        self.code = Some(code);
        self
    }
}

/// A refusal of what the caller asked (400); `msg` is Docker's text where
/// Docker has one.
pub(crate) fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::new(ErrorKind::InvalidArgument, msg)
}

/// A failure of the system (500); `e` says what failed and on what (the
/// path, the id).
pub(crate) fn sys(e: impl std::fmt::Display) -> EngineError {
    EngineError::new(ErrorKind::System, e.to_string())
}

impl From<store::walk::WalkError> for EngineError {
    fn from(e: store::walk::WalkError) -> EngineError {
        let kind = match e {
            store::walk::WalkError::TooDeep { .. } => ErrorKind::InvalidArgument,
            store::walk::WalkError::Io { .. } => ErrorKind::System,
        };
        EngineError::new(kind, e.to_string())
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> EngineError {
        let kind = match &e {
            StoreError::Image(i) => return i.into(),
            StoreError::Invalid(_) | StoreError::Layer(_) | StoreError::Change(_) => {
                ErrorKind::InvalidArgument
            }
            StoreError::Content(
                store::content::ContentError::Mismatch { .. }
                | store::content::ContentError::TooLarge(_)
                | store::content::ContentError::BadDigest(_),
            ) => ErrorKind::InvalidArgument,
            _ => ErrorKind::System,
        };
        EngineError::new(kind, e.to_string())
    }
}

impl From<&ImageError> for EngineError {
    fn from(e: &ImageError) -> EngineError {
        let kind = match e {
            ImageError::NotFound(_) => ErrorKind::NotFound,
            ImageError::Conflict(_) => ErrorKind::Conflict,
            ImageError::Reference(_) | ImageError::Ambiguous(_) => ErrorKind::InvalidArgument,
            ImageError::Meta(_) => ErrorKind::System,
        };
        EngineError::new(kind, e.to_string())
    }
}

impl From<ImageError> for EngineError {
    fn from(e: ImageError) -> EngineError {
        (&e).into()
    }
}

impl From<store::meta::MetaError> for EngineError {
    fn from(e: store::meta::MetaError) -> EngineError {
        EngineError::new(ErrorKind::System, e.to_string())
    }
}
