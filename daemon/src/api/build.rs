//! API group: build — `POST /build` (the classic builder, see `crate::build`) and
//! `POST /build/prune`. The classic builder's cache is its intermediate images, not a
//! BuildKit cache, so a prune answers as dockerd does with an empty BuildKit cache
//! (`{"CachesDeleted":null,"SpaceReclaimed":0}`), after dockerd's checks of the query.
use super::json_answer::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::containers::param;
use super::{ApiError, ApiResult};
use crate::build::from::registry_config;
use crate::build::options::BuildOptions;
use crate::build::BuildError;
use crate::images::filters::Filters;
use crate::state::SharedDaemon;
use futures::StreamExt;

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
    Router::new()
        .route("/build", post(build_route))
        .route("/build/prune", post(prune_route))
}

impl From<BuildError> for ApiError {
    fn from(e: BuildError) -> Self {
        match e {
            BuildError::Invalid(m) => ApiError::bad_request(m),
            BuildError::NotFound(m) => ApiError::not_found(m),
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// `POST /build`: the context is the body; the answer streams from the first line the
/// build writes. A build that fails before writing anything is a plain HTTP error, as
/// dockerd's (bad query, no Dockerfile, a Dockerfile that does not parse).
async fn build_route(
    State(daemon): State<SharedDaemon>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let options = BuildOptions::parse(&pairs)?;
    let auth = registry_config(
        headers
            .get("X-Registry-Config")
            .and_then(|v| v.to_str().ok()),
    );
    let (body_tx, body_rx) = mpsc::channel(16);
    tokio::spawn(async move {
        use futures::StreamExt;
        let mut stream = body.into_data_stream();
        let mut reading = true;
        while let Some(chunk) = stream.next().await {
            // Once the context is read (or failed), the rest is read and dropped: a
            // client still writing would otherwise get a broken pipe, not the answer.
            if reading
                && body_tx
                    .send(chunk.map_err(std::io::Error::other))
                    .await
                    .is_err()
            {
                reading = false;
            }
        }
    });
    let (out_tx, mut out_rx) = mpsc::channel(crate::build::output::CAPACITY);
    let task = tokio::spawn(crate::build::run(daemon, options, auth, body_rx, out_tx));
    let Some(first) = out_rx.recv().await else {
        task.await.map_err(BuildError::from)??;
        return Ok(json_response(Body::empty()));
    };
    let rest = futures::stream::unfold(out_rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<_, std::convert::Infallible>(line), rx))
    });
    let lines = futures::stream::once(async move { Ok(first) }).chain(rest);
    Ok(json_response(Body::from_stream(lines)))
}

fn json_response(body: Body) -> Response {
    let mut response = Response::new(body);
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
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
