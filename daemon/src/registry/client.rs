//! One oci-client `Client` per registry operation, and the translation of its errors
//! into dockerd's messages.
//!
//! Loopback registries (127.0.0.0/8, ::1, localhost) are spoken to over plain HTTP. For
//! `--insecure-registry` entries (host, host:port or CIDR) HTTPS without certificate
//! checks is tried first and plain HTTP when that does not connect, as dockerd does;
//! everything else is HTTPS.
use std::net::IpAddr;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
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
    /// The credentials as given, for explaining a refusal (see `challenge`).
    pub credentials: AuthConfig,
    /// HTTPS without certificate checks (an insecure registry that speaks HTTPS).
    pub skip_verify: bool,
    /// The mirror this client pulls from instead of the registry (hosts.toml).
    pub mirror: Option<String>,
}

impl RegistryClient {
    /// A client for the registry `domain` ("127.0.0.1:5000", "docker.io"); for an
    /// insecure registry that is not loopback, HTTPS is probed first (see module docs).
    pub async fn connect(
        config: &Config,
        domain: &str,
        credentials: &AuthConfig,
    ) -> RegistryClient {
        let (scheme, skip_verify) = probe_scheme(config, domain).await;
        Self::with_scheme(domain, credentials, scheme, skip_verify)
    }

    /// A client for one endpoint of `domain` (hosts.toml, `--registry-mirror`): the
    /// registry itself as [`RegistryClient::connect`] does, or a mirror with its scheme.
    pub async fn for_endpoint(
        config: &Config,
        domain: &str,
        endpoint: &super::hosts::Endpoint,
        credentials: &AuthConfig,
    ) -> RegistryClient {
        match endpoint.scheme {
            None => Self::connect(config, domain, credentials).await,
            Some(scheme) => {
                let mut c =
                    Self::with_scheme(&endpoint.host, credentials, scheme, endpoint.skip_verify);
                if endpoint.host != registry_host(domain) {
                    c.mirror = Some(endpoint.host.clone());
                }
                c
            }
        }
    }

    /// `reference` in oci-client's terms, pointed at this client's mirror if it has one.
    pub fn reference(&self, reference: &Reference) -> oci_client::Reference {
        let mut oci = oci_reference(reference);
        if let Some(m) = &self.mirror {
            oci.set_mirror_registry(m.clone());
        }
        oci
    }

    /// A client for the registry `domain` without probing: plain HTTP for loopback and
    /// insecure registries, HTTPS otherwise.
    pub fn new(config: &Config, domain: &str, credentials: &AuthConfig) -> RegistryClient {
        Self::with_scheme(domain, credentials, scheme_for(config, domain), false)
    }

    fn with_scheme(
        domain: &str,
        credentials: &AuthConfig,
        scheme: &'static str,
        skip_verify: bool,
    ) -> RegistryClient {
        let host = registry_host(domain).to_string();
        let protocol = if scheme == "http" {
            ClientProtocol::HttpsExcept(vec![host])
        } else {
            ClientProtocol::Https
        };
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
            accept_invalid_certificates: skip_verify,
            ..Default::default()
        });
        RegistryClient {
            oci,
            auth: credentials.to_registry_auth(),
            scheme,
            has_credentials: credentials.has_credentials(),
            credentials: credentials.clone(),
            skip_verify,
            mirror: None,
        }
    }

    /// The registry's base URL, "http://127.0.0.1:5000".
    pub fn base_url(&self, domain: &str) -> String {
        format!("{}://{}", self.scheme, registry_host(domain))
    }

    /// Translates an oci-client error into dockerd's words.
    pub fn translate(&self, error: OciDistributionError) -> RegistryError {
        super::translate::translate_error(error, self.has_credentials)
    }
}

/// The scheme to use for `domain`, and whether certificates go unchecked: HTTPS for
/// ordinary registries, HTTP for loopback ones, and for other insecure registries HTTPS
/// (unchecked) when it answers, else HTTP.
pub async fn probe_scheme(config: &Config, domain: &str) -> (&'static str, bool) {
    let scheme = scheme_for(config, domain);
    let insecure_remote = scheme == "http" && !is_insecure(&[], domain);
    if insecure_remote && https_answers(domain).await {
        return ("https", true);
    }
    (scheme, false)
}

/// Whether `https://domain/v2/` answers at all (any HTTP status), certificates unchecked.
async fn https_answers(domain: &str) -> bool {
    let client = match reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(15))
        .build()
    {
        Ok(c) => c,
        Err(_) => return false,
    };
    match client
        .get(format!("https://{}/v2/", registry_host(domain)))
        .send()
        .await
    {
        Ok(_) => true,
        Err(e) => {
            tracing::info!(registry = %domain, error = %e, "insecure registry does not speak HTTPS; using plain HTTP");
            false
        }
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
        (_, Some(digest)) => {
            oci_client::Reference::with_digest(registry, repository, digest.clone())
        }
        (Some(tag), None) => oci_client::Reference::with_tag(registry, repository, tag.clone()),
        (None, None) => oci_client::Reference::with_tag(
            registry,
            repository,
            crate::reference::DEFAULT_TAG.to_string(),
        ),
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
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    if host == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
        return true;
    }
    insecure.iter().any(|entry| {
        let entry = entry
            .trim()
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/');
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
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            (u32::from(n) & mask) == (u32::from(a) & mask)
        }
        (IpAddr::V6(n), IpAddr::V6(a)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            (u128::from(n) & mask) == (u128::from(a) & mask)
        }
        _ => false,
    }
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
        let list = vec![
            "10.0.0.0/8".to_string(),
            "myreg.example:5000".to_string(),
            "other.example".to_string(),
        ];
        assert!(is_insecure(&list, "10.0.0.5:5000"));
        assert!(is_insecure(&list, "myreg.example:5000"));
        assert!(!is_insecure(&list, "myreg.example:5001"));
        assert!(is_insecure(&list, "other.example:443"));
    }

    /// A plain-HTTP registry does not answer HTTPS; a TLS one with a self-signed
    /// certificate does (certificates are not checked for insecure registries).
    #[tokio::test]
    async fn https_probe() {
        crate::server::tls::install_crypto_provider();
        let plain = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let plain_addr = plain.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = plain.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        assert!(!https_answers(&plain_addr.to_string()).await);

        let cert =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let tls = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .expect("tls config");
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls));
        let secure = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let secure_addr = secure.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((socket, _)) = secure.accept().await {
                if let Ok(mut stream) = acceptor.accept(socket).await {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = [0u8; 1024];
                    let _ = stream.read(&mut buf).await;
                    let _ = stream
                        .write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    let _ = stream.shutdown().await;
                }
            }
        });
        assert!(https_answers(&secure_addr.to_string()).await);
    }
}
