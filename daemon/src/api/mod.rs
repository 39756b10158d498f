//! The Docker Engine API: one router built from each API group's `routes()`,
//! wrapped by the version-prefix handling of `version`.
pub mod auth;
pub mod distribution;
pub mod error;
pub mod image_transfer;
pub mod images;
pub mod swarm;
pub mod system;
pub mod version;

use axum::Router;

use crate::state::SharedDaemon;

pub use error::{ApiError, ApiResult};
pub use version::ApiVersion;

/// All routes, unversioned (`/images/json`); `version::serve` strips `/v1.NN`.
pub fn routes(daemon: SharedDaemon) -> Router {
    Router::new()
        .merge(system::routes())
        .merge(images::routes())
        .merge(image_transfer::routes())
        .merge(auth::routes())
        .merge(distribution::routes())
        .merge(swarm::routes())
        .fallback(version::unknown_path)
        .with_state(daemon)
}
