//! Why a registry answered 401, in dockerd's words.
//!
//! oci-client only reports "unauthorized"; dockerd's messages depend on the registry's
//! challenge and on the credentials:
//! - Basic challenge: "no basic auth credentials" without credentials, the registry's
//!   "unauthorized: authentication required" with wrong ones (see `translate`).
//! - Bearer challenge without credentials, or with credentials the token server accepts
//!   but that do not grant access: "pull access denied for NAME, repository does not
//!   exist or may require 'docker login': denied: requested access to the resource is
//!   denied" (404) for a pull, "denied: requested access to the resource is denied" for
//!   a push, both errors (403) for an inspect.
//! - Bearer challenge with credentials the token server refuses: the token server's
//!   reason, "Head \"…/manifests/TAG\": unauthorized: incorrect username or password".
use std::time::Duration;

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::StatusCode;

use super::client::RegistryClient;
use super::RegistryError;
use crate::reference::Reference;

const DENIED: &str = "denied: requested access to the resource is denied";

/// What was being done when the registry refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Pull,
    Push,
    Inspect,
}

/// Rewrites an `Unauthorized` error for a Bearer registry; other errors pass unchanged.
pub async fn explain(
    client: &RegistryClient,
    error: RegistryError,
    reference: &Reference,
    access: Access,
) -> RegistryError {
    if !matches!(error, RegistryError::Unauthorized(_)) {
        return error;
    }
    let Some(http) = http_client(client) else {
        return error;
    };
    let base = client.base_url(&reference.domain);
    let Some(challenge) = bearer_challenge(&http, &base).await else {
        return error; // A Basic registry: `translate` already used dockerd's words.
    };
    let scope_actions = if access == Access::Push {
        "pull,push"
    } else {
        "pull"
    };
    let refused = if client.has_credentials {
        token_refusal(
            &http,
            &challenge,
            &client.credentials,
            &format!("repository:{}:{scope_actions}", reference.path),
        )
        .await
    } else {
        None
    };
    let manifest_url = format!(
        "{base}/v2/{}/manifests/{}",
        reference.path,
        reference
            .digest
            .as_deref()
            .or(reference.tag.as_deref())
            .unwrap_or(crate::reference::DEFAULT_TAG)
    );
    match (refused, access) {
        (Some(reason), Access::Push) => RegistryError::Unauthorized(format!("unauthorized: {reason}")),
        (Some(reason), _) => RegistryError::Unauthorized(format!("Head \"{manifest_url}\": unauthorized: {reason}")),
        (None, Access::Pull) => RegistryError::NotFound(format!(
            "pull access denied for {}, repository does not exist or may require 'docker login': {DENIED}",
            reference.familiar_name()
        )),
        (None, Access::Push) => RegistryError::Denied(DENIED.to_string()),
        (None, Access::Inspect) => {
            RegistryError::Denied(format!("errors:\n{DENIED}\nunauthorized: authentication required\n"))
        }
    }
}

fn http_client(client: &RegistryClient) -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(client.skip_verify)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .ok()
}

/// A Bearer challenge's parameters: (realm, service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerChallenge {
    pub realm: String,
    pub service: Option<String>,
}

/// The Bearer challenge of `GET {base}/v2/`, if the registry uses tokens.
async fn bearer_challenge(http: &reqwest::Client, base: &str) -> Option<BearerChallenge> {
    let answer = http.get(format!("{base}/v2/")).send().await.ok()?;
    let header = answer
        .headers()
        .get(WWW_AUTHENTICATE)?
        .to_str()
        .ok()?
        .to_string();
    parse_bearer(&header)
}

/// Parses `Bearer realm="…",service="…"`; `None` for other schemes.
pub fn parse_bearer(header: &str) -> Option<BearerChallenge> {
    let (scheme, _) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = super::login::parse_challenge(header);
    let realm = params.iter().find(|(k, _)| k == "realm")?.1.clone();
    let service = params
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.clone());
    Some(BearerChallenge { realm, service })
}

/// Asks the token server for a token with the credentials; `Some(reason)` when it refuses.
async fn token_refusal(
    http: &reqwest::Client,
    challenge: &BearerChallenge,
    credentials: &super::AuthConfig,
    scope: &str,
) -> Option<String> {
    let mut url = reqwest::Url::parse(&challenge.realm).ok()?;
    {
        let mut query = url.query_pairs_mut();
        if let Some(service) = &challenge.service {
            query.append_pair("service", service);
        }
        query.append_pair("scope", scope);
    }
    let (user, password) = credentials.username_password().unwrap_or_default();
    let answer = http
        .get(url)
        .basic_auth(user, Some(password))
        .send()
        .await
        .ok()?;
    if answer.status() == StatusCode::OK {
        return None;
    }
    let status = answer.status();
    let body = answer.text().await.unwrap_or_default();
    Some(token_error_reason(status, &body))
}

/// The reason a token server gives: `{"details":"…"}` (docker/distribution's token
/// servers), an errcode envelope, else the status text.
pub fn token_error_reason(status: StatusCode, body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Details {
        details: String,
    }
    if let Ok(d) = serde_json::from_str::<Details>(body) {
        return d.details;
    }
    if let Ok(envelope) = serde_json::from_str::<oci_client::errors::OciEnvelope>(body) {
        if let Some(first) = envelope.errors.first() {
            return first.message.clone();
        }
    }
    status
        .canonical_reason()
        .unwrap_or("unauthorized")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges() {
        let c = parse_bearer(
            r#"Bearer realm="http://127.0.0.1:15003/token",service="berth-token-registry""#,
        )
        .expect("bearer");
        assert_eq!(c.realm, "http://127.0.0.1:15003/token");
        assert_eq!(c.service.as_deref(), Some("berth-token-registry"));
        assert_eq!(parse_bearer(r#"Basic realm="x""#), None);
    }

    #[test]
    fn token_server_reasons() {
        assert_eq!(
            token_error_reason(
                StatusCode::UNAUTHORIZED,
                r#"{"details":"incorrect username or password"}"#
            ),
            "incorrect username or password"
        );
        assert_eq!(
            token_error_reason(StatusCode::UNAUTHORIZED, "nope"),
            "unauthorized"
        );
    }
}
