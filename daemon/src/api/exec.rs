//! API group: exec — create, start, resize, inspect.
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::containers::param;
use super::{ApiError, ApiResult};
use crate::containers::exec;
use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
        .route("/containers/{id}/exec", post(create_route))
        .route("/exec/{id}/start", post(start_route))
        .route("/exec/{id}/resize", post(resize_route))
        .route("/exec/{id}/json", get(inspect_route))
}

fn parse_body<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

async fn create_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let config: bollard_stubs::models::ExecConfig = parse_body(&body)?;
    let exec_id = exec::create(&daemon, &id, config)?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": exec_id }))).into_response())
}

async fn start_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let start: bollard_stubs::models::ExecStartConfig = parse_body(&body)?;
    if !start.detach.unwrap_or(false) {
        // Attached starts need the hijacked streams (streams module): not wired yet.
        return Err(ApiError::not_found("page not found"));
    }
    let (e, c) = exec::begin(&daemon, &id)?;
    exec::prepare(&daemon, &e, &c).await?;
    exec::run(&daemon, &e, &c).await?;
    Ok(StatusCode::OK.into_response())
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
    Ok(Json(exec::inspect(&daemon, &id)?).into_response())
}
