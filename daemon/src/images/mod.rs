//! The image service: what the API does with images on top of the store —
//! resolving names a user types, inspect/list views, tagging, deletion, pruning,
//! and the consistency check at start-up. Each module follows the matching file of
//! dockerd's graph-driver image service (moby `daemon/images/`).
//!
//! - `lookup`   — name → image record (`resolve_image`).
//! - `config`   — the image config blob, and Go-style RFC 3339 times.
//! - `filters`  — the `filters` query parameter, globs, timestamps.
//! - `refs`     — an image's references split into tags and digests, familiar forms.
//! - `list`     — `GET /images/json`.
//! - `inspect`  — `GET /images/{name}/json`.
//! - `history`  — `GET /images/{name}/history`.
//! - `tag`      — `POST /images/{name}/tag`.
//! - `delete`   — `DELETE /images/{name}` (untag versus delete, conflicts, layer GC).
//! - `prune`    — `POST /images/prune`.
//! - `usage`    — which containers use an image (the hook the container store fills in).
//! - `recovery` — the start-up consistency check.
//! - `archive`  — `docker save` / `docker load` (image tar archives).
pub mod archive;
pub mod config;
pub mod delete;
pub mod filters;
pub mod history;
pub mod inspect;
pub mod list;
pub mod lookup;
pub mod prune;
pub mod recovery;
pub mod refs;
pub mod tag;
pub mod usage;

#[cfg(test)]
mod testutil;

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

/// Errors of operations that also validate request parameters (filters, tag names):
/// an `ImageError`, or a bad parameter (400), or a not-found with dockerd's own text.
/// Mapped to API errors in `api::images`.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// 400 with this message, e.g. "invalid filter 'foo'".
    #[error("{0}")]
    InvalidParameter(String),
    /// 404 with this exact message (dockerd turns any lookup failure of a tag source into a 404).
    #[error("{0}")]
    NotFound(String),
    /// 500 with this message, e.g. "too many non-empty layers in History section".
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Image(#[from] ImageError),
}

impl From<crate::store::StoreError> for RequestError {
    fn from(e: crate::store::StoreError) -> Self {
        RequestError::Image(ImageError::Store(e))
    }
}

impl From<crate::reference::ReferenceError> for RequestError {
    fn from(e: crate::reference::ReferenceError) -> Self {
        RequestError::Image(ImageError::Reference(e))
    }
}

/// "sha256:0123456789ab…" → "0123456789ab" (dockerd's `stringid.TruncateID`).
pub fn short_id(id: &str) -> String {
    let hex = id.split_once(':').map(|(_, h)| h).unwrap_or(id);
    hex.chars().take(12).collect()
}

/// IDs of the records whose parent is `id`.
pub fn children(images: &crate::store::images::ImageStore, id: &str) -> Vec<String> {
    images
        .list()
        .into_iter()
        .filter(|r| r.parent == id)
        .map(|r| r.id)
        .collect()
}

/// The unpacked size of an image: the sum of its layers' sizes (dockerd's `layer.Size()`).
pub fn image_size(record: &crate::store::images::ImageRecord) -> u64 {
    record.layers.iter().map(|l| l.size).sum()
}
