//! The shim's control API on `shim.sock` and the header of its attach socket.
//!
//! | call | body → answer |
//! |---|---|
//! | `GET /state` | → [`ShimState`] |
//! | `POST /start` | → [`PidResponse`] |
//! | `POST /kill` | [`KillRequest`] → `{}` |
//! | `POST /pause`, `/resume` | → `{}` |
//! | `POST /update` | [`UpdateRequest`] → `{}` |
//! | `POST /resize` | [`ResizeRequest`] → `{}` |
//! | `POST /close-stdin` | [`ProcessRef`] → `{}` |
//! | `POST /exec` | [`ExecRequest`] → `{}` |
//! | `POST /exec/{exec_id}/start` | → [`PidResponse`] |
//! | `GET /exec/{exec_id}` | → [`ExecState`] |
//! | `POST /wait` | [`ProcessRef`] → (blocks) [`crate::ExitInfo`] |
//! | `POST /delete` | → [`crate::ExitInfo`], then the shim exits |
use serde::{Deserialize, Serialize};

use crate::TaskStatus;

/// `GET /state`: the init process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimState {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub pid: u32,
    pub status: TaskStatus,
    #[serde(default)]
    pub exit_status: Option<u32>,
    #[serde(default)]
    pub exited_at: Option<String>,
    #[serde(default)]
    pub terminal: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_killed: bool,
}

impl ShimState {
    /// The init's exit, once it has one.
    pub fn exit(&self) -> Option<crate::ExitInfo> {
        Some(crate::ExitInfo {
            exit_status: self.exit_status?,
            exited_at: self.exited_at.clone()?,
            oom_killed: self.oom_killed,
        })
    }
}

/// `GET /exec/{exec_id}` (and berth-containerd's `GET /tasks/{id}/exec/{exec_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecState {
    pub exec_id: String,
    #[serde(default)]
    pub pid: u32,
    pub status: TaskStatus,
    #[serde(default)]
    pub exit_status: Option<u32>,
    #[serde(default)]
    pub exited_at: Option<String>,
}

/// `POST /kill`: a signal to the init (`exec_id` null) or to an exec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillRequest {
    pub signal: i32,
    /// Every process of the container (the runtime's `kill --all`).
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub exec_id: Option<String>,
}

/// `POST /resize`: the terminal size of the init or of an exec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResizeRequest {
    pub width: u32,
    pub height: u32,
    #[serde(default)]
    pub exec_id: Option<String>,
}

/// Which process a call is about: the init (`exec_id` null) or an exec
/// (`/wait`, `/close-stdin`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRef {
    #[serde(default)]
    pub exec_id: Option<String>,
}

impl ProcessRef {
    pub fn init() -> ProcessRef {
        ProcessRef { exec_id: None }
    }
    pub fn exec(exec_id: impl Into<String>) -> ProcessRef {
        ProcessRef {
            exec_id: Some(exec_id.into()),
        }
    }
}

/// `POST /exec`: an extra process, prepared (not started).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecRequest {
    pub exec_id: String,
    /// An OCI runtime-spec `Process` object, handed to the runtime's `exec` as is
    /// (the shim sets its `terminal`).
    pub process: serde_json::Value,
    #[serde(default)]
    pub terminal: bool,
    #[serde(default)]
    pub stdin: bool,
}

/// `POST /update`: new limits for a live container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateRequest {
    /// An OCI runtime-spec `LinuxResources` object, handed to the runtime's
    /// `update --resources` as is.
    #[serde(default)]
    pub resources: serde_json::Value,
}

/// The answer of a start (`/start`, `/exec/{id}/start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidResponse {
    pub pid: u32,
}

/// The first line a client writes on `attach.sock` (JSON, then `\n`); raw stdin bytes
/// follow it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachRequest {
    /// The exec to attach to; null for the init.
    #[serde(default)]
    pub exec_id: Option<String>,
    #[serde(default)]
    pub stdin: bool,
    #[serde(default)]
    pub stdout: bool,
    #[serde(default)]
    pub stderr: bool,
}

/// The shim's answer to an [`AttachRequest`]: one JSON line, written once the client
/// is registered (from then on it receives every byte the process writes), before any
/// output. With `error` set the shim closes the connection after it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachAck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_state_reads_the_shims_answer() {
        let s: ShimState = serde_json::from_str(
            r#"{"id":"c","pid":7,"status":"stopped","exit_status":3,"exited_at":"t","terminal":false}"#,
        )
        .unwrap();
        assert_eq!(s.status, TaskStatus::Stopped);
        assert_eq!(s.exit().unwrap().exit_status, 3);
        let running: ShimState =
            serde_json::from_str(r#"{"pid":7,"status":"running","exit_status":null}"#).unwrap();
        assert!(running.exit().is_none());
    }

    #[test]
    fn requests_default_to_the_init() {
        let r: ProcessRef = crate::body_or_default(b"").unwrap();
        assert_eq!(r, ProcessRef::init());
        let k: KillRequest = serde_json::from_str(r#"{"signal":9}"#).unwrap();
        assert_eq!((k.signal, k.all, k.exec_id), (9, false, None));
        let ack = serde_json::to_string(&AttachAck::default()).unwrap();
        assert_eq!(ack, "{}");
    }
}
