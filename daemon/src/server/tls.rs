//! TLS for TCP listeners (rustls): `--tlsverify` requires client certificates signed by
//! `--tlscacert`; `--tls --tlsverify=false` only encrypts.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use super::ServerError;
use crate::config::Config;

/// Installs aws-lc-rs as the process-wide rustls provider (once; later calls are no-ops).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The acceptor for TCP listeners, or `None` when TLS is off.
pub fn acceptor(config: &Config) -> Result<Option<tokio_rustls::TlsAcceptor>, ServerError> {
    if !config.tls_enabled() {
        return Ok(None);
    }
    install_crypto_provider();
    let cert_path = required(&config.tls_cert, "--tlscert", "cert.pem")?;
    let key_path = required(&config.tls_key, "--tlskey", "key.pem")?;
    let certs = load_certs(&cert_path)?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| {
        ServerError::Tls(format!(
            "could not load X509 key pair from {}: {e}",
            key_path.display()
        ))
    })?;

    let builder = ServerConfig::builder();
    let builder = if config.tls_verify {
        let ca_path = required(&config.tls_cacert, "--tlscacert", "ca.pem")?;
        let mut roots = RootCertStore::empty();
        for ca in load_certs(&ca_path)? {
            roots.add(ca).map_err(|e| {
                ServerError::Tls(format!(
                    "invalid CA certificate in {}: {e}",
                    ca_path.display()
                ))
            })?;
        }
        let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .map_err(|e| {
                ServerError::Tls(format!(
                    "client verification with {}: {e}",
                    ca_path.display()
                ))
            })?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut server = builder.with_single_cert(certs, key).map_err(|e| {
        ServerError::Tls(format!(
            "could not load X509 key pair ({}): {e}",
            cert_path.display()
        ))
    })?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(server))))
}

fn required(
    path: &Option<PathBuf>,
    flag: &str,
    default_name: &str,
) -> Result<PathBuf, ServerError> {
    path.clone().ok_or_else(|| {
        ServerError::Tls(format!(
            "TLS needs {flag} (its default, {default_name} in $DOCKER_CONFIG or ~/.docker, does not exist)"
        ))
    })
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let fail = |why: String| {
        ServerError::Tls(format!(
            "could not read certificates from {}: {why}",
            path.display()
        ))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no certificate found".into()));
    }
    Ok(certs)
}
