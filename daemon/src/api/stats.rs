//! API group: container stats and top, on top of the `stats` module.
use std::path::Path as FsPath;

use super::json_answer::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

use super::containers::{bool_param, param};
use super::{ApiError, ApiResult, ApiVersion};
use crate::state::SharedDaemon;
use crate::stats::{self, CgroupPaths, StatsOptions, Target};

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
        .route("/containers/{id}/stats", get(stats_route))
        .route("/containers/{id}/top", get(top_route))
}

/// Where a container's counters are now (its init's cgroup), or `Stopped`.
fn locate(daemon: &SharedDaemon, id: &str) -> Target {
    let Some(c) = daemon.containers.get(id) else {
        return Target::Stopped;
    };
    if !c.state.status.is_running() || c.state.pid == 0 {
        return Target::Stopped;
    }
    let pid = c.state.pid as i32;
    match CgroupPaths::of_pid(FsPath::new("/proc"), pid) {
        Ok(cgroup) => Target::Running { cgroup, pid },
        Err(_) => Target::Stopped,
    }
}

async fn stats_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    version: Option<Extension<ApiVersion>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let c = daemon.containers.lookup(&id)?;
    let api_version = version
        .map(|Extension(v)| v.0)
        .unwrap_or(super::version::MAX_API_VERSION.0);
    let stream = param(&pairs, "stream").is_none() || bool_param(&pairs, "stream");
    let one_shot = api_version >= 41 && bool_param(&pairs, "one-shot");
    if stream && one_shot {
        return Err(ApiError::bad_request(
            "cannot have stream=true and one-shot=true",
        ));
    }
    let opts = StatsOptions {
        id: c.id.clone(),
        name: c.name.clone(),
        stream,
        one_shot,
        api_version,
    };
    let (d, cid) = (daemon.clone(), c.id.clone());
    let body = stats::stats_stream(opts, stats::Host::real(), move || locate(&d, &cid));
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

async fn top_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let c = daemon.containers.lookup(&id)?;
    if !c.state.status.is_running() {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            c.id
        )));
    }
    let ps_args = param(&pairs, "ps_args").unwrap_or("").to_string();
    let pid = c.state.pid as i32;
    let result = tokio::task::spawn_blocking(move || -> ApiResult<stats::TopResult> {
        let cgroup = CgroupPaths::of_pid(FsPath::new("/proc"), pid)?;
        Ok(stats::top(&cgroup.pids()?, &ps_args)?)
    })
    .await
    .map_err(|e| ApiError::internal(format!("top: {e}")))??;
    daemon
        .events
        .publish("container", "top", &c.id, c.event_attributes());
    Ok(Json(result).into_response())
}
