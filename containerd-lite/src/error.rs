//! The crate's error type, mapped once to HTTP statuses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    /// The shim could not be reached (socket gone, connection broken).
    #[error("shim unavailable: {0}")]
    ShimUnavailable(String),
    /// The shim answered with an error, or could not be started.
    #[error("{0}")]
    Shim(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::ShimUnavailable(_) | Error::Shim(_) | Error::Io(_) | Error::Json(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Rebuild an error from a status and message answered by a shim.
    pub fn from_status(status: u16, message: String) -> Error {
        match status {
            404 => Error::NotFound(message),
            409 => Error::Conflict(message),
            400 => Error::BadRequest(message),
            _ => Error::Shim(message),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let body = berth_proto::ErrorBody {
            message: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}
