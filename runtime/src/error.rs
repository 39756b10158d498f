//! Error type of the runtime library; `main` converts it with anyhow.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Sys(String, #[source] nix::Error),
    #[error("invalid spec: {0}")]
    Spec(String),
    #[error("container \"{0}\" does not exist")]
    NotFound(String),
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("{0}")]
    State(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("json {0}")]
    Json(String, #[source] serde_json::Error),
    /// The container's process could not be started (runc's wording).
    #[error("unable to start container process: {0}")]
    Child(String),
    /// The user process cannot run: its program or working directory (Go's `exec`
    /// errors, as runc reports them; dockerd reads the exit code 126/127 off them).
    #[error("{0}")]
    Exec(String),
    #[error("cgroup: {0}")]
    Cgroup(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
    pub fn sys(what: impl Into<String>, e: nix::Error) -> Self {
        Error::Sys(what.into(), e)
    }
}
