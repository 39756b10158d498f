//! berth-containerd's events (`GET /events`, one JSON object a line). `/events` does
//! not replay: a client lists the tasks after each (re)connect.
use serde::{Deserialize, Serialize};

use crate::ExitInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// The init started (`pid`).
    Start,
    /// The init exited (`exit_status`, `exited_at`, `oom_killed`); after `oom` if it was.
    Exit,
    /// The OOM killer struck in the container (just before its `exit`).
    Oom,
    /// An exec started (`exec_id`, `pid`).
    ExecStart,
    /// An exec exited (`exec_id`, `exit_status`, `exited_at`).
    ExecExit,
    Paused,
    Resumed,
    /// The task was deleted (`exit_status`).
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The task.
    pub id: String,
    #[serde(default)]
    pub exec_id: Option<String>,
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub exit_status: Option<u32>,
    /// With `exit` and `exec-exit`: when the process was reaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exited_at: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_killed: bool,
    /// When the event was published.
    pub at: String,
}

impl Event {
    pub fn new(kind: EventKind, id: &str) -> Event {
        Event {
            kind,
            id: id.to_string(),
            exec_id: None,
            pid: None,
            exit_status: None,
            exited_at: None,
            oom_killed: false,
            at: crate::now_rfc3339(),
        }
    }
    pub fn exec(mut self, exec_id: &str) -> Event {
        self.exec_id = Some(exec_id.to_string());
        self
    }
    pub fn pid(mut self, pid: u32) -> Event {
        self.pid = Some(pid);
        self
    }
    /// An exit status alone (`delete`).
    pub fn status(mut self, status: u32) -> Event {
        self.exit_status = Some(status);
        self
    }
    /// The whole exit (`exit`, `exec-exit`).
    pub fn exit(mut self, exit: &ExitInfo) -> Event {
        self.exit_status = Some(exit.exit_status);
        self.exited_at = Some(exit.exited_at.clone());
        self.oom_killed = exit.oom_killed;
        self
    }

    /// The exit an `exit` or `exec-exit` event carries.
    pub fn exit_info(&self) -> Option<ExitInfo> {
        Some(ExitInfo {
            exit_status: self.exit_status?,
            exited_at: self.exited_at.clone().unwrap_or_else(|| self.at.clone()),
            oom_killed: self.oom_killed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_json_shape() {
        let e = Event::new(EventKind::ExecExit, "t1")
            .exec("e1")
            .pid(7)
            .exit(&ExitInfo::now(3));
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "exec-exit");
        assert_eq!(v["id"], "t1");
        assert_eq!(v["exec_id"], "e1");
        assert_eq!(v["pid"], 7);
        assert_eq!(v["exit_status"], 3);
        assert!(v["exited_at"].as_str().unwrap().ends_with('Z'));
        assert!(v["at"].as_str().unwrap().ends_with('Z'));
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back.exit_info().unwrap().exit_status, 3);
        assert_eq!(Event::new(EventKind::Start, "x").exit_info(), None);
    }
}
