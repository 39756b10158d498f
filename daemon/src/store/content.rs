//! The content store: blobs under `blobs/sha256/<hex>`, partial downloads under
//! `ingest/`. A blob is only ever visible under its digest once it has been verified.
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::atomic::sync_dir;
use super::digest::{hex_part, is_sha256_hex, sha256_of, SHA256_PREFIX};
use super::{StoreError, StoreResult};

pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    /// Opens (creates) the store and removes leftovers of interrupted ingests.
    pub fn open(root: &Path) -> StoreResult<Self> {
        let store = ContentStore {
            root: root.to_path_buf(),
        };
        for dir in [store.blobs_dir(), store.ingest_dir()] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| StoreError::io(format!("create {}", dir.display()), e))?;
        }
        let ingest = store.ingest_dir();
        let entries = std::fs::read_dir(&ingest)
            .map_err(|e| StoreError::io(format!("read {}", ingest.display()), e))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| StoreError::io(format!("read {}", ingest.display()), e))?;
            let path = entry.path();
            tracing::info!(path = %path.display(), "removing unfinished blob ingest");
            let removed = match entry.file_type() {
                Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
                _ => std::fs::remove_file(&path),
            };
            removed.map_err(|e| StoreError::io(format!("remove {}", path.display()), e))?;
        }
        Ok(store)
    }

    /// Path of the blob for `digest` ("sha256:<hex>"); may not exist.
    pub fn blob_path(&self, digest: &str) -> StoreResult<PathBuf> {
        Ok(self.blobs_dir().join(hex_part(digest)?))
    }

    pub fn exists(&self, digest: &str) -> bool {
        self.blob_path(digest).is_ok_and(|p| p.is_file())
    }

    /// Size in bytes of a stored blob.
    pub fn size(&self, digest: &str) -> StoreResult<u64> {
        let path = self.blob_path(digest)?;
        match std::fs::metadata(&path) {
            Ok(meta) => Ok(meta.len()),
            Err(e) => Err(self.missing_or_io(digest, &path, e)),
        }
    }

    /// Reads a whole (small) blob — manifest, config — verifying its digest.
    pub fn read(&self, digest: &str) -> StoreResult<Vec<u8>> {
        let path = self.blob_path(digest)?;
        let data = std::fs::read(&path).map_err(|e| self.missing_or_io(digest, &path, e))?;
        let actual = sha256_of(&data);
        if actual != digest {
            tracing::warn!(%digest, %actual, "stored blob does not match its digest");
            return Err(StoreError::DigestMismatch {
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(data)
    }

    /// Opens a blob for streaming (layers). Its digest was verified when it was ingested.
    pub fn open_blob(&self, digest: &str) -> StoreResult<File> {
        let path = self.blob_path(digest)?;
        File::open(&path).map_err(|e| self.missing_or_io(digest, &path, e))
    }

    /// Stores `data`, returning its digest "sha256:<hex>". Idempotent.
    pub fn write_bytes(&self, data: &[u8]) -> StoreResult<String> {
        let digest = sha256_of(data);
        if self.exists(&digest) {
            return Ok(digest);
        }
        let mut writer = self.writer(&digest)?;
        writer.write(data)?;
        writer.commit()?;
        Ok(digest)
    }

    /// Starts an ingest of a blob expected to have `expected_digest`.
    pub fn writer(&self, expected_digest: &str) -> StoreResult<BlobWriter> {
        let final_path = self.blob_path(expected_digest)?;
        let hex = hex_part(expected_digest)?;
        // A unique name per ingest: two pulls of the same blob never share a temp file.
        let temp_path = self
            .ingest_dir()
            .join(format!("{hex}-{:016x}", rand::random::<u64>()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
            .map_err(|e| StoreError::io(format!("create {}", temp_path.display()), e))?;
        Ok(BlobWriter {
            file: Some(file),
            temp_path,
            final_path,
            expected: expected_digest.to_string(),
            hasher: Sha256::new(),
            written: 0,
        })
    }

    /// Removes a blob (no error when absent).
    pub fn delete(&self, digest: &str) -> StoreResult<()> {
        let path = self.blob_path(digest)?;
        match std::fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.blobs_dir()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(format!("remove {}", path.display()), e)),
        }
    }

    /// Every stored blob's digest.
    pub fn list(&self) -> StoreResult<Vec<String>> {
        let dir = self.blobs_dir();
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| StoreError::io(format!("read {}", dir.display()), e))?;
        let mut digests = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(format!("read {}", dir.display()), e))?;
            match entry.file_name().to_str() {
                Some(name) if is_sha256_hex(name) => digests.push(format!("{SHA256_PREFIX}{name}")),
                _ => {
                    tracing::warn!(path = %entry.path().display(), "ignoring unexpected file in blob store")
                }
            }
        }
        digests.sort();
        Ok(digests)
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    fn ingest_dir(&self) -> PathBuf {
        self.root.join("ingest")
    }

    fn missing_or_io(&self, digest: &str, path: &Path, e: std::io::Error) -> StoreError {
        if e.kind() == ErrorKind::NotFound {
            StoreError::BlobNotFound(digest.to_string())
        } else {
            StoreError::io(format!("read {}", path.display()), e)
        }
    }
}

/// A blob being written: hashed as it is written; `commit` verifies the digest,
/// fsyncs and renames it into place. Dropped without commit, it is removed.
pub struct BlobWriter {
    /// `None` once committed (or failed), so `Drop` knows there is nothing to clean.
    file: Option<File>,
    temp_path: PathBuf,
    final_path: PathBuf,
    expected: String,
    hasher: Sha256,
    written: u64,
}

impl BlobWriter {
    pub fn write(&mut self, chunk: &[u8]) -> StoreResult<()> {
        let file = self.file.as_mut().ok_or_else(|| {
            StoreError::io(
                "write blob",
                std::io::Error::other("blob writer already finished"),
            )
        })?;
        file.write_all(chunk)
            .map_err(|e| StoreError::io(format!("write {}", self.temp_path.display()), e))?;
        self.hasher.update(chunk);
        self.written += chunk.len() as u64;
        Ok(())
    }

    /// Copies everything from `reader` into the blob. Returns the bytes copied.
    pub fn write_from(&mut self, mut reader: impl Read) -> StoreResult<u64> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(StoreError::io(
                        format!("read source of {}", self.expected),
                        e,
                    ))
                }
            };
            self.write(&buf[..n])?;
            total += n as u64;
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The digest this blob must have.
    pub fn expected_digest(&self) -> &str {
        &self.expected
    }

    /// Verifies the digest and makes the blob visible. Returns its size.
    pub fn commit(mut self) -> StoreResult<u64> {
        let actual = format!(
            "{SHA256_PREFIX}{}",
            hex::encode(self.hasher.clone().finalize())
        );
        if actual != self.expected {
            // Drop removes the temporary file.
            return Err(StoreError::DigestMismatch {
                expected: self.expected.clone(),
                actual,
            });
        }
        let Some(file) = self.file.take() else {
            return Err(StoreError::io(
                "commit blob",
                std::io::Error::other("blob writer already finished"),
            ));
        };
        let result = file
            .sync_all()
            .map_err(|e| StoreError::io(format!("fsync {}", self.temp_path.display()), e))
            .and_then(|()| {
                drop(file);
                // Atomic: a concurrent ingest of the same blob renames identical content.
                std::fs::rename(&self.temp_path, &self.final_path).map_err(|e| {
                    StoreError::io(
                        format!(
                            "rename {} to {}",
                            self.temp_path.display(),
                            self.final_path.display()
                        ),
                        e,
                    )
                })
            });
        if let Err(e) = result {
            let _ = std::fs::remove_file(&self.temp_path);
            return Err(e);
        }
        if let Some(dir) = self.final_path.parent() {
            sync_dir(dir)?;
        }
        Ok(self.written)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            if let Err(e) = std::fs::remove_file(&self.temp_path) {
                tracing::warn!(path = %self.temp_path.display(), error = %e, "could not remove abandoned ingest");
            }
        }
    }
}

#[cfg(test)]
#[path = "content_tests.rs"]
mod tests;
