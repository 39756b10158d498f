//! Layers made on this host (`docker commit`): an uncompressed layer tar stored as a
//! pulled layer is — a gzip blob in the content store under its digest, unpacked in
//! the layer store under its chain ID, with its diff ID — so it can be pushed and is
//! shared like any other layer.
use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::content::ContentStore;
use super::images::LayerRecord;
use super::layers::LayerStore;
use super::{StoreError, StoreResult};

/// Media type of the blobs written here (what dockerd pushes for its own layers).
pub const GZIP_LAYER_MEDIA_TYPE: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// A `Write` that hashes what passes through.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn digest_of(hasher: Sha256) -> String {
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// Stores the layer tar read from `tar` on top of `parent` (a chain ID): compressed
/// into a blob, then unpacked. `scratch` is a folder for the temporary file (the content
/// store's ingest folder, emptied at start-up). Blocking.
pub fn add_local_layer(
    content: &ContentStore,
    layers: &LayerStore,
    parent: Option<&str>,
    mut tar: impl Read,
    scratch: &Path,
) -> StoreResult<LayerRecord> {
    std::fs::create_dir_all(scratch)
        .map_err(|e| StoreError::io(format!("create {}", scratch.display()), e))?;
    let temp = tempfile::Builder::new()
        .prefix("layer-")
        .tempfile_in(scratch)
        .map_err(|e| StoreError::io(format!("temporary file in {}", scratch.display()), e))?;
    let file = temp
        .reopen()
        .map_err(|e| StoreError::io(format!("open {}", temp.path().display()), e))?;
    let blob = Hashing {
        inner: std::io::BufWriter::new(file),
        hasher: Sha256::new(),
        written: 0,
    };
    let gzip = flate2::write::GzEncoder::new(blob, flate2::Compression::default());
    let mut diff = Hashing {
        inner: gzip,
        hasher: Sha256::new(),
        written: 0,
    };
    std::io::copy(&mut tar, &mut diff)
        .map_err(|e| StoreError::InvalidArchive(format!("writing the layer: {e}")))?;
    let diff_id = digest_of(diff.hasher);
    let mut blob = diff
        .inner
        .finish()
        .map_err(|e| StoreError::io("compressing the layer", e))?;
    blob.flush()
        .map_err(|e| StoreError::io("writing the layer", e))?;
    let blob_digest = digest_of(blob.hasher);
    let blob_size = blob.written;
    drop(blob.inner);
    if !content.exists(&blob_digest) {
        let mut writer = content.writer(&blob_digest)?;
        let source = std::fs::File::open(temp.path())
            .map_err(|e| StoreError::io(format!("open {}", temp.path().display()), e))?;
        writer.write_from(source)?;
        writer.commit()?;
    }
    let info = layers.unpack(parent, &diff_id, content.open_blob(&blob_digest)?)?;
    Ok(LayerRecord {
        diff_id,
        chain_id: info.chain_id,
        blob_digest: Some(blob_digest),
        media_type: Some(GZIP_LAYER_MEDIA_TYPE.to_string()),
        blob_size,
        size: info.size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_layer_is_a_blob_and_an_unpacked_layer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let content = ContentStore::open(&dir.path().join("content")).expect("content");
        let layers = LayerStore::open(&dir.path().join("layers")).expect("layers");
        let mut builder = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        builder
            .append_data(&mut h, "hello", &b"hi"[..])
            .expect("append");
        let tar = builder.into_inner().expect("tar");
        let scratch = dir.path().join("content/ingest");
        let record =
            add_local_layer(&content, &layers, None, tar.as_slice(), &scratch).expect("add");
        assert_eq!(record.diff_id, super::super::digest::sha256_of(&tar));
        assert_eq!(record.chain_id, record.diff_id);
        let digest = record.blob_digest.expect("blob");
        assert_eq!(content.size(&digest).expect("size"), record.blob_size);
        let diff = layers.diff_dir(&record.chain_id).expect("layer");
        assert_eq!(std::fs::read(diff.join("hello")).expect("file"), b"hi");
        // The same tar again: same blob, same layer.
        let again =
            add_local_layer(&content, &layers, None, tar.as_slice(), &scratch).expect("again");
        assert_eq!(again.blob_digest.as_deref(), Some(digest.as_str()));
    }
}
