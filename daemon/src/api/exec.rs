//! API group: exec — create, start, resize, inspect.
use super::json_answer::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::json;

use super::containers::param;
use super::{ApiError, ApiResult, ApiVersion};
use crate::containers::exec;
use crate::state::SharedDaemon;
use crate::streams;

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
    let _stage = crate::containers::timing::stage("exec.create", &id);
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
    match exec::start(&daemon, &id, start.into()).await? {
        exec::Started::Detached => Ok(StatusCode::OK.into_response()),
        exec::Started::Attached(session) => {
            let minor = version
                .map(|Extension(v)| v.0)
                .unwrap_or(super::version::MAX_API_VERSION.0);
            let media = streams::stream_media_type(session.tty(), minor);
            let req = Request::from_parts(parts, axum::body::Body::empty());
            Ok(streams::hijack(req, media, move |io| async move {
                let id = session.id().to_string();
                if let Err(e) = session.run(io).await {
                    tracing::debug!(exec = %id, "exec start: {e}");
                }
            }))
        }
    }
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
