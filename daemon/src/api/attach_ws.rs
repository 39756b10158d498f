//! `GET /containers/{id}/attach/ws`: attach over a websocket (moby's
//! `wsContainersAttach`). Output is never multiplexed: each chunk of stdout or stderr
//! is one message, binary from API 1.28 on (text before); messages from the client go
//! to the container's stdin. Detach keys, `logs` and `stream` work as with attach.
use std::path::PathBuf;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{ApiError, ApiResult, ApiVersion};
use crate::containers::attach_gate::{SignalOnRead, Ticket};
use crate::containers::{Container, ContainerError, Status};
use crate::state::SharedDaemon;
use crate::streams::{self, AttachEnd, AttachOptions, Form, FrameDecoder};

pub fn routes() -> Router<SharedDaemon> {
    Router::new().route("/containers/{id}/attach/ws", get(attach_ws_route))
}

/// Where the session finds the container's process.
enum Target {
    /// Running: its task's attach socket.
    Socket(PathBuf),
    /// Not started yet: the socket comes with the start.
    Gate(tokio::sync::oneshot::Receiver<Ticket>),
    /// Only the log replay (`stream=false`).
    None,
}

async fn attach_ws_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    version: Option<Extension<ApiVersion>>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    let c = daemon.containers.lookup(&id)?;
    let form = Form::parse(query.as_deref());
    let keys = streams::detach_keys_from_query(form.get("detachKeys"))?;
    match c.state.status {
        Status::Paused => {
            return Err(ApiError::conflict(
                "You cannot attach to a paused container, unpause it first",
            ))
        }
        Status::Restarting => {
            return Err(ApiError::conflict(
                "You cannot attach to a restarting container, wait until it is running",
            ))
        }
        _ => {}
    }
    let opts = AttachOptions {
        exec_id: None,
        stdin: form.bool("stdin") && c.config.open_stdin.unwrap_or(false),
        stdout: form.bool("stdout"),
        stderr: form.bool("stderr"),
        tty: c.tty(),
        stdin_once: c.config.stdin_once.unwrap_or(false),
        detach_keys: keys.unwrap_or_default(),
        logs: (form.bool("logs") && c.log_driver() != "none").then(|| c.log_path()),
        stream: form.bool("stream"),
    };
    let target = if !opts.stream {
        Target::None
    } else if c.state.status.is_running() {
        let task = daemon
            .engine
            .get(c.task_id())
            .await
            .map_err(ContainerError::from)?;
        Target::Socket(PathBuf::from(task.attach_socket))
    } else {
        Target::Gate(daemon.attach_gate.wait_for_task(&c.id))
    };
    daemon
        .events
        .publish("container", "attach", &c.id, c.event_attributes());
    let minor = version
        .map(|Extension(v)| v.0)
        .unwrap_or(super::version::MAX_API_VERSION.0);
    let binary = minor >= 28;
    Ok(ws.on_upgrade(move |socket| session(daemon, c, opts, target, socket, binary)))
}

/// One websocket attach, until the output ends, the client detaches or goes away.
async fn session(
    daemon: SharedDaemon,
    c: Container,
    opts: AttachOptions,
    target: Target,
    ws: WebSocket,
    binary: bool,
) {
    let (socket, ready) = match target {
        Target::Socket(s) => (s, None),
        Target::Gate(gate) => match gate.await {
            Ok((s, ack)) => (s, Some(ack)),
            Err(_) => return,
        },
        Target::None => (PathBuf::new(), None),
    };
    let Some(task) = daemon
        .containers
        .get(&c.id)
        .map(|c| c.task_id().to_string())
    else {
        return;
    };
    let engine = daemon.engine.clone();
    let close = async move {
        let _ = engine.close_stdin(&task, None).await;
    };
    // The attach code speaks to `client`; `ours` carries the bytes to and from the socket.
    let (client, ours) = tokio::io::duplex(64 * 1024);
    let (mut from_attach, mut to_attach) = tokio::io::split(ours);
    let (mut ws_out, mut ws_in) = ws.split();
    let (tty, closes_stdin) = (opts.tty, opts.stdin && opts.stdin_once && !opts.tty);
    let attach = streams::attach(SignalOnRead::new(client, ready), &socket, opts, close);
    let output = async {
        let mut buf = vec![0u8; 32 * 1024];
        let mut frames = FrameDecoder::new();
        loop {
            let n = match from_attach.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut chunks = Vec::new();
            if tty {
                chunks.push(buf[..n].to_vec());
            } else {
                frames.feed(&buf[..n]);
                while let Ok(Some(frame)) = frames.next_frame() {
                    chunks.push(frame.payload.to_vec());
                }
            }
            for chunk in chunks {
                let msg = if binary {
                    Message::Binary(chunk.into())
                } else {
                    Message::Text(String::from_utf8_lossy(&chunk).into_owned().into())
                };
                if ws_out.send(msg).await.is_err() {
                    return false;
                }
            }
        }
        let _ = ws_out.send(Message::Close(None)).await;
        true
    };
    let input = async {
        while let Some(Ok(msg)) = ws_in.next().await {
            let data = match msg {
                Message::Binary(b) => b.to_vec(),
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Close(_) => break,
                _ => continue,
            };
            if to_attach.write_all(&data).await.is_err() {
                break;
            }
        }
        if closes_stdin {
            // The end of the client's input closes the process's stdin; output goes on.
            let _ = to_attach.shutdown().await;
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(attach, output, input);
    tokio::select! {
        end = &mut attach => {
            // The attach is over: the rest of its output goes out, then the close.
            output.await;
            if let Ok(AttachEnd::Detached) = end {
                daemon.events.publish("container", "detach", &c.id, c.event_attributes());
            }
            if let Err(e) = end {
                tracing::debug!(id = %c.id, "websocket attach: {e}");
            }
        }
        _ = &mut output => {}
        () = &mut input => {}
    }
}
