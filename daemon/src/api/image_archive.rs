//! API group: image archives — `GET /images/get?names=…` and `GET /images/{name}/get`
//! (`docker save`; the second is routed here by the `/images/{*rest}` catch-all of
//! `api::images`), and `POST /images/load` (`docker load`). Thin handlers over
//! `crate::images::archive`.
//!
//! Save answers `application/x-tar`, streamed as it is written; an error before the
//! first byte is a plain Docker error. Load reads the whole upload into a scratch folder
//! first, then answers `200` with JSON lines — an error too is such a line, as dockerd's.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::version::ApiVersion;
use super::{ApiError, ApiResult};
use crate::containers::export::ChannelWriter;
use crate::images::archive::load::{load, LoadEvent, LoadOptions, Output};
use crate::images::archive::{save, ArchiveError};
use crate::progress::JsonMessage;
use crate::registry::platform::Platform;
use crate::state::SharedDaemon;

/// "Loading layer" updates of one layer go out at most this often (the last always does).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

type Pairs = Query<Vec<(String, String)>>;

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
        .route("/images/get", get(save_route))
        .route("/images/load", post(load_route))
}

impl From<ArchiveError> for ApiError {
    fn from(e: ArchiveError) -> Self {
        match e {
            ArchiveError::NotFound(m) => ApiError::not_found(m),
            ArchiveError::InvalidParameter(m) | ArchiveError::Invalid(m) => {
                ApiError::bad_request(m)
            }
            ArchiveError::Internal(m) => ApiError::internal(m),
            ArchiveError::Image(i) => i.into(),
            ArchiveError::Store(s) => s.into(),
        }
    }
}

fn api_version(v: Option<Extension<ApiVersion>>) -> u32 {
    v.map(|Extension(v)| v.0)
        .unwrap_or(super::version::MAX_API_VERSION.0)
}

fn values<'a>(pairs: &'a [(String, String)], key: &'a str) -> impl Iterator<Item = &'a str> {
    pairs
        .iter()
        .filter(move |(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The `platform` parameters (API 1.48+, JSON OCI platforms), as dockerd's graph-driver
/// image store takes them: at most one.
fn platform_param(version: u32, pairs: &[(String, String)]) -> ApiResult<Option<Platform>> {
    if version < 48 {
        return Ok(None);
    }
    let given: Vec<&str> = values(pairs, "platform")
        .filter(|p| !p.is_empty())
        .collect();
    if version < 52 && given.len() > 1 {
        return Err(ApiError::bad_request(
            "multiple platform parameters are not supported in this API version; use API version 1.52 or later",
        ));
    }
    if given.len() > 1 {
        return Err(ApiError::bad_request(
            "multiple platforms not supported for this image store; use a multi-platform image store such as containerd-snapshotter",
        ));
    }
    let Some(json) = given.first() else {
        return Ok(None);
    };
    let platform: Platform = crate::gojson::from_str(json)
        .map_err(|e| ApiError::bad_request(format!("failed to parse platform: {e}")))?;
    if platform.os.is_empty() || platform.architecture.is_empty() {
        return Err(ApiError::bad_request(
            "failed to parse platform: both OS and Architecture must be provided",
        ));
    }
    let normalised = Platform::parse(&platform.display()).map_err(ApiError::from)?;
    Ok(Some(normalised))
}

/// `GET /images/get?names=…` (`names` repeated).
async fn save_route(
    State(daemon): State<SharedDaemon>,
    version: Option<Extension<ApiVersion>>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let names: Vec<String> = values(&pairs, "names").map(str::to_string).collect();
    save_images(daemon, api_version(version), names, &pairs).await
}

/// `GET /images/{name}/get`.
pub async fn save_by_name(
    daemon: SharedDaemon,
    version: Option<Extension<ApiVersion>>,
    name: String,
    pairs: Vec<(String, String)>,
) -> ApiResult<Response> {
    save_images(daemon, api_version(version), vec![name], &pairs).await
}

async fn save_images(
    daemon: SharedDaemon,
    version: u32,
    names: Vec<String>,
    pairs: &[(String, String)],
) -> ApiResult<Response> {
    let platform = platform_param(version, pairs)?;
    let planner = daemon.clone();
    let plan = tokio::task::spawn_blocking(move || {
        save::plan(&planner, &names, platform.as_ref()).map_err(ApiError::from)
    })
    .await
    .map_err(|e| ApiError::internal(format!("save task failed: {e}")))??;
    for image in &plan.images {
        crate::events::image::publish(&daemon, "save", &image.id, &image.id);
    }
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(8);
    let failed = tx.clone();
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter::buffered(tx);
        if let Err(e) = save::write(&plan, &daemon.content, writer) {
            tracing::warn!(error = %e, "docker save stopped");
            // The client sees the connection cut instead of an archive that looks whole.
            let _ = failed.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    Ok(response)
}

/// `POST /images/load?quiet=…&platform=…`.
async fn load_route(
    State(daemon): State<SharedDaemon>,
    version: Option<Extension<ApiVersion>>,
    Query(pairs): Pairs,
    body: Body,
) -> ApiResult<Response> {
    let platform = match platform_param(api_version(version), &pairs) {
        Ok(p) => p,
        Err(e) => {
            super::body::discard(body).await;
            return Err(e);
        }
    };
    // dockerd's `BoolValueOrDefault(r, "quiet", true)`.
    let quiet = match values(&pairs, "quiet").next() {
        None => true,
        Some(v) => !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "no" | "false" | "none"
        ),
    };
    // The content store's ingest folder is emptied at start-up: a crash leaves nothing.
    let scratch = daemon
        .config
        .data_root
        .join("content")
        .join("ingest")
        .join(format!("load-{:016x}", rand::random::<u64>()));
    let unpacked = scratch.join("unpacked");
    let archive = scratch.join("archive");
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let received = receive(body, &archive, &unpacked).await;
    let worker = daemon.clone();
    let scratch_dir = scratch.clone();
    tokio::spawn(async move {
        let result = match received {
            Err(e) => Err(e),
            Ok(()) => {
                let lease = worker.gc_gate.writer().await;
                let out = output(tx.clone());
                let options = LoadOptions { quiet, platform };
                let loader = worker.clone();
                let result = tokio::task::spawn_blocking(move || {
                    load(&loader, &archive, &unpacked, &options, out).map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(format!("load task failed: {e}")));
                drop(lease);
                result.map(|ids| tracing::info!(?ids, "images loaded"))
            }
        };
        if let Err(e) = tokio::fs::remove_dir_all(&scratch_dir).await {
            tracing::warn!(path = %scratch_dir.display(), error = %e, "removing a load's scratch folder");
        }
        if let Err(message) = result {
            tracing::info!(error = %message, "docker load failed");
            let _ = tx.send(JsonMessage::error(message).to_line()).await;
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<Bytes, std::convert::Infallible>(line), rx))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// Writes the whole request body to `archive` (creating `unpacked` beside it).
async fn receive(
    body: Body,
    archive: &std::path::Path,
    unpacked: &std::path::Path,
) -> Result<(), String> {
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    let mut stream = body.into_data_stream();
    let created = tokio::fs::create_dir_all(unpacked).await;
    let mut file = match created {
        Ok(()) => Some(
            tokio::fs::File::create(archive)
                .await
                .map_err(|e| io("creating the archive file", e))?,
        ),
        Err(e) => {
            super::body::discard(Body::from_stream(stream)).await;
            return Err(io("creating the scratch folder", e));
        }
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("reading the request body: {e}"))?;
        if let Some(f) = file.as_mut() {
            f.write_all(&chunk)
                .await
                .map_err(|e| io("writing the archive file", e))?;
        }
    }
    if let Some(mut f) = file {
        f.flush()
            .await
            .map_err(|e| io("writing the archive file", e))?;
    }
    Ok(())
}

/// The load's events as dockerd's JSON lines, progress throttled per layer.
fn output(tx: mpsc::Sender<Bytes>) -> Output {
    let last: Mutex<HashMap<String, Instant>> = Mutex::new(HashMap::new());
    Arc::new(move |event: LoadEvent| {
        let line = match event {
            LoadEvent::Stream(text) => {
                let mut line =
                    serde_json::to_vec(&serde_json::json!({ "stream": text })).unwrap_or_default();
                line.extend_from_slice(b"\r\n");
                Bytes::from(line)
            }
            LoadEvent::Progress { id, current, total } => {
                let now = Instant::now();
                let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                let due = current >= total
                    || last
                        .get(&id)
                        .is_none_or(|at| now.duration_since(*at) >= PROGRESS_INTERVAL);
                if !due {
                    return;
                }
                last.insert(id.clone(), now);
                JsonMessage::bytes(&id, "Loading layer", current, total).to_line()
            }
        };
        // A client that went away does not stop the load.
        let _ = tx.blocking_send(line);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn platform_parameters_follow_dockerd() {
        let one = pairs(&[("platform", r#"{"os":"linux","architecture":"amd64"}"#)]);
        assert_eq!(platform_param(47, &one).expect("old API"), None);
        let p = platform_param(53, &one).expect("one").expect("platform");
        assert_eq!(p.display(), "linux/amd64");
        let two = pairs(&[
            ("platform", r#"{"os":"linux","architecture":"amd64"}"#),
            ("platform", r#"{"os":"linux","architecture":"arm64"}"#),
        ]);
        assert!(platform_param(51, &two).is_err());
        assert!(platform_param(53, &two).is_err());
        assert!(platform_param(53, &pairs(&[("platform", "linux/amd64")])).is_err());
        assert_eq!(platform_param(53, &[]).expect("none"), None);
    }

    #[test]
    fn routes_coexist_with_the_image_routes() {
        let _router: Router<SharedDaemon> = routes()
            .merge(super::super::images::routes())
            .merge(super::super::image_transfer::routes());
    }
}
