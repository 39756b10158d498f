//! SPDY/3 header blocks: a 32-bit count, then each name and value with a 32-bit length
//! (several values of one name joined by NUL), the whole block zlib-compressed with the
//! SPDY dictionary in one context per direction, flushed (sync) after each block.
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::dictionary::HEADER_DICTIONARY;

/// Header names are lower case in SPDY/3.
pub type Headers = Vec<(String, String)>;

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

pub fn encode_block(headers: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    for (k, v) in headers {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

pub fn decode_block(mut b: &[u8]) -> std::io::Result<Headers> {
    let mut take = |n: usize| -> std::io::Result<&[u8]> {
        if b.len() < n {
            return Err(bad("truncated SPDY header block"));
        }
        let (head, rest) = b.split_at(n);
        b = rest;
        Ok(head)
    };
    let count = u32::from_be_bytes(take(4)?.try_into().map_err(|_| bad("count"))?) as usize;
    let mut out = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let n = u32::from_be_bytes(take(4)?.try_into().map_err(|_| bad("name"))?) as usize;
        let name = String::from_utf8_lossy(take(n)?).to_ascii_lowercase();
        let n = u32::from_be_bytes(take(4)?.try_into().map_err(|_| bad("value"))?) as usize;
        let value = String::from_utf8_lossy(take(n)?).into_owned();
        out.push((name, value));
    }
    Ok(out)
}

/// The decompression context of the peer's header blocks.
pub struct HeaderReader {
    z: Decompress,
}

impl Default for HeaderReader {
    fn default() -> Self {
        HeaderReader {
            z: Decompress::new(true),
        }
    }
}

impl HeaderReader {
    /// Decompresses one frame's header block and parses it.
    pub fn read(&mut self, compressed: &[u8]) -> std::io::Result<Headers> {
        let mut out: Vec<u8> = Vec::with_capacity(compressed.len() * 4 + 64);
        let mut input = compressed;
        loop {
            if out.capacity() - out.len() < 256 {
                out.reserve(out.capacity().max(1024));
            }
            let before_in = self.z.total_in();
            let result = self
                .z
                .decompress_vec(input, &mut out, FlushDecompress::Sync);
            let used = (self.z.total_in() - before_in) as usize;
            input = &input[used..];
            match result {
                Ok(Status::StreamEnd) => break,
                Ok(_) if input.is_empty() && out.capacity() > out.len() => break,
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.z
                        .set_dictionary(HEADER_DICTIONARY)
                        .map_err(|e| bad(format!("SPDY header dictionary: {e}")))?;
                }
                Err(e) => return Err(bad(format!("SPDY header block: {e}"))),
            }
        }
        decode_block(&out)
    }
}

/// The compression context of our header blocks.
pub struct HeaderWriter {
    z: Compress,
}

impl Default for HeaderWriter {
    fn default() -> Self {
        let mut z = Compress::new(Compression::default(), true);
        let _ = z.set_dictionary(HEADER_DICTIONARY);
        HeaderWriter { z }
    }
}

impl HeaderWriter {
    pub fn write(&mut self, headers: &[(String, String)]) -> std::io::Result<Vec<u8>> {
        let block = encode_block(headers);
        let mut out = Vec::with_capacity(block.len() + 64);
        let mut input: &[u8] = &block;
        loop {
            out.reserve(256);
            let before_in = self.z.total_in();
            let before_out = self.z.total_out();
            self.z
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| bad(format!("compressing SPDY headers: {e}")))?;
            input = &input[(self.z.total_in() - before_in) as usize..];
            // Done when all input is in and the flush produced no more output.
            if input.is_empty() && self.z.total_out() == before_out {
                break;
            }
            if input.is_empty() && out.capacity() > out.len() {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_through_one_context_per_direction() {
        let mut w = HeaderWriter::default();
        let mut r = HeaderReader::default();
        let a = vec![("streamtype".to_string(), "stdout".to_string())];
        let b = vec![
            ("streamtype".to_string(), "error".to_string()),
            ("port".to_string(), "80".to_string()),
        ];
        let wa = w.write(&a).unwrap();
        let wb = w.write(&b).unwrap();
        assert_eq!(r.read(&wa).unwrap(), a);
        assert_eq!(r.read(&wb).unwrap(), b);
    }

    #[test]
    fn go_spdystream_block_decodes() {
        // A SYN_STREAM header block as Go's spdystream compresses it (zlib with the SPDY
        // dictionary, BestCompression, sync flush): {"streamtype": ["error"]}.
        let mut w = Compress::new(Compression::best(), true);
        w.set_dictionary(HEADER_DICTIONARY).unwrap();
        let block = encode_block(&[("streamtype".into(), "error".into())]);
        let mut out = Vec::with_capacity(256);
        w.compress_vec(&block, &mut out, FlushCompress::Sync)
            .unwrap();
        let mut r = HeaderReader::default();
        assert_eq!(
            r.read(&out).unwrap(),
            vec![("streamtype".to_string(), "error".to_string())]
        );
    }
}
