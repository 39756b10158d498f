//! API group: system — /_ping, /version, /info.
use super::json_answer::Json;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::host;
use super::info::get_info;
use super::version::{
    BUILD_TIME, ENGINE_VERSION, GIT_COMMIT, MAX_API_VERSION, MIN_API_VERSION, TOOLCHAIN_VERSION,
};
use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(get_version))
        .route("/info", get(get_info))
}

/// GET and HEAD /_ping: "OK", with the headers clients negotiate with.
async fn ping(method: Method) -> Response {
    let headers = [
        (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
        (header::PRAGMA, "no-cache"),
        (header::HeaderName::from_static("builder-version"), "1"),
        (header::HeaderName::from_static("swarm"), "inactive"),
        (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
    ];
    if method == Method::HEAD {
        return (StatusCode::OK, headers, [(header::CONTENT_LENGTH, "0")]).into_response();
    }
    (StatusCode::OK, headers, "OK").into_response()
}

/// GET /version.
async fn get_version() -> Json<Value> {
    let kernel = host::kernel_version();
    let experimental = false;
    let build_time = build_time();
    let mut v = json!({
        "Platform": { "Name": format!("Berth {}", env!("CARGO_PKG_VERSION")) },
        "Components": [{
            "Name": "Engine",
            "Version": ENGINE_VERSION,
            "Details": {
                "ApiVersion": MAX_API_VERSION.to_string(),
                "MinAPIVersion": MIN_API_VERSION.to_string(),
                "GitCommit": GIT_COMMIT,
                "GoVersion": TOOLCHAIN_VERSION,
                "Os": "linux",
                "Arch": host::go_arch(),
                "KernelVersion": kernel,
                "BuildTime": build_time,
                "Experimental": experimental.to_string(),
            }
        }],
        "Version": ENGINE_VERSION,
        "ApiVersion": MAX_API_VERSION.to_string(),
        "MinAPIVersion": MIN_API_VERSION.to_string(),
        "GitCommit": GIT_COMMIT,
        "GoVersion": TOOLCHAIN_VERSION,
        "Os": "linux",
        "Arch": host::go_arch(),
        "KernelVersion": kernel,
        "BuildTime": build_time,
    });
    // dockerd omits an empty BuildTime.
    if build_time.is_empty() {
        if let Some(obj) = v.as_object_mut() {
            obj.remove("BuildTime");
        }
    }
    Json(v)
}

/// `BERTH_BUILD_TIME` when the build set it, else when the running binary was written
/// (what the build produced), RFC 3339 with nanoseconds as dockerd reports it.
fn build_time() -> String {
    if !BUILD_TIME.is_empty() {
        return BUILD_TIME.to_string();
    }
    std::fs::metadata("/proc/self/exe")
        .and_then(|m| m.modified())
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        })
        .unwrap_or_default()
}
