//! An exit as every layer reports it: the shim writes it to `exit.json` the moment it
//! reaps the process, answers it to `/wait`, berth-containerd passes it on in `/wait`,
//! `DELETE /tasks/{id}` and the `exit` event.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// The exit code, or 128+n for a process killed by signal n.
    pub exit_status: u32,
    /// RFC 3339, nanoseconds, UTC.
    pub exited_at: String,
    /// The init only (always false for an exec): an OOM kill happened in the
    /// container's memory cgroup while it ran (Docker's `OOMKilled`).
    #[serde(default)]
    pub oom_killed: bool,
}

impl ExitInfo {
    /// An exit now, with this status.
    pub fn now(exit_status: u32) -> ExitInfo {
        ExitInfo {
            exit_status,
            exited_at: now_rfc3339(),
            oom_killed: false,
        }
    }
}

/// Now, as the protocol writes times: RFC 3339 with nanoseconds, UTC.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_flag_defaults_to_false() {
        let e = ExitInfo::now(3);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["exit_status"], 3);
        assert_eq!(v["oom_killed"], false);
        let old: ExitInfo = serde_json::from_str(r#"{"exit_status":1,"exited_at":"t"}"#).unwrap();
        assert!(!old.oom_killed);
        assert!(v["exited_at"].as_str().unwrap().ends_with('Z'));
        let e: ExitInfo = serde_json::from_str(
            r#"{"exit_status":137,"exited_at":"2026-01-01T00:00:00.000000000Z","oom_killed":true}"#,
        )
        .unwrap();
        assert!(e.oom_killed);
    }
}
