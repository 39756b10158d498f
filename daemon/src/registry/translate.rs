//! oci-client's and reqwest's errors in dockerd's words: registry error envelopes as
//! distribution's errcode prints them, "no basic auth credentials", Go-style transport
//! errors.
use oci_client::errors::{OciDistributionError, OciEnvelope};

use super::RegistryError;

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
    envelope.errors.first().is_some_and(|e| {
        matches!(
            e.code,
            C::ManifestUnknown | C::NameUnknown | C::BlobUnknown | C::NotFound
        )
    })
}

fn envelope_is_unauthorized(envelope: &OciEnvelope) -> bool {
    use oci_client::errors::OciErrorCode as C;
    envelope
        .errors
        .first()
        .is_some_and(|e| matches!(e.code, C::Unauthorized | C::Denied))
}

/// oci-client's error in dockerd's words. `has_credentials` decides between Docker's
/// "no basic auth credentials" and the registry's "unauthorized: authentication required".
pub fn translate_error(error: OciDistributionError, has_credentials: bool) -> RegistryError {
    use OciDistributionError as E;
    match error {
        E::UnauthorizedError { url } => unauthorized(&url, has_credentials),
        E::AuthenticationFailure(reason) => {
            RegistryError::Unauthorized(if reason.trim().is_empty() {
                "unauthorized: authentication required".to_string()
            } else {
                format!("unauthorized: {}", reason.trim())
            })
        }
        E::RegistryError { envelope, .. } if envelope_is_not_found(&envelope) => {
            RegistryError::NotFound(envelope_message(&envelope))
        }
        E::RegistryError { envelope, .. } if envelope_is_unauthorized(&envelope) => {
            RegistryError::Unauthorized(envelope_message(&envelope))
        }
        E::RegistryError { envelope, .. } => RegistryError::Registry(envelope_message(&envelope)),
        E::ServerError { code: 404, url, .. } => {
            RegistryError::NotFound(format!("not found: {url}"))
        }
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
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
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
    reqwest::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_render_like_errcode() {
        let envelope: OciEnvelope = serde_json::from_str(
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]}"#,
        )
        .expect("envelope");
        assert_eq!(
            envelope_message(&envelope),
            "manifest unknown: manifest unknown"
        );
        assert!(envelope_is_not_found(&envelope));
    }

    #[test]
    fn unauthorized_messages() {
        let url = "http://127.0.0.1:15001/v2/t/bb/manifests/latest".to_string();
        let e = translate_error(
            OciDistributionError::UnauthorizedError { url: url.clone() },
            false,
        );
        assert_eq!(
            e.to_string(),
            format!("Head \"{url}\": no basic auth credentials")
        );
        let e = translate_error(OciDistributionError::UnauthorizedError { url }, true);
        assert_eq!(e.to_string(), "unauthorized: authentication required");
    }
}
