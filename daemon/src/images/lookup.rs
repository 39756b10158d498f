//! Resolving what a user typed — "busybox", "busybox:1", "127.0.0.1:5000/x@sha256:…",
//! a full or short image ID — to an image record, the way dockerd does.
use crate::state::Daemon;
use crate::store::images::ImageRecord;

use super::ImageError;

/// Finds the image `name` refers to: a reference (tag or digest, normalised, `latest`
/// added when neither is given), else a full ID ("sha256:<hex>" or "<hex>"), else an
/// unambiguous ID prefix. Unknown → `ImageError::NotFound(name)`.
pub fn resolve_image(daemon: &Daemon, name: &str) -> Result<ImageRecord, ImageError> {
    let _ = daemon;
    Err(ImageError::NotFound(name.to_string()))
}
