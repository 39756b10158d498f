//! API group: containers — create, lifecycle, inspect, list, logs, attach.
use axum::Router;

use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
}
