//! API group: exec — create, start, resize, inspect.
use axum::Router;

use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
}
