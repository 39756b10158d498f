//! API versions: `/v1.NN/` prefixes (1.24 up to 1.53), unversioned paths mean 1.53,
//! a version above 1.53 is a 400. The stripped version is put into the request's
//! extensions as `ApiVersion` for handlers whose behaviour changed between versions.
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::ApiError;

pub const MAX_API_VERSION: ApiVersion = ApiVersion(53);
pub const MIN_API_VERSION: ApiVersion = ApiVersion(24);

/// The minor part of a `1.NN` API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32);

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "1.{}", self.0)
    }
}

/// Fallback for paths no route matched: Docker's 404.
pub async fn unknown_path(_uri: Uri) -> Response {
    let _ = StatusCode::NOT_FOUND;
    ApiError::not_found("page not found").into_response()
}
