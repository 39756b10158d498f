//! Safe extraction of a layer tar into a directory.
//!
//! Nothing is ever written outside `dest`: entries with `..` or absolute paths are
//! confined or refused, symlinks inside the tree are never followed while writing,
//! hard links must point inside the tree. Whiteouts (`.wh.NAME`, `.wh..wh..opq`) are
//! converted to overlayfs's format.
use std::io::Read;
use std::path::Path;

use super::StoreResult;

/// Extracts the uncompressed tar `archive` into `dest` (which exists and is empty).
/// Returns the total size of regular files written.
pub fn unpack_layer(archive: impl Read, dest: &Path) -> StoreResult<u64> {
    let _ = (archive, dest);
    todo!("store::extract::unpack_layer")
}
