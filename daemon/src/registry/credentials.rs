//! Docker's AuthConfig: the base64url JSON of the `X-Registry-Auth` header and the
//! body of `POST /auth`.
use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use super::{RegistryError, RegistryResult};

/// What a client sends to authenticate to a registry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct AuthConfig {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub username: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub password: String,
    /// base64("username:password"), used when username/password are empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub auth: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub email: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub serveraddress: String,
    /// An OAuth refresh token from an earlier login.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub identitytoken: String,
    /// A bearer token to send to the registry as is.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub registrytoken: String,
}

impl AuthConfig {
    /// Decodes an `X-Registry-Auth` header: base64url (padded or not; standard alphabet
    /// tolerated) of the JSON. An empty header is anonymous.
    pub fn from_header(encoded: &str) -> RegistryResult<AuthConfig> {
        let encoded = encoded.trim();
        if encoded.is_empty() {
            return Ok(AuthConfig::default());
        }
        let json = decode_base64(encoded).map_err(|e| {
            RegistryError::InvalidParameter(format!("invalid X-Registry-Auth header: {e}"))
        })?;
        Self::from_json(&json).map_err(|e| {
            RegistryError::InvalidParameter(format!("invalid X-Registry-Auth header: {e}"))
        })
    }

    /// Decodes the JSON form (the `/auth` body), keys matched as Go's decoder does.
    pub fn from_json(json: &[u8]) -> Result<AuthConfig, serde_json::Error> {
        crate::gojson::from_slice(json)
    }

    /// dockerd's behaviour for pulls and pushes: a header that does not decode is
    /// ignored and the operation is anonymous.
    pub fn from_header_lenient(encoded: Option<&str>) -> AuthConfig {
        match encoded.map(Self::from_header) {
            Some(Ok(config)) => config,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "ignoring an X-Registry-Auth header that does not decode");
                AuthConfig::default()
            }
            None => AuthConfig::default(),
        }
    }

    /// Username and password, from the fields or from `auth`.
    pub fn username_password(&self) -> Option<(String, String)> {
        if !self.username.is_empty() || !self.password.is_empty() {
            return Some((self.username.clone(), self.password.clone()));
        }
        if self.auth.is_empty() {
            return None;
        }
        let decoded = decode_base64(&self.auth).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, pass) = text.split_once(':')?;
        Some((user.to_string(), pass.to_string()))
    }

    /// Whether the client gave any credentials at all.
    pub fn has_credentials(&self) -> bool {
        self.username_password().is_some()
            || !self.registrytoken.is_empty()
            || !self.identitytoken.is_empty()
    }

    /// The credentials in oci-client's terms. An identity token is a refresh token for
    /// an OAuth registry; it is sent as the password of the "<token>" user, as dockerd's
    /// token handler does with basic-auth token servers.
    pub fn to_registry_auth(&self) -> RegistryAuth {
        if !self.registrytoken.is_empty() {
            return RegistryAuth::Bearer(self.registrytoken.clone());
        }
        if !self.identitytoken.is_empty() {
            return RegistryAuth::Basic("<token>".to_string(), self.identitytoken.clone());
        }
        match self.username_password() {
            Some((user, pass)) => RegistryAuth::Basic(user, pass),
            None => RegistryAuth::Anonymous,
        }
    }
}

/// bollard sends `null` for the fields it has no value for.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}

fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = text.trim();
    let unpadded = text.trim_end_matches('=');
    URL_SAFE
        .decode(text)
        .or_else(|_| URL_SAFE_NO_PAD.decode(unpadded))
        .or_else(|_| STANDARD.decode(text))
        .or_else(|_| STANDARD_NO_PAD.decode(unpadded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

    #[test]
    fn decodes_padded_and_unpadded_headers() {
        let json =
            br#"{"username":"berth","password":"berth-secret","serveraddress":"127.0.0.1:15001"}"#;
        for encoded in [URL_SAFE.encode(json), URL_SAFE_NO_PAD.encode(json)] {
            let config = AuthConfig::from_header(&encoded).expect("decodes");
            assert_eq!(config.username, "berth");
            assert_eq!(config.serveraddress, "127.0.0.1:15001");
            assert_eq!(
                config.to_registry_auth(),
                RegistryAuth::Basic("berth".into(), "berth-secret".into())
            );
        }
    }

    #[test]
    fn empty_and_malformed_headers() {
        assert_eq!(
            AuthConfig::from_header("").expect("empty is anonymous"),
            AuthConfig::default()
        );
        assert_eq!(
            AuthConfig::from_header("e30=").expect("{}"),
            AuthConfig::default()
        );
        assert!(matches!(
            AuthConfig::from_header("!!!"),
            Err(RegistryError::InvalidParameter(_))
        ));
        assert!(matches!(
            AuthConfig::from_header(&URL_SAFE.encode(b"not json")),
            Err(RegistryError::InvalidParameter(_))
        ));
        assert_eq!(
            AuthConfig::from_header_lenient(Some("!!!")),
            AuthConfig::default()
        );
        assert_eq!(
            AuthConfig::default().to_registry_auth(),
            RegistryAuth::Anonymous
        );
    }

    #[test]
    fn null_fields_as_bollard_sends_them() {
        let json = br#"{"username":"u","password":"p","auth":null,"email":null,"serveraddress":"h","identitytoken":null,"registrytoken":null}"#;
        let config = AuthConfig::from_header(&URL_SAFE.encode(json)).expect("decodes");
        assert_eq!(
            config.to_registry_auth(),
            RegistryAuth::Basic("u".into(), "p".into())
        );
    }

    #[test]
    fn auth_field_carries_user_and_password() {
        let config = AuthConfig {
            auth: URL_SAFE.encode(b"u:p:w"),
            ..Default::default()
        };
        assert_eq!(config.username_password(), Some(("u".into(), "p:w".into())));
    }
}
