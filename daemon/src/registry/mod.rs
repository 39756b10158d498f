//! Pulling and pushing images with oci-client; registry authentication.
//!
//! - `credentials` — the `X-Registry-Auth` header and `/auth` body (Docker's AuthConfig).
//! - `client`      — an oci-client `Client` per operation: plain HTTP for loopback and
//!   `--insecure-registry` hosts, HTTPS otherwise; oci-client errors translated into
//!   dockerd's messages.
//! - `challenge`   — why a registry said 401: Basic or Bearer, no, wrong or insufficient
//!   credentials, in dockerd's words for pulls, pushes and inspects.
//! - `translate`   — oci-client and transport errors in dockerd's words.
//! - `hosts`       — `<registry-config-dir>/<host>/hosts.toml` (containerd's layout) and
//!   `--registry-mirror`: the mirrors a pull tries before the registry itself.
//! - `manifest`    — manifest and index documents: media types, parsing, schema 1 refusal.
//! - `platform`    — platforms (`linux/arm64/v8`), Go architecture names, index selection.
//! - `download`    — one blob from the registry into the content store, with progress.
//! - `pull`        — `POST /images/create`: manifest, config, then the image record; every
//!   tag of the repository when neither tag nor digest is given (`--all-tags`).
//! - `pull_layers` — layer downloads (3 at a time) and in-order unpacking.
//! - `push`        — `POST /images/{name}/push`: blobs (HEAD first; a blob not kept at pull
//!   time is fetched again from the image's origin), then the stored manifest unchanged.
//! - `login`       — `POST /auth`: really checks the credentials against the registry's `/v2/`.
//! - `inspect`     — `GET /distribution/{name}/json`: descriptor and platforms.
//!
//! Plain HTTP: dockerd tries HTTPS first for an insecure registry and falls back to HTTP;
//! Berth speaks plain HTTP to them straight away.
pub mod challenge;
pub mod client;
pub mod credentials;
pub mod download;
pub mod hosts;
pub mod inspect;
pub mod login;
pub mod manifest;
pub mod platform;
pub mod pull;
pub mod pull_layers;
pub mod push;
pub mod search;
pub mod translate;

pub use credentials::AuthConfig;

use crate::store::StoreError;

/// Errors of registry operations, with dockerd's messages. Mapped to API errors once,
/// in `api::image_transfer`.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry has no such tag or digest (404):
    /// "manifest for 127.0.0.1:5000/x:nope not found: manifest unknown: manifest unknown".
    #[error("manifest for {reference} not found: {cause}")]
    ManifestNotFound { reference: String, cause: String },
    /// Something else the registry does not have (404), e.g. "manifest unknown: manifest unknown".
    #[error("{0}")]
    NotFound(String),
    /// Missing or wrong credentials (401), e.g. "unauthorized: authentication required".
    #[error("{0}")]
    Unauthorized(String),
    /// Credentials accepted but not enough for this repository (403):
    /// "denied: requested access to the resource is denied".
    #[error("{0}")]
    Denied(String),
    /// A platform the index does not list.
    #[error("no matching manifest for {0} in the manifest list entries")]
    NoMatchingPlatform(String),
    /// Schema 1 manifests, unknown media types, malformed documents (400).
    #[error("{0}")]
    Unsupported(String),
    /// A bad request parameter (400).
    #[error("{0}")]
    InvalidParameter(String),
    /// Pushing something that is not here (404).
    #[error("An image does not exist locally with the tag: {0}")]
    NoSuchLocalImage(String),
    /// A feature Berth does not have yet (501).
    #[error("{0}")]
    NotImplemented(String),
    /// The registry could not be reached (500), e.g. a refused connection.
    #[error("{0}")]
    Network(String),
    /// Any other answer of the registry (500).
    #[error("{0}")]
    Registry(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or a panicked task (500).
    #[error("{0}")]
    Internal(String),
}

impl From<tokio::task::JoinError> for RegistryError {
    fn from(e: tokio::task::JoinError) -> Self {
        RegistryError::Internal(format!("registry task failed: {e}"))
    }
}

pub type RegistryResult<T> = Result<T, RegistryError>;
