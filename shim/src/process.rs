//! One process the shim watches (the init or an exec): its state machine, stdio and exit.
use crate::error::{Error, Result};
use crate::io::ProcIo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

pub struct Proc {
    pub pid: i32,
    pub status: Status,
    pub terminal: bool,
    pub io: ProcIo,
    /// (exit status, exited at)
    pub exit: Option<(i32, String)>,
    /// For an exec: the OCI process and whether it wants stdin.
    pub spec: Option<(serde_json::Value, bool)>,
    /// The init only: whether the OOM killer struck (set when it is reaped).
    pub oom_killed: Option<bool>,
}

impl Proc {
    pub fn new(terminal: bool) -> Proc {
        Proc {
            pid: 0,
            status: Status::Created,
            terminal,
            io: ProcIo::default(),
            exit: None,
            spec: None,
            oom_killed: None,
        }
    }

    pub fn started(&mut self, pid: i32) -> Result<()> {
        match self.status {
            Status::Created => {
                self.pid = pid;
                // It may have been reaped already (an exec that exited at once).
                if self.exit.is_none() {
                    self.status = Status::Running;
                }
                Ok(())
            }
            s => Err(Error::Conflict(format!("process is {}", s.as_str()))),
        }
    }

    pub fn paused(&mut self) -> Result<()> {
        match self.status {
            Status::Running => {
                self.status = Status::Paused;
                Ok(())
            }
            s => Err(Error::Conflict(format!(
                "cannot pause: process is {}",
                s.as_str()
            ))),
        }
    }

    pub fn resumed(&mut self) -> Result<()> {
        match self.status {
            Status::Paused => {
                self.status = Status::Running;
                Ok(())
            }
            s => Err(Error::Conflict(format!(
                "cannot resume: process is {}",
                s.as_str()
            ))),
        }
    }

    pub fn exited(&mut self, status: i32, at: String) {
        self.status = Status::Stopped;
        self.exit = Some((status, at));
    }

    pub fn exit_json(&self) -> serde_json::Value {
        match &self.exit {
            Some((s, at)) => {
                let mut v = serde_json::json!({ "exit_status": s, "exited_at": at });
                if let Some(oom) = self.oom_killed {
                    v["oom_killed"] = serde_json::json!(oom);
                }
                v
            }
            None => serde_json::json!({ "exit_status": null, "exited_at": null }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        let mut p = Proc::new(false);
        assert!(p.paused().is_err());
        p.started(5).unwrap();
        assert_eq!(p.status, Status::Running);
        p.paused().unwrap();
        assert!(p.started(6).is_err());
        p.resumed().unwrap();
        p.exited(3, "t".into());
        assert_eq!(p.status, Status::Stopped);
        assert_eq!(p.exit_json()["exit_status"], 3);
        assert!(p.exit_json().get("oom_killed").is_none());
        p.oom_killed = Some(true);
        assert_eq!(p.exit_json()["oom_killed"], true);
    }
}
