//! Image records and the reference table.
//!
//! An image's ID is the digest of its config blob ("sha256:<hex>"); its config,
//! manifest and compressed layers are blobs in the content store. References are
//! stored fully normalised ("docker.io/library/busybox:latest",
//! "127.0.0.1:5000/x@sha256:<hex>"); the API layer normalises user input first
//! (see `crate::reference`). Records: `<root>/<id-hex>.json`; references:
//! `<root>/references.json`; each written whole.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StoreResult;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerRecord {
    /// "sha256:<hex>" of the uncompressed tar.
    pub diff_id: String,
    /// Chain ID in the layer store.
    pub chain_id: String,
    /// The compressed blob in the content store, when the image came from a registry.
    pub blob_digest: Option<String>,
    /// Media type of that blob as the manifest gave it.
    pub media_type: Option<String>,
    /// Size of that blob in bytes.
    pub blob_size: u64,
    /// Unpacked size in bytes.
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageRecord {
    /// "sha256:<hex>" of the config blob.
    pub id: String,
    /// Digest and media type of the (platform) manifest it was pulled with, if any.
    pub manifest_digest: Option<String>,
    pub manifest_media_type: Option<String>,
    /// Bottom layer first.
    pub layers: Vec<LayerRecord>,
    /// Parent image ID (local builds and commits), "" otherwise.
    pub parent: String,
    /// When this record was created locally.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last time a tag was set on it (inspect's Metadata.LastTagTime).
    pub last_tag_time: Option<chrono::DateTime<chrono::Utc>>,
}

pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    /// Opens (creates) the store, loading records and references; references to
    /// missing records are dropped.
    pub fn open(root: &Path) -> StoreResult<Self> {
        let _ = root;
        todo!("ImageStore::open")
    }
    /// Adds or replaces a record (written whole).
    pub fn insert(&self, record: ImageRecord) -> StoreResult<()> {
        let _ = (&self.root, record);
        todo!()
    }
    pub fn get(&self, id: &str) -> Option<ImageRecord> {
        let _ = id;
        todo!()
    }
    pub fn list(&self) -> Vec<ImageRecord> {
        todo!()
    }
    /// Full ID for an unambiguous prefix of the hex part (with or without "sha256:").
    /// Ambiguous prefixes are an error; unknown ones `None`.
    pub fn resolve_id_prefix(&self, prefix: &str) -> StoreResult<Option<String>> {
        let _ = prefix;
        todo!()
    }
    /// Image ID a normalised reference points at.
    pub fn lookup_ref(&self, reference: &str) -> Option<String> {
        let _ = reference;
        todo!()
    }
    /// Points `reference` at `id`, returning the ID it pointed at before.
    /// Updates the record's `last_tag_time`.
    pub fn set_ref(&self, reference: &str, id: &str) -> StoreResult<Option<String>> {
        let _ = (reference, id);
        todo!()
    }
    /// Removes a reference, returning the ID it pointed at.
    pub fn remove_ref(&self, reference: &str) -> StoreResult<Option<String>> {
        let _ = reference;
        todo!()
    }
    /// Every normalised reference pointing at `id`, sorted.
    pub fn refs_of(&self, id: &str) -> Vec<String> {
        let _ = id;
        todo!()
    }
    /// Removes a record and every reference to it.
    pub fn remove(&self, id: &str) -> StoreResult<Option<ImageRecord>> {
        let _ = id;
        todo!()
    }
}
