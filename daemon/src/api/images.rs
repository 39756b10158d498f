//! API group: local images — list, inspect, history, tag, delete, prune. Thin handlers
//! over `crate::images`.
//!
//! Image names contain slashes, tags and digests ("127.0.0.1:5000/berth/busybox:latest"),
//! which one axum path parameter cannot match, so this group owns the `/images/{*rest}`
//! catch-all (static routes such as `/images/json` and `/images/create` win over it) and
//! splits the suffix itself: `GET …/json`, `GET …/history`, `POST …/tag`, `POST …/push`
//! (handed to `image_transfer::push_image_by_name`), `DELETE /images/{name}`.
use super::json_answer::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use super::version::ApiVersion;
use super::{ApiError, ApiResult};
use crate::events::image::Snapshot;
use crate::images::delete::{delete_image, DaemonDeleteContext};
use crate::images::filters::Filters;
use crate::images::list::{list_images, ListOptions};
use crate::images::tag::{tag_image, TagOutcome};
use crate::images::{history, inspect, prune, RequestError};
use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
        .route("/images/json", get(list_route))
        .route("/images/prune", post(prune_route))
        .route(
            "/images/{*rest}",
            get(get_dispatch).post(post_dispatch).delete(delete_route),
        )
}

/// `GET /images/{name}/json`, `GET /images/{name}/history`, `GET /images/{name}/get`
/// (`image_archive`); anything else is Docker's 404.
async fn get_dispatch(
    state: State<SharedDaemon>,
    version: Option<Extension<ApiVersion>>,
    Path(rest): Path<String>,
    query: Pairs,
) -> ApiResult<Response> {
    if let Some(name) = rest.strip_suffix("/json") {
        return inspect_route(state, version, name.to_string(), query).await;
    }
    if let Some(name) = rest.strip_suffix("/history") {
        return history_route(state, name.to_string()).await;
    }
    if let Some(name) = rest.strip_suffix("/get") {
        return super::image_archive::save_by_name(state.0, version, name.to_string(), query.0)
            .await;
    }
    Err(ApiError::not_found("page not found"))
}

/// `POST /images/{name}/tag`, `POST /images/{name}/push`; anything else is Docker's 404.
async fn post_dispatch(
    state: State<SharedDaemon>,
    Path(rest): Path<String>,
    query: Pairs,
    headers: HeaderMap,
    body: axum::body::Body,
) -> ApiResult<Response> {
    if let Some(name) = rest.strip_suffix("/tag") {
        return tag_route(state, name.to_string(), query).await;
    }
    if let Some(name) = rest.strip_suffix("/push") {
        let tag = param(&query.0, "tag").filter(|t| !t.is_empty());
        return super::image_transfer::push_image_by_name(state.0, name, tag, &headers).await;
    }
    // Any other path: its upload is read and dropped before the 404.
    super::body::discard(body).await;
    Err(ApiError::not_found("page not found"))
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::InvalidParameter(m) => ApiError::bad_request(m),
            RequestError::NotFound(m) => ApiError::not_found(m),
            RequestError::Internal(m) => ApiError::internal(m),
            RequestError::Image(i) => i.into(),
        }
    }
}

/// The query string as repeated `key=value` pairs.
type Pairs = Query<Vec<(String, String)>>;

/// First value of `key`, if given.
fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// dockerd's `httputils.BoolValue`: anything but "", "0", "no", "false", "none" is true.
fn bool_param(pairs: &[(String, String)], key: &str) -> bool {
    let v = param(pairs, key).unwrap_or("").trim().to_ascii_lowercase();
    !matches!(v.as_str(), "" | "0" | "no" | "false" | "none")
}

/// The request's API version (1.53 when the version layer did not set one).
fn version_of(v: Option<Extension<ApiVersion>>) -> u32 {
    v.map(|Extension(v)| v.0)
        .unwrap_or(super::version::MAX_API_VERSION.0)
}

/// Runs store work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("image task failed: {e}")))?
}

/// `GET /images/json`.
async fn list_route(
    State(daemon): State<SharedDaemon>,
    version: Option<Extension<ApiVersion>>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let api_version = version_of(version);
    let mut filters =
        Filters::from_json(param(&pairs, "filters").unwrap_or("")).map_err(ApiError::from)?;
    if api_version < 41 {
        if let Some(reference) = param(&pairs, "filter").filter(|f| !f.is_empty()) {
            filters.add("reference", reference);
        }
    }
    let opts = ListOptions {
        all: bool_param(&pairs, "all"),
        filters,
        shared_size: api_version >= 42 && bool_param(&pairs, "shared-size"),
        api_version,
    };
    let list = blocking(move || Ok(list_images(&daemon.images, &daemon.content, &opts)?)).await?;
    Ok(Json(list).into_response())
}

/// `POST /images/prune`.
async fn prune_route(
    State(daemon): State<SharedDaemon>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let filters =
        Filters::from_json(param(&pairs, "filters").unwrap_or("")).map_err(ApiError::from)?;
    let report = blocking(move || {
        let ctx = DaemonDeleteContext(&daemon);
        let before = Snapshot::take(&daemon, "");
        let report = prune::prune_images(&daemon.images, &daemon.content, &ctx, &filters)?;
        crate::events::image::publish_prune(&daemon, &before, &report);
        Ok(report)
    })
    .await?;
    Ok(Json(report).into_response())
}

/// `GET /images/{name}/json`.
async fn inspect_route(
    State(daemon): State<SharedDaemon>,
    version: Option<Extension<ApiVersion>>,
    name: String,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let api_version = version_of(version);
    let manifests = api_version >= 48 && bool_param(&pairs, "manifests");
    let platform = api_version >= 49 && param(&pairs, "platform").is_some_and(|p| !p.is_empty());
    if manifests && platform {
        return Err(ApiError::bad_request(
            "conflicting options: manifests and platform options cannot both be set",
        ));
    }
    let doc = blocking(move || Ok(inspect::inspect_image(&daemon, &name, api_version)?)).await?;
    Ok(Json(doc).into_response())
}

/// `GET /images/{name}/history`.
async fn history_route(State(daemon): State<SharedDaemon>, name: String) -> ApiResult<Response> {
    let items = blocking(move || {
        Ok(history::image_history(
            &daemon.images,
            &daemon.content,
            &name,
        )?)
    })
    .await?;
    Ok(Json(items).into_response())
}

/// `POST /images/{name}/tag?repo=…&tag=…`: 201, or 200 with nothing done when `repo` is empty.
async fn tag_route(
    State(daemon): State<SharedDaemon>,
    name: String,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let repo = param(&pairs, "repo").unwrap_or("").to_string();
    let tag = param(&pairs, "tag").unwrap_or("").to_string();
    let events = daemon.clone();
    let outcome = blocking(move || Ok(tag_image(&daemon.images, &name, &repo, &tag)?)).await?;
    Ok(match outcome {
        TagOutcome::Tagged {
            image_id,
            reference,
        } => {
            tracing::info!(image = %image_id, reference = %reference.familiar(), "image tagged");
            crate::events::image::publish(&events, "tag", &image_id, &reference.familiar());
            StatusCode::CREATED.into_response()
        }
        TagOutcome::NothingToDo => StatusCode::OK.into_response(),
    })
}

/// `DELETE /images/{name}?force=…&noprune=…`.
async fn delete_route(
    State(daemon): State<SharedDaemon>,
    Path(name): Path<String>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    if name.trim().is_empty() {
        return Err(ApiError::bad_request("image name cannot be blank"));
    }
    let force = bool_param(&pairs, "force");
    let prune = !bool_param(&pairs, "noprune");
    let items = blocking(move || {
        let before = Snapshot::take(&daemon, &name);
        let items = delete_image(&daemon, &name, force, prune)?;
        before.publish_removal(&daemon, &items);
        Ok(items)
    })
    .await?;
    Ok(Json(items).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_coexist_with_the_transfer_routes() {
        // Route conflicts panic when routers are merged.
        let _router: Router<SharedDaemon> = super::super::image_transfer::routes().merge(routes());
    }

    #[test]
    fn bool_params_follow_dockerd() {
        let pairs = |v: &str| vec![("force".to_string(), v.to_string())];
        for yes in ["1", "true", "True", "yes", "anything"] {
            assert!(bool_param(&pairs(yes), "force"), "{yes}");
        }
        for no in ["", "0", "false", "no", "none", " FALSE "] {
            assert!(!bool_param(&pairs(no), "force"), "{no}");
        }
        assert!(!bool_param(&[], "force"));
    }
}
