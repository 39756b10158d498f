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

/// Tells whoever started us that the socket accepts connections: "ready\n" on the
/// pipe `fd` they passed (`--ready-fd`), which is then closed. The parent waits for it
/// instead of polling the socket.
pub fn notify_ready(fd: i32) {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    if fd <= 2 {
        tracing::warn!(fd, "--ready-fd must not be stdin, stdout or stderr");
        return;
    }
    // SAFETY: the fd was opened by our parent for this one message and is used by
    // nothing else in this process; the File owns (and closes) it.
    let mut pipe = unsafe { std::fs::File::from_raw_fd(fd) };
    if let Err(e) = pipe.write_all(b"ready\n") {
        tracing::warn!(fd, error = %e, "cannot say ready");
    }
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
