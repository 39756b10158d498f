//! `berth-token-server`: the token server of the compat tests' third registry, which uses
//! distribution's bearer-token auth (`auth: token:` in its config) like Docker Hub and most
//! real registries. scripts/registries.sh starts it and the registry; the fixture builder
//! pushes `berth/busybox` and `berth/hello` there.
//!
//! - [`keys`] — the ES256 signing key and its self-signed certificate (rcgen)
//! - [`jwt`] — the tokens distribution 2.8 verifies
//! - [`scope`] — parsing scopes, deciding what is granted
//! - [`server`] — the HTTP endpoints (GET and OAuth2 POST `/token`)

pub mod jwt;
pub mod keys;
pub mod scope;
pub mod server;

/// `iss` of the tokens; the registry's `auth.token.issuer`.
pub const ISSUER: &str = "berth-token-server";
/// `aud` of the tokens; the registry's `auth.token.service`.
pub const SERVICE: &str = "berth-token-registry";
/// Token lifetime, seconds.
pub const EXPIRES_IN: i64 = 300;
/// 127.0.0.1:$BERTH_TOKEN_REGISTRY_PORT, the registry.
pub const DEFAULT_REGISTRY_PORT: u16 = 15002;
/// 127.0.0.1:$BERTH_TOKEN_SERVER_PORT, this server.
pub const DEFAULT_SERVER_PORT: u16 = 15003;
/// The signing key's directory, under the fixtures directory.
pub const SIGNING_DIR: &str = "registry-token/signing";
/// The fixtures pushed to the token registry.
pub const IMAGES: &[&str] = &["busybox", "hello"];
