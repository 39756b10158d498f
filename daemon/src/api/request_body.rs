//! What each route accepts as a request body, checked before its handler runs.
//!
//! - The routes that read a JSON body ([`JSON_ROUTES`]) follow dockerd's `CheckForJSON`
//!   (daemon/server/httputils): a request that carries a body (a `Content-Length` other than
//!   0, or a chunked one) needs `Content-Type: application/json` (parameters allowed), else
//!   400 "unsupported Content-Type header (text/plain): must be 'application/json'" (or
//!   "malformed Content-Type header (…): mime: …" as Go's `mime.ParseMediaType` says).
//!   That is what keeps a web page's `text/plain` POST (no CORS preflight needed) from
//!   creating a container. dockerd 29 skips the check on `/auth`; Berth checks it there too.
//!   The body is then read here, within the route's limit.
//! - Uploads (build contexts, image loads and imports, archives) are streams: no limit.
//! - Methods that carry no body in this API (GET, HEAD, DELETE) get [`NO_BODY_LIMIT`].
//!
//! dockerd sets no body limit at all. Over a limit the answer is a JSON 413 with
//! `Connection: close`; the server then closes the connection cleanly, reading what the client
//! still sends for a moment so that it sees the answer rather than a reset (server::conn).
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::ApiError;

/// Configs: a container's, an exec's, a commit's. Their strings end up in argv and environ,
/// which the kernel bounds at a few MiB together.
const CONFIG_LIMIT: usize = 4 << 20;
/// Small documents: credentials, network and volume options.
const SMALL_LIMIT: usize = 1 << 20;
/// GET, HEAD and DELETE requests carry no body in this API.
pub const NO_BODY_LIMIT: u64 = 1 << 20;

/// The routes (as registered, before `/v1.NN` is stripped) that read a JSON body, with the
/// most they read.
pub const JSON_ROUTES: &[(Method, &str, usize)] = &[
    (Method::POST, "/auth", SMALL_LIMIT),
    (Method::POST, "/containers/create", CONFIG_LIMIT),
    (Method::POST, "/containers/{id}/update", CONFIG_LIMIT),
    (Method::POST, "/containers/{id}/exec", CONFIG_LIMIT),
    (Method::POST, "/exec/{id}/start", CONFIG_LIMIT),
    (Method::POST, "/commit", CONFIG_LIMIT),
    (Method::POST, "/networks/create", SMALL_LIMIT),
    (Method::POST, "/networks/{id}/connect", SMALL_LIMIT),
    (Method::POST, "/networks/{id}/disconnect", SMALL_LIMIT),
    (Method::POST, "/volumes/create", SMALL_LIMIT),
    (Method::PUT, "/volumes/{name}", SMALL_LIMIT),
];

/// Route-level middleware: the content type and size of JSON bodies, the size of bodies
/// where none belongs; other requests go on untouched.
pub async fn enforce(req: Request, next: Next) -> Response {
    let method = req.method();
    if matches!(*method, Method::GET | Method::HEAD | Method::DELETE) {
        if content_length(req.headers()).is_some_and(|n| n > NO_BODY_LIMIT) {
            return too_large(NO_BODY_LIMIT as usize);
        }
        return next.run(req).await;
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let Some(limit) = route.and_then(|r| json_limit(method, r)) else {
        return next.run(req).await;
    };
    if let Err(e) = check_for_json(req.headers()) {
        return close_after(e.into_response());
    }
    if content_length(req.headers()).is_some_and(|n| n > limit as u64) {
        return too_large(limit);
    }
    let (parts, body) = req.into_parts();
    let bytes = match read_limited(body, limit).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn json_limit(method: &Method, route: &str) -> Option<usize> {
    JSON_ROUTES
        .iter()
        .find(|(m, r, _)| m == method && *r == route)
        .map(|(_, _, limit)| *limit)
}

/// `Content-Length`, when given and valid (hyper refuses invalid ones before we see them).
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Whether the request carries a body, as Go's `r.ContentLength != 0`: a length other than
/// 0, or chunked.
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || content_length(headers).is_some_and(|n| n > 0)
}

/// dockerd's `CheckForJSON`.
pub fn check_for_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    if ct.is_empty() && !has_body(headers) {
        return Ok(());
    }
    match media_type(&ct) {
        Err(why) => Err(ApiError::bad_request(format!(
            "malformed Content-Type header ({ct}): {why}"
        ))),
        Ok(t) if t == "application/json" => Ok(()),
        Ok(_) => Err(ApiError::bad_request(format!(
            "unsupported Content-Type header ({ct}): must be 'application/json'"
        ))),
    }
}

/// Go's `mime.ParseMediaType`: the media type, lower-cased, or Go's error text.
fn media_type(v: &str) -> Result<String, &'static str> {
    let (head, mut rest) = v.split_at(v.find(';').unwrap_or(v.len()));
    let media = head.trim().to_ascii_lowercase();
    let (typ, after) = token(&media);
    if typ.is_empty() {
        return Err("mime: no media type");
    }
    if !after.is_empty() {
        let Some(sub) = after.strip_prefix('/') else {
            return Err("mime: expected slash after first token");
        };
        let (subtype, tail) = token(sub);
        if subtype.is_empty() {
            return Err("mime: expected token after slash");
        }
        if !tail.is_empty() {
            return Err("mime: unexpected content after media subtype");
        }
    }
    let mut seen: Vec<String> = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(media);
        }
        match param(rest) {
            Some((key, tail)) => {
                if seen.contains(&key) {
                    return Err("mime: duplicate parameter name");
                }
                seen.push(key);
                rest = tail;
            }
            // Trailing semicolons are not an error.
            None if rest.trim() == ";" => return Ok(media),
            None => return Err("mime: invalid media parameter"),
        }
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii() && c > ' ' && c != '\x7f' && !"()<>@,;:\\\"/[]?=".contains(c)
}

/// RFC 2045 token at the start of `s`, and the rest.
fn token(s: &str) -> (&str, &str) {
    s.split_at(s.find(|c| !is_token_char(c)).unwrap_or(s.len()))
}

/// `; key=value` (a token or a quoted string) at the start of `s`: the lower-cased key and
/// the rest, or `None` when it is not one.
fn param(s: &str) -> Option<(String, &str)> {
    let s = s.strip_prefix(';')?.trim_start();
    let (key, s) = token(s);
    if key.is_empty() {
        return None;
    }
    let s = s.trim_start().strip_prefix('=')?.trim_start();
    let rest = if let Some(quoted) = s.strip_prefix('"') {
        let mut escaped = false;
        let mut end = None;
        for (i, c) in quoted.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '"' => {
                    end = Some(i);
                    break;
                }
                '\\' => escaped = true,
                '\r' | '\n' => return None,
                _ => {}
            }
        }
        &quoted[end? + 1..]
    } else {
        let (value, rest) = token(s);
        if value.is_empty() {
            return None;
        }
        rest
    };
    Some((key.to_ascii_lowercase(), rest))
}

/// Reads the whole body, at most `limit` bytes; over it (413), when the client stalls (408,
/// the server's body timeout) or on another read error (400), the answer.
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, Response> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(limit)),
        Err(e) if crate::server::connection::body::is_timeout(e.as_ref()) => Err(close_after(
            ApiError::new(StatusCode::REQUEST_TIMEOUT, e.to_string()).into_response(),
        )),
        Err(e) => Err(close_after(
            ApiError::bad_request(format!("reading the request body: {e}")).into_response(),
        )),
    }
}

/// 413 with the limit, and the connection closed after the answer.
fn too_large(limit: usize) -> Response {
    close_after(
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body too large: this endpoint reads at most {limit} bytes"),
        )
        .into_response(),
    )
}

/// Marks an answer given before the body was read: the connection is closed after it.
fn close_after(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::api::header_map as headers;

    #[test]
    fn json_is_required_when_there_is_a_body() {
        assert!(check_for_json(&headers(&[])).is_ok());
        assert!(check_for_json(&headers(&[("content-length", "0")])).is_ok());
        assert!(check_for_json(&headers(&[
            ("content-length", "2"),
            ("content-type", "application/json")
        ]))
        .is_ok());
        assert!(check_for_json(&headers(&[
            ("transfer-encoding", "chunked"),
            ("content-type", "Application/JSON; charset=utf-8")
        ]))
        .is_ok());
        let e = check_for_json(&headers(&[
            ("content-length", "20"),
            ("content-type", "text/plain"),
        ]))
        .expect_err("text/plain");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message,
            "unsupported Content-Type header (text/plain): must be 'application/json'"
        );
        let e = check_for_json(&headers(&[("content-length", "20")])).expect_err("none");
        assert_eq!(
            e.message,
            "malformed Content-Type header (): mime: no media type"
        );
        // A type without a body is still checked, as dockerd does.
        let e = check_for_json(&headers(&[("content-type", "text/plain")])).expect_err("type");
        assert!(e.message.starts_with("unsupported"), "{}", e.message);
    }

    #[test]
    fn media_types_parse_as_gos() {
        assert_eq!(
            media_type("application/json").as_deref(),
            Ok("application/json")
        );
        assert_eq!(
            media_type(" TEXT/Plain ;charset=\"utf-8\"").as_deref(),
            Ok("text/plain")
        );
        assert_eq!(
            media_type("application/json;").as_deref(),
            Ok("application/json")
        );
        assert_eq!(media_type("json").as_deref(), Ok("json"));
        assert_eq!(media_type(""), Err("mime: no media type"));
        assert_eq!(
            media_type("a b"),
            Err("mime: expected slash after first token")
        );
        assert_eq!(
            media_type("application/"),
            Err("mime: expected token after slash")
        );
        assert_eq!(
            media_type("application/json x"),
            Err("mime: unexpected content after media subtype")
        );
        assert_eq!(media_type("a/b; c"), Err("mime: invalid media parameter"));
        assert_eq!(
            media_type("a/b; c=\"x"),
            Err("mime: invalid media parameter")
        );
        assert_eq!(
            media_type("a/b; c=1; C=2"),
            Err("mime: duplicate parameter name")
        );
    }

    fn app() -> (tempfile::TempDir, crate::api::App) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = crate::config::Config {
            data_root: dir.path().to_path_buf(),
            ..Default::default()
        };
        let daemon = crate::state::Daemon::open(config).expect("daemon");
        (dir, crate::api::app(daemon))
    }

    async fn send(
        app: &crate::api::App,
        req: Request,
    ) -> (StatusCode, HeaderMap, serde_json::Value) {
        use tower::ServiceExt;
        let response = app.clone().oneshot(req).await.expect("answer");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let v = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (parts.status, parts.headers, v)
    }

    /// What a web page can send without a CORS preflight: a `text/plain` POST. Every route
    /// that reads JSON refuses it before its handler runs (an unknown container or network
    /// would otherwise answer 404, a valid body would create).
    #[tokio::test]
    async fn every_json_route_refuses_a_text_plain_body() {
        let (_dir, app) = app();
        for (method, route, _) in JSON_ROUTES {
            let path = route.replace("{id}", "x").replace("{name}", "x");
            for prefix in ["", "/v1.41"] {
                let req = Request::builder()
                    .method(method.clone())
                    .uri(format!("{prefix}{path}"))
                    .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
                    .header(header::CONTENT_LENGTH, "2")
                    .body(Body::from("{}"))
                    .expect("request");
                let (status, headers, v) = send(&app, req).await;
                assert_eq!(
                    status,
                    StatusCode::BAD_REQUEST,
                    "{method} {prefix}{path}: {v}"
                );
                assert_eq!(
                    v["message"],
                    "unsupported Content-Type header (text/plain;charset=UTF-8): must be 'application/json'",
                    "{method} {path}"
                );
                assert_eq!(headers[header::CONNECTION], "close");
            }
        }
    }

    #[tokio::test]
    async fn a_create_with_a_host_bind_as_a_page_sends_it_is_refused() {
        let (dir, app) = app();
        let body = serde_json::json!({
            "Image": "busybox",
            "HostConfig": {"Binds": ["/:/host"]},
        })
        .to_string();
        let req = Request::builder()
            .method(Method::POST)
            .uri("/containers/create?name=pwned")
            .header(header::CONTENT_TYPE, "text/plain")
            .header(header::CONTENT_LENGTH, body.len().to_string())
            .body(Body::from(body))
            .expect("request");
        let (status, _, v) = send(&app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        let records = std::fs::read_dir(dir.path().join("containers"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(records, 0, "a container record was written");
    }

    #[tokio::test]
    async fn bodies_without_a_type_or_over_the_limit() {
        let (_dir, app) = app();
        // No body, no type: not refused (the handler answers, as dockerd's).
        let req = Request::builder()
            .method(Method::POST)
            .uri("/containers/x/exec")
            .body(Body::empty())
            .expect("request");
        let (_, _, v) = send(&app, req).await;
        assert_eq!(v["message"], "No exec command specified");
        // Over the limit by its length: 413 before anything is read.
        let req = Request::builder()
            .method(Method::POST)
            .uri("/v1.41/containers/create")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, (CONFIG_LIMIT + 1).to_string())
            .body(Body::empty())
            .expect("request");
        let (status, headers, v) = send(&app, req).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
        assert!(
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("too large")),
            "{v}"
        );
        assert_eq!(headers[header::CONNECTION], "close");
        // Over the limit while streaming (no length given).
        let chunks = futures::stream::iter(
            (0..20).map(|_| Ok::<_, std::convert::Infallible>(Bytes::from(vec![b' '; 64 << 10]))),
        );
        let req = Request::builder()
            .method(Method::POST)
            .uri("/networks/create")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::TRANSFER_ENCODING, "chunked")
            .body(Body::from_stream(chunks))
            .expect("request");
        let (status, _, v) = send(&app, req).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
        // A GET with a body too large for a request that takes none.
        let req = Request::builder()
            .uri("/containers/json")
            .header(header::CONTENT_LENGTH, (NO_BODY_LIMIT + 1).to_string())
            .body(Body::empty())
            .expect("request");
        let (status, _, v) = send(&app, req).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    }

    #[test]
    fn limits_are_found_by_route() {
        assert_eq!(
            json_limit(&Method::POST, "/containers/create"),
            Some(CONFIG_LIMIT)
        );
        assert_eq!(
            json_limit(&Method::PUT, "/volumes/{name}"),
            Some(SMALL_LIMIT)
        );
        assert_eq!(json_limit(&Method::POST, "/build"), None);
        assert_eq!(json_limit(&Method::PUT, "/containers/{id}/archive"), None);
    }
}
