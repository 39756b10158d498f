//! The API's front: what every request goes through before routing, in one service rather
//! than a stack of middleware (each `from_fn` layer costs a clone of the service below, two
//! boxes and a future per request, and `/_ping` is mostly that):
//! the refusal of web pages (`origin`), the `/v1.NN` prefix (`version`), dockerd's headers on
//! every answer, and a panicking handler turned into a 500.
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::FutureExt;

use super::origin::CorsPolicy;
use super::{version, ApiError};

/// The whole API as served (`api::app`).
#[derive(Clone)]
pub struct App {
    router: Router,
    cors: Arc<CorsPolicy>,
}

impl App {
    pub fn new(router: Router, cors: CorsPolicy) -> App {
        App {
            router,
            cors: Arc::new(cors),
        }
    }
}

pub type AppFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl tower::Service<Request> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = AppFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> AppFuture {
        let allowed = match self.cors.check(req.headers()) {
            Ok(allowed) => allowed,
            Err(refused) => {
                tracing::warn!(
                    method = %req.method(),
                    path = %req.uri().path(),
                    "refused a request from a web page: {}",
                    refused.message
                );
                return ready(finish(refused.into_response()));
            }
        };
        tracing::debug!("Calling {} {}", req.method(), req.uri());
        let req = match version::strip_prefix(req) {
            Ok(req) => req,
            Err(response) => return ready(finish(response)),
        };
        let routed = tower::Service::call(&mut self.router, req);
        Box::pin(async move {
            let mut response = match AssertUnwindSafe(routed).catch_unwind().await {
                Ok(Ok(r)) => r,
                Ok(Err(never)) => match never {},
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    ApiError::internal(format!("internal error: {what}")).into_response()
                }
            };
            if let Some(allowed) = allowed {
                allowed.add_headers(response.headers_mut());
            }
            Ok(finish(response))
        })
    }
}

fn ready(response: Response) -> AppFuture {
    Box::pin(std::future::ready(Ok(response)))
}

/// dockerd's headers on an answer.
fn finish(mut response: Response) -> Response {
    version::add_headers(response.headers_mut());
    response
}
