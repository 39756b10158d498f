//! The layer store: each layer unpacked once, under its chain ID, in overlayfs's
//! format (whiteouts as 0/0 character devices, opaque directories as the
//! `trusted.overlay.opaque` xattr), shared by every image and container using it.
//! `<root>/<chain-hex>/diff/` holds the files, `<root>/<chain-hex>/layer.json` the
//! metadata; an unpack happens in a temporary directory renamed into place when whole.
use std::io::{BufReader, Cursor, ErrorKind, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::{sync_dir, write_json};
use super::digest::{hex_part, is_sha256_hex, sha256_of, HashingReader, SHA256_PREFIX};
use super::{StoreError, StoreResult};
use crate::in_root::unpack::unpack_layer;

/// Prefix of directories that are not (yet, or any more) layers: unpacks in
/// progress and removals in progress. Removed by `open`.
const TEMP_PREFIX: &str = "tmp-";
const LAYER_JSON: &str = "layer.json";
const DIFF_DIR: &str = "diff";
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerInfo {
    /// "sha256:<hex>": chain ID (identity of this layer and everything below it).
    pub chain_id: String,
    /// "sha256:<hex>": digest of the uncompressed tar.
    pub diff_id: String,
    /// Chain ID of the layer below, if any.
    pub parent: Option<String>,
    /// Bytes of the unpacked content (regular files' sizes).
    pub size: u64,
}

pub struct LayerStore {
    root: PathBuf,
}

impl LayerStore {
    /// Opens (creates) the store and removes unfinished unpacks.
    pub fn open(root: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(root)
            .map_err(|e| StoreError::io(format!("create {}", root.display()), e))?;
        let entries = std::fs::read_dir(root)
            .map_err(|e| StoreError::io(format!("read {}", root.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(format!("read {}", root.display()), e))?;
            if entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(TEMP_PREFIX))
            {
                tracing::info!(path = %entry.path().display(), "removing unfinished layer unpack or removal");
                remove_any(&entry.path())?;
            }
        }
        Ok(LayerStore {
            root: root.to_path_buf(),
        })
    }

    /// chain_id(n) = diff_id(0) for the bottom layer, else sha256(chain_id(n-1) + " " + diff_id(n)).
    pub fn chain_id(parent: Option<&str>, diff_id: &str) -> String {
        match parent {
            None => diff_id.to_string(),
            Some(parent) => sha256_of(format!("{parent} {diff_id}").as_bytes()),
        }
    }

    /// The chain IDs of every layer of a stack of diff IDs (bottom first).
    pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
        let mut chain: Vec<String> = Vec::with_capacity(diff_ids.len());
        for diff_id in diff_ids {
            let next = Self::chain_id(chain.last().map(String::as_str), diff_id);
            chain.push(next);
        }
        chain
    }

    pub fn get(&self, chain_id: &str) -> StoreResult<Option<LayerInfo>> {
        let dir = self.layer_dir(chain_id)?;
        let path = dir.join(LAYER_JSON);
        let data = match std::fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == ErrorKind::NotFound && !dir.exists() => return Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(StoreError::Corrupt {
                    path: dir.display().to_string(),
                    reason: "no layer.json".into(),
                })
            }
            Err(e) => return Err(StoreError::io(format!("read {}", path.display()), e)),
        };
        let info: LayerInfo = serde_json::from_slice(&data).map_err(|e| StoreError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if info.chain_id != chain_id {
            let reason = format!("records chain ID {}", info.chain_id);
            return Err(StoreError::Corrupt {
                path: path.display().to_string(),
                reason,
            });
        }
        Ok(Some(info))
    }

    /// Unpacks a layer blob (gzip, zstd or plain tar, detected by magic bytes) on top of
    /// `parent`, verifying that the uncompressed tar's digest is `expected_diff_id`.
    /// Does nothing if the chain ID is already present. Blocking: call from spawn_blocking.
    pub fn unpack(
        &self,
        parent: Option<&str>,
        expected_diff_id: &str,
        blob: impl Read,
    ) -> StoreResult<LayerInfo> {
        hex_part(expected_diff_id)?;
        if let Some(parent) = parent {
            if self.get(parent)?.is_none() {
                return Err(StoreError::LayerNotFound(parent.to_string()));
            }
        }
        let chain_id = Self::chain_id(parent, expected_diff_id);
        let final_dir = self.layer_dir(&chain_id)?;
        if let Some(info) = self.get(&chain_id)? {
            return Ok(info);
        }
        let temp_dir = self
            .root
            .join(format!("{TEMP_PREFIX}{:016x}", rand::random::<u64>()));
        let result = self
            .unpack_into(&temp_dir, parent, &chain_id, expected_diff_id, blob)
            .and_then(|info| {
                match std::fs::rename(&temp_dir, &final_dir) {
                    Ok(()) => {
                        sync_dir(&self.root)?;
                        tracing::debug!(%chain_id, size = info.size, "layer unpacked");
                        Ok(info)
                    }
                    // Someone else unpacked the same chain meanwhile: theirs wins.
                    Err(e)
                        if matches!(
                            e.raw_os_error(),
                            Some(libc::EEXIST) | Some(libc::ENOTEMPTY)
                        ) =>
                    {
                        remove_any(&temp_dir)?;
                        self.get(&chain_id)?
                            .ok_or_else(|| StoreError::LayerNotFound(chain_id.clone()))
                    }
                    Err(e) => Err(StoreError::io(
                        format!("rename {} to {}", temp_dir.display(), final_dir.display()),
                        e,
                    )),
                }
            });
        if result.is_err() && temp_dir.exists() {
            if let Err(e) = remove_any(&temp_dir) {
                tracing::warn!(path = %temp_dir.display(), error = %e, "could not remove failed unpack");
            }
        }
        result
    }

    /// The directory holding the layer's files (an overlay lowerdir).
    pub fn diff_dir(&self, chain_id: &str) -> StoreResult<PathBuf> {
        let dir = self.layer_dir(chain_id)?;
        if !dir.join(LAYER_JSON).is_file() {
            return Err(StoreError::LayerNotFound(chain_id.to_string()));
        }
        Ok(dir.join(DIFF_DIR))
    }

    /// The diff dirs of the chain, top layer first (overlay `lowerdir=` order).
    pub fn lower_dirs(&self, chain_id: &str) -> StoreResult<Vec<PathBuf>> {
        let mut dirs = Vec::new();
        let mut next = Some(chain_id.to_string());
        while let Some(current) = next {
            let info = self
                .get(&current)?
                .ok_or_else(|| StoreError::LayerNotFound(current.clone()))?;
            dirs.push(self.diff_dir(&current)?);
            next = info.parent;
            if dirs.len() > 1024 {
                return Err(StoreError::Corrupt {
                    path: chain_id.to_string(),
                    reason: "layer chain too deep".into(),
                });
            }
        }
        Ok(dirs)
    }

    /// Removes one layer (not its parents). No error when absent.
    pub fn remove(&self, chain_id: &str) -> StoreResult<()> {
        let dir = self.layer_dir(chain_id)?;
        let hex = hex_part(chain_id)?;
        let doomed = self.root.join(format!(
            "{TEMP_PREFIX}rm-{hex}-{:016x}",
            rand::random::<u64>()
        ));
        // Renamed first, so a crash mid-delete leaves a tmp- directory that `open` removes.
        match std::fs::rename(&dir, &doomed) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(StoreError::io(
                    format!("rename {} to {}", dir.display(), doomed.display()),
                    e,
                ))
            }
        }
        sync_dir(&self.root)?;
        remove_any(&doomed)
    }

    /// Every layer present.
    pub fn list(&self) -> StoreResult<Vec<LayerInfo>> {
        let entries = std::fs::read_dir(&self.root)
            .map_err(|e| StoreError::io(format!("read {}", self.root.display()), e))?;
        let mut layers = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| StoreError::io(format!("read {}", self.root.display()), e))?;
            let Some(hex) = entry
                .file_name()
                .to_str()
                .filter(|n| is_sha256_hex(n))
                .map(str::to_string)
            else {
                continue;
            };
            match self.get(&format!("{SHA256_PREFIX}{hex}")) {
                Ok(Some(info)) => layers.push(info),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "skipping unreadable layer"),
            }
        }
        layers.sort_by(|a, b| a.chain_id.cmp(&b.chain_id));
        Ok(layers)
    }

    fn layer_dir(&self, chain_id: &str) -> StoreResult<PathBuf> {
        Ok(self.root.join(hex_part(chain_id)?))
    }

    /// Decompresses and extracts into `temp_dir/diff`, verifies the diff ID and writes
    /// `layer.json`; everything synced to disk before the caller renames it into place.
    fn unpack_into(
        &self,
        temp_dir: &Path,
        parent: Option<&str>,
        chain_id: &str,
        expected_diff_id: &str,
        blob: impl Read,
    ) -> StoreResult<LayerInfo> {
        let diff = temp_dir.join(DIFF_DIR);
        std::fs::create_dir_all(&diff)
            .map_err(|e| StoreError::io(format!("create {}", diff.display()), e))?;
        let mut hashed = HashingReader::new(decompress(blob)?);
        // Buffered above the hashing, so the small header reads of the tar parser are
        // cheap and every byte read from the decompressor is hashed exactly once.
        let mut tar_stream = BufReader::with_capacity(128 * 1024, &mut hashed);
        let size = unpack_layer(&mut tar_stream, &diff)?;
        // Whatever follows the end-of-archive blocks is part of the diff ID too.
        std::io::copy(&mut tar_stream, &mut std::io::sink()).map_err(|e| {
            StoreError::InvalidArchive(format!("reading the end of the layer: {e}"))
        })?;
        drop(tar_stream);
        let actual = hashed.digest();
        if actual != expected_diff_id {
            return Err(StoreError::DigestMismatch {
                expected: expected_diff_id.to_string(),
                actual,
            });
        }
        let info = LayerInfo {
            chain_id: chain_id.to_string(),
            diff_id: expected_diff_id.to_string(),
            parent: parent.map(str::to_string),
            size,
        };
        // One syncfs for the whole tree rather than an fsync per file.
        let dir = std::fs::File::open(temp_dir)
            .map_err(|e| StoreError::io(format!("open {}", temp_dir.display()), e))?;
        nix::unistd::syncfs(&dir).map_err(|e| {
            StoreError::io(
                format!("syncfs {}", temp_dir.display()),
                std::io::Error::from(e),
            )
        })?;
        write_json(&temp_dir.join(LAYER_JSON), &info)?;
        Ok(info)
    }
}

/// Wraps `blob` in the decompressor its first bytes call for.
fn decompress<'a>(mut blob: impl Read + 'a) -> StoreResult<Box<dyn Read + 'a>> {
    let mut magic = [0u8; 4];
    let mut filled = 0;
    while filled < magic.len() {
        match blob.read(&mut magic[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(StoreError::InvalidArchive(format!(
                    "reading the layer: {e}"
                )))
            }
        }
    }
    let head = magic[..filled].to_vec();
    let stream = BufReader::with_capacity(256 * 1024, Cursor::new(head.clone()).chain(blob));
    if head.starts_with(GZIP_MAGIC) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(stream)))
    } else if head.starts_with(ZSTD_MAGIC) {
        let decoder = zstd::stream::read::Decoder::with_buffer(stream)
            .map_err(|e| StoreError::InvalidArchive(format!("zstd: {e}")))?;
        Ok(Box::new(decoder))
    } else {
        Ok(Box::new(stream))
    }
}

/// Removes a directory tree or a file.
fn remove_any(path: &Path) -> StoreResult<()> {
    let result = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    result.map_err(|e| StoreError::io(format!("remove {}", path.display()), e))
}

#[cfg(test)]
#[path = "layers_tests.rs"]
mod tests;
