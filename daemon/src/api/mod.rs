//! The Docker Engine API: one router built from each API group's `routes()`, behind
//! `front` (web pages refused by `origin`, the `/v1.NN` prefix of `version`, dockerd's
//! headers) and, on each matched route, the version check and the request-body rules of
//! `request_body`.
pub mod attach_ws;
pub mod auth;
pub mod body;
pub mod build;
pub mod commit;
pub mod containers;
pub mod distribution;
pub mod error;
pub mod events;
pub mod exec;
pub mod front;
pub mod host;
pub mod host_config_words;
pub mod image_archive;
pub mod image_transfer;
pub mod images;
pub mod info;
pub mod json_answer;
pub mod networks;
pub mod origin;
pub mod plugins;
pub mod request_body;
pub mod search;
pub mod stats;
pub mod streams;
pub mod swarm;
pub mod system;
pub mod system_df;
pub mod version;
pub mod volumes;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;

use crate::state::SharedDaemon;

pub use error::{ApiError, ApiResult};
pub use front::App;
pub use version::ApiVersion;

/// The whole API as served: `routes`, each matched route checked by [`route_checks`];
/// dockerd's 404 for unknown paths and methods; in front (`front::App`), the refusal of web
/// pages the CORS setting does not allow, the `/v1.NN` prefix and dockerd's headers.
pub fn app(daemon: SharedDaemon) -> App {
    let cors = origin::CorsPolicy::from_setting(daemon.config.api.cors_header.as_deref());
    let router = routes(daemon)
        .route_layer(middleware::from_fn(route_checks))
        .fallback(version::unknown_path)
        .method_not_allowed_fallback(version::unknown_path);
    App::new(router, cors)
}

/// What every matched route checks before its handler: the API version (`version::check`),
/// then the request body's type and size (`request_body::enforce`).
async fn route_checks(req: Request, next: Next) -> Response {
    match version::check(req) {
        Ok(req) => request_body::enforce(req, next).await,
        Err(refused) => refused,
    }
}

/// All routes, unversioned (`/images/json`); `app` strips `/v1.NN`.
pub fn routes(daemon: SharedDaemon) -> Router {
    Router::new()
        .merge(system::routes())
        .merge(images::routes())
        .merge(image_transfer::routes())
        .merge(image_archive::routes())
        .merge(auth::routes())
        .merge(distribution::routes())
        .merge(containers::routes())
        .merge(commit::routes())
        .merge(exec::routes())
        .merge(networks::routes())
        .merge(streams::routes())
        .merge(attach_ws::routes())
        .merge(stats::routes())
        .merge(system_df::routes())
        .merge(build::routes())
        .merge(events::routes())
        .merge(swarm::routes())
        .merge(plugins::routes())
        .merge(search::routes())
        .merge(volumes::routes())
        .with_state(daemon)
}

/// A header map from static pairs (tests).
#[cfg(test)]
pub(crate) fn header_map(pairs: &[(&'static str, &'static str)]) -> axum::http::HeaderMap {
    let mut h = axum::http::HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, axum::http::HeaderValue::from_static(v));
    }
    h
}
