//! The client side of a shim's attach socket (docs/engine-protocol.md): one JSON header
//! line naming the process and the streams wanted, answered by the shim's
//! acknowledgement line; then raw stdin bytes one way and, the other way, Docker's
//! multiplexed frames (8-byte header: stream 1 or 2, three zero bytes, big-endian
//! length) or a terminal's raw output.
use std::path::Path;

use berth_proto::{AttachAck, AttachRequest};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// Longest acknowledgement line accepted from a shim.
const MAX_ACK: usize = 64 * 1024;

/// Connects, sends the header and waits for the shim's acknowledgement: from then on
/// the connection receives everything the process writes. Connect before starting the
/// process, so no output is missed.
pub async fn connect(
    socket: &Path,
    exec_id: Option<&str>,
    stdin: bool,
    stdout: bool,
    stderr: bool,
) -> std::io::Result<UnixStream> {
    let mut s = UnixStream::connect(socket).await?;
    let mut line = serde_json::to_vec(&AttachRequest {
        exec_id: exec_id.map(str::to_string),
        stdin,
        stdout,
        stderr,
    })
    .map_err(std::io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line).await?;
    let ack = read_ack(&mut s).await?;
    if let Some(error) = ack.error {
        return Err(std::io::Error::other(error));
    }
    Ok(s)
}

/// The acknowledgement line, read a byte at a time so that no output after it is
/// taken from the socket.
async fn read_ack(s: &mut UnixStream) -> std::io::Result<AttachAck> {
    let mut ack = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if s.read(&mut byte).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the shim closed the attach connection before acknowledging it",
            ));
        }
        if byte[0] == b'\n' {
            break;
        }
        ack.push(byte[0]);
        if ack.len() > MAX_ACK {
            return Err(std::io::Error::other("overlong attach acknowledgement"));
        }
    }
    serde_json::from_slice(&ack).map_err(std::io::Error::other)
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

    #[tokio::test]
    async fn the_acknowledgement_is_read_without_the_output_after_it() {
        let (mut client, mut shim) = UnixStream::pair().unwrap();
        shim.write_all(b"{}\n\x01\0\0\0\0\0\0\x02hi").await.unwrap();
        drop(shim);
        assert_eq!(read_ack(&mut client).await.unwrap(), AttachAck::default());
        let (out, err) = read_all(client, 1024).await.unwrap();
        assert_eq!((out.as_slice(), err.as_slice()), (&b"hi"[..], &b""[..]));
    }

    #[tokio::test]
    async fn a_refused_or_missing_acknowledgement_is_an_error() {
        let (mut client, mut shim) = UnixStream::pair().unwrap();
        shim.write_all(b"{\"error\":\"no such exec\"}\n")
            .await
            .unwrap();
        let ack = read_ack(&mut client).await.unwrap();
        assert_eq!(ack.error.as_deref(), Some("no such exec"));
        drop(shim);
        assert!(read_ack(&mut client).await.is_err());
    }

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
