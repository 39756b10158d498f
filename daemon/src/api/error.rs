//! Docker-shaped API errors: `{"message": "..."}` with Docker's status codes.
//! Every library error is mapped to an `ApiError` here, once.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    /// 400: invalid parameter.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// 401: unauthorized (bad registry credentials).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    /// 403: forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    /// 404: no such object.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    /// 409: conflict.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    /// 500: server error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    /// 501: not implemented.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, message)
    }
    /// 503: unavailable (what a dockerd that is not a swarm manager answers).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, "{}", self.message);
        } else {
            tracing::debug!(status = %self.status, "{}", self.message);
        }
        // As Go's json.Encoder writes it (dockerd's httputils.WriteJSON): a newline ends it.
        let mut body = serde_json::to_vec(&serde_json::json!({ "message": self.message }))
            .unwrap_or_else(|_| b"{\"message\":\"\"}".to_vec());
        body.push(b'\n');
        (
            self.status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError as S;
        match &e {
            S::ImageNotFound(_) | S::BlobNotFound(_) | S::LayerNotFound(_) => {
                ApiError::not_found(e.to_string())
            }
            S::Conflict(_) => ApiError::conflict(e.to_string()),
            S::InvalidDigest(_) => ApiError::bad_request(e.to_string()),
            _ => ApiError::internal(e.to_string()),
        }
    }
}

impl From<crate::reference::ReferenceError> for ApiError {
    fn from(e: crate::reference::ReferenceError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

impl From<crate::images::ImageError> for ApiError {
    fn from(e: crate::images::ImageError) -> Self {
        use crate::images::ImageError as I;
        match e {
            I::NotFound(_) => ApiError::not_found(e.to_string()),
            I::Reference(r) => r.into(),
            I::Conflict(m) => ApiError::conflict(m),
            I::Store(s) => s.into(),
        }
    }
}
