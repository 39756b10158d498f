//! API group: exec — create, start, resize, inspect.
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;

use super::containers::param;
use super::{ApiError, ApiResult, ApiVersion};
use crate::containers::attach_gate::SignalOnRead;
use crate::containers::exec;
use crate::state::SharedDaemon;
use crate::streams::{self, AttachOptions};

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
        .route("/containers/{id}/exec", post(create_route))
        .route("/exec/{id}/start", post(start_route))
        .route("/exec/{id}/resize", post(resize_route))
        .route("/exec/{id}/json", get(inspect_route))
}

async fn create_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let config: bollard_stubs::models::ExecConfig = super::body::json_or_default(&body)?;
    let exec_id = exec::create(&daemon, &id, config)?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": exec_id }))).into_response())
}

async fn start_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    version: Option<Extension<ApiVersion>>,
    req: Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request: {e}")))?;
    let start: bollard_stubs::models::ExecStartConfig = super::body::json_or_default(&body)?;
    let (e, c) = exec::begin(&daemon, &id)?;
    exec::prepare(&daemon, &e, &c).await?;
    if start.detach.unwrap_or(false) {
        exec::run(&daemon, &e, &c).await?;
        return Ok(StatusCode::OK.into_response());
    }
    let task = daemon
        .engine
        .get(c.task_id())
        .await
        .map_err(crate::containers::ContainerError::from)?;
    let keys = streams::parse_exec_detach_keys(e.config.detach_keys.as_deref().unwrap_or(""))?;
    let opts = AttachOptions {
        exec_id: Some(e.id.clone()),
        stdin: e.attach_stdin(),
        stdout: e.config.attach_stdout.unwrap_or(false),
        stderr: e.config.attach_stderr.unwrap_or(false),
        tty: e.tty(),
        stdin_once: true,
        detach_keys: keys.unwrap_or_default(),
        logs: None,
        stream: true,
    };
    let minor = version
        .map(|Extension(v)| v.0)
        .unwrap_or(super::version::MAX_API_VERSION.0);
    let media = streams::stream_media_type(e.tty(), minor);
    let req = Request::from_parts(parts, axum::body::Body::empty());
    let socket = std::path::PathBuf::from(task.attach_socket);
    let tty = e.tty();
    Ok(streams::hijack(req, media, move |io| async move {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let mut io = SignalOnRead::new(io, Some(ready_tx)).holding_input(started_rx);
        let engine = daemon.engine.clone();
        let (task_id, exec_id) = (c.task_id().to_string(), e.id.clone());
        let close = async move {
            let _ = engine.close_stdin(&task_id, Some(&exec_id)).await;
        };
        // Borrowed, so the connection stays open until the exit code is recorded.
        let attached = streams::attach(&mut io, &socket, opts, close);
        let starter = async {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), ready_rx).await;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let failed = match exec::run(&daemon, &e, &c).await {
                Ok(()) => None,
                Err(err) => {
                    tracing::debug!(exec = %e.id, "exec start: {err}");
                    Some(err.to_string())
                }
            };
            drop(started_tx);
            failed
        };
        let (end, failed) = tokio::join!(attached, starter);
        if let Some(message) = failed {
            // As dockerd: the error goes to the client's stdout.
            let text = format!("OCI runtime exec failed: {message}\r\n");
            let data = if tty {
                bytes::Bytes::from(text)
            } else {
                streams::encode_frame(streams::StreamKind::Stdout, text.as_bytes())
            };
            let _ = tokio::io::AsyncWriteExt::write_all(&mut io, &data).await;
        }
        if let Err(err) = end {
            tracing::debug!(exec = %e.id, "exec stream: {err}");
        }
        // The CLI asks for the exit code as soon as the stream ends: record it first.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while daemon.execs.get(&e.id).is_ok_and(|x| x.running)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut io).await;
    }))
}

async fn resize_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let dim = |k: &str| -> ApiResult<u32> {
        let v = param(&pairs, k).unwrap_or("");
        v.parse().map_err(|_| {
            ApiError::bad_request(format!("strconv.Atoi: parsing \"{v}\": invalid syntax"))
        })
    };
    let (h, w) = (dim("h")?, dim("w")?);
    exec::resize(&daemon, &id, w, h).await?;
    Ok(StatusCode::OK.into_response())
}

async fn inspect_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(exec::inspect(&daemon, &id).await?).into_response())
}
