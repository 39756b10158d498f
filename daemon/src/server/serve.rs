//! Accept loops: each listener admits connections within its cap (`connection::slots`),
//! TLS handshakes, then `connection::serve`; graceful shutdown.
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};

use super::connection::{self, Limits, ListenerSlots, Slot};
use super::listen::Listener;

/// How long a TLS handshake may take before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Shared by every accept loop and connection.
#[derive(Clone)]
pub struct ServeContext {
    pub app: crate::api::App,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub limits: Limits,
    pub http: hyper::server::conn::http1::Builder,
    /// Becomes `true` when the daemon shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Held by every task; the daemon waits for all clones to be dropped.
    pub alive: mpsc::Sender<()>,
}

/// Accepts connections on `listener` until shutdown, at most `slots.max()` at once.
pub async fn accept_loop(listener: Listener, slots: Arc<ListenerSlots>, mut ctx: ServeContext) {
    let name = listener.describe();
    let mut full = false;
    loop {
        let stream = tokio::select! {
            _ = ctx.shutdown.changed() => break,
            accepted = accept(&listener) => match accepted {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!("accepting on {name}: {e}");
                    // EMFILE and friends: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        };
        match slots.admit() {
            Some(slot) => {
                full = false;
                tokio::spawn(serve_one(stream, slot, ctx.clone()));
            }
            None => {
                if !full {
                    tracing::warn!(
                        "{name}: {} connections, all busy: turning new ones away",
                        slots.max()
                    );
                    full = true;
                }
                // Answered when few are being turned away already, else closed at once.
                if let Ok(permit) = slots.turning_away.clone().try_acquire_owned() {
                    let (tls, max, alive) = (ctx.tls.clone(), slots.max(), ctx.alive.clone());
                    tokio::spawn(async move {
                        let _alive = alive;
                        match (stream, tls) {
                            (Accepted::Tcp(s), Some(acceptor)) => {
                                if let Ok(Ok(s)) =
                                    tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(s))
                                        .await
                                {
                                    connection::turn_away(s, max).await;
                                }
                            }
                            (Accepted::Tcp(s), None) => connection::turn_away(s, max).await,
                            (Accepted::Unix(s), _) => connection::turn_away(s, max).await,
                        }
                        drop(permit);
                    });
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
        Listener::Tcp { listener, .. } => listener.accept().await.map(|(s, _)| {
            let _ = s.set_nodelay(true);
            Accepted::Tcp(s)
        }),
    }
}

async fn serve_one(stream: Accepted, slot: Slot, ctx: ServeContext) {
    let _alive = ctx.alive.clone();
    match (stream, ctx.tls.clone()) {
        (Accepted::Unix(s), _) => serve_connection(s, slot, &ctx).await,
        (Accepted::Tcp(s), None) => serve_connection(s, slot, &ctx).await,
        (Accepted::Tcp(s), Some(acceptor)) => {
            let peer = s.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(s)).await {
                Ok(Ok(tls)) => serve_connection(tls, slot, &ctx).await,
                Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
            }
        }
    }
}

async fn serve_connection<IO>(io: IO, slot: Slot, ctx: &ServeContext)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    connection::serve(
        io,
        slot,
        ctx.app.clone(),
        &ctx.http,
        &ctx.limits,
        ctx.shutdown.clone(),
    )
    .await;
}
