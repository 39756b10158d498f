//! Wire types shared by the shim protocol and the local API.

use serde::{Deserialize, Serialize};

/// Exit status and time of a process, as the shim reports it (and writes in `exit.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    pub exit_status: u32,
    pub exited_at: String,
    /// The shim's `oom_killed` (the init only): an OOM kill happened in the container's
    /// memory cgroup. Turns into an `oom` event before the `exit` event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_killed: bool,
}

impl ExitInfo {
    pub fn now(exit_status: u32) -> ExitInfo {
        ExitInfo {
            exit_status,
            exited_at: now_rfc3339(),
            oom_killed: false,
        }
    }
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// `GET /state` of a shim.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShimState {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub pid: u32,
    pub status: String,
    #[serde(default)]
    pub exit_status: Option<u32>,
    #[serde(default)]
    pub exited_at: Option<String>,
    #[serde(default)]
    pub terminal: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KillRequest {
    pub signal: i32,
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub exec_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResizeRequest {
    pub width: u32,
    pub height: u32,
    #[serde(default)]
    pub exec_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExecIdRequest {
    #[serde(default)]
    pub exec_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecRequest {
    pub exec_id: String,
    pub process: serde_json::Value,
    #[serde(default)]
    pub terminal: bool,
    #[serde(default)]
    pub stdin: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PidResponse {
    pub pid: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogConfig {
    pub path: String,
    #[serde(default)]
    pub max_size: Option<u64>,
    #[serde(default)]
    pub max_file: Option<u32>,
    /// "json-file" (the default) or "cri" (the kubelet's format, at the path it gives).
    #[serde(default)]
    pub format: Option<String>,
}

/// `POST /tasks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateTaskRequest {
    pub id: String,
    pub bundle: String,
    #[serde(default)]
    pub runtime: Option<String>,
    #[serde(default)]
    pub terminal: bool,
    #[serde(default)]
    pub stdin: bool,
    #[serde(default)]
    pub log: Option<LogConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateTaskResponse {
    pub id: String,
    pub pid: u32,
}

/// `GET /tasks/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    pub id: String,
    pub pid: u32,
    pub status: crate::tasks::Status,
    pub exit_status: Option<u32>,
    pub exited_at: Option<String>,
    pub bundle: String,
    pub runtime: String,
    pub attach_socket: String,
}
