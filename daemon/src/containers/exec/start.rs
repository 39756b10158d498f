//! `POST /exec/{id}/start` as dockerd's `ContainerExecStart`: the checks (404, 409
//! running or ran, container paused or stopped), the process registered with the task,
//! then either started at once (`Detach`) or handed back as an [`ExecSession`] that runs
//! on the hijacked connection: connect to the shim's attach socket (acknowledged, so
//! no output is lost), start the process, proxy, and end the stream only once the
//! exit code is recorded (the CLI inspects the exec the moment the stream ends). The
//! start request's `Tty` decides the stream's framing, as dockerd's router does; the
//! process has a terminal if it was created with one. After the detach keys the
//! connection is closed at once. An attached exec whose process cannot be prepared
//! (an unknown `--user`, …) gets its 200 and the reason on its stdout, and ends with
//! 126, as dockerd's router writes `ContainerExecStart`'s error after the hijack.

use bollard_stubs::models::ExecStartConfig;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::{process, publish, Exec};
use crate::containers::attach::attach_socket;
use crate::containers::engine::ExecRequest;
use crate::containers::record::{Container, Status};
use crate::containers::{timing, ContainerError, Result};
use crate::state::SharedDaemon;
use crate::streams::{self, AttachEnd, AttachOptions, StreamKind};

/// How long an ended stream waits for its exec's exit code.
const EXIT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The start request's body.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartRequest {
    pub detach: bool,
    /// The stream's framing: raw with true, multiplexed with false; None: as created.
    pub tty: Option<bool>,
}

impl From<ExecStartConfig> for StartRequest {
    fn from(c: ExecStartConfig) -> Self {
        StartRequest {
            detach: c.detach.unwrap_or(false),
            tty: c.tty,
        }
    }
}

pub enum Started {
    /// Running, nobody attached.
    Detached,
    /// To run on the client's connection.
    Attached(Box<ExecSession>),
}

/// An exec prepared in its task, to be started on the client's stream.
pub struct ExecSession {
    daemon: SharedDaemon,
    exec: Exec,
    c: Container,
    plan: Plan,
    opts: AttachOptions,
}

/// What the session does once the client's connection is taken over.
enum Plan {
    /// Connect to the shim's attach socket, start the process, proxy.
    Run { socket: streams::ShimSocket },
    /// Say why the exec cannot start (it ended with 126), as dockerd's router does.
    Refuse(ContainerError),
}

/// Checks, registers the process with the task, and starts it now when detached (to
/// its end, whatever happens to the caller).
pub async fn start(daemon: &SharedDaemon, exec_id: &str, req: StartRequest) -> Result<Started> {
    let (daemon, exec_id) = (daemon.clone(), exec_id.to_string());
    crate::containers::to_the_end::to_the_end(
        async move { start_now(&daemon, &exec_id, req).await },
    )
    .await
}

async fn start_now(daemon: &SharedDaemon, exec_id: &str, req: StartRequest) -> Result<Started> {
    let (exec, c) = begin(daemon, exec_id)?;
    let prepare_stage = timing::stage("exec.prepare", exec_id);
    let prepared = prepare(daemon, &exec, &c).await;
    drop(prepare_stage);
    if req.detach {
        prepared?;
        launch(daemon, &exec, &c).await?;
        return Ok(Started::Detached);
    }
    let keys = streams::parse_exec_detach_keys(exec.config.detach_keys.as_deref().unwrap_or(""))
        .map_err(|e| ContainerError::Invalid(e.to_string()))?;
    // dockerd hijacks the connection before it prepares the process: what keeps an
    // attached exec from starting (an unknown user, …) is said on the stream.
    let plan = match prepared {
        Ok(()) => match attach_socket(daemon, &c).await {
            Ok(socket) => Plan::Run { socket },
            Err(e) => {
                daemon.execs.finish(&exec.id, 126);
                Plan::Refuse(e)
            }
        },
        Err(e) => Plan::Refuse(e),
    };
    let opts = AttachOptions {
        exec_id: Some(exec.id.clone()),
        stdin: exec.attach_stdin(),
        stdout: exec.config.attach_stdout.unwrap_or(false),
        stderr: exec.config.attach_stderr.unwrap_or(false),
        tty: exec.tty(),
        // dockerd always closes an exec's stdin when the client's ends.
        stdin_once: true,
        detach_keys: keys.unwrap_or_default(),
        logs: None,
        stream: true,
        client_tty: Some(req.tty.unwrap_or(exec.tty())),
    };
    Ok(Started::Attached(Box::new(ExecSession {
        daemon: daemon.clone(),
        exec,
        c,
        plan,
        opts,
    })))
}

/// Checks an exec can start, marks it running; returns it with its container.
fn begin(daemon: &SharedDaemon, exec_id: &str) -> Result<(Exec, Container)> {
    let exec = daemon.execs.get(exec_id)?;
    if exec.running {
        return Err(ContainerError::Conflict(format!(
            "Error: Exec command {exec_id} is already running"
        )));
    }
    if exec.started {
        return Err(ContainerError::Conflict(format!(
            "Error: Exec command {exec_id} has already run"
        )));
    }
    let c = daemon.containers.lookup(&exec.container_id)?;
    if c.state.status == Status::Paused {
        return Err(ContainerError::Conflict(format!(
            "Container {} is paused, unpause the container before exec",
            c.id
        )));
    }
    if !c.state.status.is_running() {
        return Err(ContainerError::Conflict(format!(
            "container {} is not running",
            c.id
        )));
    }
    daemon.execs.update(exec_id, |e| {
        e.running = true;
        e.started = true;
    });
    Ok((exec, c))
}

/// Registers the process with the container's task (before anyone attaches).
async fn prepare(daemon: &SharedDaemon, exec: &Exec, c: &Container) -> Result<()> {
    let result = async {
        let req = ExecRequest {
            exec_id: exec.id.clone(),
            process: process::process(c, exec)?,
            terminal: exec.tty(),
            stdin: exec.attach_stdin(),
        };
        daemon.engine.exec(c.task_id(), &req).await?;
        Ok(())
    }
    .await;
    if result.is_err() {
        daemon.execs.finish(&exec.id, 126);
    }
    result
}

/// Starts the prepared process (`exec_start` first, as dockerd publishes it). Its exit
/// arrives with berth-containerd's `exec-exit` event (see `exited`).
async fn launch(daemon: &SharedDaemon, exec: &Exec, c: &Container) -> Result<()> {
    publish(daemon, c, "exec_start", exec, &[]);
    match daemon.engine.exec_start(c.task_id(), &exec.id).await {
        Ok(pid) => {
            daemon.execs.update(&exec.id, |e| e.pid = pid);
            Ok(())
        }
        Err(e) => {
            let failure = crate::containers::start_errors::classify(&e.to_string());
            daemon.execs.finish(&exec.id, failure.exit_code);
            Err(ContainerError::Internal(failure.message))
        }
    }
}

impl ExecSession {
    /// Whether the client gets raw bytes rather than multiplexed frames.
    pub fn tty(&self) -> bool {
        self.opts.client_raw()
    }

    /// The exec's ID.
    pub fn id(&self) -> &str {
        &self.exec.id
    }

    /// Runs the exec on `client` to its end (see the module's header). An exec that
    /// could not start is an error (which the client has been told on its stdout).
    pub async fn run<C: AsyncRead + AsyncWrite + Unpin + Send>(
        self,
        mut client: C,
    ) -> Result<AttachEnd> {
        let ExecSession {
            daemon,
            exec,
            c,
            plan,
            opts,
        } = self;
        let raw = opts.client_raw();
        let socket = match plan {
            Plan::Run { socket } => socket,
            Plan::Refuse(e) => {
                say(&mut client, raw, &e.to_string()).await;
                return Err(e);
            }
        };
        let exit_code = daemon.execs.exit_code(&exec.id);
        let attach_stage = timing::stage("exec.attach", &exec.id);
        let shim = match streams::connect_shim(&socket, &opts).await {
            Ok(s) => s,
            Err(e) => {
                daemon.execs.finish(&exec.id, 126);
                say(&mut client, raw, &format!("OCI runtime exec failed: {e}")).await;
                return Err(ContainerError::Internal(e.to_string()));
            }
        };
        drop(attach_stage);
        let launch_stage = timing::stage("exec.launch", &exec.id);
        let launched = launch(&daemon, &exec, &c).await;
        drop(launch_stage);
        if let Err(e) = launched {
            tracing::debug!(exec = %exec.id, "exec start: {e}");
            say(&mut client, raw, &format!("OCI runtime exec failed: {e}")).await;
            return Err(e);
        }
        let engine = daemon.engine.clone();
        let (task_id, exec_id) = (c.task_id().to_string(), exec.id.clone());
        let close = async move {
            let _ = engine.close_stdin(&task_id, Some(&exec_id)).await;
        };
        // Borrowed, so the connection stays open until the exit code is recorded.
        let stream_stage = timing::stage("exec.stream", &exec.id);
        let proxied = streams::proxy(&mut client, Some(shim), opts, close).await;
        drop(stream_stage);
        let end = match proxied {
            Ok(end) => end,
            Err(e) => {
                tracing::debug!(exec = %exec.id, "exec stream: {e}");
                AttachEnd::ClientClosed
            }
        };
        if end == AttachEnd::Detached {
            // Closed now, as dockerd closes it: the process runs on.
            drop(client);
            return Ok(end);
        }
        // The CLI asks for the exit code as soon as the stream ends: it is recorded
        // first (pushed by the `exec-exit` event; bounded, should the shim be gone).
        let exit_stage = timing::stage("exec.exit_wait", &exec.id);
        let exited = tokio::time::timeout(EXIT_WAIT, exit_code).await;
        drop(exit_stage);
        if exited.is_err() {
            tracing::warn!(exec = %exec.id, "no exit for an exec whose output ended");
        }
        let _ = client.shutdown().await;
        Ok(end)
    }
}

/// As dockerd: an exec that cannot start says why on the client's stdout.
async fn say<C: AsyncWrite + Unpin>(client: &mut C, raw: bool, message: &str) {
    let text = format!("{message}\r\n");
    let data = if raw {
        bytes::Bytes::from(text)
    } else {
        streams::encode_frame(StreamKind::Stdout, text.as_bytes())
    };
    let _ = client.write_all(&data).await;
    let _ = client.shutdown().await;
}

/// An exec exited with `code` (berth-containerd's `exec-exit`): recorded once, its
/// waiters woken, `exec_die` published.
pub fn exited(daemon: &SharedDaemon, exec_id: &str, code: i64) {
    let Some(exec) = daemon.execs.finish(exec_id, code) else {
        return;
    };
    if let Some(c) = daemon.containers.get(&exec.container_id) {
        publish(
            daemon,
            &c,
            "exec_die",
            &exec,
            &[("exitCode", code.to_string())],
        );
    }
}

/// After the event stream reconnects: the execs that ended while nobody listened.
pub async fn sync_exits(daemon: &SharedDaemon) {
    for e in daemon.execs.running() {
        if e.pid == 0 {
            continue; // not started yet: its start reports
        }
        let Some(c) = daemon.containers.get(&e.container_id) else {
            continue;
        };
        match daemon.engine.exec_state(c.task_id(), &e.id).await {
            Ok(state) if !state.status.is_live() => {
                exited(daemon, &e.id, state.exit_status.map_or(255, i64::from));
            }
            Ok(_) => {}
            // The task (or the exec) is gone: so is the process.
            Err(err) if err.is_not_found() => exited(daemon, &e.id, 255),
            Err(_) => {}
        }
    }
}
