//! The per-connection service hyper calls for each request: the axum app, with the request
//! body under the read timeout, and the connection's state kept current — a request is in
//! flight from its head until its answer's body is written (or dropped), and a `101` answer
//! hands the connection to its handler (attach, exec: no timeout, no eviction, no lingering
//! close from then on).
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use tower::ServiceExt;

use super::body::TimedBody;
use super::ConnState;

/// What a connection serves: the API (`api::App`), or a bare router in tests.
pub trait App:
    tower::Service<
        Request<Body>,
        Response = Response<Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S> App for S where
    S: tower::Service<
            Request<Body>,
            Response = Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

#[derive(Clone)]
pub struct ConnService<A> {
    app: A,
    state: Arc<ConnState>,
    body_timeout: Duration,
}

impl<A: App> ConnService<A> {
    pub fn new(app: A, state: Arc<ConnState>, body_timeout: Duration) -> ConnService<A> {
        ConnService {
            app,
            state,
            body_timeout,
        }
    }
}

type ServeFuture = Pin<Box<dyn Future<Output = Result<Response<TrackedBody>, Infallible>> + Send>>;

impl<A: App> hyper::service::Service<Request<Incoming>> for ConnService<A> {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = ServeFuture;

    fn call(&self, req: Request<Incoming>) -> ServeFuture {
        let in_flight = InFlight::begin(self.state.clone());
        let timeout = self.body_timeout;
        let state = self.state.clone();
        let req = req.map(|body| {
            if !hyper::body::Body::is_end_stream(&body) {
                state.set_unread_body(true);
            }
            Body::new(TimedBody::new(body, timeout, state))
        });
        let answer = self.app.clone().oneshot(req);
        Box::pin(async move {
            let response = match answer.await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                in_flight.state.set_upgraded();
            }
            Ok(response.map(|inner| TrackedBody {
                inner,
                _in_flight: in_flight,
            }))
        })
    }
}

/// Counts one request in flight on its connection until dropped.
struct InFlight {
    state: Arc<ConnState>,
}

impl InFlight {
    fn begin(state: Arc<ConnState>) -> InFlight {
        state.request_started();
        InFlight { state }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.request_finished();
    }
}

/// An answer's body, holding its request in flight until hyper is done with it.
pub struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
