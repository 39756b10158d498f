//! Digests: strict validation of "sha256:<64 lowercase hex>" strings (no path is ever
//! built from a digest that has not been through [`hex_part`]) and sha256 helpers.
use std::io::Read;

use sha2::{Digest as _, Sha256};

use super::{StoreError, StoreResult};

/// The only algorithm the store accepts.
pub const SHA256_PREFIX: &str = "sha256:";

/// Whether `hex` is exactly 64 lowercase hexadecimal characters.
pub fn is_sha256_hex(hex: &str) -> bool {
    hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Validates a digest string and returns its hex part. Anything but
/// "sha256:" followed by 64 lowercase hex characters is `InvalidDigest`.
pub fn hex_part(digest: &str) -> StoreResult<&str> {
    match digest.strip_prefix(SHA256_PREFIX) {
        Some(hex) if is_sha256_hex(hex) => Ok(hex),
        _ => Err(StoreError::InvalidDigest(digest.to_string())),
    }
}

/// "sha256:<hex>" of `data`.
pub fn sha256_of(data: &[u8]) -> String {
    format!("{SHA256_PREFIX}{}", hex::encode(Sha256::digest(data)))
}

/// A reader that hashes (sha256) and counts everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }
    /// "sha256:<hex>" of everything read so far.
    pub fn digest(&self) -> String {
        format!(
            "{SHA256_PREFIX}{}",
            hex::encode(self.hasher.clone().finalize())
        )
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_validation_is_strict() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert_eq!(hex_part(&good).unwrap(), "a".repeat(64));
        for bad in [
            "".to_string(),
            "a".repeat(64),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}", "a".repeat(63)),
            format!("sha256:{}", "a".repeat(65)),
            format!("sha512:{}", "a".repeat(64)),
            format!("sha256:../{}", "a".repeat(61)),
            format!("SHA256:{}", "a".repeat(64)),
            format!("sha256:{}g", "a".repeat(63)),
        ] {
            assert!(
                matches!(hex_part(&bad), Err(StoreError::InvalidDigest(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn hashing_reader_matches_sha256_of() {
        let data = b"hello world".to_vec();
        let mut reader = HashingReader::new(&data[..]);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(reader.digest(), sha256_of(&data));
        assert_eq!(reader.bytes_read(), 11);
    }
}
