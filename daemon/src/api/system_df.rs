//! `GET /system/df`: disk usage of images, containers, volumes and the build cache.
use std::collections::BTreeSet;

use super::json_answer::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{json, Value};

use super::{ApiError, ApiResult, ApiVersion};
use crate::containers::list::{list, ListOptions};
use crate::images::filters::Filters;
use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    Router::new().route("/system/df", get(df_route))
}

async fn df_route(
    State(daemon): State<SharedDaemon>,
    version: Option<Extension<ApiVersion>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let api_version = version
        .map(|Extension(v)| v.0)
        .unwrap_or(super::version::MAX_API_VERSION.0);
    // `type` came with API 1.42: older clients get every kind, as from dockerd.
    let types: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "type" && api_version >= 42)
        .map(|(_, v)| v.clone())
        .collect();
    for t in &types {
        if !["container", "image", "volume", "build-cache"].contains(&t.as_str()) {
            return Err(ApiError::bad_request(format!("unknown object type: {t}")));
        }
    }
    let wants = |t: &str| types.is_empty() || types.iter().any(|x| x == t);
    let d = daemon.clone();
    let (layers_size, images) = tokio::task::spawn_blocking(move || -> ApiResult<(u64, Value)> {
        let opts = crate::images::list::ListOptions {
            all: false,
            filters: Filters::default(),
            shared_size: true,
            api_version,
        };
        let mut summaries = crate::images::list::list_images(&d.images, &d.content, &opts)
            .map_err(ApiError::from)?;
        let containers = d.containers.list();
        for s in &mut summaries {
            s.containers = containers.iter().filter(|c| c.image_id == s.id).count() as i64;
        }
        let mut seen = BTreeSet::new();
        let mut layers = 0u64;
        for record in d.images.list() {
            for l in &record.layers {
                if seen.insert(l.chain_id.clone()) {
                    layers += l.size;
                }
            }
        }
        let images = serde_json::to_value(summaries).unwrap_or(Value::Null);
        Ok((layers, images))
    })
    .await
    .map_err(|e| ApiError::internal(format!("disk usage: {e}")))??;
    let containers = list(
        &daemon,
        &ListOptions {
            all: true,
            size: true,
            ..Default::default()
        },
    )?;
    let mut out = serde_json::Map::new();
    if wants("image") {
        out.insert("LayersSize".into(), json!(layers_size));
        out.insert("Images".into(), images);
    }
    if wants("container") {
        out.insert("Containers".into(), json!(containers));
    }
    if wants("volume") {
        let d = daemon.clone();
        let volumes = tokio::task::spawn_blocking(move || {
            d.volumes
                .list()
                .iter()
                .map(|v| crate::volumes::service::to_json(&d, v, true))
                .collect::<Vec<Value>>()
        })
        .await
        .map_err(|e| ApiError::internal(format!("disk usage of volumes: {e}")))?;
        out.insert("Volumes".into(), json!(volumes));
    }
    if wants("build-cache") {
        out.insert("BuildCache".into(), json!([]));
    }
    Ok(Json(Value::Object(out)).into_response())
}
