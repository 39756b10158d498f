//! API group: moving images between registries and the daemon — pull (`POST /images/create`)
//! and push (`POST /images/{name}/push`).
use axum::Router;

use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
}
