//! API group: containers — create, lifecycle, inspect, list, wait.
use super::json_answer::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde_json::json;

use super::{ApiError, ApiResult};
use crate::containers::to_the_end::to_the_end;
use crate::containers::{self, lifecycle, list, wait, ContainerError};
use crate::state::SharedDaemon;

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
        .route("/containers/create", post(create_route))
        .route("/containers/json", get(list_route))
        .route("/containers/prune", post(prune_route))
        .route("/containers/{id}/json", get(inspect_route))
        .route("/containers/{id}/changes", get(changes_route))
        .route("/containers/{id}/export", get(export_route))
        .route(
            "/containers/{id}/archive",
            get(archive_get_route)
                .head(archive_head_route)
                .put(archive_put_route),
        )
        .route("/containers/{id}/start", post(start_route))
        .route("/containers/{id}/stop", post(stop_route))
        .route("/containers/{id}/restart", post(restart_route))
        .route("/containers/{id}/kill", post(kill_route))
        .route("/containers/{id}/wait", post(wait_route))
        .route("/containers/{id}/pause", post(pause_route))
        .route("/containers/{id}/unpause", post(unpause_route))
        .route("/containers/{id}/rename", post(rename_route))
        .route("/containers/{id}/update", post(update_route))
        .route("/containers/{id}", delete(delete_route))
        // `docker rm --link /parent/alias`: a name with a `/` (dockerd's `{name:.*}`).
        .route("/containers/{id}/{alias}", delete(delete_link_route))
        .route("/containers//{id}/{alias}", delete(delete_link_route))
}

impl From<ContainerError> for ApiError {
    fn from(e: ContainerError) -> Self {
        use ContainerError as E;
        match e {
            E::NotFound(_) | E::Missing(_) => ApiError::not_found(e.to_string()),
            E::Invalid(m) => ApiError::bad_request(m),
            E::Conflict(m) => ApiError::conflict(m),
            E::NotModified => ApiError::new(StatusCode::NOT_MODIFIED, ""),
            E::Image(i) => i.into(),
            E::Security(s) => {
                let status = StatusCode::from_u16(s.http_status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                ApiError::new(status, s.to_string())
            }
            E::Store(s) => s.into(),
            E::Network(n) => n.into(),
            E::Engine(_) | E::Io(..) | E::Internal(_) => ApiError::internal(e.to_string()),
        }
    }
}

/// The query string as repeated `key=value` pairs.
type Pairs = Query<Vec<(String, String)>>;

pub(crate) fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// dockerd's `httputils.BoolValue`.
pub(crate) fn bool_param(pairs: &[(String, String)], key: &str) -> bool {
    let v = param(pairs, key).unwrap_or("").trim().to_ascii_lowercase();
    !matches!(v.as_str(), "" | "0" | "no" | "false" | "none")
}

fn int_param(pairs: &[(String, String)], key: &str) -> ApiResult<Option<i64>> {
    match param(pairs, key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!("strconv.Atoi: parsing \"{v}\": invalid syntax"))
        }),
    }
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

async fn create_route(
    State(daemon): State<SharedDaemon>,
    Query(pairs): Pairs,
    version: Option<axum::Extension<super::version::ApiVersion>>,
    body: Bytes,
) -> ApiResult<Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "config cannot be empty in order to create a container",
        ));
    }
    super::host_config_words::check(&body)?;
    let mut parsed: bollard_stubs::models::ContainerCreateBody =
        super::body::container_json(&body)?;
    // The container-level Config.MacAddress (bollard's 1.53 model lacks it): moved to the
    // endpoint of the network mode, as dockerd's handleMACAddressBC does.
    let mut warnings = Vec::new();
    let legacy_api = version.is_some_and(|axum::Extension(v)| v.0 < 44);
    if legacy_api || mentions_mac_address(&body) {
        #[derive(serde::Deserialize)]
        struct LegacyMac {
            #[serde(rename = "MacAddress")]
            mac_address: Option<String>,
        }
        let legacy: LegacyMac = crate::gojson::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
        let mac = legacy.mac_address.as_deref();
        if let Some(warning) =
            crate::networks::endpoints::apply_config_mac(&mut parsed, mac, legacy_api)?
        {
            warnings.push(warning);
        }
    }
    if let Some(hc) = parsed.host_config.as_mut() {
        let api_version = version.map(|axum::Extension(v)| v.0);
        warnings.extend(containers::create_warnings::collect(hc, api_version));
    }
    let name = param(&pairs, "name").map(str::to_string);
    let mut options = containers::create::CreateOptions::default();
    if let (Some(axum::Extension(v)), Some(hc)) = (version, parsed.host_config.as_mut()) {
        options.default_read_only_non_recursive =
            containers::mounts::parse::for_api_version(hc, v.0).map_err(ApiError::bad_request)?;
    }
    // As dockerd's router: `platform` from API 1.41 on.
    if let Some(p) = param(&pairs, "platform").filter(|p| !p.is_empty()) {
        if version.is_none_or(|axum::Extension(v)| v.0 >= 41) {
            options.platform = Some(
                crate::registry::platform::Platform::parse(p)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?,
            );
        }
    }
    let _stage = containers::timing::stage("create", name.as_deref().unwrap_or(""));
    // To its end, whatever happens to the client (containers::to_the_end).
    let c = to_the_end(async move {
        containers::create::create_with(&daemon, name.as_deref(), parsed, options).await
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "Id": c.id, "Warnings": warnings })),
    )
        .into_response())
}

/// Whether a create body may carry the container-level `MacAddress` (any letter case, as
/// Go decodes it), so that only such bodies are decoded a second time.
fn mentions_mac_address(body: &[u8]) -> bool {
    body.windows(b"macaddress".len())
        .any(|w| w.eq_ignore_ascii_case(b"macaddress"))
}

async fn list_route(
    State(daemon): State<SharedDaemon>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let limit = int_param(&pairs, "limit")?
        .filter(|l| *l > 0)
        .map(|l| l as usize);
    let opts = list::ListOptions {
        all: bool_param(&pairs, "all"),
        limit,
        size: bool_param(&pairs, "size"),
        filters: param(&pairs, "filters").unwrap_or("").to_string(),
    };
    // From memory, fast; with sizes, folder walks (a blocking thread).
    let mut rows = if opts.size {
        tokio::task::spawn_blocking(move || list::list_json(&daemon, &opts))
            .await
            .map_err(|e| ApiError::internal(format!("listing containers: {e}")))??
    } else {
        list::list_json(&daemon, &opts)?
    };
    // As dockerd's json.Encoder: a newline ends the document.
    rows.push(b'\n');
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        rows,
    )
        .into_response())
}

async fn prune_route(
    State(daemon): State<SharedDaemon>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let filters = param(&pairs, "filters").unwrap_or("");
    Ok(Json(containers::prune::prune(&daemon, filters).await?).into_response())
}

async fn inspect_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    Query(pairs): Pairs,
    version: Option<axum::Extension<super::version::ApiVersion>>,
) -> ApiResult<Response> {
    let c = daemon.containers.lookup(&id)?;
    let mut doc = containers::inspect::inspect(&daemon, &c);
    if version.is_some_and(|axum::Extension(v)| v.0 < 45) {
        let named = crate::networks::settings::named_at_connect(&daemon, &c);
        crate::networks::settings::add_short_id_aliases(&mut doc, &c, &named);
    }
    if bool_param(&pairs, "size") {
        let rw = list::dir_size(&c.upper_dir());
        doc["SizeRw"] = json!(rw);
        doc["SizeRootFs"] = json!(rw + list::image_size(&daemon, &c.image_id));
    }
    Ok(Json(doc).into_response())
}

async fn changes_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let c = daemon.containers.lookup(&id)?;
    let layers = daemon.config.data_root.join("layers");
    let changes = tokio::task::spawn_blocking(move || containers::changes::changes(&c, &layers))
        .await
        .map_err(|e| ApiError::internal(format!("changes: {e}")))?;
    Ok(Json(changes).into_response())
}

async fn export_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let c = daemon.containers.lookup(&id)?;
    let layers = daemon.config.data_root.join("layers");
    let rx = containers::export::export(c, &layers, move |c| {
        daemon
            .events
            .publish("container", "export", &c.id, c.event_attributes())
    })?;
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-tar")],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

async fn archive_route(
    daemon: SharedDaemon,
    id: String,
    pairs: Vec<(String, String)>,
    with_body: bool,
) -> ApiResult<Response> {
    let path = param(&pairs, "path").unwrap_or("").to_string();
    if path.is_empty() {
        return Err(ApiError::bad_request("path cannot be empty"));
    }
    let c = daemon.containers.lookup(&id)?;
    let layers = daemon.config.data_root.join("layers");
    let attrs = c.event_attributes();
    let id = c.id.clone();
    let (stat, rx) = tokio::task::spawn_blocking(move || {
        containers::archive::archive(c, &layers, &path, with_body)
    })
    .await
    .map_err(|e| ApiError::internal(format!("archive: {e}")))??;
    if with_body {
        daemon
            .events
            .publish("container", "archive-path", &id, attrs);
    }
    let body = match rx {
        Some(rx) => {
            axum::body::Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|x| (x, rx))
            }))
        }
        None => axum::body::Body::empty(),
    };
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/x-tar".to_string(),
            ),
            (
                axum::http::HeaderName::from_static("x-docker-container-path-stat"),
                stat,
            ),
        ],
        body,
    )
        .into_response())
}

async fn archive_get_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    archive_route(daemon, id, pairs, true).await
}

async fn archive_head_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    archive_route(daemon, id, pairs, false).await
}

async fn archive_put_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    Query(pairs): Pairs,
    body: axum::body::Body,
) -> ApiResult<Response> {
    let path = param(&pairs, "path").unwrap_or("").to_string();
    if path.is_empty() {
        return Err(ApiError::bad_request("path cannot be empty"));
    }
    let c = daemon.containers.lookup(&id)?;
    let request = containers::archive_put::PutRequest {
        path,
        no_overwrite_dir_non_dir: bool_param(&pairs, "noOverwriteDirNonDir"),
        copy_uid_gid: bool_param(&pairs, "copyUIDGID"),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let feeder = tokio::spawn(async move {
        use futures::StreamExt;
        let mut stream = body.into_data_stream();
        let mut extracting = true;
        while let Some(chunk) = stream.next().await {
            // Once extraction is over (the tar's end, or an error), the rest is read and
            // dropped: a client still writing would otherwise get a broken pipe instead
            // of the answer.
            if extracting && tx.send(chunk.map_err(std::io::Error::other)).await.is_err() {
                extracting = false;
            }
        }
    });
    let layers = daemon.config.data_root.join("layers");
    let attrs = c.event_attributes();
    let cid = c.id.clone();
    let result = tokio::task::spawn_blocking(move || {
        let reader = containers::archive_put::BodyReader::new(rx);
        containers::archive_put::extract_to_dir(&c, &layers, &request, reader)
    })
    .await
    .map_err(|e| ApiError::internal(format!("extract: {e}")));
    if tokio::time::timeout(std::time::Duration::from_secs(30), feeder)
        .await
        .is_err()
    {
        tracing::debug!("the archive upload did not end within 30 s of its extraction");
    }
    result??;
    daemon
        .events
        .publish("container", "extract-to-dir", &cid, attrs);
    Ok(StatusCode::OK.into_response())
}

async fn start_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    lifecycle::start(&daemon, &id).await?;
    Ok(no_content())
}

fn timeout_param(pairs: &[(String, String)]) -> ApiResult<Option<i64>> {
    match int_param(pairs, "t")? {
        Some(t) => Ok(Some(t)),
        None => int_param(pairs, "timeout"),
    }
}

async fn stop_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let t = timeout_param(&pairs)?;
    lifecycle::stop(&daemon, &id, t, param(&pairs, "signal")).await?;
    Ok(no_content())
}

async fn restart_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let t = timeout_param(&pairs)?;
    lifecycle::restart(&daemon, &id, t, param(&pairs, "signal")).await?;
    Ok(no_content())
}

async fn kill_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    lifecycle::kill(&daemon, &id, param(&pairs, "signal")).await?;
    Ok(no_content())
}

async fn wait_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let condition = wait::Condition::parse(param(&pairs, "condition"))?;
    let done = wait::wait(&daemon, &id, condition)?;
    // As dockerd: the headers go out at once (the CLI starts the container only once
    // its wait is registered), the body when the condition is met.
    let body = futures::stream::once(async move {
        let code = done.await;
        let mut text = json!({ "StatusCode": code, "Error": null }).to_string();
        text.push('\n');
        Ok::<_, std::convert::Infallible>(Bytes::from(text))
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

async fn pause_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    lifecycle::pause(&daemon, &id).await?;
    Ok(no_content())
}

async fn unpause_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    lifecycle::unpause(&daemon, &id).await?;
    Ok(no_content())
}

async fn rename_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    lifecycle::rename(&daemon, &id, param(&pairs, "name").unwrap_or(""))?;
    Ok(no_content())
}

async fn update_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    super::host_config_words::check(&body)?;
    let parsed: bollard_stubs::models::ContainerUpdateBody = super::body::json_or_default(&body)?;
    let warnings =
        to_the_end(async move { containers::update::update(&daemon, &id, parsed).await }).await?;
    Ok(Json(json!({ "Warnings": warnings })).into_response())
}

/// `DELETE /containers/{parent}/{alias}?link=1`: removes a legacy link (dockerd's rmLink).
async fn delete_link_route(
    State(daemon): State<SharedDaemon>,
    Path((parent, alias)): Path<(String, String)>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    let name = format!("{parent}/{alias}");
    if !bool_param(&pairs, "link") {
        return Err(ApiError::not_found(format!("No such container: {name}")));
    }
    crate::networks::links::remove(&daemon, &name)?;
    Ok(no_content())
}

async fn delete_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    if bool_param(&pairs, "link") {
        // A link name has a parent: `client` alone is dockerd's 409.
        crate::networks::links::remove(&daemon, &id)?;
        return Ok(no_content());
    }
    let removed = daemon.containers.lookup(&id).ok();
    lifecycle::remove(&daemon, &id, bool_param(&pairs, "force")).await?;
    if let Some(c) = removed.filter(|_| bool_param(&pairs, "v")) {
        containers::mounts::remove_anonymous_volumes(&daemon, &c);
    }
    Ok(no_content())
}
