//! Errors of the stream machinery, and how the API reports them.
use std::io;

use crate::api::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A query parameter the API refuses (400), with dockerd's wording.
    #[error("{0}")]
    BadParameter(String),
    /// A multiplexed frame names a stream that does not exist.
    #[error("unrecognized stream: {0}")]
    UnknownStream(u8),
    /// Reading a log file failed.
    #[error("error reading log file {path}: {source}")]
    LogFile {
        path: String,
        #[source]
        source: io::Error,
    },
    /// Connecting to a shim's attach socket failed.
    #[error("cannot connect to the attach socket {path}: {source}")]
    AttachSocket {
        path: String,
        #[source]
        source: io::Error,
    },
    /// Copying between the client and the shim failed.
    #[error("attach stream: {0}")]
    Io(#[from] io::Error),
}

impl StreamError {
    pub(crate) fn log_file(path: &std::path::Path, source: io::Error) -> Self {
        StreamError::LogFile {
            path: path.display().to_string(),
            source,
        }
    }
}

impl From<StreamError> for ApiError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::BadParameter(m) => ApiError::bad_request(m),
            other => ApiError::internal(other.to_string()),
        }
    }
}
