//! berth-containerd's task API on its socket (`containerd.sock`).
//!
//! | call | body → answer |
//! |---|---|
//! | `POST /tasks` | [`CreateTaskRequest`] → 201 [`CreateTaskResponse`] |
//! | `GET /tasks` | → `[`[`TaskView`]`…]` |
//! | `GET /tasks/{id}` | → [`TaskView`] |
//! | `POST /tasks/{id}/start` | → [`crate::PidResponse`] |
//! | `POST /tasks/{id}/kill` | [`crate::KillRequest`] → `{}` |
//! | `POST /tasks/{id}/pause`, `/resume` | → `{}` |
//! | `POST /tasks/{id}/update` | [`crate::UpdateRequest`] → `{}` |
//! | `POST /tasks/{id}/reopen-log` | → `{}` (the shim reopens the log at its path) |
//! | `POST /tasks/{id}/resize` | [`crate::ResizeRequest`] → `{}` |
//! | `POST /tasks/{id}/close-stdin` | [`crate::ProcessRef`] → `{}` |
//! | `POST /tasks/{id}/exec` | [`crate::ExecRequest`] → `{}` |
//! | `POST /tasks/{id}/exec/{exec_id}/start` | → [`crate::PidResponse`] |
//! | `GET /tasks/{id}/exec/{exec_id}` | → [`crate::ExecState`] |
//! | `POST /tasks/{id}/wait` | [`crate::ProcessRef`] → (blocks) [`crate::ExitInfo`] |
//! | `DELETE /tasks/{id}` | → [`crate::ExitInfo`] |
//! | `GET /events` | → newline-delimited [`crate::Event`]s |
//! | `GET /version` | → [`crate::VersionView`] (404 from a build before versioning) |
use serde::{Deserialize, Serialize};

use crate::TaskStatus;

/// Where and how the shim writes the init's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    pub path: String,
    /// Rotate at this many bytes.
    #[serde(default)]
    pub max_size: Option<u64>,
    /// Keep at most this many files.
    #[serde(default)]
    pub max_file: Option<u32>,
    #[serde(default)]
    pub format: LogFormat,
}

/// A log file's format (`berth-shim --log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Docker's json-file: one JSON object per chunk of output.
    #[default]
    JsonFile,
    /// The CRI's: `<RFC 3339 time> <stream> <F|P> <text>` per line, at the kubelet's path.
    Cri,
}

impl LogFormat {
    /// The name on the wire and on the shim's command line.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::JsonFile => "json-file",
            LogFormat::Cri => "cri",
        }
    }

    pub fn parse(name: &str) -> Option<LogFormat> {
        [LogFormat::JsonFile, LogFormat::Cri]
            .into_iter()
            .find(|f| f.as_str() == name)
    }
}

/// `POST /tasks`: a shim is started and the runtime creates the container (its
/// process waits for `start`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTaskRequest {
    pub id: String,
    /// Absolute path of the OCI bundle.
    pub bundle: String,
    /// A runtime name (`--runtime NAME=PATH`), an absolute path, or null for the default.
    #[serde(default)]
    pub runtime: Option<String>,
    #[serde(default)]
    pub terminal: bool,
    #[serde(default)]
    pub stdin: bool,
    /// Null: no log is written.
    #[serde(default)]
    pub log: Option<LogConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTaskResponse {
    pub id: String,
    pub pid: u32,
    /// The shim's attach socket: clients may connect before `start`.
    #[serde(default)]
    pub attach_socket: String,
    /// The protocol version of the shim (see [`crate::version`]).
    #[serde(default = "crate::version::unversioned")]
    pub shim_protocol: u32,
}

/// `GET /tasks/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    pub id: String,
    #[serde(default)]
    pub pid: u32,
    pub status: TaskStatus,
    #[serde(default)]
    pub exit_status: Option<u32>,
    #[serde(default)]
    pub exited_at: Option<String>,
    #[serde(default)]
    pub oom_killed: bool,
    #[serde(default)]
    pub bundle: String,
    #[serde(default)]
    pub runtime: String,
    #[serde(default)]
    pub attach_socket: String,
    /// The protocol version of the task's shim (see [`crate::version`]).
    #[serde(default = "crate::version::unversioned")]
    pub shim_protocol: u32,
}

impl TaskView {
    /// The init's exit, once the task has stopped.
    pub fn exit(&self) -> Option<crate::ExitInfo> {
        Some(crate::ExitInfo {
            exit_status: self.exit_status?,
            exited_at: self.exited_at.clone()?,
            oom_killed: self.oom_killed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_defaults_to_json_file_and_names_round_trip() {
        let c: LogConfig = serde_json::from_str(r#"{"path":"/l"}"#).unwrap();
        assert_eq!(c.format, LogFormat::JsonFile);
        let c: LogConfig = serde_json::from_str(r#"{"path":"/l","format":"cri"}"#).unwrap();
        assert_eq!(c.format, LogFormat::Cri);
        for f in [LogFormat::JsonFile, LogFormat::Cri] {
            assert_eq!(LogFormat::parse(f.as_str()), Some(f));
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
        }
        assert_eq!(LogFormat::parse("syslog"), None);
    }
}
