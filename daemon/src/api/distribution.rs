//! API group: distribution — `GET /distribution/{name}/json`: what a registry serves for
//! a reference (descriptor and platforms), with the caller's `X-Registry-Auth`.
use super::json_answer::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;

use super::image_transfer::{transfer_error, REGISTRY_AUTH_HEADER};
use super::ApiError;
use crate::reference::Reference;
use crate::registry::inspect::{inspect, DistributionInspect};
use crate::registry::AuthConfig;
use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    // Names contain slashes, hence the catch-all; the path must end in "/json".
    Router::new().route("/distribution/{*rest}", get(distribution_inspect))
}

async fn distribution_inspect(
    State(daemon): State<SharedDaemon>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Result<Json<DistributionInspect>, ApiError> {
    let name = rest
        .strip_suffix("/json")
        .ok_or_else(|| ApiError::not_found("page not found"))?;
    let reference = Reference::parse_with_default_tag(name.trim_start_matches('/'))?;
    // As for pulls, dockerd ignores a header that does not decode.
    let credentials = AuthConfig::from_header_lenient(
        headers
            .get(REGISTRY_AUTH_HEADER)
            .and_then(|v| v.to_str().ok()),
    );
    inspect(&daemon.config, &reference, &credentials)
        .await
        .map(Json)
        .map_err(transfer_error)
}
