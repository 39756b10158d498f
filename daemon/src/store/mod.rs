//! Image storage on disk, under `<data-root>`:
//! - `content` — content-addressed blobs (manifests, configs, compressed layers),
//!   verified against their digest before use, written whole.
//! - `layers`  — layers unpacked once per chain ID (overlay whiteout format), shared.
//! - `images`  — image records and the reference (tag/digest) table.
//! - layers are unpacked by `crate::in_root::unpack` (no entry leaves its folder;
//!   whiteouts converted for overlayfs).
//! - `local_layer` — a layer made here (`docker commit`) stored as a pulled one.
//! - `decompress` — tar streams that may be gzip, bzip2, xz or zstd compressed, told by
//!   their first bytes (dockerd's `DecompressStream`).
//! - `atomic`  — write-whole helpers (temp file, fsync, rename).
//! - `gc`      — removal of layers and blobs no image uses any more.
//! - `digest`  — strict parsing of "sha256:<hex>" digests and hashing helpers.
pub mod atomic;
pub mod content;
pub mod decompress;
pub mod digest;
pub mod gc;
pub mod images;
pub mod layers;
pub mod local_layer;

/// Errors of the image storage. Mapped to API errors once, in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid digest {0:?}")]
    InvalidDigest(String),
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("blob {0} not found")]
    BlobNotFound(String),
    #[error("layer {0} not found")]
    LayerNotFound(String),
    #[error("No such image: {0}")]
    ImageNotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("unsafe path in layer: {0}")]
    UnsafePath(String),
    #[error("invalid layer archive: {0}")]
    InvalidArchive(String),
    #[error("corrupt store record {path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
