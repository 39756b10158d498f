//! API group: moving images between registries and the daemon — pull (`POST /images/create`)
//! and push (`POST /images/{name}/push`).
//!
//! Both answer with a stream of JSON progress lines (see `crate::progress`); an error
//! before the first line is a plain Docker error with its status.
//!
//! Routing: image names contain slashes ("127.0.0.1:5000/berth/busybox"), which one
//! axum path parameter cannot match, so the images group owns the `/images/{*rest}`
//! catch-all and hands `POST …/push` to [`push_image_by_name`].
mod import;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::Router;

use super::ApiError;
use crate::progress::{respond, ProgressSink};
use crate::reference::{validate_digest, Reference, DEFAULT_TAG};
use crate::registry::platform::Platform;
use crate::registry::pull::{pull, PullRequest};
use crate::registry::push::{push, tags_to_push, PushRequest};
use crate::registry::{AuthConfig, RegistryError};
use crate::state::SharedDaemon;

/// The header carrying base64url JSON credentials.
pub const REGISTRY_AUTH_HEADER: &str = "X-Registry-Auth";

pub fn routes() -> Router<SharedDaemon> {
    Router::new().route("/images/create", post(create_image))
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        use RegistryError as R;
        match e {
            R::ManifestNotFound { .. }
            | R::NotFound(_)
            | R::NoSuchLocalImage(_)
            | R::NoMatchingPlatform(_) => ApiError::not_found(e.to_string()),
            R::Unauthorized(m) => ApiError::unauthorized(m),
            R::Denied(m) => ApiError::forbidden(m),
            R::Unsupported(m) | R::InvalidParameter(m) => ApiError::bad_request(m),
            R::NotImplemented(m) => ApiError::not_implemented(m),
            R::Network(m) | R::Registry(m) | R::Internal(m) => ApiError::internal(m),
            R::Store(s) => s.into(),
        }
    }
}

/// The status of a pull, push or distribution error. Unlike `/auth`, bad or missing
/// credentials are not a 401 here: dockerd answers 500 ("no basic auth credentials",
/// "unauthorized: authentication required"), and a 401 would make the docker CLI stop
/// and prompt for a login ("Login prior to pull:") instead of printing the error.
pub fn transfer_error(e: RegistryError) -> ApiError {
    match e {
        RegistryError::Unauthorized(m) => ApiError::internal(m),
        other => other.into(),
    }
}

/// The query of `POST /images/create`, from repeated `key=value` pairs.
#[derive(Debug, Default)]
struct CreateQuery {
    from_image: Option<String>,
    from_src: Option<String>,
    repo: Option<String>,
    tag: Option<String>,
    message: Option<String>,
    changes: Vec<String>,
    platform: Option<String>,
}

impl CreateQuery {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut q = CreateQuery::default();
        for (key, value) in pairs {
            let value = Some(value).filter(|v| !v.is_empty());
            match key.as_str() {
                "fromImage" => q.from_image = value,
                "fromSrc" => q.from_src = value,
                "repo" => q.repo = value,
                "tag" => q.tag = value,
                "message" => q.message = value,
                "changes" => q.changes.extend(value),
                "platform" => q.platform = value,
                _ => {}
            }
        }
        q
    }
}

/// `POST /images/create?fromImage=…&tag=…&platform=…`: a pull; with `fromSrc`, an import.
async fn create_image(
    State(daemon): State<SharedDaemon>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let query = CreateQuery::from_pairs(pairs);
    let Some(from_image) = query.from_image else {
        // dockerd: no fromImage means an import.
        let request = import::ImportRequest {
            source: query.from_src.unwrap_or_default(),
            repo: query.repo,
            tag: query.tag,
            message: query.message,
            changes: query.changes,
        };
        return import::import(daemon, request, body).await;
    };
    let reference = pull_reference(&from_image, query.tag.as_deref())?;
    let platform = query.platform.as_deref().map(Platform::parse).transpose()?;
    let credentials = AuthConfig::from_header_lenient(header(&headers, REGISTRY_AUTH_HEADER));
    tracing::debug!(reference = %reference, platform = ?platform.as_ref().map(Platform::display), "pull requested");

    let (sink, rx) = ProgressSink::channel();
    let request = PullRequest {
        reference,
        platform,
        credentials,
    };
    let task = tokio::spawn(async move { pull(daemon, request, sink).await.map(|_| ()) });
    respond(rx, task).await.map_err(transfer_error)
}

/// The reference a pull names: `fromImage` (which may carry a tag or digest), with
/// `tag` (a tag or a digest) taking precedence. Neither: every tag of the repository
/// (the CLI sends `tag=latest` unless `--all-tags`).
pub fn pull_reference(from_image: &str, tag: Option<&str>) -> Result<Reference, ApiError> {
    let mut reference = Reference::parse(from_image)?;
    if let Some(tag) = tag {
        if tag.contains(':') {
            validate_digest(tag)?;
            reference = reference.with_digest(tag);
        } else {
            // Validated by parsing it as part of a reference.
            let tagged = Reference::parse(&format!("{}:{tag}", reference.name()))?;
            reference = reference.with_tag(tagged.tag.as_deref().unwrap_or(DEFAULT_TAG));
        }
    }
    if reference.digest.is_some() {
        reference.tag = None;
    }
    Ok(reference)
}

/// Pushes `name` (every tag of it, or `tag` only), credentials from `X-Registry-Auth`.
pub async fn push_image_by_name(
    daemon: SharedDaemon,
    name: &str,
    tag: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let mut reference = Reference::parse(name)?;
    if let Some(tag) = tag {
        let tagged = Reference::parse(&format!("{}:{tag}", reference.name()))?;
        reference = reference.with_tag(tagged.tag.as_deref().unwrap_or(DEFAULT_TAG));
    }
    if reference.digest.is_some() {
        return Err(ApiError::bad_request("cannot push a digest reference"));
    }
    // dockerd names the repository, not the tag, in this error.
    let tags = tags_to_push(&daemon, &reference).map_err(|e| match e {
        RegistryError::NoSuchLocalImage(_) => {
            RegistryError::NoSuchLocalImage(reference.name_only().familiar())
        }
        other => other,
    });
    let tags = tags.map_err(transfer_error)?;
    let credentials = AuthConfig::from_header_lenient(header(headers, REGISTRY_AUTH_HEADER));
    let (sink, rx) = ProgressSink::channel();
    let request = PushRequest {
        reference,
        credentials,
    };
    let task = tokio::spawn(push(daemon, request, tags, sink));
    respond(rx, task).await.map_err(transfer_error)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn pull_references() {
        let r = pull_reference("127.0.0.1:5000/a/b", Some("v1")).expect("ok");
        assert_eq!(r.to_string(), "127.0.0.1:5000/a/b:v1");
        let r = pull_reference("busybox", None).expect("ok");
        assert_eq!(r.to_string(), "docker.io/library/busybox", "all tags");
        let r = pull_reference("busybox:1", None).expect("ok");
        assert_eq!(r.to_string(), "docker.io/library/busybox:1");
        let r = pull_reference("busybox", Some(D)).expect("ok");
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));
        let r = pull_reference(&format!("busybox:1@{D}"), None).expect("ok");
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));
        assert!(pull_reference("busybox", Some("bad tag")).is_err());
        assert!(pull_reference("Bad", None).is_err());
    }
}
