//! The content store: blobs under `blobs/sha256/<hex>`, partial downloads under
//! `ingest/`. A blob is only ever visible under its digest once it has been verified.
use std::fs::File;
use std::path::{Path, PathBuf};

use super::StoreResult;

pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    /// Opens (creates) the store and removes leftovers of interrupted ingests.
    pub fn open(root: &Path) -> StoreResult<Self> {
        let _ = root;
        todo!("ContentStore::open")
    }
    /// Path of the blob for `digest` ("sha256:<hex>"); may not exist.
    pub fn blob_path(&self, digest: &str) -> StoreResult<PathBuf> {
        let _ = (&self.root, digest);
        todo!()
    }
    pub fn exists(&self, digest: &str) -> bool {
        let _ = digest;
        todo!()
    }
    /// Size in bytes of a stored blob.
    pub fn size(&self, digest: &str) -> StoreResult<u64> {
        let _ = digest;
        todo!()
    }
    /// Reads a whole (small) blob — manifest, config — verifying its digest.
    pub fn read(&self, digest: &str) -> StoreResult<Vec<u8>> {
        let _ = digest;
        todo!()
    }
    /// Opens a blob for streaming (layers). Its digest was verified when it was ingested.
    pub fn open_blob(&self, digest: &str) -> StoreResult<File> {
        let _ = digest;
        todo!()
    }
    /// Stores `data`, returning its digest "sha256:<hex>". Idempotent.
    pub fn write_bytes(&self, data: &[u8]) -> StoreResult<String> {
        let _ = data;
        todo!()
    }
    /// Starts an ingest of a blob expected to have `expected_digest`.
    pub fn writer(&self, expected_digest: &str) -> StoreResult<BlobWriter> {
        let _ = expected_digest;
        todo!()
    }
    /// Removes a blob (no error when absent).
    pub fn delete(&self, digest: &str) -> StoreResult<()> {
        let _ = digest;
        todo!()
    }
    /// Every stored blob's digest.
    pub fn list(&self) -> StoreResult<Vec<String>> {
        todo!()
    }
}

/// A blob being written: hashed as it is written; `commit` verifies the digest,
/// fsyncs and renames it into place. Dropped without commit, it is removed.
pub struct BlobWriter {
    _private: (),
}

impl BlobWriter {
    pub fn write(&mut self, chunk: &[u8]) -> StoreResult<()> {
        let _ = chunk;
        todo!()
    }
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        todo!()
    }
    /// Verifies the digest and makes the blob visible. Returns its size.
    pub fn commit(self) -> StoreResult<u64> {
        todo!()
    }
}
