//! One client connection: HTTP/1.1 through hyper, bounded so that no client holds it (or a
//! file descriptor) longer than it uses it, and never cut off while it does.
//!
//! - Header read timeout: hyper's own, with a timer wired in. Its clock starts when the
//!   connection opens and again each time it goes idle after an answer, so it is the
//!   keep-alive idle timeout too (dockerd: 5 minutes for a head, idle connections kept for
//!   ever). Not running while an answer streams (`/events`, `logs -f`, `wait`), nor after a
//!   hijack (`attach`, `exec`, `docker run -it` idle for hours).
//! - Body read timeout (`body`), request bodies being streams the handlers read.
//! - The per-listener cap (`slots`), and the clean close and JSON errors of `io`.
//! - Headers at most [`MAX_HEADER_BYTES`] (Go's `DefaultMaxHeaderBytes`, dockerd's) and
//!   hyper's 100 fields; beyond, a JSON 431.
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{watch, Notify};

pub mod body;
pub mod io;
pub mod service;
pub mod slots;

use io::GuardedIo;
use service::{App, ConnService};
pub use slots::{ListenerSlots, Slot};

/// The largest request head read (Go's `http.DefaultMaxHeaderBytes`, dockerd's limit).
pub const MAX_HEADER_BYTES: usize = 1 << 20;

/// The bounds every connection of a daemon is served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request head must arrive within this of the connection opening or going idle.
    pub header_timeout: Duration,
    /// A request body may make its reader wait at most this long for more.
    pub body_timeout: Duration,
}

/// What one connection is doing, shared by its socket, its service and its listener's slots.
pub struct ConnState {
    epoch: Instant,
    in_flight: AtomicUsize,
    upgraded: AtomicBool,
    /// Milliseconds after `epoch` when the last request finished (or the connection opened).
    idle_since: AtomicU64,
    evicted: AtomicBool,
    evict: Notify,
    /// A request body the client may still be sending (not read to its end).
    unread_body: AtomicBool,
}

impl ConnState {
    fn new(epoch: Instant) -> ConnState {
        let state = ConnState {
            epoch,
            in_flight: AtomicUsize::new(0),
            upgraded: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
            unread_body: AtomicBool::new(false),
        };
        state.touch();
        state
    }

    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.idle_since.store(ms, Ordering::Relaxed);
    }

    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    pub fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.touch();
        }
    }

    /// Whether a request is being served (from its head to the end of its answer).
    pub fn serving(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    pub fn set_upgraded(&self) {
        self.upgraded.store(true, Ordering::Release);
    }

    pub fn is_upgraded(&self) -> bool {
        self.upgraded.load(Ordering::Acquire)
    }

    fn idle_since(&self) -> u64 {
        self.idle_since.load(Ordering::Relaxed)
    }

    fn evictable(&self) -> bool {
        !self.serving() && !self.is_upgraded() && !self.evicted()
    }

    fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        self.evict.notify_one();
    }

    pub fn evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    pub fn set_unread_body(&self, unread: bool) {
        self.unread_body.store(unread, Ordering::Release);
    }

    /// Whether closing now could leave the client's bytes unread (the close must linger).
    pub fn has_unread_body(&self) -> bool {
        self.unread_body.load(Ordering::Acquire)
    }
}

/// hyper's HTTP/1 settings for the API.
pub fn http1(limits: &Limits) -> hyper::server::conn::http1::Builder {
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .max_buf_size(MAX_HEADER_BYTES + (64 << 10))
        .title_case_headers(true);
    b
}

/// Serves HTTP on one connection until it closes, the daemon shuts down, or its listener
/// needs its place while it is idle.
pub async fn serve<IO, A: App>(
    io: IO,
    slot: Slot,
    app: A,
    http: &hyper::server::conn::http1::Builder,
    limits: &Limits,
    mut shutdown: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = slot.state.clone();
    // The slot goes with the socket: a hijacked stream keeps it after hyper is done.
    let io = TokioIo::new(GuardedIo::new(io, state.clone(), Some(slot)));
    let service = ConnService::new(app, state.clone(), limits.body_timeout);
    let conn = http.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    if *shutdown.borrow() {
        conn.as_mut().graceful_shutdown();
    }
    let mut closing = false;
    let result = loop {
        tokio::select! {
            r = conn.as_mut() => break r,
            _ = shutdown.changed(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = state.evict.notified(), if !closing => {
                // Room for a new client: dropped while still idle (a request that came in
                // meanwhile keeps it).
                if !state.serving() && !state.is_upgraded() {
                    tracing::debug!("closing an idle connection to make room for a new one");
                    return;
                }
                state.evicted.store(false, Ordering::Release);
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!("connection closed with error: {e}");
    }
}

/// Answers a connection its listener has no room for: a JSON 503 once its request head has
/// come (within a short timeout), then a clean close.
pub async fn turn_away<IO>(io: IO, max: usize)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = Arc::new(ConnState::new(Instant::now()));
    // Its body is never read: the close lingers so that the client sees the answer.
    state.set_unread_body(true);
    let io = TokioIo::new(GuardedIo::new(io, state, None));
    let message = format!(
        "{{\"message\":\"too many connections: this listener serves at most {max} at once; try again later\"}}\n"
    );
    let service = hyper::service::service_fn(move |_req| {
        let body = http_body_util::Full::new(bytes::Bytes::from(message.clone()));
        let response = hyper::Response::builder()
            .status(hyper::StatusCode::SERVICE_UNAVAILABLE)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::CONNECTION, "close")
            .body(body);
        async move { response }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(TURN_AWAY_TIMEOUT)
        .keep_alive(false)
        .title_case_headers(true);
    if let Err(e) = http.serve_connection(io, service).await {
        tracing::debug!("turning a connection away: {e}");
    }
}

/// How long a connection being turned away has to send its request head.
const TURN_AWAY_TIMEOUT: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests;
