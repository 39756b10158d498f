//! The local API's routes (docs/engine-protocol.md, "berth-containerd").

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::*;

type S = State<Arc<Engine>>;

pub fn router(engine: Arc<Engine>) -> Router {
    let router = Router::new();
    // A build that stands in for one before versioning (tests) has no such call.
    let router = if berth_proto::protocol_version() >= 2 {
        router.route("/version", get(version))
    } else {
        router
    };
    router
        .route("/tasks", post(create).get(list))
        .route("/tasks/{id}", get(get_task).delete(delete))
        .route("/tasks/{id}/start", post(start))
        .route("/tasks/{id}/kill", post(kill))
        .route("/tasks/{id}/pause", post(pause))
        .route("/tasks/{id}/resume", post(resume))
        .route("/tasks/{id}/update", post(update))
        .route("/tasks/{id}/reopen-log", post(reopen_log))
        .route("/tasks/{id}/resize", post(resize))
        .route("/tasks/{id}/close-stdin", post(close_stdin))
        .route("/tasks/{id}/exec", post(exec))
        .route("/tasks/{id}/exec/{exec_id}/start", post(exec_start))
        .route("/tasks/{id}/exec/{exec_id}", get(exec_state))
        .route("/tasks/{id}/wait", post(wait))
        .route("/events", get(events))
        .with_state(engine)
}

/// A JSON body; an empty body is `{}` (so `null`/default fields apply).
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| Error::BadRequest(format!("bad request body: {e}")))
}

fn empty() -> Json<Empty> {
    Json(Empty {})
}

/// Runs a state-changing operation in a task of its own: if berthd goes away mid-call
/// (its request is cancelled, or it is killed), the operation still finishes — a shim
/// is not left half-started, an id not left reserved — as containerd's do.
async fn to_the_end<T: Send + 'static>(
    op: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    tokio::spawn(op)
        .await
        .map_err(|e| Error::Shim(format!("the operation failed: {e}")))?
}

async fn create(
    State(e): S,
    b: Bytes,
) -> Result<(axum::http::StatusCode, Json<CreateTaskResponse>)> {
    let req = body(&b)?;
    let created = to_the_end(async move { e.create(req).await }).await?;
    Ok((axum::http::StatusCode::CREATED, Json(created)))
}

/// The protocol version (berth_proto::version) and the arguments it was started with:
/// berthd replaces a berth-containerd of another version or configuration with its own.
async fn version() -> Json<berth_proto::VersionView> {
    Json(berth_proto::VersionView {
        protocol: berth_proto::protocol_version(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        args: berth_proto::configuration_args(std::env::args().skip(1)),
    })
}

async fn list(State(e): S) -> Json<Vec<TaskView>> {
    Json(e.list())
}

async fn get_task(State(e): S, Path(id): Path<String>) -> Result<Json<TaskView>> {
    Ok(Json(e.get(&id)?))
}

async fn start(State(e): S, Path(id): Path<String>) -> Result<Json<PidResponse>> {
    let pid = to_the_end(async move { e.start(&id).await }).await?;
    Ok(Json(PidResponse { pid }))
}

async fn kill(State(e): S, Path(id): Path<String>, b: Bytes) -> Result<Json<Empty>> {
    let req: KillRequest = body(&b)?;
    if req.signal <= 0 || req.signal > 64 {
        return Err(Error::BadRequest(format!("invalid signal {}", req.signal)));
    }
    to_the_end(async move { e.kill(&id, req).await }).await?;
    Ok(empty())
}

async fn pause(State(e): S, Path(id): Path<String>) -> Result<Json<Empty>> {
    to_the_end(async move { e.pause(&id).await }).await?;
    Ok(empty())
}

async fn update(State(e): S, Path(id): Path<String>, b: Bytes) -> Result<Json<Empty>> {
    let req = body(&b)?;
    to_the_end(async move { e.update(&id, req).await }).await?;
    Ok(empty())
}

async fn reopen_log(State(e): S, Path(id): Path<String>) -> Result<Json<Empty>> {
    e.reopen_log(&id).await?;
    Ok(empty())
}

async fn resume(State(e): S, Path(id): Path<String>) -> Result<Json<Empty>> {
    to_the_end(async move { e.resume(&id).await }).await?;
    Ok(empty())
}

async fn resize(State(e): S, Path(id): Path<String>, b: Bytes) -> Result<Json<Empty>> {
    e.resize(&id, body(&b)?).await?;
    Ok(empty())
}

async fn close_stdin(State(e): S, Path(id): Path<String>, b: Bytes) -> Result<Json<Empty>> {
    let req: ProcessRef = body(&b)?;
    to_the_end(async move { e.close_stdin(&id, req.exec_id).await }).await?;
    Ok(empty())
}

async fn exec(State(e): S, Path(id): Path<String>, b: Bytes) -> Result<Json<Empty>> {
    let req = body(&b)?;
    to_the_end(async move { e.exec(&id, req).await }).await?;
    Ok(empty())
}

async fn exec_start(
    State(e): S,
    Path((id, exec_id)): Path<(String, String)>,
) -> Result<Json<PidResponse>> {
    let pid = to_the_end(async move { e.exec_start(&id, &exec_id).await }).await?;
    Ok(Json(PidResponse { pid }))
}

async fn exec_state(
    State(e): S,
    Path((id, exec_id)): Path<(String, String)>,
) -> Result<Json<ExecState>> {
    Ok(Json(e.exec_state(&id, &exec_id).await?))
}

async fn wait(State(e): S, Path(id): Path<String>, b: Bytes) -> Result<Json<ExitInfo>> {
    let req: ProcessRef = body(&b)?;
    Ok(Json(e.wait(&id, req.exec_id).await?))
}

async fn delete(State(e): S, Path(id): Path<String>) -> Result<Json<ExitInfo>> {
    Ok(Json(to_the_end(async move { e.delete(&id).await }).await?))
}

/// Newline-delimited JSON, one event a line, until the client goes away (or falls so
/// far behind that it lost events: then the stream ends).
async fn events(State(e): S) -> Response {
    let rx = e.events.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(ev) => {
                let mut line = serde_json::to_vec(&ev).unwrap_or_default();
                line.push(b'\n');
                Some((Ok::<_, Infallible>(Bytes::from(line)), rx))
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                // A subscriber that missed events must not believe it saw them all:
                // end its stream, so it reconnects and lists the tasks again.
                tracing::warn!(
                    missed = n,
                    "an events subscriber fell behind: closing its stream"
                );
                None
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
        }
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}
