//! Attaching to a container (`POST /containers/{id}/attach`, its websocket form, and a
//! build's RUN): the checks dockerd makes before it hijacks the connection, then one
//! session that connects to the task's attach socket — now, or, for a container that
//! does not run yet (`docker run`), when its task is created (`attach_gate`) — waits
//! for the shim's acknowledgement, and proxies the client until the output ends, the
//! client detaches or goes away.
use std::path::PathBuf;

use tokio::io::{AsyncRead, AsyncWrite};

use super::attach_gate::Ticket;
use super::engine::ResizeRequest;
use super::record::{Container, Status};
use super::{ContainerError, Result};
use crate::state::SharedDaemon;
use crate::streams::{self, AttachEnd, AttachOptions};

/// What the client asked for (the query of `POST /containers/{id}/attach`).
#[derive(Debug, Clone, Default)]
pub struct AttachRequest {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Replay the log first.
    pub logs: bool,
    /// Stream live output (and stdin).
    pub stream: bool,
    /// The detach sequence; None for the default.
    pub detach_keys: Option<Vec<u8>>,
}

enum Target {
    /// The task runs: its attach socket.
    Running(PathBuf),
    /// No task yet: the socket comes when the next start creates one.
    BeforeStart(tokio::sync::oneshot::Receiver<Ticket>),
    /// `stream=false`: the log only.
    LogOnly,
}

/// An attach checked and announced (`attach` event), waiting for its client.
pub struct AttachSession {
    daemon: SharedDaemon,
    c: Container,
    opts: AttachOptions,
    target: Target,
}

/// The attach socket of a running container's task.
pub(crate) async fn attach_socket(daemon: &SharedDaemon, c: &Container) -> Result<PathBuf> {
    if !c.state.attach_socket.is_empty() {
        return Ok(PathBuf::from(&c.state.attach_socket));
    }
    let task = daemon.engine.get(c.task_id()).await?;
    Ok(PathBuf::from(task.attach_socket))
}

/// dockerd's checks (404, 409 paused or restarting), then the `attach` event.
pub async fn prepare(
    daemon: &SharedDaemon,
    reference: &str,
    req: AttachRequest,
) -> Result<AttachSession> {
    let c = daemon.containers.lookup(reference)?;
    match c.state.status {
        Status::Paused => {
            return Err(ContainerError::Conflict(
                "You cannot attach to a paused container, unpause it first".into(),
            ))
        }
        Status::Restarting => {
            return Err(ContainerError::Conflict(
                "You cannot attach to a restarting container, wait until it is running".into(),
            ))
        }
        _ => {}
    }
    let opts = AttachOptions {
        exec_id: None,
        stdin: req.stdin && c.config.open_stdin.unwrap_or(false),
        stdout: req.stdout,
        stderr: req.stderr,
        tty: c.tty(),
        stdin_once: c.config.stdin_once.unwrap_or(false),
        detach_keys: req.detach_keys.unwrap_or_default(),
        logs: (req.logs && c.log_driver() != "none").then(|| c.log_path()),
        stream: req.stream,
        client_tty: None,
    };
    let target = if !opts.stream {
        Target::LogOnly
    } else if c.state.status.is_running() {
        Target::Running(attach_socket(daemon, &c).await?)
    } else {
        Target::BeforeStart(daemon.attach_gate.wait_for_task(&c.id))
    };
    daemon
        .events
        .publish("container", "attach", &c.id, c.event_attributes());
    Ok(AttachSession {
        daemon: daemon.clone(),
        c,
        opts,
        target,
    })
}

impl AttachSession {
    /// Whether the client gets raw bytes (a TTY) rather than multiplexed frames.
    pub fn tty(&self) -> bool {
        self.opts.client_raw()
    }

    /// Whether the end of the client's input closes the process's stdin (then the
    /// output goes on): `StdinOnce` without a TTY, as dockerd.
    pub fn closes_stdin(&self) -> bool {
        self.opts.stdin && self.opts.stdin_once && !self.opts.tty
    }

    /// Runs the attach with `client` to its end; `detach` is published when the client
    /// typed the detach keys.
    pub async fn run<C: AsyncRead + AsyncWrite + Unpin + Send>(
        self,
        client: C,
    ) -> Option<AttachEnd> {
        let AttachSession {
            daemon,
            c,
            opts,
            target,
        } = self;
        let (shim, registered) = match target {
            Target::LogOnly => (None, None),
            Target::Running(socket) => (Some(socket), None),
            Target::BeforeStart(gate) => match gate.await {
                Ok((socket, registered)) => (Some(socket), Some(registered)),
                Err(_) => return None,
            },
        };
        let shim = match shim {
            Some(socket) => match streams::connect_shim(&socket, &opts).await {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::debug!(id = %c.id, "attach: {e}");
                    return None;
                }
            },
            None => None,
        };
        // Registered with the shim: the start may go on.
        if let Some(registered) = registered {
            let _ = registered.send(());
        }
        let engine = daemon.engine.clone();
        let task = c.task_id().to_string();
        let close = async move {
            let _ = engine.close_stdin(&task, None).await;
        };
        match streams::proxy(client, shim, opts, close).await {
            Ok(end) => {
                if end == AttachEnd::Detached {
                    daemon
                        .events
                        .publish("container", "detach", &c.id, c.event_attributes());
                }
                Some(end)
            }
            Err(e) => {
                tracing::debug!(id = %c.id, "attach: {e}");
                None
            }
        }
    }
}

/// `POST /containers/{id}/resize`: the TTY size of the container's process; 409 when
/// it does not run.
pub async fn resize(daemon: &SharedDaemon, reference: &str, width: u32, height: u32) -> Result<()> {
    let c = daemon.containers.lookup(reference)?;
    if !c.state.status.is_running() {
        return Err(ContainerError::Conflict(format!(
            "Container {} is not running",
            c.id
        )));
    }
    let req = ResizeRequest {
        width,
        height,
        exec_id: None,
    };
    Ok(daemon.engine.resize(c.task_id(), &req).await?)
}
