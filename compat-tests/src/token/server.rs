//! The Docker token protocol over HTTP (axum):
//!
//! - `GET /token?service=S&scope=repository:NAME:pull,push&account=U` with optional HTTP basic
//!   credentials (docs.docker.com/registry/spec/auth/token): `{"token", "access_token",
//!   "expires_in", "issued_at"}`. No credentials: a token with no access (what Docker Hub
//!   answers for anonymous callers; here nothing is public). Wrong credentials: 401.
//! - `POST /token`, the OAuth2 form (`grant_type=password` or `refresh_token`,
//!   docs.docker.com/registry/spec/auth/oauth): `{"access_token", "scope", "expires_in",
//!   "issued_at"}`, plus a `refresh_token` when `access_type=offline`.
//! - `GET /healthz`: "ok".

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use super::jwt::{self, Claims, ResourceActions};
use super::keys::SigningKey;
use super::scope;

/// What the server checks and signs.
#[derive(Debug, Clone)]
pub struct Config {
    /// `iss` of every token; the registry's `auth.token.issuer`.
    pub issuer: String,
    /// `aud` of every token; the registry's `auth.token.service`.
    pub service: String,
    pub username: String,
    pub password: String,
    /// Token lifetime in seconds.
    pub expires_in: i64,
}

#[derive(Debug)]
pub struct TokenServer {
    pub config: Config,
    pub key: SigningKey,
}

pub fn router(server: Arc<TokenServer>) -> Router {
    Router::new()
        .route("/token", get(get_token).post(post_token))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(server)
}

/// Who is asking.
enum Caller {
    Anonymous,
    User(String),
}

fn unauthorized(why: &str) -> Response {
    eprintln!("berth-token-server: -> 401 ({why})");
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"berth-token-server\"",
        )],
        // Docker's registry client turns `details` of a 401 into "unauthorized: DETAILS".
        Json(json!({ "details": "incorrect username or password" })),
    )
        .into_response()
}

fn bad_request(error: &str, details: &str) -> Response {
    eprintln!("berth-token-server: -> 400 ({details})");
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": error, "details": details })),
    )
        .into_response()
}

impl TokenServer {
    fn check(&self, user: &str, password: &str) -> bool {
        user == self.config.username && password == self.config.password
    }

    /// The caller named by an `Authorization: Basic` header, anonymous without one; the
    /// reason for a 401 otherwise.
    fn caller(&self, headers: &HeaderMap) -> Result<Caller, String> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(Caller::Anonymous);
        };
        let value = value
            .to_str()
            .map_err(|_| "Authorization is not text".to_string())?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err("not basic credentials".into());
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .map_err(|_| "credentials are not base64".to_string())?;
        let text =
            String::from_utf8(decoded).map_err(|_| "credentials are not UTF-8".to_string())?;
        let (user, password) = text
            .split_once(':')
            .ok_or_else(|| "no colon in credentials".to_string())?;
        if !self.check(user, password) {
            return Err(format!("bad password for {user:?}"));
        }
        Ok(Caller::User(user.to_string()))
    }

    /// The service asked for must be ours (it becomes the token's audience): a 400 otherwise.
    fn check_service(&self, service: Option<&str>) -> Option<Response> {
        match service {
            Some(s) if !s.is_empty() && s != self.config.service => Some(bad_request(
                "invalid_request",
                &format!(
                    "unknown service {s:?}, this server serves {:?}",
                    self.config.service
                ),
            )),
            _ => None,
        }
    }

    fn claims(
        &self,
        subject: &str,
        audience: &str,
        lifetime: i64,
        access: Vec<ResourceActions>,
    ) -> anyhow::Result<Claims> {
        let now = Utc::now().timestamp();
        let mut id = [0u8; 16];
        self.key.random(&mut id)?;
        Ok(Claims {
            iss: self.config.issuer.clone(),
            sub: subject.to_string(),
            aud: audience.to_string(),
            exp: now + lifetime,
            nbf: now,
            iat: now,
            jti: hex::encode(id),
            access,
        })
    }

    /// A signed access token for `subject` (empty when anonymous) granting `access`.
    fn access_token(&self, subject: &str, access: Vec<ResourceActions>) -> anyhow::Result<String> {
        let claims = self.claims(
            subject,
            &self.config.service,
            self.config.expires_in,
            access,
        )?;
        jwt::sign(&self.key, &claims)
    }

    fn refresh_audience(&self) -> String {
        format!("{}/refresh", self.config.issuer)
    }

    /// A refresh token: a JWT for our own audience, which the registry never accepts.
    fn refresh_token(&self, subject: &str) -> anyhow::Result<String> {
        let claims = self.claims(subject, &self.refresh_audience(), 24 * 3600, Vec::new())?;
        jwt::sign(&self.key, &claims)
    }

    /// The user a refresh token was given to, if it is ours and still valid.
    fn refresh_subject(&self, token: &str) -> Option<String> {
        let (_, claims) = jwt::verify(token, self.key.public_key()).ok()?;
        let ok = claims.iss == self.config.issuer
            && claims.aud == self.refresh_audience()
            && claims.exp >= Utc::now().timestamp()
            && claims.sub == self.config.username;
        ok.then_some(claims.sub)
    }
}

fn internal(e: anyhow::Error) -> Response {
    eprintln!("berth-token-server: -> 500 ({e:#})");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "details": format!("{e:#}") })),
    )
        .into_response()
}

fn issued_at() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `TYPE:NAME:ACTIONS` of each grant, space-separated (the OAuth2 `scope` answer).
fn scope_string(access: &[ResourceActions]) -> String {
    let parts: Vec<String> = access
        .iter()
        .map(|a| format!("{}:{}:{}", a.kind, a.name, a.actions.join(",")))
        .collect();
    parts.join(" ")
}

fn describe(access: &[ResourceActions]) -> String {
    format!("[{}]", scope_string(access))
}

async fn get_token(
    State(s): State<Arc<TokenServer>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = pairs(query.as_deref().unwrap_or("").as_bytes());
    eprintln!(
        "berth-token-server: GET /token?{}",
        query.as_deref().unwrap_or("")
    );
    if let Some(r) = s.check_service(first(&params, "service")) {
        return r;
    }
    let caller = match s.caller(&headers) {
        Ok(c) => c,
        Err(why) => return unauthorized(&why),
    };
    let requested = scope::parse_all(
        params
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.as_str()),
    );
    let (subject, access) = match &caller {
        Caller::Anonymous => (String::new(), scope::grant(false, &requested)),
        Caller::User(u) => (u.clone(), scope::grant(true, &requested)),
    };
    eprintln!(
        "berth-token-server: -> 200 sub={subject:?} access={}",
        describe(&access)
    );
    match s.access_token(&subject, access) {
        Ok(token) => Json(json!({
            "token": token,
            "access_token": token,
            "expires_in": s.config.expires_in,
            "issued_at": issued_at(),
        }))
        .into_response(),
        Err(e) => internal(e),
    }
}

async fn post_token(State(s): State<Arc<TokenServer>>, body: Bytes) -> Response {
    let form = pairs(&body);
    let grant_type = first(&form, "grant_type").unwrap_or("");
    eprintln!(
        "berth-token-server: POST /token grant_type={grant_type} service={:?} scope={:?} client_id={:?}",
        first(&form, "service"),
        first(&form, "scope"),
        first(&form, "client_id")
    );
    if let Some(r) = s.check_service(first(&form, "service")) {
        return r;
    }
    let subject = match grant_type {
        "password" => {
            let user = first(&form, "username").unwrap_or("");
            if !s.check(user, first(&form, "password").unwrap_or("")) {
                return unauthorized(&format!("bad password for {user:?}"));
            }
            user.to_string()
        }
        "refresh_token" => match s.refresh_subject(first(&form, "refresh_token").unwrap_or("")) {
            Some(u) => u,
            None => return unauthorized("invalid refresh token"),
        },
        other => {
            return bad_request(
                "unsupported_grant_type",
                &format!("grant_type {other:?} is not supported"),
            )
        }
    };
    let requested = scope::parse_all(
        form.iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.as_str()),
    );
    let access = scope::grant(true, &requested);
    eprintln!(
        "berth-token-server: -> 200 sub={subject:?} access={}",
        describe(&access)
    );
    let token = match s.access_token(&subject, access.clone()) {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    let mut answer: Value = json!({
        "access_token": token,
        "token": token,
        "scope": scope_string(&access),
        "expires_in": s.config.expires_in,
        "issued_at": issued_at(),
    });
    let wants_refresh =
        grant_type == "refresh_token" || first(&form, "access_type") == Some("offline");
    if wants_refresh {
        match s.refresh_token(&subject) {
            Ok(r) => answer["refresh_token"] = Value::String(r),
            Err(e) => return internal(e),
        }
    }
    Json(answer).into_response()
}
