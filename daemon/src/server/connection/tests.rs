//! Connections served as berthd serves them, over socket pairs and loopback TCP, with short
//! timeouts: what closes them, what must not, and what a client sees when they close.
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::*;

const LIMITS: Limits = Limits {
    header_timeout: Duration::from_millis(300),
    body_timeout: Duration::from_millis(300),
};

/// What attach/exec do: answer 101 and take over the connection (here: an echo).
async fn hijack(req: Request) -> Response {
    tokio::spawn(async move {
        if let Ok(upgraded) = hyper::upgrade::on(req).await {
            let mut io = TokioIo::new(upgraded);
            let mut buf = [0u8; 4];
            while io.read_exact(&mut buf).await.is_ok() {
                if io.write_all(&buf).await.is_err() {
                    break;
                }
            }
        }
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [(header::CONNECTION, "Upgrade"), (header::UPGRADE, "tcp")],
    )
        .into_response()
}

/// A stream like `/events`: a line every 100 ms for two seconds.
async fn slow_stream() -> Response {
    let lines = futures::stream::unfold(0, |n| async move {
        if n == 20 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((
            Ok::<_, std::convert::Infallible>(format!("line {n}\n")),
            n + 1,
        ))
    });
    Body::from_stream(lines).into_response()
}

/// Answers before reading the body, as a refused upload is.
async fn refuse() -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(header::CONNECTION, "close")],
        "{\"message\":\"too large\"}",
    )
        .into_response()
}

async fn read_all(body: axum::body::Bytes) -> String {
    format!("read {}", body.len())
}

fn app() -> crate::api::App {
    // As `api::app` wraps the API: the prefix is stripped before routing.
    let api = Router::new()
        .route("/hijack", post(hijack))
        .route("/stream", get(slow_stream))
        .route("/refuse", post(refuse))
        .route("/read", post(read_all))
        .route("/_ping", get(|| async { "OK" }));
    crate::api::App::new(api, crate::api::origin::CorsPolicy::NoPage)
}

fn spawn<IO>(io: IO, slots: &std::sync::Arc<ListenerSlots>) -> watch::Sender<bool>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = watch::channel(false);
    let slot = slots.admit().expect("a slot");
    tokio::spawn(async move { serve(io, slot, app(), &http1(&LIMITS), &LIMITS, rx).await });
    tx
}

fn pair() -> (tokio::net::UnixStream, watch::Sender<bool>) {
    let (server, client) = tokio::net::UnixStream::pair().expect("socket pair");
    let shutdown = spawn(server, &ListenerSlots::new(8));
    (client, shutdown)
}

async fn read_head<R: AsyncRead + Unpin>(r: &mut R) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        r.read_exact(&mut byte).await.expect("read head");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Reads until the server closes; the time it took.
async fn closed_after<R: AsyncRead + Unpin>(r: &mut R) -> Duration {
    let start = Instant::now();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), r.read_to_end(&mut rest))
        .await
        .expect("the server closed the connection");
    start.elapsed()
}

#[tokio::test]
async fn a_slow_head_is_closed_after_the_header_timeout() {
    let (mut c, _s) = pair();
    c.write_all(b"GET /_ping HTTP/1.1\r\nHo")
        .await
        .expect("write");
    let waited = closed_after(&mut c).await;
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let (mut c, _s) = pair();
    c.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let head = read_head(&mut c).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut ok = [0u8; 2];
    c.read_exact(&mut ok).await.expect("body");
    let waited = closed_after(&mut c).await;
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
}

#[tokio::test]
async fn a_hijacked_stream_outlives_every_timeout() {
    let (mut c, _s) = pair();
    let request =
        "POST /v1.41/hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
    c.write_all(request.as_bytes()).await.expect("write");
    let head = read_head(&mut c).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // Idle for several header timeouts, as `docker run -it` left alone.
    tokio::time::sleep(LIMITS.header_timeout * 4).await;
    c.write_all(b"ping").await.expect("write raw");
    let mut echo = [0u8; 4];
    c.read_exact(&mut echo).await.expect("read raw");
    assert_eq!(&echo, b"ping");
}

#[tokio::test]
async fn a_streaming_answer_outlives_the_header_timeout() {
    let (mut c, _s) = pair();
    c.write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut all = String::new();
    c.read_to_string(&mut all).await.expect("read");
    assert!(all.contains("line 19"), "{all}");
}

#[tokio::test]
async fn a_body_shorter_than_its_length_does_not_hold_the_connection() {
    let (mut c, _s) = pair();
    c.write_all(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly this")
        .await
        .expect("write");
    let waited = closed_after(&mut c).await;
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[tokio::test]
async fn too_many_header_fields_get_a_json_431() {
    let (mut c, _s) = pair();
    let mut request = String::from("GET /_ping HTTP/1.1\r\nHost: x\r\n");
    for i in 0..150 {
        request.push_str(&format!("X-Field-{i}: {i}\r\n"));
    }
    request.push_str("\r\n");
    c.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    c.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    assert!(
        answer.contains("Content-Type: application/json"),
        "{answer}"
    );
    let body = answer.split("\r\n\r\n").nth(1).expect("body");
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    assert!(v["message"].is_string(), "{body}");
}

/// Over TCP, closing a socket with unread input resets the connection: a client that
/// sends its whole body before reading (python's http.client, docker-py) would get a broken
/// pipe instead of the answer. The close lingers, reading, until the client is done.
#[tokio::test]
async fn an_answer_given_before_the_body_reaches_a_client_still_uploading() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let slots = ListenerSlots::new(8);
    tokio::spawn(async move {
        if let Ok((s, _)) = listener.accept().await {
            let _shutdown = spawn(s, &slots);
            std::future::pending::<()>().await;
        }
    });
    let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let size = 16 << 20;
    let head = format!("POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n");
    c.write_all(head.as_bytes()).await.expect("head");
    let chunk = vec![b'x'; 64 << 10];
    for _ in 0..size / chunk.len() {
        c.write_all(&chunk).await.expect("the whole body is taken");
    }
    let mut answer = String::new();
    c.read_to_string(&mut answer)
        .await
        .expect("the whole answer, then the close");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.ends_with("{\"message\":\"too large\"}"), "{answer}");
}

#[tokio::test]
async fn at_the_cap_an_idle_connection_makes_room_and_busy_ones_turn_newcomers_away() {
    let slots = ListenerSlots::new(2);
    let (s1, mut idle) = tokio::net::UnixStream::pair().expect("pair");
    let _k1 = spawn(s1, &slots);
    idle.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    read_head(&mut idle).await;
    let (s2, mut busy) = tokio::net::UnixStream::pair().expect("pair");
    let _k2 = spawn(s2, &slots);
    busy.write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    read_head(&mut busy).await;

    // A third: the idle one gives its place.
    let (s3, mut third) = tokio::net::UnixStream::pair().expect("pair");
    let _k3 = spawn(s3, &slots);
    closed_after(&mut idle).await;
    third.write_all(b"POST /v1.41/hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        .await
        .expect("write");
    assert!(read_head(&mut third).await.starts_with("HTTP/1.1 101"));

    // Now both are busy (a stream, a hijacked session): a fourth is turned away.
    assert!(slots.admit().is_none());
    let (s4, mut fourth) = tokio::net::UnixStream::pair().expect("pair");
    tokio::spawn(turn_away(s4, slots.max()));
    fourth
        .write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    fourth.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too many connections"), "{answer}");
    // The session still works.
    third.write_all(b"ping").await.expect("write raw");
    let mut echo = [0u8; 4];
    third.read_exact(&mut echo).await.expect("read raw");
    assert_eq!(&echo, b"ping");
}
