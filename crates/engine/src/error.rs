//! Engine errors. Each module with failure modes of its own has a
//! `thiserror` enum (`container::ContainerError`, `images::ImageError`,
//! `network::NetworkError`, `volumes::VolumeError`, `builder::BuildError`,
//! `archive::ArchiveError`, `spec::SpecError`, `mounts::MountError`, `logging::LogError`,
//! `filters::FilterError`) whose `kind()` says what sort of failure it is;
//! [`EngineError`], what the engine's calls return, takes them through
//! [`ModuleError`] (so this module knows none of them: no module cycle)
//! and the store's errors with `#[from]`, and keeps their text (Docker's messages)
//! and their source chain. The daemon maps an [`ErrorKind`] to an HTTP
//! status in one place (berthd's `api::status`), the CRI to a gRPC code in
//! one place (`cri::error`).

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

/// An engine error: one module's error, or the store's, with its kind and
/// Docker's message as its `Display`.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A module's own error (`container::ContainerError`,
    /// `images::ImageError`, …; see [`ModuleError`]).
    #[error(transparent)]
    Module(Kinded),
    /// The store's.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store's image records'.
    #[error(transparent)]
    StoreImage(#[from] store::images::ImageError),
    /// The store's metadata database's.
    #[error(transparent)]
    Meta(#[from] store::meta::MetaError),
    /// A walk of a directory tree's.
    #[error(transparent)]
    Walk(#[from] store::walk::WalkError),
    /// An error with a kind of its own made where no module's enum fits:
    /// above the engine (berthd's request checks, a failed blocking task),
    /// the roots' modes at open.
    #[error("{message}")]
    Other {
        /// What sort of failure.
        kind: ErrorKind,
        /// Docker's message.
        message: String,
    },
    /// `source`, caused by a process that exited with `code` (a build's
    /// `RUN`: Docker's `errorDetail.code`).
    #[error("{source}")]
    Exited {
        /// The failure.
        #[source]
        source: Box<EngineError>,
        /// The process's exit code.
        code: i64,
    },
}

/// A module's error enum, turned into an [`EngineError`] by `?` with its
/// kind: the engine's modules depend on this module, never the reverse.
pub trait ModuleError: std::error::Error + Send + Sync + 'static {
    /// What sort of failure.
    fn kind(&self) -> ErrorKind;
}

impl<E: ModuleError> From<E> for EngineError {
    fn from(e: E) -> EngineError {
        EngineError::Module(Kinded {
            kind: e.kind(),
            error: Box::new(e),
        })
    }
}

/// A module's error with its kind: shown as the module's error (Docker's
/// message), with the module error's source as its own.
#[derive(Debug)]
pub struct Kinded {
    kind: ErrorKind,
    error: Box<dyn std::error::Error + Send + Sync>,
}

impl std::fmt::Display for Kinded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Kinded {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl EngineError {
    /// An error of `kind` with `message`, for callers above the engine.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> EngineError {
        EngineError::Other {
            kind,
            message: message.into(),
        }
    }

    /// What sort of failure, for the daemon's status code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Module(m) => m.kind,
            EngineError::Store(e) => store_kind(e),
            EngineError::StoreImage(e) => store_image_kind(e),
            EngineError::Meta(_) => ErrorKind::System,
            EngineError::Walk(e) => match e {
                store::walk::WalkError::TooDeep { .. } => ErrorKind::InvalidArgument,
                store::walk::WalkError::Io { .. } => ErrorKind::System,
            },
            EngineError::Other { kind, .. } => *kind,
            EngineError::Exited { source, .. } => source.kind(),
        }
    }

    /// The same error, caused by a process that exited with `code`.
    pub fn with_code(self, code: i64) -> EngineError {
        EngineError::Exited {
            source: Box::new(self),
            code,
        }
    }

    /// The exit code of the process whose failure this is, if one is.
    pub fn code(&self) -> Option<i64> {
        match self {
            EngineError::Exited { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// The kind of a store error: refused input is the caller's (400).
fn store_kind(e: &StoreError) -> ErrorKind {
    match e {
        StoreError::Image(i) => store_image_kind(i),
        StoreError::Invalid(_) | StoreError::Layer(_) | StoreError::Change(_) => {
            ErrorKind::InvalidArgument
        }
        StoreError::Content(
            store::content::ContentError::Mismatch { .. }
            | store::content::ContentError::TooLarge(_)
            | store::content::ContentError::BadDigest(_),
        ) => ErrorKind::InvalidArgument,
        _ => ErrorKind::System,
    }
}

/// The kind of an error of the store's image records.
fn store_image_kind(e: &store::images::ImageError) -> ErrorKind {
    use store::images::ImageError as E;
    match e {
        E::NotFound(_) => ErrorKind::NotFound,
        E::Conflict(_) => ErrorKind::Conflict,
        E::Reference(_) | E::Ambiguous(_) => ErrorKind::InvalidArgument,
        E::Meta(_) => ErrorKind::System,
    }
}

impl From<&store::images::ImageError> for EngineError {
    /// The store's image error, for a caller that only borrows it (the
    /// text and kind are kept; the source chain is not).
    fn from(e: &store::images::ImageError) -> EngineError {
        EngineError::new(store_image_kind(e), e.to_string())
    }
}

/// What an OS-level failure was: the error of the call that failed, or a
/// message where the failure is a fact found rather than a call's error.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    /// A `std` call's.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A `nix` call's.
    #[error(transparent)]
    Os(#[from] nix::Error),
    /// The runtime's (its cgroups, its container state).
    #[error(transparent)]
    Runtime(#[from] runtime::Error),
    /// The runtime's cgroups'.
    #[error(transparent)]
    Cgroup(#[from] runtime::cgroups::CgroupError),
    /// The registry client's.
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
    /// The networking crate's (bridges, nftables, netlink, the DNS server).
    #[error(transparent)]
    Net(#[from] net::NetError),
    /// A mount's or unmount's.
    #[error(transparent)]
    Mount(#[from] store::mount::MountError),
    /// A JSON document's (a record written or read).
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A Docker object's, decoded.
    #[error(transparent)]
    Model(#[from] models::de::Error),
    /// An address that does not parse.
    #[error(transparent)]
    Addr(#[from] std::net::AddrParseError),
    /// A blocking task that panicked or was cancelled.
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
    /// Another library's, kept as text.
    #[error("{0}")]
    Message(String),
}

impl From<String> for Cause {
    fn from(m: String) -> Cause {
        Cause::Message(m)
    }
}

impl From<&str> for Cause {
    fn from(m: &str) -> Cause {
        Cause::Message(m.to_string())
    }
}

/// Logs a dropped error at debug: for best-effort steps (cleanup of what
/// may already be gone, a mode or owner copied where it can be) whose
/// failure changes nothing the caller could act on.
pub(crate) fn ignore<T, E: std::fmt::Display>(what: impl std::fmt::Display, r: Result<T, E>) {
    if let Err(e) = r {
        tracing::debug!("{what}: {e} (ignored)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::ArchiveError;
    use crate::container::ContainerError;
    use crate::logging::LogError;
    use crate::network::NetworkError;
    use crate::volumes::VolumeError;

    #[test]
    fn kinds_and_texts_pass_through() {
        let e: EngineError = ContainerError::NoSuchContainer("abc".into()).into();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.to_string(), "No such container: abc");
        let coded = e.with_code(3);
        assert_eq!(coded.code(), Some(3));
        assert_eq!(coded.kind(), ErrorKind::NotFound);
        assert_eq!(coded.to_string(), "No such container: abc");
    }

    /// Docker's texts and statuses of the typed variants, as clients
    /// (the docker CLI, docker-py) read them.
    #[test]
    fn typed_variants_say_what_docker_says() {
        let cases: Vec<(EngineError, ErrorKind, &str)> = vec![
            (
                ContainerError::NameInUse {
                    name: "web".into(),
                    id: "abc".into(),
                }
                .into(),
                ErrorKind::Conflict,
                "Conflict. The container name \"/web\" is already in use by container \"abc\". You have to remove (or rename) that container to be able to reuse that name.",
            ),
            (
                ContainerError::NotRunning("abc".into()).into(),
                ErrorKind::Conflict,
                "Container abc is not running",
            ),
            (
                ContainerError::CreateTask {
                    why: "exec: \"nope\": executable file not found in $PATH".into(),
                    not_runnable: true,
                }
                .into(),
                ErrorKind::InvalidArgument,
                "failed to create task for container: exec: \"nope\": executable file not found in $PATH",
            ),
            (
                ContainerError::CreateTask {
                    why: "shim died".into(),
                    not_runnable: false,
                }
                .into(),
                ErrorKind::System,
                "failed to create task for container: shim died",
            ),
            (
                VolumeError::NoSuchVolume("v".into()).into(),
                ErrorKind::NotFound,
                "get v: no such volume",
            ),
            (
                VolumeError::InUse {
                    name: "v".into(),
                    ids: vec!["a".into(), "b".into()],
                }
                .into(),
                ErrorKind::Conflict,
                "remove v: volume is in use - [a, b]",
            ),
            (
                NetworkError::NoSuchNetwork("n".into()).into(),
                ErrorKind::NotFound,
                "network n not found",
            ),
            (
                NetworkError::Forbidden("Address already in use".into()).into(),
                ErrorKind::Forbidden,
                "Address already in use",
            ),
            (
                ArchiveError::NoSuchPath("/x".into()).into(),
                ErrorKind::NotFound,
                "Could not find the file /x in container",
            ),
            (
                ArchiveError::BadArchive("entry a: too long".into()).into(),
                ErrorKind::InvalidArgument,
                "bad archive: entry a: too long",
            ),
            (
                LogError::NotImplemented("configured logging driver does not support reading".into())
                    .into(),
                ErrorKind::NotImplemented,
                "configured logging driver does not support reading",
            ),
            (
                EngineError::new(ErrorKind::Forbidden, "no"),
                ErrorKind::Forbidden,
                "no",
            ),
        ];
        for (e, kind, text) in cases {
            assert_eq!((e.kind(), e.to_string().as_str()), (kind, text));
            assert_eq!(e.code(), None);
        }
    }

    #[test]
    fn os_failures_keep_their_source() {
        let e: EngineError = VolumeError::failed(
            "create v",
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        )
        .into();
        assert_eq!(e.kind(), ErrorKind::System);
        assert_eq!(e.to_string(), "create v: permission denied");
        let source = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(source.as_deref(), Some("permission denied"));
    }
}
