//! The uploaded context as the unpacker reads it. The docker CLI's `build -f -` rewrites
//! the context tar (`ReplaceFileTarWrapper`) and closes its pipe before the tar writer,
//! so the stream ends right after the last file's data, without its padding or the
//! end-of-archive blocks. Go's tar reader takes that as the end; here a plain tar that
//! ends inside a 512-byte block gets the missing zeros, so it reads the same.
use std::io::Read;

const BLOCK: u64 = 512;

pub struct PaddedTar<R> {
    inner: R,
    read: u64,
    /// The first bytes, to tell a plain tar ("ustar" at offset 257) from a compressed one.
    head: Vec<u8>,
    padding: Option<u64>,
}

impl<R: Read> PaddedTar<R> {
    pub fn new(inner: R) -> Self {
        PaddedTar {
            inner,
            read: 0,
            head: Vec::new(),
            padding: None,
        }
    }

    fn is_plain_tar(&self) -> bool {
        self.head.get(257..262) == Some(b"ustar".as_slice())
    }
}

impl<R: Read> Read for PaddedTar<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.padding.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 {
                if self.head.len() < 262 {
                    let take = (262 - self.head.len()).min(n);
                    self.head.extend_from_slice(&buf[..take]);
                }
                self.read += n as u64;
                return Ok(n);
            }
            let short = self.read % BLOCK;
            let missing = if short != 0 && self.is_plain_tar() {
                // The rest of the block, then the two end-of-archive blocks.
                BLOCK - short + 2 * BLOCK
            } else {
                0
            };
            self.padding = Some(missing);
        }
        let left = self.padding.unwrap_or(0);
        let n = (left.min(buf.len() as u64)) as usize;
        buf[..n].fill(0);
        self.padding = Some(left - n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(data: &[u8]) -> Vec<u8> {
        let mut header = tar::Header::new_ustar();
        header.set_path("f").unwrap();
        header.set_size(data.len() as u64);
        header.set_cksum();
        let mut out = header.as_bytes().to_vec();
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn an_unterminated_tar_is_completed() {
        let raw = tar_of(b"hello");
        let mut padded = Vec::new();
        PaddedTar::new(raw.as_slice())
            .read_to_end(&mut padded)
            .unwrap();
        assert_eq!(padded.len(), 512 * 4);
        let mut archive = tar::Archive::new(padded.as_slice());
        let mut entries = archive.entries().unwrap();
        let mut entry = entries.next().unwrap().unwrap();
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");
    }

    #[test]
    fn other_streams_pass_unchanged() {
        let data = b"\x1f\x8b not a tar".to_vec();
        let mut out = Vec::new();
        PaddedTar::new(data.as_slice())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        let mut whole = tar_of(b"x");
        whole.resize(1536, 0);
        let mut out = Vec::new();
        PaddedTar::new(whole.as_slice())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), 1536);
    }
}
