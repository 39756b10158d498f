//! berthd's side of berth-containerd (docs/engine-protocol.md): the HTTP client on its
//! unix socket, and the launcher that starts it when nothing answers.
pub mod client;
pub mod launcher;

pub use berth_proto::{ExitInfo, TaskStatus, TaskView};
pub use client::EngineClient;

/// Errors talking to berth-containerd.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Nothing answers on the socket, or the connection broke.
    #[error("berth-containerd is unavailable: {0}")]
    Unavailable(String),
    /// berth-containerd answered with an error status.
    #[error("{message}")]
    Status { status: u16, message: String },
    /// An answer that is not what the protocol says.
    #[error("bad answer from berth-containerd: {0}")]
    BadAnswer(String),
    /// berth-containerd could not be started.
    #[error("starting berth-containerd: {0}")]
    Launch(String),
}

impl EngineError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, EngineError::Status { status: 404, .. })
    }
    pub fn is_conflict(&self) -> bool {
        matches!(self, EngineError::Status { status: 409, .. })
    }
}
