//! Write-whole helpers: a file is written to a temporary sibling, fsynced and renamed,
//! so a crash leaves either the old or the new version.
use std::path::Path;

use super::StoreResult;

/// Writes `data` to `path` whole (temp file in the same directory, fsync, rename, fsync dir).
pub fn write_file(path: &Path, data: &[u8]) -> StoreResult<()> {
    let _ = (path, data);
    todo!("store::atomic::write_file")
}

/// Serialises `value` as JSON and writes it whole.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> StoreResult<()> {
    let _ = (path, value);
    todo!("store::atomic::write_json")
}
