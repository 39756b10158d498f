//! The wire types of Berth's engine protocol: what berthd, berth-containerd and
//! berth-shim send each other (docs/engine-protocol.md). Every type that crosses one of
//! those process boundaries lives here, once, and every side (de)serialises the same
//! struct; nothing compares a status or an event name as a string.
//!
//! - [`status`] — the task/process status enum (containerd's created → running →
//!   paused → stopped → deleted).
//! - [`exit`]   — an exit: code, time, OOM flag (`exit.json`, `/wait`, exit events).
//! - [`shim`]   — the shim's control API (`shim.sock`) and attach socket (`attach.sock`).
//! - [`task`]   — berth-containerd's task API (`containerd.sock`).
//! - [`event`]  — berth-containerd's `GET /events` lines.
//! - [`files`]  — the names of the files in a task's state folder.
//! - [`version`] — the protocol's version, for berthd to work with an older build's
//!   berth-containerd and shims.
//!
//! The transport is JSON over HTTP/1.1 on unix sockets; errors are an HTTP status with
//! an [`ErrorBody`].

pub mod event;
pub mod exit;
pub mod files;
pub mod shim;
pub mod status;
pub mod task;
pub mod version;

pub use event::{Event, EventKind};
pub use exit::{now_rfc3339, ExitInfo};
pub use shim::{
    AttachAck, AttachRequest, ExecRequest, ExecState, KillRequest, PidResponse, ProcessRef,
    ResizeRequest, ShimState, UpdateRequest,
};
pub use status::TaskStatus;
pub use task::{CreateTaskRequest, CreateTaskResponse, LogConfig, LogFormat, TaskView};
pub use version::{configuration_args, protocol_version, VersionView, PROTOCOL_VERSION};

use serde::{Deserialize, Serialize};

/// The body of every error answer: `{"message": "…"}` (with the HTTP status: 404
/// unknown task or exec, 409 wrong state, 400 bad request, 500 anything else).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
}

/// The answer of calls that return nothing: `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// Reads a request body; an empty (or all-whitespace) body is the type's default, as
/// every call whose fields are all optional accepts.
pub fn body_or_default<T: serde::de::DeserializeOwned + Default>(
    bytes: &[u8],
) -> serde_json::Result<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        serde_json::from_slice(bytes)
    }
}
