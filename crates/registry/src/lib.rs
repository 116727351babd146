//! berth's registry client: the pull and push sides of the OCI distribution protocol
//! (<https://github.com/opencontainers/distribution-spec>) as Docker speaks
//! it. Where a reference's registry is and how to reach it ([`endpoint`]),
//! the `/v2/` check, bearer-token and basic authentication ([`auth`]),
//! manifests and indexes with platform selection ([`manifest`]), and blobs
//! streamed with their size and digest checked as they arrive
//! ([`session`]); and the push side: blobs checked, mounted across
//! repositories or uploaded whole or in chunks, manifests put ([`upload`]).
//!
//! It stores nothing: the engine feeds the streams into the store's layer
//! unpack. Everything a registry sends is untrusted: manifests are bounded
//! and checked against their digests, blobs against their descriptors.

pub mod auth;
pub mod endpoint;
pub mod error;
pub mod fetch;
pub mod manifest;
pub mod search;
pub mod session;
pub mod transport;
pub mod upload;

pub use auth::Credentials;
pub use endpoint::Config;
pub use error::{Kind, RegistryError};
pub use manifest::Platform;
pub use session::{BlobStream, Resolved, Session};

use store::reference::Reference;

/// What berth says it is to registries.
pub const USER_AGENT: &str = concat!("berth/", env!("CARGO_PKG_VERSION"));

/// The registry client of a daemon: its settings and the tokens it holds.
#[derive(Clone, Default)]
pub struct Client {
    config: Config,
    tokens: session::TokenCache,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens stay out of logs.
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client with the daemon's registry settings.
    pub fn new(config: Config) -> Client {
        Client {
            config,
            tokens: Default::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Opens a session for `reference`'s repository.
    pub async fn session(
        &self,
        reference: &Reference,
        credentials: Credentials,
    ) -> Result<Session, RegistryError> {
        let endpoint = self.config.endpoint(reference);
        Session::open(&endpoint, &reference.path, credentials, self.tokens.clone()).await
    }

    /// Checks credentials against a registry (`docker login`, `POST /auth`):
    /// Ok when its `/v2/` answers them.
    pub async fn login(&self, credentials: Credentials) -> Result<(), RegistryError> {
        let endpoint = self.config.endpoint_of(&credentials.server_address);
        let s = Session::open(&endpoint, "", credentials, self.tokens.clone()).await?;
        s.login().await
    }
}
