//! API group: build — only `POST /build/prune`. Berth has the classic builder's API
//! surface but keeps no build cache, so a prune answers as dockerd does with an empty
//! cache (`{"CachesDeleted":null,"SpaceReclaimed":0}`), after dockerd's checks of the
//! query. The other `/build` routes stay unanswered until a builder exists.
use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::containers::param;
use super::{ApiError, ApiResult};
use crate::images::filters::Filters;
use crate::state::SharedDaemon;

/// The filters BuildKit's prune understands (moby `builder-next`'s `toBuildkitPruneInfo`).
const PRUNE_FILTERS: &[&str] = &[
    "until",
    "unused-for",
    "id",
    "parent",
    "type",
    "description",
    "inuse",
    "shared",
    "private",
];

/// The size parameters, in bytes (`keep-storage` before API 1.48).
const SIZE_PARAMS: &[&str] = &[
    "keep-storage",
    "reserved-space",
    "max-used-space",
    "min-free-space",
];

pub fn routes() -> axum::Router<SharedDaemon> {
    Router::new().route("/build/prune", post(prune_route))
}

async fn prune_route(Query(pairs): Query<Vec<(String, String)>>) -> ApiResult<Response> {
    Ok(Json(prune(&pairs)?).into_response())
}

/// Checks the request as dockerd does, then reports that nothing was cached.
fn prune(pairs: &[(String, String)]) -> ApiResult<Value> {
    for name in SIZE_PARAMS {
        if let Some(v) = param(pairs, name).filter(|v| !v.is_empty()) {
            if v.parse::<i64>().is_err() {
                return Err(ApiError::bad_request(format!(
                    "{name} is in bytes and expects an integer, got {v}: strconv.ParseInt: parsing \"{v}\": invalid syntax"
                )));
            }
        }
    }
    let filters = param(pairs, "filters").unwrap_or("");
    let f = Filters::from_json(filters)
        .map_err(|e| ApiError::bad_request(format!("could not parse filters: {e}")))?;
    if let Err(e) = f.validate(PRUNE_FILTERS) {
        // dockerd: "failed to prune build cache: Invalid filter 'x'".
        let text = e
            .to_string()
            .replacen("invalid filter", "Invalid filter", 1);
        return Err(ApiError::bad_request(format!(
            "failed to prune build cache: {text}"
        )));
    }
    Ok(json!({ "CachesDeleted": Value::Null, "SpaceReclaimed": 0 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_empty_cache_is_pruned() {
        let answer = prune(&pairs(&[("all", "1")])).unwrap();
        assert_eq!(answer, json!({"CachesDeleted": null, "SpaceReclaimed": 0}));
        let until = pairs(&[("filters", r#"{"until":{"10m":true}}"#)]);
        assert!(prune(&until).is_ok());
    }

    #[test]
    fn bad_queries_are_refused() {
        let e = prune(&pairs(&[("filters", r#"{"foo":{"x":true}}"#)])).unwrap_err();
        assert!(e.to_string().contains("Invalid filter 'foo'"), "{e}");
        assert!(prune(&pairs(&[("filters", "bad")])).is_err());
        let e = prune(&pairs(&[("keep-storage", "abc")])).unwrap_err();
        assert!(e.to_string().contains("keep-storage is in bytes"), "{e}");
    }
}
