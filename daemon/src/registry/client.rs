//! One oci-client `Client` per registry operation, and the translation of its errors
//! into dockerd's messages.
//!
//! Loopback registries (127.0.0.0/8, ::1, localhost) and `--insecure-registry` entries
//! (host, host:port or CIDR) are spoken to over plain HTTP; everything else over HTTPS.
use std::net::IpAddr;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciEnvelope};
use oci_client::secrets::RegistryAuth;

use super::credentials::AuthConfig;
use super::RegistryError;
use crate::config::Config;
use crate::reference::Reference;

const USER_AGENT: &str = concat!("berth/", env!("CARGO_PKG_VERSION"));

/// A client bound to one registry host and one set of credentials.
#[derive(Clone)]
pub struct RegistryClient {
    pub oci: oci_client::Client,
    pub auth: RegistryAuth,
    /// "http" or "https".
    pub scheme: &'static str,
    /// Whether the user gave credentials (changes dockerd's unauthorized messages).
    pub has_credentials: bool,
}

impl RegistryClient {
    /// A client for the registry `domain` ("127.0.0.1:5000", "docker.io").
    pub fn new(config: &Config, domain: &str, credentials: &AuthConfig) -> RegistryClient {
        let scheme = scheme_for(config, domain);
        let host = registry_host(domain).to_string();
        let protocol =
            if scheme == "http" { ClientProtocol::HttpsExcept(vec![host]) } else { ClientProtocol::Https };
        let oci = oci_client::Client::new(ClientConfig {
            protocol,
            // One PUT per blob, streamed from the content store (chunked PATCHes would be one
            // request per stream item).
            use_monolithic_push: true,
            // Berth selects the platform itself (see `platform`).
            platform_resolver: None,
            connect_timeout: Some(Duration::from_secs(30)),
            read_timeout: Some(Duration::from_secs(120)),
            user_agent: USER_AGENT,
            ..Default::default()
        });
        RegistryClient {
            oci,
            auth: credentials.to_registry_auth(),
            scheme,
            has_credentials: credentials.has_credentials(),
        }
    }

    /// The registry's base URL, "http://127.0.0.1:5000".
    pub fn base_url(&self, domain: &str) -> String {
        format!("{}://{}", self.scheme, registry_host(domain))
    }

    /// Translates an oci-client error of a request about `reference` into dockerd's words.
    pub fn translate(&self, error: OciDistributionError) -> RegistryError {
        translate_error(error, self.has_credentials)
    }
}

/// Docker Hub's registry API host.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// The host Berth talks to for `domain` (Docker Hub's API host for docker.io).
pub fn registry_host(domain: &str) -> &str {
    if domain == crate::reference::DEFAULT_DOMAIN {
        DOCKER_HUB_API_HOST
    } else {
        domain
    }
}

/// The reference in oci-client's terms (tag, digest or both).
pub fn oci_reference(reference: &Reference) -> oci_client::Reference {
    let registry = reference.domain.clone();
    let repository = reference.path.clone();
    let mut oci = match (&reference.tag, &reference.digest) {
        (_, Some(digest)) => oci_client::Reference::with_digest(registry, repository, digest.clone()),
        (Some(tag), None) => oci_client::Reference::with_tag(registry, repository, tag.clone()),
        (None, None) => {
            oci_client::Reference::with_tag(registry, repository, crate::reference::DEFAULT_TAG.to_string())
        }
    };
    if reference.domain == crate::reference::DEFAULT_DOMAIN {
        // dockerd's API endpoint for Docker Hub (oci-client would say index.docker.io).
        oci.set_mirror_registry(DOCKER_HUB_API_HOST.to_string());
    }
    oci
}

/// "http" for loopback and insecure registries, else "https".
pub fn scheme_for(config: &Config, domain: &str) -> &'static str {
    if is_insecure(&config.insecure_registries, domain) {
        "http"
    } else {
        "https"
    }
}

/// Whether `domain` ("host", "host:port", "[::1]:5000") is loopback or listed in
/// `insecure` (as host:port, as host, or as a CIDR containing its address).
pub fn is_insecure(insecure: &[String], domain: &str) -> bool {
    let host = host_part(domain);
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
    if host == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
        return true;
    }
    insecure.iter().any(|entry| {
        let entry = entry.trim().trim_start_matches("http://").trim_start_matches("https://").trim_end_matches('/');
        if entry == domain || entry == host {
            return true;
        }
        match (ip, entry.split_once('/')) {
            (Some(ip), Some((network, bits))) => cidr_contains(network, bits, ip),
            _ => false,
        }
    })
}

fn host_part(domain: &str) -> &str {
    if domain.starts_with('[') {
        return match domain.find(']') {
            Some(end) => &domain[..=end],
            None => domain,
        };
    }
    match domain.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => domain,
    }
}

fn cidr_contains(network: &str, bits: &str, ip: IpAddr) -> bool {
    let (Ok(network), Ok(bits)) = (network.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (network, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            (u32::from(n) & mask) == (u32::from(a) & mask)
        }
        (IpAddr::V6(n), IpAddr::V6(a)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            (u128::from(n) & mask) == (u128::from(a) & mask)
        }
        _ => false,
    }
}

/// dockerd's rendering of a registry's error envelope: "manifest unknown: manifest unknown".
pub fn envelope_message(envelope: &OciEnvelope) -> String {
    let rendered: Vec<String> = envelope
        .errors
        .iter()
        .map(|e| {
            let code = serde_json::to_value(&e.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "unknown".to_string());
            let code = code.to_lowercase().replace('_', " ");
            if e.message.is_empty() {
                code
            } else {
                format!("{code}: {}", e.message)
            }
        })
        .collect();
    match rendered.len() {
        0 => "unknown error".to_string(),
        1 => rendered.into_iter().next().unwrap_or_default(),
        _ => format!("errors:\n{}\n", rendered.join("\n")),
    }
}

/// Whether the envelope says "this does not exist".
fn envelope_is_not_found(envelope: &OciEnvelope) -> bool {
    use oci_client::errors::OciErrorCode as C;
    envelope
        .errors
        .first()
        .is_some_and(|e| matches!(e.code, C::ManifestUnknown | C::NameUnknown | C::BlobUnknown | C::NotFound))
}

fn envelope_is_unauthorized(envelope: &OciEnvelope) -> bool {
    use oci_client::errors::OciErrorCode as C;
    envelope.errors.first().is_some_and(|e| matches!(e.code, C::Unauthorized | C::Denied))
}

/// oci-client's error in dockerd's words. `has_credentials` decides between Docker's
/// "no basic auth credentials" and the registry's "unauthorized: authentication required".
pub fn translate_error(error: OciDistributionError, has_credentials: bool) -> RegistryError {
    use OciDistributionError as E;
    match error {
        E::UnauthorizedError { url } => unauthorized(&url, has_credentials),
        E::AuthenticationFailure(reason) => RegistryError::Unauthorized(if reason.trim().is_empty() {
            "unauthorized: authentication required".to_string()
        } else {
            format!("unauthorized: {}", reason.trim())
        }),
        E::RegistryError { envelope, .. } if envelope_is_not_found(&envelope) => {
            RegistryError::NotFound(envelope_message(&envelope))
        }
        E::RegistryError { envelope, .. } if envelope_is_unauthorized(&envelope) => {
            RegistryError::Unauthorized(envelope_message(&envelope))
        }
        E::RegistryError { envelope, .. } => RegistryError::Registry(envelope_message(&envelope)),
        E::ServerError { code: 404, url, .. } => RegistryError::NotFound(format!("not found: {url}")),
        E::ServerError { code: 401, url, .. } => unauthorized(&url, has_credentials),
        E::ServerError { code, url, message } => RegistryError::Registry(format!(
            "received unexpected HTTP status: {code} {} from {url}: {}",
            reqwest_reason(code),
            message.trim()
        )),
        E::RequestError(e) => {
            if e.status().is_some_and(|s| s.as_u16() == 401) {
                let url = e.url().map(|u| u.to_string()).unwrap_or_default();
                return unauthorized(&url, has_credentials);
            }
            RegistryError::Network(network_message(&e))
        }
        E::DigestError(e) => RegistryError::Registry(format!("digest verification failed: {e}")),
        E::IoError(e) => RegistryError::Network(e.to_string()),
        other => RegistryError::Registry(other.to_string()),
    }
}

fn unauthorized(url: &str, has_credentials: bool) -> RegistryError {
    if has_credentials {
        RegistryError::Unauthorized("unauthorized: authentication required".to_string())
    } else if url.contains("/manifests/") {
        // dockerd asks for the manifest with HEAD and names that request.
        RegistryError::Unauthorized(format!("Head \"{url}\": no basic auth credentials"))
    } else {
        RegistryError::Unauthorized("no basic auth credentials".to_string())
    }
}

/// A transport error as Go's http client words it. dockerd's first request to a registry
/// is `GET /v2/`, so that is the request named:
/// `Get "http://127.0.0.1:15999/v2/": dial tcp 127.0.0.1:15999: connect: connection refused`.
pub fn network_message(e: &reqwest::Error) -> String {
    let mut cause = e.to_string();
    let mut refused = false;
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        cause = inner.to_string();
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        source = inner.source();
    }
    let Some(url) = e.url() else {
        return cause;
    };
    let host = url.host_str().unwrap_or_default();
    let address = match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let lower = cause.to_lowercase();
    let cause = if refused || lower.contains("connection refused") {
        format!("dial tcp {address}: connect: connection refused")
    } else if lower.contains("dns error") || lower.contains("failed to lookup") || lower.contains("name or service not known") {
        format!("dial tcp: lookup {host}: no such host")
    } else {
        cause
    };
    let origin = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    format!("Get \"{}://{origin}/v2/\": {cause}", url.scheme())
}

fn reqwest_reason(code: u16) -> &'static str {
    reqwest::StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_listed_registries_are_insecure() {
        assert!(is_insecure(&[], "127.0.0.1:15000"));
        assert!(is_insecure(&[], "127.1.2.3"));
        assert!(is_insecure(&[], "localhost:5000"));
        assert!(is_insecure(&[], "[::1]:5000"));
        assert!(!is_insecure(&[], "docker.io"));
        assert!(!is_insecure(&[], "10.0.0.5:5000"));
        let list = vec!["10.0.0.0/8".to_string(), "myreg.example:5000".to_string(), "other.example".to_string()];
        assert!(is_insecure(&list, "10.0.0.5:5000"));
        assert!(is_insecure(&list, "myreg.example:5000"));
        assert!(!is_insecure(&list, "myreg.example:5001"));
        assert!(is_insecure(&list, "other.example:443"));
    }

    #[test]
    fn envelopes_render_like_errcode() {
        let envelope: OciEnvelope = serde_json::from_str(
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]}"#,
        )
        .expect("envelope");
        assert_eq!(envelope_message(&envelope), "manifest unknown: manifest unknown");
        assert!(envelope_is_not_found(&envelope));
    }

    #[test]
    fn unauthorized_messages() {
        let url = "http://127.0.0.1:15001/v2/t/bb/manifests/latest".to_string();
        let e = translate_error(OciDistributionError::UnauthorizedError { url: url.clone() }, false);
        assert_eq!(e.to_string(), format!("Head \"{url}\": no basic auth credentials"));
        let e = translate_error(OciDistributionError::UnauthorizedError { url }, true);
        assert_eq!(e.to_string(), "unauthorized: authentication required");
    }
}
