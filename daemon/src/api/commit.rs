//! API: `POST /commit` (`docker commit`), as dockerd's `postCommit`.
use super::json_answer::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bollard_stubs::models::ContainerConfig;
use serde_json::{json, Value};

use super::containers::{bool_param, param};
use super::{ApiError, ApiResult};
use crate::containers::commit::{commit, CommitRequest};
use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    Router::new().route("/commit", post(commit_route))
}

/// The body's config: a `ContainerConfigWrapper` (Config fields at the top; its
/// `HostConfig` and `NetworkingConfig` are not part of an image); none when the body is
/// empty.
fn body_config(body: &[u8]) -> ApiResult<Option<Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let config: ContainerConfig = super::body::container_json(body)?;
    serde_json::to_value(config)
        .map(Some)
        .map_err(|e| ApiError::internal(format!("commit config: {e}")))
}

async fn commit_route(
    State(daemon): State<SharedDaemon>,
    Query(pairs): Query<Vec<(String, String)>>,
    body: Bytes,
) -> ApiResult<Response> {
    let config = body_config(&body)?;
    let reference = crate::images::tag::tag_reference(
        param(&pairs, "repo").unwrap_or(""),
        param(&pairs, "tag").unwrap_or(""),
    )?;
    // Paused by default since API 1.13.
    let pause = match param(&pairs, "pause") {
        None | Some("") => true,
        Some(_) => bool_param(&pairs, "pause"),
    };
    let request = CommitRequest {
        container: param(&pairs, "container").unwrap_or("").to_string(),
        reference,
        comment: param(&pairs, "comment").unwrap_or("").to_string(),
        author: param(&pairs, "author").unwrap_or("").to_string(),
        pause,
        changes: pairs
            .iter()
            .filter(|(k, _)| k == "changes")
            .map(|(_, v)| v.clone())
            .collect(),
        config,
    };
    let id = commit(&daemon, request).await?;
    Ok((StatusCode::CREATED, Json(json!({ "Id": id }))).into_response())
}
