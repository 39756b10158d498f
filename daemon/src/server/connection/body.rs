//! The request body read timeout: a body whose reader waits longer than the limit for its
//! next bytes fails with [`BodyTimedOut`] (a client that sent less than its `Content-Length`,
//! or stopped mid-chunk, no longer holds its connection for ever). Only the time spent
//! waiting for the client counts, not the handler's own pauses between reads: the clock
//! starts when a read finds nothing and stops when bytes come. dockerd has no such bound.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

/// The error a timed-out body read gives (found by `api::request_body` to answer 408).
#[derive(Debug, thiserror::Error)]
#[error("the client sent nothing of the request body for {0:?}")]
pub struct BodyTimedOut(pub Duration);

/// A request body with the read timeout; read to its end, it tells its connection.
pub struct TimedBody {
    inner: Incoming,
    timeout: Duration,
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
    conn: Arc<super::ConnState>,
}

impl TimedBody {
    pub fn new(inner: Incoming, timeout: Duration, conn: Arc<super::ConnState>) -> TimedBody {
        TimedBody {
            inner,
            timeout,
            waiting: None,
            conn,
        }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = None;
                if frame.is_none() {
                    this.conn.set_unread_body(false);
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let sleep = this
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut(timeout))))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `error` (or what it wraps) is a body read timeout.
pub fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<BodyTimedOut>() {
            return true;
        }
        current = e.source();
    }
    false
}
