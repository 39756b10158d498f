//! Accept loops and connections: hyper-util's auto server over the axum app, with
//! upgrades (attach/exec hijack the connection), TLS handshakes, graceful shutdown.
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};

use super::listen::Listener;

/// How long a TLS handshake may take before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Shared by every accept loop and connection.
#[derive(Clone)]
pub struct ServeContext {
    pub app: Router,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Becomes `true` when the daemon shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Held by every task; the daemon waits for all clones to be dropped.
    pub alive: mpsc::Sender<()>,
}

/// Accepts connections on `listener` until shutdown.
pub async fn accept_loop(listener: Listener, mut ctx: ServeContext) {
    let name = listener.describe();
    loop {
        tokio::select! {
            _ = ctx.shutdown.changed() => break,
            accepted = accept(&listener) => match accepted {
                Ok(Accepted::Unix(stream)) => {
                    tokio::spawn(serve_connection(stream, ctx.clone()));
                }
                Ok(Accepted::Tcp(stream)) => {
                    let _ = stream.set_nodelay(true);
                    match ctx.tls.clone() {
                        None => { tokio::spawn(serve_connection(stream, ctx.clone())); }
                        Some(acceptor) => { tokio::spawn(handshake_then_serve(acceptor, stream, ctx.clone())); }
                    }
                }
                Err(e) => {
                    tracing::warn!("accepting on {name}: {e}");
                    // EMFILE and friends: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    tracing::debug!("stopped accepting on {name}");
}

enum Accepted {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

async fn accept(listener: &Listener) -> std::io::Result<Accepted> {
    match listener {
        Listener::Unix { listener, .. } => listener.accept().await.map(|(s, _)| Accepted::Unix(s)),
        Listener::Tcp { listener, .. } => listener.accept().await.map(|(s, _)| Accepted::Tcp(s)),
    }
}

async fn handshake_then_serve(
    acceptor: tokio_rustls::TlsAcceptor,
    stream: tokio::net::TcpStream,
    ctx: ServeContext,
) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => serve_connection(tls, ctx).await,
        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
    }
}

/// Serves HTTP on one connection until it closes or the daemon shuts down.
async fn serve_connection<IO>(io: IO, mut ctx: ServeContext)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let _alive = ctx.alive.clone();
    let service = TowerToHyperService::new(ctx.app.clone());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().title_case_headers(true);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    if *ctx.shutdown.borrow() {
        conn.as_mut().graceful_shutdown();
    }
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = ctx.shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!("connection closed with error: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::Request;
    use axum::http::{header, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What attach/exec will do: answer 101 and take over the connection.
    async fn hijack(req: Request) -> Response {
        tokio::spawn(async move {
            if let Ok(upgraded) = hyper::upgrade::on(req).await {
                let mut io = TokioIo::new(upgraded);
                let mut buf = [0u8; 4];
                if io.read_exact(&mut buf).await.is_ok() {
                    let _ = io.write_all(&buf).await;
                }
            }
        });
        (
            StatusCode::SWITCHING_PROTOCOLS,
            [(header::CONNECTION, "Upgrade"), (header::UPGRADE, "tcp")],
        )
            .into_response()
    }

    #[tokio::test]
    async fn upgraded_connections_reach_the_handler_through_the_middleware() {
        // As `api::app` wraps the API: the prefix is stripped before routing.
        let api = Router::new().route("/hijack", post(hijack));
        let app = Router::new()
            .fallback_service(api)
            .layer(axum::middleware::from_fn(crate::api::version::serve));
        let (_shutdown_tx, shutdown) = watch::channel(false);
        let (alive, _alive_rx) = mpsc::channel(1);
        let (server, mut client) = tokio::net::UnixStream::pair().expect("socket pair");
        tokio::spawn(serve_connection(
            server,
            ServeContext {
                app,
                tls: None,
                shutdown,
                alive,
            },
        ));

        let request =
            "POST /v1.41/hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
        client.write_all(request.as_bytes()).await.expect("write");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            client.read_exact(&mut byte).await.expect("read head");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        client.write_all(b"ping").await.expect("write raw");
        let mut echo = [0u8; 4];
        client.read_exact(&mut echo).await.expect("read raw");
        assert_eq!(&echo, b"ping");
    }
}
