//! berthd's side of berth-containerd (docs/engine-protocol.md): the [`TaskEngine`] seam
//! every container operation goes through, its HTTP client on berth-containerd's unix
//! socket, the launcher that starts berth-containerd when nothing answers (or replaces
//! one of another protocol version, `replace`), and an
//! in-process fake for tests (the model is `containerd-lite/src/testing.rs`).
//!
//! Requests and answers are `berth-proto` types; the trait is object safe (boxed
//! futures) so the daemon holds an `Arc<dyn TaskEngine>`.
pub mod client;
pub mod fake;
pub mod launcher;
pub mod replace;
pub mod runtime_wrappers;

use std::future::Future;
use std::pin::Pin;

pub use berth_proto::{
    CreateTaskRequest, CreateTaskResponse, Event, EventKind, ExecRequest, ExecState, ExitInfo,
    ResizeRequest, TaskStatus, TaskView, UpdateRequest,
};
pub use client::EngineClient;
pub use fake::FakeEngine;

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
    pub fn is_unavailable(&self) -> bool {
        matches!(self, EngineError::Unavailable(_))
    }
}

/// A boxed engine call.
pub type EngineFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, EngineError>> + Send + 'a>>;

/// berth-containerd's events, from the moment of subscription on; the stream ends when
/// the connection does (or when the subscriber fell behind and lost events): list the
/// tasks again before following a new one.
pub type EventStream = Pin<Box<dyn futures::Stream<Item = Event> + Send>>;

/// The task lifecycle as berth-containerd offers it, one method per call of
/// docs/engine-protocol.md ("berth-containerd"). `id` is a task ID (a container's
/// `task_id()`), `exec_id` an exec's.
pub trait TaskEngine: Send + Sync {
    /// Starts a shim whose runtime creates the task (its process waits for `start`).
    fn create<'a>(&'a self, req: &'a CreateTaskRequest) -> EngineFuture<'a, CreateTaskResponse>;
    /// Starts the init; its pid.
    fn start<'a>(&'a self, id: &'a str) -> EngineFuture<'a, u32>;
    /// A signal to the init (`exec_id` None) or an exec.
    fn kill<'a>(
        &'a self,
        id: &'a str,
        signal: i32,
        exec_id: Option<&'a str>,
    ) -> EngineFuture<'a, ()>;
    /// A signal to every process of the container (the runtime's `kill --all`), as the
    /// CRI stops a pod's containers.
    fn kill_all<'a>(&'a self, id: &'a str, signal: i32) -> EngineFuture<'a, ()>;
    fn pause<'a>(&'a self, id: &'a str) -> EngineFuture<'a, ()>;
    fn resume<'a>(&'a self, id: &'a str) -> EngineFuture<'a, ()>;
    /// New resource limits for a live task.
    fn update<'a>(&'a self, id: &'a str, req: &'a UpdateRequest) -> EngineFuture<'a, ()>;
    fn resize<'a>(&'a self, id: &'a str, req: &'a ResizeRequest) -> EngineFuture<'a, ()>;
    /// Reopens the init's log file at its path (the kubelet rotated it: CRI
    /// `ReopenContainerLog`).
    fn reopen_log<'a>(&'a self, id: &'a str) -> EngineFuture<'a, ()>;
    fn close_stdin<'a>(&'a self, id: &'a str, exec_id: Option<&'a str>) -> EngineFuture<'a, ()>;
    /// Prepares an exec (not started).
    fn exec<'a>(&'a self, id: &'a str, req: &'a ExecRequest) -> EngineFuture<'a, ()>;
    /// Starts a prepared exec; its pid.
    fn exec_start<'a>(&'a self, id: &'a str, exec_id: &'a str) -> EngineFuture<'a, u32>;
    fn exec_state<'a>(&'a self, id: &'a str, exec_id: &'a str) -> EngineFuture<'a, ExecState>;
    /// Blocks until the init (or the exec) exits.
    fn wait<'a>(&'a self, id: &'a str, exec_id: Option<&'a str>) -> EngineFuture<'a, ExitInfo>;
    /// Removes a created or stopped task (409 while it runs); its exit.
    fn delete<'a>(&'a self, id: &'a str) -> EngineFuture<'a, ExitInfo>;
    fn get<'a>(&'a self, id: &'a str) -> EngineFuture<'a, TaskView>;
    fn list(&self) -> EngineFuture<'_, Vec<TaskView>>;
    /// Subscribes to the events; resolves once subscribed (nothing published after
    /// that is missed by the stream).
    fn events(&self) -> EngineFuture<'_, EventStream>;
    /// Makes sure berth-containerd answers, starting it again if it went away.
    fn ensure_running(&self) -> EngineFuture<'_, ()>;
}
