//! `POST /auth`: checks credentials against the registry's `/v2/`, as dockerd's
//! `loginV2` does — basic auth, or the bearer-token flow when the registry challenges
//! with `Bearer realm=…,service=…`.
use std::time::Duration;

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::StatusCode;
use serde::Deserialize;

use super::client::{probe_scheme, registry_host};
use super::credentials::AuthConfig;
use super::translate::network_message;
use super::{RegistryError, RegistryResult};
use crate::config::Config;
use crate::reference::DEFAULT_DOMAIN;

/// What `/auth` answers on success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    pub status: String,
    pub identity_token: String,
}

/// The registry a login's `serveraddress` names: "127.0.0.1:5000" from
/// "http://127.0.0.1:5000/v2/"; Docker Hub for an empty address or its v1 URL.
pub fn login_domain(server_address: &str) -> String {
    let trimmed = server_address.trim();
    let without_scheme = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .unwrap_or(trimmed);
    let host = without_scheme.split('/').next().unwrap_or_default();
    match host {
        "" | "index.docker.io" | "docker.io" | "registry-1.docker.io" => DEFAULT_DOMAIN.to_string(),
        other => other.to_string(),
    }
}

/// Checks `credentials` against their registry.
pub async fn login(config: &Config, credentials: &AuthConfig) -> RegistryResult<LoginOutcome> {
    let domain = login_domain(&credentials.serveraddress);
    let (scheme, skip_verify) = probe_scheme(config, &domain).await;
    let endpoint = format!("{scheme}://{}/v2/", registry_host(&domain));
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(skip_verify)
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| RegistryError::Internal(format!("building the HTTP client: {e}")))?;
    let (username, password) = credentials.username_password().unwrap_or_default();

    let ping = http
        .get(&endpoint)
        .send()
        .await
        .map_err(|e| RegistryError::Network(network_message(&e)))?;
    let challenge = ping
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let status = match (ping.status(), challenge) {
        (StatusCode::UNAUTHORIZED, Some(challenge))
            if challenge.to_ascii_lowercase().starts_with("bearer") =>
        {
            return bearer_login(&http, &endpoint, &challenge, &username, &password).await;
        }
        (StatusCode::UNAUTHORIZED, _) => {
            let answer = http
                .get(&endpoint)
                .basic_auth(&username, Some(&password))
                .send()
                .await
                .map_err(|e| RegistryError::Network(network_message(&e)))?;
            answer.status()
        }
        (other, _) => other,
    };
    if status == StatusCode::OK {
        return Ok(succeeded(String::new()));
    }
    Err(failed(&endpoint, status))
}

fn succeeded(identity_token: String) -> LoginOutcome {
    LoginOutcome {
        status: "Login Succeeded".to_string(),
        identity_token,
    }
}

/// dockerd: "login attempt to http://127.0.0.1:15001/v2/ failed with status: 401 Unauthorized".
fn failed(endpoint: &str, status: StatusCode) -> RegistryError {
    let message = format!(
        "login attempt to {endpoint} failed with status: {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        RegistryError::Unauthorized(message)
    } else {
        RegistryError::Registry(message)
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    refresh_token: String,
}

/// The token flow: ask the realm for a token with basic auth, then `/v2/` with it.
async fn bearer_login(
    http: &reqwest::Client,
    endpoint: &str,
    challenge: &str,
    username: &str,
    password: &str,
) -> RegistryResult<LoginOutcome> {
    let params = parse_challenge(challenge);
    let realm = params
        .iter()
        .find(|(k, _)| k == "realm")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| {
            RegistryError::Registry(format!(
                "the registry's challenge has no realm: {challenge}"
            ))
        })?;
    let mut url = reqwest::Url::parse(&realm)
        .map_err(|e| RegistryError::Registry(format!("invalid token realm {realm:?}: {e}")))?;
    {
        let mut query = url.query_pairs_mut();
        if let Some((_, service)) = params.iter().find(|(k, _)| k == "service") {
            query.append_pair("service", service);
        }
        query
            .append_pair("client_id", "docker")
            .append_pair("offline_token", "true");
        if !username.is_empty() {
            query.append_pair("account", username);
        }
    }
    let answer = http
        .get(url)
        .basic_auth(username, Some(password))
        .send()
        .await
        .map_err(|e| RegistryError::Network(network_message(&e)))?;
    if answer.status() == StatusCode::UNAUTHORIZED {
        // dockerd: `Get "http://…/v2/": unauthorized: incorrect username or password`.
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        let reason = super::challenge::token_error_reason(status, &body);
        return Err(RegistryError::Unauthorized(format!(
            "Get \"{endpoint}\": unauthorized: {reason}"
        )));
    }
    if answer.status() != StatusCode::OK {
        return Err(failed(endpoint, answer.status()));
    }
    let token: TokenAnswer = answer
        .json()
        .await
        .map_err(|e| RegistryError::Registry(format!("invalid token answer: {e}")))?;
    let bearer = if token.token.is_empty() {
        token.access_token
    } else {
        token.token
    };
    let check = http
        .get(endpoint)
        .bearer_auth(bearer)
        .send()
        .await
        .map_err(|e| RegistryError::Network(network_message(&e)))?;
    if check.status() == StatusCode::OK {
        Ok(succeeded(token.refresh_token))
    } else {
        Err(failed(endpoint, check.status()))
    }
}

/// `Bearer realm="https://auth/token",service="registry"` → [(realm, …), (service, …)].
pub(super) fn parse_challenge(challenge: &str) -> Vec<(String, String)> {
    let rest = challenge
        .trim()
        .split_once(' ')
        .map(|(_, r)| r)
        .unwrap_or("");
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut escaped = false;
            for c in chars.by_ref() {
                match (escaped, c) {
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    _ => {
                        value.push(c);
                        escaped = false;
                    }
                }
            }
        } else {
            value = chars
                .by_ref()
                .take_while(|c| *c != ',')
                .collect::<String>()
                .trim()
                .to_string();
        }
        params.push((key, value));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses() {
        assert_eq!(login_domain(""), "docker.io");
        assert_eq!(login_domain("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(login_domain("127.0.0.1:15001"), "127.0.0.1:15001");
        assert_eq!(
            login_domain("http://127.0.0.1:15001/v2/"),
            "127.0.0.1:15001"
        );
    }

    #[test]
    fn challenges() {
        let p = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="a:b""#,
        );
        assert_eq!(
            p[0],
            (
                "realm".to_string(),
                "https://auth.example/token".to_string()
            )
        );
        assert_eq!(
            p[1],
            ("service".to_string(), "registry.example".to_string())
        );
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn failure_message() {
        let e = failed("http://127.0.0.1:15001/v2/", StatusCode::UNAUTHORIZED);
        assert_eq!(
            e.to_string(),
            "login attempt to http://127.0.0.1:15001/v2/ failed with status: 401 Unauthorized"
        );
        assert!(matches!(e, RegistryError::Unauthorized(_)));
    }
}
