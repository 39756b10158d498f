//! The connection dance of `POST /containers/{id}/attach` and `POST /exec/{id}/start`.
//!
//! With `Upgrade: tcp` (+ `Connection: Upgrade`, as the docker CLI and bollard send),
//! dockerd answers `HTTP/1.1 101 UPGRADED` with `Content-Type`, `Connection: Upgrade`,
//! `Upgrade: tcp`, and the connection then carries the raw streams both ways. Without
//! the header it answers `200 OK` with `Content-Type: application/vnd.docker.raw-stream`
//! and streams on the same connection; here the output is then the response body and
//! stdin is read from the request body.
use std::future::Future;
use std::io;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use futures::TryStreamExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::io::{ReaderStream, StreamReader};

/// Raw bytes (a TTY, or any answer without upgrade).
pub const RAW_STREAM: &str = "application/vnd.docker.raw-stream";
/// Multiplexed frames (no TTY, API ≥ 1.42).
pub const MULTIPLEXED_STREAM: &str = "application/vnd.docker.multiplexed-stream";

/// How much output may wait in the pipe to the response body (no-upgrade case).
const BODY_PIPE: usize = 64 * 1024;

/// The client's end of a hijacked stream: read its stdin, write the output.
pub trait ClientStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ClientStream for T {}

/// A boxed client stream, handed to the session.
pub type ClientIo = Box<dyn ClientStream>;

/// The `Content-Type` of an upgraded attach/exec stream, as dockerd picks it; the
/// same rule gives the `Content-Type` of `GET /containers/{id}/logs`.
pub fn stream_media_type(tty: bool, api_minor: u32) -> &'static str {
    if !tty && api_minor >= 42 {
        MULTIPLEXED_STREAM
    } else {
        RAW_STREAM
    }
}

/// Whether the client asked to take the connection over (dockerd only looks for an
/// `Upgrade` header).
pub fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
}

/// Answers `req` and runs `session` with the client's stream once it is ready.
///
/// `content_type` is what an upgraded answer says (see `stream_media_type`); the
/// answer without upgrade always says raw-stream, as dockerd's does. Validate the
/// request (container exists, not paused, detach keys…) before calling this: after
/// it, errors can only be reported in band.
pub fn hijack<F, Fut>(mut req: Request, content_type: &'static str, session: F) -> Response
where
    F: FnOnce(ClientIo) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if wants_upgrade(req.headers()) {
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => session(Box::new(TokioIo::new(upgraded))).await,
                Err(e) => tracing::debug!("attach: the connection was not upgraded: {e}"),
            }
        });
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        resp.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(b"UPGRADED"));
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
        return resp;
    }

    // No upgrade: stdin is the request body, the output is the response body.
    let stdin = StreamReader::new(req.into_body().into_data_stream().map_err(io::Error::other));
    let (output, body_side) = tokio::io::duplex(BODY_PIPE);
    let io = tokio::io::join(stdin, output);
    tokio::spawn(session(Box::new(io)));
    let mut resp = Response::new(Body::from_stream(ReaderStream::new(body_side)));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(RAW_STREAM));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use axum::Router;
    use hyper_util::rt::TokioExecutor;
    use hyper_util::server::conn::auto;
    use hyper_util::service::TowerToHyperService;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo(req: Request) -> Response {
        hijack(req, MULTIPLEXED_STREAM, |mut io| async move {
            let mut buf = [0u8; 64];
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                let _ = io.flush().await;
            }
            let _ = io.write_all(b"bye").await;
            let _ = io.shutdown().await;
        })
    }

    fn serve() -> tokio::net::UnixStream {
        let app = Router::new().route("/attach", post(echo));
        let (server, client) = tokio::net::UnixStream::pair().expect("socket pair");
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http1().title_case_headers(true);
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(server), TowerToHyperService::new(app))
                .await;
        });
        client
    }

    async fn read_head(c: &mut tokio::net::UnixStream) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            c.read_exact(&mut byte).await.expect("read head");
            head.push(byte[0]);
        }
        String::from_utf8_lossy(&head).into_owned()
    }

    #[tokio::test]
    async fn upgrade_answers_101_upgraded_and_hands_over_the_connection() {
        let mut c = serve();
        c.write_all(b"POST /attach?stream=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: text/plain\r\n\r\n")
            .await
            .expect("write");
        let head = read_head(&mut c).await;
        assert!(head.starts_with("HTTP/1.1 101 UPGRADED\r\n"), "{head}");
        assert!(
            head.contains("Content-Type: application/vnd.docker.multiplexed-stream\r\n"),
            "{head}"
        );
        assert!(head.contains("Connection: Upgrade\r\n"), "{head}");
        assert!(head.contains("Upgrade: tcp\r\n"), "{head}");
        c.write_all(b"ping").await.expect("write");
        let mut echo = [0u8; 4];
        c.read_exact(&mut echo).await.expect("echo");
        assert_eq!(&echo, b"ping");
        // Half-close: the session sees EOF and can still answer.
        c.shutdown().await.expect("shutdown");
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).await.expect("read rest");
        assert_eq!(rest, b"bye");
    }

    #[tokio::test]
    async fn without_upgrade_the_answer_is_200_raw_stream_on_the_connection() {
        let mut c = serve();
        c.write_all(b"POST /attach HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            .await
            .expect("write");
        let head = read_head(&mut c).await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(
            head.contains("Content-Type: application/vnd.docker.raw-stream\r\n"),
            "{head}"
        );
        let mut body = Vec::new();
        let mut buf = [0u8; 64];
        while !String::from_utf8_lossy(&body).contains("bye") {
            let n = c.read(&mut buf).await.expect("read");
            assert!(
                n > 0,
                "body ended early: {:?}",
                String::from_utf8_lossy(&body)
            );
            body.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("abc") && text.contains("bye"), "{text}");
    }

    #[test]
    fn media_types_follow_tty_and_version() {
        assert_eq!(stream_media_type(false, 42), MULTIPLEXED_STREAM);
        assert_eq!(stream_media_type(false, 41), RAW_STREAM);
        assert_eq!(stream_media_type(true, 53), RAW_STREAM);
        let mut h = HeaderMap::new();
        assert!(!wants_upgrade(&h));
        h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
        assert!(wants_upgrade(&h));
    }
}
