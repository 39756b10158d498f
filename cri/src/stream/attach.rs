//! The client side of a shim's attach socket (docs/engine-protocol.md): one JSON header
//! line naming the process and the streams wanted, then raw stdin bytes one way and, the
//! other way, Docker's multiplexed frames (8-byte header: stream 1 or 2, three zero
//! bytes, big-endian length) or a terminal's raw output.
use std::path::Path;

use bytes::{Buf, BytesMut};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

#[derive(Serialize)]
struct Header<'a> {
    exec_id: Option<&'a str>,
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

/// Connects and sends the header. Connect before starting the process: the shim then
/// registers the client before the process runs, so no output is missed.
pub async fn connect(
    socket: &Path,
    exec_id: Option<&str>,
    stdin: bool,
    stdout: bool,
    stderr: bool,
) -> std::io::Result<UnixStream> {
    let mut s = UnixStream::connect(socket).await?;
    let mut line = serde_json::to_vec(&Header {
        exec_id,
        stdin,
        stdout,
        stderr,
    })
    .map_err(std::io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line).await?;
    Ok(s)
}

/// One piece of output.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

/// Splits multiplexed frames out of a byte stream.
#[derive(Default)]
pub struct Demux {
    buf: BytesMut,
}

impl Demux {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if any.
    pub fn next_frame(&mut self) -> Option<Output> {
        if self.buf.len() < 8 {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < 8 + len {
            return None;
        }
        let stream = self.buf[0];
        self.buf.advance(8);
        let data = self.buf.split_to(len).to_vec();
        Some(if stream == 2 {
            Output::Stderr(data)
        } else {
            Output::Stdout(data)
        })
    }
}

/// Reads a non-terminal process's output to its end, up to `limit` bytes per stream.
pub async fn read_all(mut s: UnixStream, limit: usize) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut demux = Demux::default();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        demux.push(&buf[..n]);
        while let Some(frame) = demux.next_frame() {
            let (target, data) = match frame {
                Output::Stdout(d) => (&mut out, d),
                Output::Stderr(d) => (&mut err, d),
            };
            let room = limit.saturating_sub(target.len());
            target.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    Ok((out, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demux_splits_frames_across_reads() {
        let mut d = Demux::default();
        let mut bytes = vec![1, 0, 0, 0, 0, 0, 0, 3];
        bytes.extend_from_slice(b"abc");
        bytes.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 2]);
        bytes.extend_from_slice(b"xy");
        d.push(&bytes[..5]);
        assert_eq!(d.next_frame(), None);
        d.push(&bytes[5..12]);
        assert_eq!(d.next_frame(), Some(Output::Stdout(b"abc".to_vec())));
        assert_eq!(d.next_frame(), None);
        d.push(&bytes[12..]);
        assert_eq!(d.next_frame(), Some(Output::Stderr(b"xy".to_vec())));
    }
}
