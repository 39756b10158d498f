//! The gRPC listener: the services' routes served over HTTP/2 on the unix socket with hyper,
//! and the client's deadline (`grpc-timeout`) enforced as grpc-go servers do: a call whose
//! deadline passes answers DEADLINE_EXCEEDED (tonic's own server answers CANCELLED, which
//! the kubelet and critest take for another failure). The work of a state-changing call
//! goes on in its own task (see `runtime_api::detached`).
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::watch;

/// Parses a `grpc-timeout` value: digits and a unit (H, M, S, m, u, n).
pub fn parse_timeout(v: &str) -> Option<Duration> {
    if v.len() < 2 || v.len() > 9 {
        return None;
    }
    let (digits, unit) = v.split_at(v.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Wraps the routes: a call past its deadline answers DEADLINE_EXCEEDED.
#[derive(Clone)]
pub struct Deadline<S>(pub S);

type Reply = http::Response<tonic::body::Body>;

impl<S, B> tower::Service<http::Request<B>> for Deadline<S>
where
    S: tower::Service<http::Request<B>, Response = Reply, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Reply;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Reply, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let limit = req
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_timeout);
        let fut = self.0.call(req);
        Box::pin(async move {
            match limit {
                None => fut.await,
                Some(d) => match tokio::time::timeout(d, fut).await {
                    Ok(r) => r,
                    Err(_) => Ok(tonic::Status::deadline_exceeded("Deadline Exceeded").into_http()),
                },
            }
        })
    }
}

/// Serves `routes` on `listener` until `shutdown` turns true.
pub fn spawn(
    listener: tokio::net::UnixListener,
    routes: tonic::service::Routes,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                r = listener.accept() => match r {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "CRI socket accept");
                        continue;
                    }
                },
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            let svc = hyper_util::service::TowerToHyperService::new(Deadline(routes.clone()));
            tokio::spawn(async move {
                if let Err(e) = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await
                {
                    tracing::trace!(error = %e, "CRI connection");
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::parse_timeout;
    use std::time::Duration;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("1m"), Some(Duration::from_millis(1)));
        assert_eq!(parse_timeout("120S"), Some(Duration::from_secs(120)));
        assert_eq!(parse_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_timeout("5x"), None);
        assert_eq!(parse_timeout("S"), None);
    }
}
