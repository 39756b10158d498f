//! Attach clients: the JSON header line and its acknowledgement, framing of output,
//! stdin from the client.
use std::io::{self, Read};
use std::os::unix::net::UnixStream;

use berth_proto::AttachAck;

use crate::util;

/// A client that falls this far behind is dropped rather than stalling the container.
const MAX_BACKLOG: usize = 8 << 20;

/// The header line a client sends first.
pub use berth_proto::AttachRequest as AttachReq;

pub struct Client {
    pub stream: UnixStream,
    pub req: Option<AttachReq>,
    inbuf: Vec<u8>,
    pub out: Vec<u8>,
    /// The client half-closed: no more stdin from it.
    pub read_eof: bool,
    /// Close once `out` is flushed.
    pub closing: bool,
    pub dead: bool,
}

/// What a readable client gave us.
pub enum Input {
    Nothing,
    /// The header just arrived (plus any stdin bytes after it).
    Header(Vec<u8>),
    Stdin(Vec<u8>),
}

/// Docker's multiplexed frame: stream, 3 zero bytes, big-endian length, payload.
pub fn frame(stream: u8, data: &[u8], out: &mut Vec<u8>) {
    out.push(stream);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

impl Client {
    pub fn new(stream: UnixStream) -> io::Result<Client> {
        stream.set_nonblocking(true)?;
        Ok(Client {
            stream,
            req: None,
            inbuf: Vec::new(),
            out: Vec::new(),
            read_eof: false,
            closing: false,
            dead: false,
        })
    }

    pub fn wants_read(&self) -> bool {
        !self.read_eof
            && !self.dead
            && (self.req.is_none() || self.req.as_ref().is_some_and(|r| r.stdin))
    }

    pub fn on_readable(&mut self) -> Input {
        let mut buf = [0u8; 8192];
        let n = match self.stream.read(&mut buf) {
            Ok(0) => {
                self.read_eof = true;
                if self.req.is_none() {
                    self.dead = true;
                }
                return Input::Nothing;
            }
            Ok(n) => n,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                return Input::Nothing
            }
            Err(_) => {
                self.dead = true;
                return Input::Nothing;
            }
        };
        if self.req.is_some() {
            return Input::Stdin(buf[..n].to_vec());
        }
        self.inbuf.extend_from_slice(&buf[..n]);
        let Some(nl) = self.inbuf.iter().position(|&b| b == b'\n') else {
            if self.inbuf.len() > 64 * 1024 {
                self.dead = true;
            }
            return Input::Nothing;
        };
        match serde_json::from_slice::<AttachReq>(&self.inbuf[..nl]) {
            Ok(r) => {
                let rest = self.inbuf.split_off(nl + 1);
                self.inbuf = Vec::new();
                self.req = Some(r);
                Input::Header(rest)
            }
            Err(_) => {
                self.dead = true;
                Input::Nothing
            }
        }
    }

    /// Queues the answer to the header line (before any output).
    pub fn acknowledge(&mut self, ack: &AttachAck) {
        if let Ok(mut line) = serde_json::to_vec(ack) {
            line.push(b'\n');
            self.out.extend_from_slice(&line);
        }
        self.flush();
    }

    /// Queues output of `stream` (1 stdout, 2 stderr) if the client asked for it.
    pub fn send(&mut self, stream: u8, data: &[u8], terminal: bool) {
        let Some(r) = &self.req else { return };
        if (stream == 1 && !r.stdout) || (stream == 2 && !r.stderr) || self.dead {
            return;
        }
        if terminal {
            self.out.extend_from_slice(data);
        } else {
            frame(stream, data, &mut self.out);
        }
        self.flush();
        if self.out.len() > MAX_BACKLOG {
            self.dead = true;
        }
    }

    pub fn flush(&mut self) {
        if util::flush_buf(&self.stream, &mut self.out).is_err() {
            self.dead = true;
        }
        if self.closing && self.out.is_empty() {
            self.dead = true;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn frame_header() {
        let mut v = Vec::new();
        super::frame(2, b"abc", &mut v);
        assert_eq!(v, [2, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c']);
    }
}
