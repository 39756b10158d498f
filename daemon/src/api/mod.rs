//! The Docker Engine API: one router built from each API group's `routes()`,
//! wrapped by the version-prefix handling of `version`.
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
pub mod host;
pub mod host_config_words;
pub mod image_archive;
pub mod image_transfer;
pub mod images;
pub mod info;
pub mod networks;
pub mod plugins;
pub mod search;
pub mod stats;
pub mod streams;
pub mod swarm;
pub mod system;
pub mod system_df;
pub mod version;
pub mod volumes;

use axum::middleware;
use axum::Router;

use crate::state::SharedDaemon;

pub use error::{ApiError, ApiResult};
pub use version::ApiVersion;

/// The whole API as served: `routes` with the version check on every matched route,
/// dockerd's 404 for unknown paths and methods, and the outer `version::serve` layer that
/// strips `/v1.NN` before routing and adds dockerd's headers.
pub fn app(daemon: SharedDaemon) -> Router {
    let api = routes(daemon)
        .route_layer(middleware::from_fn(version::check))
        .fallback(version::unknown_path)
        .method_not_allowed_fallback(version::unknown_path);
    Router::new()
        .fallback_service(api)
        .layer(middleware::from_fn(version::serve))
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
