//! API group: volumes — create, list, inspect, remove, prune (and dockerd's answer to the
//! swarm-only update). Thin handlers over `crate::volumes::service`.
use super::json_answer::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{json, Value};

use super::containers::{bool_param, param};
use super::{ApiError, ApiResult, ApiVersion};
use crate::state::SharedDaemon;
use crate::volumes::{service, CreateRequest, VolumeError};

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
        .route("/volumes", get(list_route))
        .route("/volumes/create", post(create_route))
        .route("/volumes/prune", post(prune_route))
        .route(
            "/volumes/{name}",
            get(inspect_route).put(update_route).delete(delete_route),
        )
}

impl From<VolumeError> for ApiError {
    fn from(e: VolumeError) -> Self {
        use VolumeError as E;
        match e {
            E::NotFound(_) | E::NoDriver { .. } => ApiError::not_found(e.to_string()),
            E::InUse { .. } => ApiError::conflict(e.to_string()),
            E::Invalid(m) => ApiError::bad_request(m),
            E::Mount(_) | E::Io(..) => ApiError::internal(e.to_string()),
        }
    }
}

type Pairs = Query<Vec<(String, String)>>;

fn version_of(version: Option<Extension<ApiVersion>>) -> (u32, u32) {
    let minor = version
        .map(|Extension(v)| v.0)
        .unwrap_or(super::version::MAX_API_VERSION.0);
    (1, minor)
}

async fn create_route(State(daemon): State<SharedDaemon>, body: Bytes) -> ApiResult<Response> {
    let req: CreateRequest = super::body::json_or_default(&body)?;
    let d = daemon.clone();
    let volume = tokio::task::spawn_blocking(move || service::create(&d, &req))
        .await
        .map_err(|e| ApiError::internal(format!("creating the volume: {e}")))??;
    Ok((
        StatusCode::CREATED,
        Json(service::to_json(&daemon, &volume, false)),
    )
        .into_response())
}

async fn list_route(
    State(daemon): State<SharedDaemon>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let volumes = service::list(&daemon, param(&pairs, "filters").unwrap_or(""))?;
    let shown: Vec<Value> = volumes
        .iter()
        .map(|v| service::to_json(&daemon, v, false))
        .collect();
    // dockerd sends `null` when there are no warnings.
    Ok(Json(json!({ "Volumes": shown, "Warnings": null })).into_response())
}

async fn inspect_route(
    State(daemon): State<SharedDaemon>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let volume = daemon.volumes.get(&name)?;
    Ok(Json(service::to_json(&daemon, &volume, false)).into_response())
}

/// Updating is for swarm cluster volumes: a dockerd outside a swarm refuses it.
async fn update_route() -> ApiResult<Response> {
    Err(ApiError::unavailable(
        "volume update only valid for cluster volumes, but swarm is not enabled",
    ))
}

async fn delete_route(
    State(daemon): State<SharedDaemon>,
    Path(name): Path<String>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let force = bool_param(&pairs, "force");
    let d = daemon.clone();
    tokio::task::spawn_blocking(move || service::remove(&d, &name, force))
        .await
        .map_err(|e| ApiError::internal(format!("removing the volume: {e}")))??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn prune_route(
    State(daemon): State<SharedDaemon>,
    version: Option<Extension<ApiVersion>>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let filters = param(&pairs, "filters").unwrap_or("").to_string();
    let api_version = version_of(version);
    let d = daemon.clone();
    let (deleted, reclaimed) =
        tokio::task::spawn_blocking(move || service::prune(&d, &filters, api_version))
            .await
            .map_err(|e| ApiError::internal(format!("pruning volumes: {e}")))??;
    let deleted = if deleted.is_empty() {
        Value::Null
    } else {
        json!(deleted)
    };
    Ok(Json(json!({ "VolumesDeleted": deleted, "SpaceReclaimed": reclaimed })).into_response())
}
