//! The control API's HTTP/1.1 connections: request parsing (httparse) and responses.
use std::io::{self, Read};
use std::os::unix::net::UnixStream;

use crate::util;

const MAX_REQUEST: usize = 1 << 20;

pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

pub struct Conn {
    pub stream: UnixStream,
    inbuf: Vec<u8>,
    pub out: Vec<u8>,
    /// Parked on `POST /wait` for this process (None = init), with keep-alive.
    pub waiting: Option<(Option<String>, bool)>,
    pub close_after_flush: bool,
    /// The peer half-closed: nothing more to read.
    pub read_eof: bool,
    pub dead: bool,
}

impl Conn {
    pub fn new(stream: UnixStream) -> io::Result<Conn> {
        stream.set_nonblocking(true)?;
        Ok(Conn {
            stream,
            inbuf: Vec::new(),
            out: Vec::new(),
            waiting: None,
            close_after_flush: false,
            read_eof: false,
            dead: false,
        })
    }

    /// Reads what is there; returns a complete request if one has arrived.
    pub fn on_readable(&mut self) -> Option<Result<Request, String>> {
        let mut buf = [0u8; 8192];
        match self.stream.read(&mut buf) {
            Ok(0) => {
                // Peer closed; a parked wait has nobody to answer any more.
                self.read_eof = true;
                if self.out.is_empty() || self.waiting.is_some() {
                    self.dead = true;
                } else {
                    self.close_after_flush = true;
                }
                return None;
            }
            Ok(n) => self.inbuf.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                self.dead = true;
                return None;
            }
        }
        self.next_request()
    }

    /// Parses a buffered request (also used after answering, for pipelined ones).
    pub fn next_request(&mut self) -> Option<Result<Request, String>> {
        if self.waiting.is_some() || self.inbuf.is_empty() {
            return None;
        }
        if self.inbuf.len() > MAX_REQUEST {
            return Some(Err("request too large".into()));
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let head = match req.parse(&self.inbuf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return None,
            Err(e) => return Some(Err(e.to_string())),
        };
        let mut len = 0usize;
        let mut keep_alive = req.version == Some(1);
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                match std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                {
                    Some(n) => len = n,
                    None => return Some(Err("bad content-length".into())),
                }
            } else if h.name.eq_ignore_ascii_case("connection") {
                let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
                keep_alive = if keep_alive {
                    !v.contains("close")
                } else {
                    v.contains("keep-alive")
                };
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                return Some(Err("chunked bodies are not supported".into()));
            }
        }
        if self.inbuf.len() < head + len {
            return None;
        }
        let r = Request {
            method: req.method.unwrap_or("").to_string(),
            path: req
                .path
                .unwrap_or("")
                .split('?')
                .next()
                .unwrap_or("")
                .to_string(),
            body: self.inbuf[head..head + len].to_vec(),
            keep_alive,
        };
        self.inbuf.drain(..head + len);
        Some(Ok(r))
    }

    pub fn respond(&mut self, status: u16, body: &serde_json::Value, keep_alive: bool) {
        let body = body.to_string();
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            409 => "Conflict",
            _ => "Internal Server Error",
        };
        let conn = if keep_alive { "keep-alive" } else { "close" };
        self.out.extend_from_slice(
            format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {conn}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        if !keep_alive {
            self.close_after_flush = true;
        }
        self.flush();
    }

    pub fn flush(&mut self) {
        if util::flush_buf(&self.stream, &mut self.out).is_err() {
            self.dead = true;
        }
        if self.close_after_flush && self.out.is_empty() {
            self.dead = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn partial_pipelined_and_keep_alive() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut c = Conn::new(b).unwrap();
        a.write_all(b"POST /kill HTTP/1.1\r\nContent-Length: 12\r\n\r\n{\"signal\"")
            .unwrap();
        assert!(c.on_readable().is_none());
        a.write_all(b":9}GET /state HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let r = c.on_readable().unwrap().unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.keep_alive),
            ("POST", "/kill", true)
        );
        assert_eq!(r.body, b"{\"signal\":9}");
        let r = c.next_request().unwrap().unwrap();
        assert_eq!((r.path.as_str(), r.keep_alive), ("/state", false));
        assert!(c.next_request().is_none());
        c.respond(200, &serde_json::json!({"a": 1}), false);
        assert!(c.dead);
        drop(c);
        let mut out = String::new();
        std::io::Read::read_to_string(&mut a, &mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(out.ends_with("\r\n\r\n{\"a\":1}"));
    }

    #[test]
    fn bad_requests() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut c = Conn::new(b).unwrap();
        a.write_all(b"NOT HTTP\r\n\r\n").unwrap();
        assert!(matches!(c.on_readable(), Some(Err(_))));
    }
}
