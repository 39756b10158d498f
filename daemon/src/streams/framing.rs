//! Docker's multiplexed stream framing: an 8-byte header (stream id, three zero
//! bytes, big-endian u32 payload length) then the payload. Used by logs and
//! attach/exec when the process has no TTY.
use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::error::StreamError;

/// Size of a frame header.
pub const HEADER_LEN: usize = 8;

/// Which stream a frame carries (the header's first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
    /// dockerd's "system error" stream, used for errors in band.
    SystemErr = 3,
}

impl StreamKind {
    pub fn from_byte(b: u8) -> Result<StreamKind, StreamError> {
        match b {
            0 => Ok(StreamKind::Stdin),
            1 => Ok(StreamKind::Stdout),
            2 => Ok(StreamKind::Stderr),
            3 => Ok(StreamKind::SystemErr),
            other => Err(StreamError::UnknownStream(other)),
        }
    }
}

/// Appends one frame carrying `payload` on `kind` to `out`.
///
/// Payloads longer than `u32::MAX` are split over several frames.
pub fn encode_frame_into(kind: StreamKind, payload: &[u8], out: &mut BytesMut) {
    let mut rest = payload;
    loop {
        let (chunk, tail) = rest.split_at(rest.len().min(u32::MAX as usize));
        out.reserve(HEADER_LEN + chunk.len());
        out.put_u8(kind as u8);
        out.put_slice(&[0, 0, 0]);
        out.put_u32(chunk.len() as u32);
        out.put_slice(chunk);
        if tail.is_empty() {
            return;
        }
        rest = tail;
    }
}

/// One frame carrying `payload` on `kind`.
pub fn encode_frame(kind: StreamKind, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(HEADER_LEN + payload.len());
    encode_frame_into(kind, payload, &mut out);
    out.freeze()
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: StreamKind,
    pub payload: Bytes,
}

/// Incremental decoder: feed it bytes as they arrive, take out whole frames.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: BytesMut,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the stream.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, StreamError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let kind = StreamKind::from_byte(self.buf[0])?;
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < HEADER_LEN + len {
            self.buf.reserve(HEADER_LEN + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(HEADER_LEN);
        let payload = self.buf.split_to(len).freeze();
        Ok(Some(Frame { kind, payload }))
    }

    /// Bytes held that do not make a whole frame yet.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_stream_three_zeros_and_big_endian_length() {
        let f = encode_frame(StreamKind::Stderr, b"abc");
        assert_eq!(&f[..], &[2, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c']);
        let empty = encode_frame(StreamKind::Stdout, b"");
        assert_eq!(&empty[..], &[1, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn decoder_takes_frames_fed_byte_by_byte() {
        let mut wire = BytesMut::new();
        encode_frame_into(StreamKind::Stdout, b"hello\n", &mut wire);
        encode_frame_into(StreamKind::Stderr, b"", &mut wire);
        encode_frame_into(StreamKind::Stderr, &[7u8; 300], &mut wire);
        let mut dec = FrameDecoder::new();
        let mut frames = Vec::new();
        for b in wire.iter() {
            dec.feed(&[*b]);
            while let Some(f) = dec.next_frame().expect("valid frames") {
                frames.push(f);
            }
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].kind, StreamKind::Stdout);
        assert_eq!(&frames[0].payload[..], b"hello\n");
        assert!(frames[1].payload.is_empty());
        assert_eq!(frames[2].payload.len(), 300);
        assert_eq!(dec.pending(), 0);
    }

    #[test]
    fn decoder_rejects_unknown_streams() {
        let mut dec = FrameDecoder::new();
        dec.feed(&[9, 0, 0, 0, 0, 0, 0, 1, b'x']);
        assert!(matches!(
            dec.next_frame(),
            Err(StreamError::UnknownStream(9))
        ));
    }

    #[test]
    fn decoder_waits_for_the_whole_payload() {
        let mut dec = FrameDecoder::new();
        dec.feed(&[1, 0, 0, 0, 0, 0, 0, 4, b'a', b'b']);
        assert_eq!(dec.next_frame().expect("ok"), None);
        dec.feed(b"cd");
        let f = dec.next_frame().expect("ok").expect("frame");
        assert_eq!(&f.payload[..], b"abcd");
    }
}
