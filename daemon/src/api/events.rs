//! API group: events — `GET /events` with filters, since and until.
use axum::Router;

use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
}
