//! The image service: what the API does with images on top of the store —
//! resolving names a user types, inspect/list views, tagging, deletion, pruning,
//! and the consistency check at start-up.
pub mod lookup;

/// Errors of the image service, mapped to API errors in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// dockerd: "No such image: busybox:latest" (404).
    #[error("No such image: {0}")]
    NotFound(String),
    /// A bad reference (400), e.g. "invalid reference format".
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    /// A conflict (409), e.g. deleting an image in use or an ambiguous reference.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
