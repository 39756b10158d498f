//! Listeners: unix sockets, TCP, TLS; the daemon's life from start to clean shutdown.
//!
//! - `listen`  — binding `-H` addresses (socket permissions, the plain-TCP policy).
//! - `tls`     — rustls server configuration, client certificate verification.
//! - `pidfile` — the pid file and the data-root lock (one daemon per data root).
//! - `serve`   — accept loops within each listener's cap, graceful shutdown.
//! - `connection` — one HTTP connection: timeouts, the cap's slots, clean close.
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};

use crate::config::{Config, ConfigError};
use crate::state::Daemon;
use crate::store::StoreError;

pub mod connection;
pub mod listen;
pub mod pidfile;
pub mod serve;
pub mod tls;

/// How long in-flight requests may run on after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Why the daemon could not start (or stopped badly).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("failed to start daemon, ensure berthd is not running or delete {path}: {reason}")]
    PidFile { path: String, reason: String },
    #[error("failed to start daemon: data root {root} is in use: {reason}")]
    DataRootInUse { root: String, reason: String },
    #[error("failed to listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "refusing to listen on {0} without TLS: binding to an IP address without --tlsverify gives root access \
         on this machine to everyone who has access to your network, and even on localhost to scripts run in a \
         browser. Use --tlsverify with certificates, or override this by explicitly specifying '--tls=false' \
         or '--tlsverify=false'"
    )]
    InsecureTcp(String),
    #[error("socket group: {0}")]
    Group(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("opening the stores under the data root: {0}")]
    Store(#[from] StoreError),
    #[error("installing signal handlers: {0}")]
    Signals(std::io::Error),
}

/// Runs the daemon until SIGTERM or SIGINT, then shuts down cleanly: stops accepting,
/// lets in-flight requests finish for a moment, removes its sockets and pid file.
pub async fn run(config: Config) -> Result<(), ServerError> {
    let _data_root_lock = pidfile::DataRootLock::acquire(&config.data_root)?;
    let pid_file = pidfile::PidFile::create(&config.pidfile)?;
    let result = run_with_pidfile(config).await;
    pid_file.remove();
    result
}

async fn run_with_pidfile(config: Config) -> Result<(), ServerError> {
    let tls = tls::acceptor(&config)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(ServerError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServerError::Signals)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(ServerError::Signals)?;

    // Everything that can refuse the start is checked before anything is started.
    let prepared = listen::prepare(&config).await?;
    let daemon = Daemon::open(config.clone())?;
    daemon.networks.start(&config).await;
    let engine_up = crate::containers::reconcile::start_engine(&daemon).await;
    crate::networks::sandbox::restore(&daemon).await;
    if engine_up {
        crate::containers::reconcile::start_by_restart_policy(&daemon).await;
    }
    // Pods keep running through a restart: the CRI finds them again before it serves.
    let cri = crate::cri::start(&daemon).await;
    let listeners = prepared.bind_unix_sockets()?;
    let sockets: Vec<_> = listeners
        .iter()
        .filter_map(|l| match l {
            listen::Listener::Unix { path, .. } => Some(path.clone()),
            listen::Listener::Tcp { .. } => None,
        })
        .collect();

    let app = crate::api::app(daemon.clone());
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let limits = connection::Limits {
        header_timeout: config.api.header_timeout,
        body_timeout: config.api.body_timeout,
    };
    let cap = config.api.max_connections_per_listener(listeners.len());
    tracing::info!(
        "API connections: at most {cap} per listener; request heads within {:?}, body pauses under {:?}",
        limits.header_timeout,
        limits.body_timeout
    );
    let ctx = serve::ServeContext {
        app,
        tls,
        limits,
        http: connection::http1(&limits),
        shutdown: shutdown_rx,
        alive: alive_tx,
    };
    for listener in listeners {
        let slots = connection::ListenerSlots::new(cap);
        tokio::spawn(serve::accept_loop(listener, slots, ctx.clone()));
    }
    drop(ctx);
    tracing::info!(version = %crate::api::version::ENGINE_VERSION, "Daemon has completed initialization");

    loop {
        tokio::select! {
            _ = terminate.recv() => { tracing::info!("Processing signal 'terminated'"); break; }
            _ = interrupt.recv() => { tracing::info!("Processing signal 'interrupt'"); break; }
            _ = hangup.recv() => tracing::warn!("SIGHUP: reloading the configuration is not supported by berthd; ignored"),
        }
    }

    let _ = shutdown_tx.send(true);
    if let Some(cri) = &cri {
        cri.shutdown();
    }
    // Open `docker events` streams end now rather than holding the shutdown for its grace.
    daemon.events.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, alive_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!(
            "some API requests were still running after {SHUTDOWN_GRACE:?}; closing them"
        );
    }
    for path in sockets {
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!("removing socket {}: {e}", path.display());
        }
    }
    tracing::info!("Daemon shutdown complete");
    Ok(())
}
