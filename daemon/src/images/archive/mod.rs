//! `docker save` and `docker load`: images to and from a tar archive, as dockerd's
//! graph-driver exporter (moby `image/tarexport`) does it.
//!
//! - `format`     — the archive's files: `manifest.json`, `repositories`, the OCI layout.
//! - `select`     — which images (and tags) a list of names given to `docker save` means.
//! - `save`       — the archive planned (checked, measured), then written as a stream.
//! - `layer_tar`  — a stored layer as its uncompressed tar, checked against its diff ID.
//! - `spool`      — an uploaded archive unpacked into a scratch folder, paths kept inside.
//! - `load`       — the spooled archive checked whole (configs, tags, layer digests).
//! - `store`      — the checked images stored: layers, config, record, tags.
pub mod format;
pub mod layer_tar;
pub mod load;
pub mod save;
pub mod select;
pub mod spool;
pub mod store;

use crate::images::ImageError;
use crate::store::StoreError;

/// Errors of save and load. Save maps them to HTTP statuses; load writes them into its
/// stream of JSON lines, as dockerd does.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// 404, with dockerd's text ("reference does not exist", "No such image: …").
    #[error("{0}")]
    NotFound(String),
    /// 400, e.g. a bad `platform`.
    #[error("{0}")]
    InvalidParameter(String),
    /// A bad archive (load), with dockerd's text where it has one.
    #[error("{0}")]
    Invalid(String),
    /// Anything else (500).
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ArchiveError {
    pub fn io(context: impl std::fmt::Display, e: std::io::Error) -> Self {
        ArchiveError::Internal(format!("{context}: {e}"))
    }
}

pub type ArchiveResult<T> = Result<T, ArchiveError>;
