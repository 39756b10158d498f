//! The JSON Web Tokens distribution 2.8's token auth accepts (registry/auth/token/token.go):
//! compact JWS, ES256, the signing certificate in the `x5c` header, claims `iss` `sub` `aud`
//! (one string) `exp` `nbf` `iat` `jti` and `access`.

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::keys::SigningKey;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub typ: String,
    pub alg: String,
    /// The signing certificate chain, standard base64 DER, leaf first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub x5c: Vec<String>,
}

/// One entry of the `access` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceActions {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    /// Always present, `[]` when nothing is granted.
    #[serde(default)]
    pub access: Vec<ResourceActions>,
}

/// Signs `claims` with `key`: `BASE64URL(header).BASE64URL(claims).BASE64URL(r||s)`.
pub fn sign(key: &SigningKey, claims: &Claims) -> Result<String> {
    let header = Header {
        typ: "JWT".into(),
        alg: "ES256".into(),
        x5c: vec![STANDARD.encode(key.cert_der())],
    };
    let mut token = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
    );
    let sig = key.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(sig));
    Ok(token)
}

/// Splits and decodes a token without checking its signature.
pub fn decode(token: &str) -> Result<(Header, Claims, Vec<u8>)> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        bail!(
            "a JWT has 3 dot-separated parts, this one has {}",
            parts.len()
        );
    }
    let header: Header = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts[0])
            .context("header is not base64url")?,
    )
    .context("header is not the expected JSON")?;
    let claims: Claims = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts[1])
            .context("claims are not base64url")?,
    )
    .context("claims are not the expected JSON")?;
    let sig = URL_SAFE_NO_PAD
        .decode(parts[2])
        .context("signature is not base64url")?;
    Ok((header, claims, sig))
}

/// Decodes a token and checks its ES256 signature against `public_key` (an uncompressed
/// P-256 point, [`SigningKey::public_key`]).
pub fn verify(token: &str, public_key: &[u8]) -> Result<(Header, Claims)> {
    let (header, claims, sig) = decode(token)?;
    if header.alg != "ES256" {
        bail!("unexpected alg {:?}", header.alg);
    }
    let signed = token.rsplit_once('.').map(|(s, _)| s).unwrap_or_default();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, public_key)
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| anyhow::anyhow!("bad token signature"))?;
    Ok((header, claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let dir = std::env::temp_dir().join(format!("berth-token-jwt-{}", std::process::id()));
        let key = super::super::keys::ensure(&dir.join("signing")).unwrap();
        let claims = Claims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "a".into(),
            exp: 2,
            nbf: 0,
            iat: 1,
            jti: "j".into(),
            access: vec![ResourceActions {
                kind: "repository".into(),
                name: "x/y".into(),
                actions: vec!["pull".into()],
            }],
        };
        let t = sign(&key, &claims).unwrap();
        let (h, c) = verify(&t, key.public_key()).unwrap();
        assert_eq!(c, claims);
        assert_eq!(STANDARD.decode(&h.x5c[0]).unwrap(), key.cert_der());
        let claims_json: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(t.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims_json["access"][0]["type"], "repository");
        // Tampering breaks the signature.
        let mut bad = t.clone();
        bad.insert(t.find('.').unwrap() + 1, 'A');
        assert!(verify(&bad, key.public_key()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
