//! The CRI server's errors, each with a kind that maps once to a gRPC status code
//! (as containerd's CRI plugin answers: NotFound for unknown IDs, InvalidArgument for bad
//! requests, FailedPrecondition for a wrong state, Unknown for the rest).
use crate::backend::BackendError;

#[derive(Debug, thiserror::Error)]
pub enum CriError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Unimplemented(String),
    #[error("{0}")]
    DeadlineExceeded(String),
    #[error("{context}: {source}")]
    Backend {
        context: String,
        #[source]
        source: BackendError,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
}

pub type CriResult<T> = Result<T, CriError>;

impl CriError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> CriError {
        CriError::Io {
            context: context.into(),
            source,
        }
    }
    pub fn backend(context: impl Into<String>, source: BackendError) -> CriError {
        CriError::Backend {
            context: context.into(),
            source,
        }
    }
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            CriError::NotFound(_)
                | CriError::Backend {
                    source: BackendError::NotFound(_),
                    ..
                }
        )
    }
}

impl From<CriError> for tonic::Status {
    fn from(e: CriError) -> tonic::Status {
        let message = e.to_string();
        match e {
            CriError::NotFound(_) => tonic::Status::not_found(message),
            CriError::InvalidArgument(_) => tonic::Status::invalid_argument(message),
            CriError::AlreadyExists(_) => tonic::Status::already_exists(message),
            CriError::FailedPrecondition(_) => tonic::Status::failed_precondition(message),
            CriError::Unimplemented(_) => tonic::Status::unimplemented(message),
            CriError::DeadlineExceeded(_) => tonic::Status::deadline_exceeded(message),
            CriError::Backend { source, .. } => match source {
                BackendError::NotFound(_) => tonic::Status::not_found(message),
                BackendError::InvalidArgument(_) => tonic::Status::invalid_argument(message),
                BackendError::Conflict(_) => tonic::Status::failed_precondition(message),
                BackendError::Unavailable(_) => tonic::Status::unavailable(message),
                BackendError::Failed(_) => tonic::Status::unknown(message),
            },
            CriError::Io { .. } | CriError::Failed(_) => tonic::Status::unknown(message),
        }
    }
}
