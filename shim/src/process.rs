//! One process the shim watches (the init or an exec): its state machine, stdio and exit.
use berth_proto::ExitInfo;

use crate::error::{Error, Result};
use crate::io::ProcIo;

/// The protocol's status names (`deleted` is never a process's: the shim exits first).
pub use berth_proto::TaskStatus as Status;

pub struct Proc {
    pub pid: i32,
    pub status: Status,
    pub terminal: bool,
    pub io: ProcIo,
    /// Set when it is reaped (for the init, with the OOM flag).
    pub exit: Option<ExitInfo>,
    /// For an exec: the OCI process and whether it wants stdin.
    pub spec: Option<(serde_json::Value, bool)>,
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
            s => Err(Error::Conflict(format!("process is {s}"))),
        }
    }

    pub fn paused(&mut self) -> Result<()> {
        match self.status {
            Status::Running => {
                self.status = Status::Paused;
                Ok(())
            }
            s => Err(Error::Conflict(format!("cannot pause: process is {s}"))),
        }
    }

    pub fn resumed(&mut self) -> Result<()> {
        match self.status {
            Status::Paused => {
                self.status = Status::Running;
                Ok(())
            }
            s => Err(Error::Conflict(format!("cannot resume: process is {s}"))),
        }
    }

    /// Reaped with wait status code `status` (already 128+n for a signal).
    pub fn exited(&mut self, status: i32, exited_at: String, oom_killed: bool) {
        self.status = Status::Stopped;
        self.exit = Some(ExitInfo {
            exit_status: u32::try_from(status).unwrap_or(255),
            exited_at,
            oom_killed,
        });
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
        p.exited(3, "t".into(), true);
        assert_eq!(p.status, Status::Stopped);
        let exit = p.exit.clone().unwrap();
        assert_eq!((exit.exit_status, exit.oom_killed), (3, true));
    }
}
