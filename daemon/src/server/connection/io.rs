//! The connection's socket as hyper sees it, with two things hyper does not do:
//!
//! - A clean close. When berthd closes a connection that the client may still be writing
//!   to (an answer given before the body was read: a 413, a refused content type, a
//!   handler that ignores a body), closing at once makes the kernel reset the connection
//!   and the client sees a broken pipe instead of the answer. As Go's server does for
//!   dockerd (`closeWriteAndWait`), the write side is shut first and what the client still
//!   sends is read and dropped until it closes, for at most [`LINGER`] and
//!   [`LINGER_BYTES`]. Only then: when every request body was read to its end, the client
//!   is not sending and the close is immediate; a hijacked stream (attach, exec) is the
//!   handler's, and its shutdown a plain one.
//! - JSON for hyper's own error answers. A request hyper cannot parse (more than 100 header
//!   fields, headers over the size limit, a URI too long, bad syntax) is answered by hyper
//!   itself with an empty 431/414/400; that answer is replaced here by the same status with
//!   a Docker-shaped `{"message": …}` body.
use std::future::Future;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{ConnState, Slot};

/// How long a closing connection keeps reading what the client still sends.
pub const LINGER: Duration = Duration::from_secs(2);
/// And how much of it.
pub const LINGER_BYTES: usize = 64 << 20;

pub struct GuardedIo<T> {
    inner: T,
    state: Arc<ConnState>,
    /// The listener's place, held as long as the socket (a hijacked stream included).
    _slot: Option<Slot>,
    /// A JSON error answer standing in for hyper's empty one: bytes and how many are written.
    replacement: Option<(Vec<u8>, usize)>,
    /// hyper answered a head it could not parse: the client may still be sending it.
    lingers: bool,
    closing: Option<Closing>,
}

struct Closing {
    write_shut: bool,
    drained: usize,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<T> GuardedIo<T> {
    pub fn new(inner: T, state: Arc<ConnState>, slot: Option<Slot>) -> GuardedIo<T> {
        GuardedIo {
            inner,
            state,
            _slot: slot,
            replacement: None,
            lingers: false,
            closing: None,
        }
    }
}

impl<T: AsyncWrite + Unpin> GuardedIo<T> {
    /// Writes what is left of a replacement answer.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while let Some((bytes, written)) = &mut self.replacement {
            if *written == bytes.len() {
                self.replacement = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Whether `head` is hyper's own answer to a request it could not parse; then the
    /// replacement is queued.
    fn replace_hyper_error(&mut self, head: &[u8]) -> bool {
        if self.state.serving() || self.state.is_upgraded() {
            return false;
        }
        match json_error_answer(head) {
            Some(answer) => {
                self.replacement = Some((answer, 0));
                self.lingers = true;
                true
            }
            None => false,
        }
    }
}

/// The JSON answer standing in for hyper's empty 400, 414 or 431.
fn json_error_answer(head: &[u8]) -> Option<Vec<u8>> {
    let (status, message) = if head.starts_with(b"HTTP/1.1 431 ") {
        (
            "431 Request Header Fields Too Large",
            "request header fields too large: at most 100 fields and 1 MiB",
        )
    } else if head.starts_with(b"HTTP/1.1 414 ") {
        ("414 URI Too Long", "request URI too long")
    } else if head.starts_with(b"HTTP/1.1 400 ") {
        ("400 Bad Request", "malformed HTTP request")
    } else {
        return None;
    };
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    if !text.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let body = format!("{{\"message\":\"{message}\"}}\n");
    Some(
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        if this.replace_hyper_error(buf) {
            // hyper's answer counts as written; ours goes out in its place.
            let _ = this.poll_replacement(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            if this.replace_hyper_error(first) {
                let _ = this.poll_replacement(cx)?;
                return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
            }
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        // Nothing to protect: a hijacked stream is its handler's, and when every body was
        // read to its end (and no head was cut short), the client is not sending.
        let linger = this.closing.is_some() || this.state.has_unread_body() || this.lingers;
        if this.state.is_upgraded() || !linger {
            return Pin::new(&mut this.inner).poll_shutdown(cx);
        }
        let closing = this.closing.get_or_insert_with(|| Closing {
            write_shut: false,
            drained: 0,
            deadline: Box::pin(tokio::time::sleep(LINGER)),
        });
        if !closing.write_shut {
            ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            closing.write_shut = true;
        }
        let mut scratch = [0u8; 8192];
        while closing.drained < LINGER_BYTES {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => closing.drained += buf.filled().len(),
                // The client is gone: nothing left to protect.
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => {
                    return match closing.deadline.as_mut().poll(cx) {
                        Poll::Ready(()) => Poll::Ready(Ok(())),
                        Poll::Pending => Poll::Pending,
                    }
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_empty_error_answers_are_replaced() {
        let hyper_431 =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nDate: x\r\n\r\n";
        let answer =
            String::from_utf8(json_error_answer(hyper_431).expect("replaced")).expect("utf-8");
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
        assert!(
            answer.contains("Content-Type: application/json\r\n"),
            "{answer}"
        );
        assert!(answer.contains("Connection: close\r\n"), "{answer}");
        let body = answer.split("\r\n\r\n").nth(1).expect("body");
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert!(v["message"]
            .as_str()
            .expect("message")
            .contains("too large"));
        assert!(answer.contains(&format!("Content-Length: {}\r\n", body.len())));

        assert!(json_error_answer(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n"
        )
        .is_none());
        assert!(json_error_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").is_none());
    }
}
