//! Binding the local API's socket and serving it until SIGTERM/SIGINT.

use std::path::Path;
use std::sync::Arc;

use tokio::net::UnixListener;

use crate::engine::Engine;
use crate::error::Result;

/// Remove a stale socket file and bind a fresh one (mode 0660).
pub fn bind(path: &Path) -> Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let listener = UnixListener::bind(path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// Serve until a termination signal. Tasks keep running: their shims are independent.
pub async fn serve(engine: Arc<Engine>, listener: UnixListener, socket: &Path) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let app = crate::api::router(engine);
    tokio::select! {
        r = axum::serve(listener, app) => r?,
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    if let Err(e) = std::fs::remove_file(socket) {
        tracing::warn!(error = %e, "cannot remove the socket");
    }
    Ok(())
}
