//! API group: auth — `POST /auth` checks credentials against the registry, as `docker login`.
use super::json_answer::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde::Serialize;

use super::ApiError;
use crate::registry::login::login;
use crate::registry::AuthConfig;
use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    Router::new().route("/auth", post(authenticate))
}

/// dockerd's answer, in its field order.
#[derive(Debug, Serialize)]
struct AuthResponse {
    #[serde(rename = "IdentityToken")]
    identity_token: String,
    #[serde(rename = "Status")]
    status: String,
}

/// `POST /auth` `{username, password, serveraddress}`: "Login Succeeded", or dockerd's
/// "login attempt to http://…/v2/ failed with status: 401 Unauthorized" (401).
async fn authenticate(
    State(daemon): State<SharedDaemon>,
    body: Bytes,
) -> Result<Json<AuthResponse>, ApiError> {
    let credentials =
        AuthConfig::from_json(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let outcome = login(&daemon.config, &credentials).await?;
    tracing::info!(server = %credentials.serveraddress, user = %credentials.username, "registry login succeeded");
    Ok(Json(AuthResponse {
        identity_token: outcome.identity_token,
        status: outcome.status,
    }))
}
