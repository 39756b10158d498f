//! Replacing a berth-containerd of another protocol version (an upgrade of Berth with
//! live containers: the old berth-containerd survived the old berthd, as it should), or
//! of another configuration (daemon.json's runtimes changed across a restart). It
//! is asked to exit — SIGTERM to the pid its socket's peer credentials name, which any
//! build understands — and its exit is awaited (a pidfd, no polling) before the new one
//! binds the same socket; its tasks and shims live on and the new berth-containerd
//! adopts them (each shim keeps speaking its own build's attach protocol).
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::unix::AsyncFd;

use super::{EngineClient, EngineError};

/// How long the old berth-containerd may take to exit after SIGTERM (then SIGKILL: its
/// tasks do not depend on it).
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Stops the berth-containerd answering on `client`'s socket, which answered `running`
/// (another protocol version, or another configuration).
pub async fn stop_other_version(
    client: &EngineClient,
    running: &berth_proto::VersionView,
) -> Result<(), EngineError> {
    let own = berth_proto::protocol_version();
    let protocol = running.protocol;
    let Some(pid) = client.server_pid().await else {
        return Err(EngineError::Launch(format!(
            "cannot tell which process serves {}",
            client.socket().display()
        )));
    };
    tracing::warn!(
        pid,
        protocol,
        own,
        args = ?running.args,
        "berth-containerd speaks another protocol version or was started with another configuration: replacing it (its tasks live on)"
    );
    let exited = pidfd(pid)?;
    signal(pid, libc::SIGTERM)?;
    if tokio::time::timeout(EXIT_TIMEOUT, exited.readable())
        .await
        .is_err()
    {
        tracing::warn!(
            pid,
            "berth-containerd did not exit after SIGTERM; killing it"
        );
        signal(pid, libc::SIGKILL)?;
        let _ = exited.readable().await;
    }
    Ok(())
}

/// A pidfd of `pid`: readable once the process has exited.
fn pidfd(pid: i32) -> Result<AsyncFd<OwnedFd>, EngineError> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory
    // is shared with the kernel.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(EngineError::Launch(format!(
            "pidfd_open({pid}): {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: the fd was just returned by pidfd_open and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: the OwnedFd stays open, the same fd, for as long as the AsyncFd owns it.
    unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(|e| EngineError::Launch(format!("watching pid {pid}: {e}")))
}

fn signal(pid: i32, signal: i32) -> Result<(), EngineError> {
    // SAFETY: kill takes plain integers.
    if unsafe { libc::kill(pid, signal) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(EngineError::Launch(format!("signalling pid {pid}: {e}")));
        }
    }
    Ok(())
}
