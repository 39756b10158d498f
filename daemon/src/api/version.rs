//! API versions: `/v1.NN/` prefixes (1.24 up to 1.53), unversioned paths mean 1.53,
//! a version above 1.53 is a 400. The stripped version is put into the request's
//! extensions as `ApiVersion` for handlers whose behaviour changed between versions.
//!
//! As in dockerd (gorilla mux), the version is only checked for paths that match a route:
//! `/v1.99/nope` is a 404, `/v1.99/version` a 400.
use std::cmp::Ordering;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;

pub const MAX_API_VERSION: ApiVersion = ApiVersion(53);
pub const MIN_API_VERSION: ApiVersion = ApiVersion(24);

/// The engine version Berth reports: the Docker Engine release whose API (1.53) it speaks,
/// with Berth's own version as semver build metadata.
macro_rules! engine_version {
    () => {
        concat!("29.2.0+berth.", env!("CARGO_PKG_VERSION"))
    };
}
pub const ENGINE_VERSION: &str = engine_version!();
/// dockerd's `Server` header.
const SERVER_HEADER: &str = concat!("Docker/", engine_version!(), " (linux)");
/// `Api-Version` on every answer: `MAX_API_VERSION` as text.
const API_VERSION_HEADER: &str = "1.53";
/// Set by the build (`BERTH_GIT_COMMIT`), else "unknown".
pub const GIT_COMMIT: &str = match option_env!("BERTH_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};
/// Set by the build (`BERTH_BUILD_TIME`, RFC 3339), else empty.
pub const BUILD_TIME: &str = match option_env!("BERTH_BUILD_TIME") {
    Some(t) => t,
    None => "",
};
/// What /version reports as `GoVersion`: the Rust toolchain (`BERTH_RUSTC_VERSION`), else "rust".
pub const TOOLCHAIN_VERSION: &str = match option_env!("BERTH_RUSTC_VERSION") {
    Some(v) => v,
    None => "rust",
};

/// The minor part of a `1.NN` API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32);

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "1.{}", self.0)
    }
}

impl ApiVersion {
    /// Whether this request's version is older than `1.minor` (for version-gated behaviour).
    pub fn before(self, minor: u32) -> bool {
        self.0 < minor
    }
}

/// The version prefix a request came with (`None`: unversioned), put into the request's
/// extensions by `serve` and checked by `check` once the path matched a route.
#[derive(Debug, Clone)]
pub struct RequestedVersion(pub Option<String>);

/// Why a requested version is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionError {
    TooOld(String),
    TooNew(String),
}

impl std::fmt::Display for VersionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionError::TooOld(v) => write!(
                f,
                "client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
            ),
            VersionError::TooNew(v) => {
                write!(f, "client version {v} is too new. Maximum supported API version is {MAX_API_VERSION}")
            }
        }
    }
}

/// Compares dotted versions as Docker does: numerically, part by part, a missing or
/// non-numeric part counting as 0.
pub fn compare(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| {
        s.split('.')
            .map(|p| p.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    let (pa, pb) = (parts(a), parts(b));
    for i in 0..pa.len().max(pb.len()) {
        let (x, y) = (
            pa.get(i).copied().unwrap_or(0),
            pb.get(i).copied().unwrap_or(0),
        );
        match x.cmp(&y) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    Ordering::Equal
}

/// Checks a requested `1.NN` version against the supported range.
pub fn parse(requested: &str) -> Result<ApiVersion, VersionError> {
    if compare(requested, &MIN_API_VERSION.to_string()) == Ordering::Less {
        return Err(VersionError::TooOld(requested.to_string()));
    }
    if compare(requested, &MAX_API_VERSION.to_string()) == Ordering::Greater {
        return Err(VersionError::TooNew(requested.to_string()));
    }
    let minor = requested
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(MIN_API_VERSION.0);
    Ok(ApiVersion(minor))
}

/// Splits `/v1.40/containers/json` into `("1.40", "/containers/json")`, as dockerd's
/// `/v{version:[0-9.]+}` prefix; `None` for unversioned paths.
pub fn split_prefix(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v")?;
    let end = rest.find('/')?;
    let (version, tail) = rest.split_at(end);
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    Some((version, tail))
}

/// Strips `/v1.NN` before routing and records it in the request's extensions as
/// [`RequestedVersion`] (checked by [`check`] once a route matched).
#[allow(clippy::result_large_err)] // the refusal is the answer, by value as axum passes them
pub fn strip_prefix(mut req: Request) -> Result<Request, Response> {
    let mut requested = None;
    if let Some((version, tail)) = split_prefix(req.uri().path()) {
        let new_path = match req.uri().query() {
            Some(q) => format!("{tail}?{q}"),
            None => tail.to_string(),
        };
        requested = Some(version.to_string());
        let mut parts = req.uri().clone().into_parts();
        match new_path.parse() {
            Ok(pq) => parts.path_and_query = Some(pq),
            Err(_) => return Err(ApiError::bad_request("invalid request path").into_response()),
        }
        match axum::http::Uri::from_parts(parts) {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => return Err(ApiError::bad_request("invalid request path").into_response()),
        }
    }
    req.extensions_mut().insert(RequestedVersion(requested));
    Ok(req)
}

/// dockerd's headers on every answer (those a handler set itself are kept).
pub fn add_headers(headers: &mut HeaderMap) {
    let defaults = [
        (HeaderName::from_static("api-version"), API_VERSION_HEADER),
        (HeaderName::from_static("docker-experimental"), "false"),
        (HeaderName::from_static("ostype"), "linux"),
        (header::SERVER, SERVER_HEADER),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

/// Run once the path matched a route (`api::route_checks`): refuses versions outside
/// 1.24..=1.53 and puts the `ApiVersion` into the request's extensions.
#[allow(clippy::result_large_err)] // the refusal is the answer, by value as axum passes them
pub fn check(mut req: Request) -> Result<Request, Response> {
    let requested = req
        .extensions()
        .get::<RequestedVersion>()
        .and_then(|r| r.0.as_deref().map(parse));
    let version = match requested {
        None => MAX_API_VERSION,
        Some(Ok(v)) => v,
        Some(Err(e @ VersionError::TooNew(_))) => {
            return Err(ApiError::bad_request(e.to_string()).into_response())
        }
        Some(Err(e @ VersionError::TooOld(_))) => {
            // Clients that old expect plain-text errors, as dockerd sends them.
            return Err((
                StatusCode::BAD_REQUEST,
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                ],
                format!("{e}\n"),
            )
                .into_response());
        }
    };
    let version = cap_for_legacy_clients(version, req.headers());
    req.extensions_mut().insert(version);
    Ok(req)
}

/// The newest API version docker-compose 1.x understands. It negotiates the server's
/// newest version, then reads fields dockerd dropped since (the image's
/// `ContainerConfig` at 1.45, the events' `id`/`status` at 1.52), and fails on every
/// recreate or attached `up` against a current dockerd. It is served as the API 1.41
/// it was written for (dockerd 20.10's).
const COMPOSE_V1_API_VERSION: ApiVersion = ApiVersion(41);

fn cap_for_legacy_clients(version: ApiVersion, headers: &axum::http::HeaderMap) -> ApiVersion {
    let compose_v1 = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("docker-compose/1."));
    if compose_v1 && version.0 > COMPOSE_V1_API_VERSION.0 {
        COMPOSE_V1_API_VERSION
    } else {
        version
    }
}

/// Fallback for paths no route matched, and for known paths with another method:
/// dockerd's 404 `page not found`. `OPTIONS` on any path is a 200, as in dockerd.
pub async fn unknown_path(method: Method, body: axum::body::Body) -> Response {
    if method == Method::OPTIONS {
        return StatusCode::OK.into_response();
    }
    // An upload to an endpoint Berth lacks (`docker load`, say) gets the 404, not a broken pipe.
    super::body::discard(body).await;
    ApiError::not_found("page not found").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_texts_are_the_constants() {
        assert_eq!(API_VERSION_HEADER, MAX_API_VERSION.to_string());
        assert_eq!(SERVER_HEADER, format!("Docker/{ENGINE_VERSION} (linux)"));
    }

    #[test]
    fn compose_v1_is_served_as_api_1_41() {
        let mut h = axum::http::HeaderMap::new();
        assert_eq!(cap_for_legacy_clients(ApiVersion(53), &h), ApiVersion(53));
        h.insert(
            header::USER_AGENT,
            "docker-compose/1.29.2 docker-py/5.0.3 Linux/6.1"
                .parse()
                .expect("header"),
        );
        assert_eq!(cap_for_legacy_clients(ApiVersion(53), &h), ApiVersion(41));
        assert_eq!(cap_for_legacy_clients(ApiVersion(30), &h), ApiVersion(30));
        h.insert(
            header::USER_AGENT,
            "Docker-Client/28.2.2 (linux)".parse().expect("header"),
        );
        assert_eq!(cap_for_legacy_clients(ApiVersion(53), &h), ApiVersion(53));
    }

    #[test]
    fn compares_like_docker() {
        assert_eq!(compare("1.24", "1.24"), Ordering::Equal);
        assert_eq!(compare("1.9", "1.24"), Ordering::Less);
        assert_eq!(compare("1.53.1", "1.53"), Ordering::Greater);
        assert_eq!(compare("2", "1.53"), Ordering::Greater);
        assert_eq!(compare("1", "1.24"), Ordering::Less);
    }

    #[test]
    fn parses_supported_range() {
        assert_eq!(parse("1.24"), Ok(ApiVersion(24)));
        assert_eq!(parse("1.41"), Ok(ApiVersion(41)));
        assert_eq!(parse("1.53"), Ok(ApiVersion(53)));
        assert_eq!(parse("1.99"), Err(VersionError::TooNew("1.99".into())));
        assert_eq!(parse("1.12"), Err(VersionError::TooOld("1.12".into())));
        assert_eq!(
            VersionError::TooNew("1.99".into()).to_string(),
            "client version 1.99 is too new. Maximum supported API version is 1.53"
        );
        assert_eq!(
            VersionError::TooOld("1.12".into()).to_string(),
            "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
        );
    }

    #[test]
    fn splits_prefix() {
        assert_eq!(
            split_prefix("/v1.40/containers/json"),
            Some(("1.40", "/containers/json"))
        );
        assert_eq!(split_prefix("/v1.40/"), Some(("1.40", "/")));
        assert_eq!(split_prefix("/v1.40"), None);
        assert_eq!(split_prefix("/version"), None);
        assert_eq!(split_prefix("/volumes/x"), None);
        assert_eq!(split_prefix("/v/x"), None);
    }
}
