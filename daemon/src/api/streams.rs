//! API group: container streams — attach (hijacked), logs, TTY resize — on top of the
//! `streams` module and the shim's attach socket.
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use tokio::sync::watch;

use super::{ApiError, ApiResult, ApiVersion};
use crate::containers::attach::{self, AttachRequest};
use crate::state::SharedDaemon;
use crate::streams::{self, Form, LogsOptions};

pub fn routes() -> Router<SharedDaemon> {
    Router::new()
        .route("/containers/{id}/attach", post(attach_route))
        .route("/containers/{id}/logs", get(logs_route))
        .route("/containers/{id}/resize", post(resize_route))
}

fn api_minor(v: Option<Extension<ApiVersion>>) -> u32 {
    v.map(|Extension(v)| v.0)
        .unwrap_or(super::version::MAX_API_VERSION.0)
}

/// A receiver that turns `true` once the container no longer runs.
pub fn stopped_signal(daemon: &SharedDaemon, id: &str) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    let Some(mut notice) = daemon.containers.watch(id) else {
        let _ = tx.send(true);
        return rx;
    };
    let daemon = daemon.clone();
    let id = id.to_string();
    tokio::spawn(async move {
        loop {
            let running = daemon
                .containers
                .get(&id)
                .is_some_and(|c| c.state.status.is_running());
            if !running {
                let _ = tx.send(true);
                return;
            }
            tokio::select! {
                changed = notice.changed() => if changed.is_err() { let _ = tx.send(true); return; },
                _ = tx.closed() => return,
            }
        }
    });
    rx
}

async fn attach_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    version: Option<Extension<ApiVersion>>,
    req: Request,
) -> ApiResult<Response> {
    let form = Form::parse(req.uri().query());
    let request = AttachRequest {
        stdin: form.bool("stdin"),
        stdout: form.bool("stdout"),
        stderr: form.bool("stderr"),
        logs: form.bool("logs"),
        stream: form.bool("stream"),
        detach_keys: streams::detach_keys_from_query(form.get("detachKeys"))?,
    };
    let session = attach::prepare(&daemon, &id, request).await?;
    let media = streams::stream_media_type(session.tty(), api_minor(version));
    Ok(streams::hijack(req, media, move |io| async move {
        session.run(io).await;
    }))
}

async fn logs_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    version: Option<Extension<ApiVersion>>,
    req: Request,
) -> ApiResult<Response> {
    let c = daemon.containers.lookup(&id)?;
    if c.log_driver() == "none" {
        return Err(ApiError::not_implemented(
            "configured logging driver does not support reading",
        ));
    }
    let opts = LogsOptions::from_query(req.uri().query())?;
    if !opts.stdout && !opts.stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let running = c.state.status.is_running();
    let opts = LogsOptions {
        follow: opts.follow && running,
        ..opts
    };
    let stopped = opts.follow.then(|| stopped_signal(&daemon, &c.id));
    let tty = c.tty();
    let body = Body::from_stream(streams::read_logs(c.log_path(), opts, tty, stopped));
    let media = streams::stream_media_type(tty, api_minor(version));
    Ok(([(header::CONTENT_TYPE, media)], body).into_response())
}

fn dimension(form: &Form, key: &str) -> ApiResult<u32> {
    let v = form.get(key);
    v.parse().map_err(|_| {
        ApiError::bad_request(format!("strconv.Atoi: parsing \"{v}\": invalid syntax"))
    })
}

async fn resize_route(
    State(daemon): State<SharedDaemon>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let c = daemon.containers.lookup(&id)?;
    let form = Form::parse(req.uri().query());
    let (h, w) = (dimension(&form, "h")?, dimension(&form, "w")?);
    attach::resize(&daemon, &c.id, w, h).await?;
    Ok(StatusCode::OK.into_response())
}
