//! The layer store: each layer unpacked once, under its chain ID, in overlayfs's
//! format (whiteouts as 0/0 character devices, opaque directories as the
//! `trusted.overlay.opaque` xattr), shared by every image and container using it.
//! `<root>/<chain-hex>/diff/` holds the files, `<root>/<chain-hex>/layer.json` the
//! metadata; an unpack happens in a temporary directory renamed into place when whole.
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StoreResult;

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
        let _ = root;
        todo!("LayerStore::open")
    }
    /// chain_id(n) = diff_id(0) for the bottom layer, else sha256(chain_id(n-1) + " " + diff_id(n)).
    pub fn chain_id(parent: Option<&str>, diff_id: &str) -> String {
        let _ = (parent, diff_id);
        todo!()
    }
    pub fn get(&self, chain_id: &str) -> StoreResult<Option<LayerInfo>> {
        let _ = (&self.root, chain_id);
        todo!()
    }
    /// Unpacks a layer blob (gzip, zstd or plain tar, detected by magic bytes) on top of
    /// `parent`, verifying that the uncompressed tar's digest is `expected_diff_id`.
    /// Does nothing if the chain ID is already present. Blocking: call from spawn_blocking.
    pub fn unpack(&self, parent: Option<&str>, expected_diff_id: &str, blob: impl Read) -> StoreResult<LayerInfo> {
        let _ = (parent, expected_diff_id, blob);
        todo!()
    }
    /// The directory holding the layer's files (an overlay lowerdir).
    pub fn diff_dir(&self, chain_id: &str) -> StoreResult<PathBuf> {
        let _ = chain_id;
        todo!()
    }
    /// The diff dirs of the chain, top layer first (overlay `lowerdir=` order).
    pub fn lower_dirs(&self, chain_id: &str) -> StoreResult<Vec<PathBuf>> {
        let _ = chain_id;
        todo!()
    }
    /// Removes one layer (not its parents). No error when absent.
    pub fn remove(&self, chain_id: &str) -> StoreResult<()> {
        let _ = chain_id;
        todo!()
    }
    /// Every layer present.
    pub fn list(&self) -> StoreResult<Vec<LayerInfo>> {
        todo!()
    }
}
