//! A stored layer as the uncompressed tar an archive holds: its blob (gzip, zstd or
//! plain) decompressed, checked against the layer's diff ID.
use std::io::Read;

use super::{ArchiveError, ArchiveResult};
use crate::store::content::ContentStore;
use crate::store::digest::HashingReader;
use crate::store::images::LayerRecord;

/// The uncompressed tar of `layer`, unchecked.
fn open(content: &ContentStore, layer: &LayerRecord) -> ArchiveResult<Box<dyn Read + Send>> {
    let blob = layer.blob_digest.as_deref().ok_or_else(|| {
        ArchiveError::Internal(format!("layer {} has no stored blob", layer.diff_id))
    })?;
    let file = content.open_blob(blob)?;
    crate::store::decompress::decompress(std::io::BufReader::new(file))
        .map_err(|e| ArchiveError::io(format!("reading layer {}", layer.diff_id), e))
}

/// Reads the layer's tar once: its size in bytes, after checking its digest.
pub fn measure(content: &ContentStore, layer: &LayerRecord) -> ArchiveResult<u64> {
    let mut reader = HashingReader::new(open(content, layer)?);
    std::io::copy(&mut reader, &mut std::io::sink())
        .map_err(|e| ArchiveError::io(format!("reading layer {}", layer.diff_id), e))?;
    let actual = reader.digest();
    if actual != layer.diff_id {
        return Err(ArchiveError::Internal(format!(
            "layer {} does not match its stored blob (sha256 of its tar is {actual})",
            layer.diff_id
        )));
    }
    Ok(reader.bytes_read())
}

/// The layer's tar as a reader that fails rather than end with other bytes than
/// `size` bytes hashing to the diff ID (the archive's entry header is already written).
pub fn verified(
    content: &ContentStore,
    layer: &LayerRecord,
    size: u64,
) -> ArchiveResult<Verified<Box<dyn Read + Send>>> {
    Ok(Verified {
        inner: HashingReader::new(open(content, layer)?),
        diff_id: layer.diff_id.clone(),
        size,
    })
}

pub struct Verified<R> {
    inner: HashingReader<R>,
    diff_id: String,
    size: u64,
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = self.inner.bytes_read();
        let changed = |what: String| {
            std::io::Error::other(format!(
                "layer {} changed while saved: {what}",
                self.diff_id
            ))
        };
        if read > self.size {
            return Err(changed(format!("more than {} bytes", self.size)));
        }
        if n == 0 && !buf.is_empty() {
            if read != self.size {
                return Err(changed(format!("{read} bytes, not {}", self.size)));
            }
            if self.inner.digest() != self.diff_id {
                return Err(changed(format!("digest {}", self.inner.digest())));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digest::sha256_of;

    fn record(content: &ContentStore, tar: &[u8], diff_id: &str) -> LayerRecord {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, tar).expect("gzip");
        let blob = content
            .write_bytes(&gz.finish().expect("gzip"))
            .expect("blob");
        LayerRecord {
            diff_id: diff_id.to_string(),
            chain_id: diff_id.to_string(),
            blob_digest: Some(blob),
            media_type: None,
            blob_size: 0,
            size: 0,
        }
    }

    #[test]
    fn layers_are_measured_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let content = ContentStore::open(dir.path()).expect("content");
        let tar = vec![7u8; 3000];
        let good = record(&content, &tar, &sha256_of(&tar));
        assert_eq!(measure(&content, &good).expect("measure"), 3000);
        let mut out = Vec::new();
        verified(&content, &good, 3000)
            .expect("open")
            .read_to_end(&mut out)
            .expect("read");
        assert_eq!(out, tar);

        let bad = record(&content, &tar, &sha256_of(b"other"));
        assert!(measure(&content, &bad).is_err());
        let mut reader = verified(&content, &bad, 3000).expect("open");
        assert!(reader.read_to_end(&mut Vec::new()).is_err());
        let mut short = verified(&content, &good, 10).expect("open");
        assert!(short.read_to_end(&mut Vec::new()).is_err());
    }
}
