//! API group: distribution.
use axum::Router;

use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
}
