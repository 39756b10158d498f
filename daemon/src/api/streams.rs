//! API group: container streams — attach (hijacked), logs, TTY resize — on top of the
//! `streams` module and the shim's attach socket.
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use tokio::sync::watch;

use super::{ApiError, ApiResult, ApiVersion};
use crate::containers::attach_gate::SignalOnRead;
use crate::containers::{Container, ContainerError, Status};
use crate::state::SharedDaemon;
use crate::streams::{self, AttachEnd, AttachOptions, Form, LogsOptions};

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
        .route("/containers/{id}/attach", post(attach_route))
        .route("/containers/{id}/logs", get(logs_route))
        .route("/containers/{id}/resize", post(resize_route))
}

fn api_minor(v: Option<Extension<ApiVersion>>) -> u32 {
    v.map(|Extension(v)| v.0)
        .unwrap_or(super::version::MAX_API_VERSION.0)
}

/// A receiver that turns `true` once the container no longer runs.
pub fn stopped_signal(daemon: &SharedDaemon, id: &str) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    let Some(mut notice) = daemon.containers.watch(id) else {
        let _ = tx.send(true);
        return rx;
    };
    let daemon = daemon.clone();
    let id = id.to_string();
    tokio::spawn(async move {
        loop {
            let running = daemon
                .containers
                .get(&id)
                .is_some_and(|c| c.state.status.is_running());
            if !running {
                let _ = tx.send(true);
                return;
            }
            tokio::select! {
                changed = notice.changed() => if changed.is_err() { let _ = tx.send(true); return; },
                _ = tx.closed() => return,
            }
        }
    });
    rx
}

/// The attach socket of a running container's task.
async fn attach_socket(daemon: &SharedDaemon, c: &Container) -> ApiResult<PathBuf> {
    let task = daemon
        .engine
        .get(c.task_id())
        .await
        .map_err(ContainerError::from)?;
    Ok(PathBuf::from(task.attach_socket))
}

async fn attach_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    version: Option<Extension<ApiVersion>>,
    req: Request,
) -> ApiResult<Response> {
    let c = daemon.containers.lookup(&id)?;
    let form = Form::parse(req.uri().query());
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
    let tty = c.tty();
    let logs = (form.bool("logs") && c.log_driver() != "none").then(|| c.log_path());
    let opts = AttachOptions {
        exec_id: None,
        stdin: form.bool("stdin") && c.config.open_stdin.unwrap_or(false),
        stdout: form.bool("stdout"),
        stderr: form.bool("stderr"),
        tty,
        stdin_once: c.config.stdin_once.unwrap_or(false),
        detach_keys: keys.unwrap_or_default(),
        logs,
        stream: form.bool("stream"),
    };
    let running = c.state.status.is_running();
    let socket_now = if running && opts.stream {
        Some(attach_socket(&daemon, &c).await?)
    } else {
        None
    };
    let gate = (!running && opts.stream).then(|| daemon.attach_gate.wait_for_task(&c.id));
    daemon
        .events
        .publish("container", "attach", &c.id, c.event_attributes());
    let media = streams::stream_media_type(tty, api_minor(version));
    let session_daemon = daemon.clone();
    Ok(streams::hijack(req, media, move |io| async move {
        let (socket, ready) = match (socket_now, gate) {
            (Some(s), _) => (s, None),
            (None, Some(gate)) => match gate.await {
                Ok((s, ack)) => (s, Some(ack)),
                Err(_) => return,
            },
            (None, None) => (PathBuf::new(), None),
        };
        // The task is looked up again: a container started meanwhile has a new one.
        let task = match session_daemon.containers.get(&c.id) {
            Some(c) => c.task_id().to_string(),
            None => return,
        };
        let engine = session_daemon.engine.clone();
        let close = async move {
            let _ = engine.close_stdin(&task, None).await;
        };
        let io = SignalOnRead::new(io, ready);
        match streams::attach(io, &socket, opts, close).await {
            Ok(AttachEnd::Detached) => {
                session_daemon
                    .events
                    .publish("container", "detach", &c.id, c.event_attributes())
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(id = %c.id, "attach: {e}"),
        }
    }))
}

async fn logs_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    version: Option<Extension<ApiVersion>>,
    req: Request,
) -> ApiResult<Response> {
    let c = daemon.containers.lookup(&id)?;
    if c.log_driver() == "none" {
        return Err(ApiError::not_implemented(
            "configured logging driver does not support reading",
        ));
    }
    let opts = LogsOptions::from_query(req.uri().query())?;
    if !opts.stdout && !opts.stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let running = c.state.status.is_running();
    let opts = LogsOptions {
        follow: opts.follow && running,
        ..opts
    };
    let stopped = opts.follow.then(|| stopped_signal(&daemon, &c.id));
    let tty = c.tty();
    let body = Body::from_stream(streams::read_logs(c.log_path(), opts, tty, stopped));
    let media = streams::stream_media_type(tty, api_minor(version));
    Ok(([(header::CONTENT_TYPE, media)], body).into_response())
}

fn dimension(form: &Form, key: &str) -> ApiResult<u32> {
    let v = form.get(key);
    v.parse().map_err(|_| {
        ApiError::bad_request(format!("strconv.Atoi: parsing \"{v}\": invalid syntax"))
    })
}

async fn resize_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = daemon.containers.lookup(&id)?;
    let form = Form::parse(req.uri().query());
    let (h, w) = (dimension(&form, "h")?, dimension(&form, "w")?);
    if !c.state.status.is_running() {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            c.id
        )));
    }
    daemon
        .engine
        .resize(
            c.task_id(),
            &berth_proto::ResizeRequest {
                width: w,
                height: h,
                exec_id: None,
            },
        )
        .await
        .map_err(ContainerError::from)?;
    Ok(StatusCode::OK.into_response())
}
