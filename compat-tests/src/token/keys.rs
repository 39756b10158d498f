//! The token server's signing key (ECDSA P-256, for ES256) and its self-signed certificate,
//! the registry's `rootcertbundle`. Generated once with rcgen into a signing directory
//! (`key.pem`, PKCS#8; `cert.pem`) and reused by every later run.
//!
//! The directory appears whole or not at all: it is written under a temporary name and
//! renamed into place, so the token server and the fixture builder may both call
//! [`ensure`] at the same moment and end up with the same key.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};

pub const KEY_FILE: &str = "key.pem";
pub const CERT_FILE: &str = "cert.pem";

/// The key that signs tokens, with the certificate that goes in their `x5c` header.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    cert_der: Vec<u8>,
    cert_path: PathBuf,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// ES256 signature (r || s, 64 bytes) of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let sig = self
            .pair
            .sign(&self.rng, message)
            .map_err(|_| anyhow::anyhow!("ECDSA signing failed"))?;
        Ok(sig.as_ref().to_vec())
    }
    /// The certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }
    /// The certificate file (PEM), the registry's `rootcertbundle`.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }
    /// The public key as an uncompressed P-256 point (what ring's verifier takes).
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }
    /// Random bytes (for token IDs).
    pub fn random(&self, buf: &mut [u8]) -> Result<()> {
        ring::rand::SecureRandom::fill(&self.rng, buf).map_err(|_| anyhow::anyhow!("no randomness"))
    }
}

/// Loads the key in `dir`, generating it (and the directory) first when it is missing or unusable.
pub fn ensure(dir: &Path) -> Result<SigningKey> {
    if dir.exists() {
        match load(dir) {
            Ok(k) => return Ok(k),
            Err(e) => {
                eprintln!(
                    "berth-token: signing key in {} is unusable ({e:#}); generating a new one",
                    dir.display()
                );
                std::fs::remove_dir_all(dir)
                    .with_context(|| format!("removing {}", dir.display()))?;
            }
        }
    }
    let parent = dir.parent().context("signing directory has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = dir
        .file_name()
        .context("signing directory has no name")?
        .to_string_lossy();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tmp = parent.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
    let (key_pem, cert_pem) = generate()?;
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    write_synced(&tmp.join(KEY_FILE), key_pem.as_bytes())?;
    write_synced(&tmp.join(CERT_FILE), cert_pem.as_bytes())?;
    if let Err(e) = std::fs::rename(&tmp, dir) {
        // Someone else's directory won the race: use theirs.
        let _ = std::fs::remove_dir_all(&tmp);
        if !dir.exists() {
            return Err(e)
                .with_context(|| format!("renaming {} to {}", tmp.display(), dir.display()));
        }
    }
    load(dir)
}

/// Loads the key and certificate in `dir`, checking that they belong together.
pub fn load(dir: &Path) -> Result<SigningKey> {
    let key_path = dir.join(KEY_FILE);
    let cert_path = dir.join(CERT_FILE);
    let key_pem = std::fs::read_to_string(&key_path)
        .with_context(|| format!("reading {}", key_path.display()))?;
    let cert_pem = std::fs::read_to_string(&cert_path)
        .with_context(|| format!("reading {}", cert_path.display()))?;
    let pkcs8 = rcgen::KeyPair::from_pem(&key_pem)
        .context("parsing the signing key")?
        .serialize_der();
    let rng = SystemRandom::new();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
        .map_err(|e| anyhow::anyhow!("signing key is not an ECDSA P-256 PKCS#8 key: {e}"))?;
    let cert_der = pem_to_der(&cert_pem, "CERTIFICATE")?;
    // The certificate's SubjectPublicKeyInfo holds the public point verbatim.
    let public = pair.public_key().as_ref();
    if !cert_der.windows(public.len()).any(|w| w == public) {
        bail!(
            "{} does not hold the public key of {}",
            cert_path.display(),
            key_path.display()
        );
    }
    Ok(SigningKey {
        pair,
        rng,
        cert_der,
        cert_path,
    })
}

/// A new P-256 key and a self-signed CA certificate for it: (key PEM, certificate PEM).
fn generate() -> Result<(String, String)> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
        PKCS_ECDSA_P256_SHA256,
    };
    let key =
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating the signing key")?;
    let mut params =
        CertificateParams::new(Vec::<String>::new()).context("certificate parameters")?;
    params
        .distinguished_name
        .push(DnType::CommonName, super::ISSUER);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Berth compat tests");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2100, 1, 1);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
    ];
    let cert = params
        .self_signed(&key)
        .context("self-signing the certificate")?;
    Ok((key.serialize_pem(), cert.pem()))
}

/// The DER inside the first PEM block labelled `label`.
pub fn pem_to_der(pem: &str, label: &str) -> Result<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem
        .find(&begin)
        .with_context(|| format!("no {begin} line"))?
        + begin.len();
    let stop = pem[start..]
        .find(&end)
        .with_context(|| format!("no {end} line"))?
        + start;
    let b64: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .context("PEM body is not base64")
}

fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(data)
        .with_context(|| format!("writing {}", path.display()))?;
    f.sync_all()
        .with_context(|| format!("syncing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reuses() {
        let tmp = std::env::temp_dir().join(format!("berth-token-keys-{}", std::process::id()));
        let dir = tmp.join("signing");
        let a = ensure(&dir).unwrap();
        let b = ensure(&dir).unwrap();
        assert_eq!(a.cert_der(), b.cert_der());
        assert_eq!(a.public_key(), b.public_key());
        assert_eq!(a.sign(b"x").unwrap().len(), 64);
        // A broken key is replaced.
        std::fs::write(dir.join(KEY_FILE), "junk").unwrap();
        let c = ensure(&dir).unwrap();
        assert_ne!(a.cert_der(), c.cert_der());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
