//! API group: plugins. Berth has no managed plugins: the list is empty (true), a named
//! plugin is never found (dockerd's 404), and installing one is refused as not implemented.
use super::json_answer::Json;
use axum::extract::Path;
use axum::http::Method;
use axum::routing::{any, get, post};
use axum::{Extension, Router};
use serde_json::Value;

use super::{ApiError, ApiVersion};
use crate::state::SharedDaemon;

const NO_PLUGINS: &str =
    "Plugins are not supported by Berth: it cannot install, create or inspect remote plugins";

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
        .route("/plugins", get(list))
        .route("/plugins/privileges", get(unsupported))
        .route("/plugins/pull", post(unsupported))
        .route("/plugins/create", post(unsupported))
        .route("/plugins/{*rest}", any(named))
}

/// GET /plugins: none are installed.
async fn list() -> Json<Vec<Value>> {
    Json(Vec::new())
}

async fn unsupported() -> ApiError {
    ApiError::not_implemented(NO_PLUGINS)
}

/// `/plugins/{name}/json|enable|disable|push|upgrade|set` and `DELETE /plugins/{name}`,
/// where a name may contain slashes (`vieux/sshfs:latest`).
async fn named(
    method: Method,
    Path(rest): Path<String>,
    Extension(version): Extension<ApiVersion>,
) -> ApiError {
    let (name, action) = split_action(&rest);
    let known = matches!(
        (&method, action),
        (&Method::GET, Some("json"))
            | (&Method::DELETE, None)
            | (
                &Method::POST,
                Some("enable" | "disable" | "push" | "upgrade" | "set")
            )
    );
    if !known || name.is_empty() {
        return ApiError::not_found("page not found");
    }
    if action == Some("upgrade") && version.before(26) {
        return ApiError::bad_request(
            "POST /plugins/{name:.*}/upgrade requires minimum API version 1.26",
        );
    }
    ApiError::not_found(format!("plugin {name:?} not found"))
}

/// Splits `a/b:tag/json` into `("a/b:tag", Some("json"))`; `a/b` (DELETE) into `("a/b", None)`.
fn split_action(rest: &str) -> (&str, Option<&str>) {
    const ACTIONS: [&str; 6] = ["json", "enable", "disable", "push", "upgrade", "set"];
    if let Some((name, last)) = rest.rsplit_once('/') {
        if ACTIONS.contains(&last) {
            return (name, Some(last));
        }
    }
    (rest, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names_with_slashes() {
        assert_eq!(
            split_action("vieux/sshfs:latest/json"),
            ("vieux/sshfs:latest", Some("json"))
        );
        assert_eq!(split_action("x/enable"), ("x", Some("enable")));
        assert_eq!(split_action("vieux/sshfs"), ("vieux/sshfs", None));
    }
}
