//! API group: swarm — swarm, services, nodes, tasks, secrets, configs. Berth has no swarm
//! mode, so every endpoint answers as a dockerd that is not part of a swarm: 503 with
//! dockerd's message. `swarm init` and `swarm join` are refused as not implemented.
use axum::extract::MatchedPath;
use axum::http::Method;
use axum::routing::{get, post};
use axum::{Extension, Router};

use super::{ApiError, ApiVersion};
use crate::state::SharedDaemon;

/// dockerd's answer on a node that is not a swarm manager.
pub const NOT_A_MANAGER: &str =
    "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
        .route("/swarm", get(not_manager))
        .route("/swarm/init", post(unsupported))
        .route("/swarm/join", post(unsupported))
        .route("/swarm/leave", post(not_in_swarm))
        .route("/swarm/update", post(not_manager))
        .route("/swarm/unlockkey", get(not_manager))
        .route("/swarm/unlock", post(not_manager))
        .route("/services", get(not_manager))
        .route("/services/create", post(not_manager))
        .route("/services/{id}", get(not_manager).delete(not_manager))
        .route("/services/{id}/update", post(not_manager))
        .route("/services/{id}/logs", get(not_manager))
        .route("/nodes", get(not_manager))
        .route("/nodes/{id}", get(not_manager).delete(not_manager))
        .route("/nodes/{id}/update", post(not_manager))
        .route("/tasks", get(not_manager))
        .route("/tasks/{id}", get(not_manager))
        .route("/tasks/{id}/logs", get(not_manager))
        .route("/secrets", get(not_manager))
        .route("/secrets/create", post(not_manager))
        .route("/secrets/{id}", get(not_manager).delete(not_manager))
        .route("/secrets/{id}/update", post(not_manager))
        .route("/configs", get(not_manager))
        .route("/configs/create", post(not_manager))
        .route("/configs/{id}", get(not_manager).delete(not_manager))
        .route("/configs/{id}/update", post(not_manager))
}

/// The API version a route appeared in (secrets 1.25, configs 1.30), as dockerd checks it.
pub fn minimum_version(path: &str) -> Option<u32> {
    if path.starts_with("/secrets") {
        Some(25)
    } else if path.starts_with("/configs") {
        Some(30)
    } else {
        None
    }
}

async fn not_manager(
    method: Method,
    path: MatchedPath,
    Extension(version): Extension<ApiVersion>,
) -> ApiError {
    if let Some(min) = minimum_version(path.as_str()) {
        if version.before(min) {
            return ApiError::bad_request(format!(
                "{method} {} requires minimum API version 1.{min}",
                path.as_str()
            ));
        }
    }
    ApiError::unavailable(NOT_A_MANAGER)
}

async fn not_in_swarm() -> ApiError {
    ApiError::unavailable("This node is not part of a swarm")
}

async fn unsupported() -> ApiError {
    ApiError::not_implemented(
        "Swarm mode is not supported by Berth: this engine cannot initialize or join a swarm",
    )
}
