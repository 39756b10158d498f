//! A container's run state machine: the only code that changes `State.Status`. Each
//! transition is a method that checks the move is legal (a 409/304 otherwise, with
//! dockerd's words) and sets everything that goes with it, as containerd-lite's
//! `tasks.rs` does for tasks and moby's `container/state.go` (`SetRunning`,
//! `SetStopped`, `SetRestarting`, `SetRemovalInProgress`, …) does for containers.
//!
//! ```text
//!  created ──started──▶ running ⇄ paused
//!     ▲  ╲                 │ exited
//!     │   start_failed     ▼
//!     │                 exited ──restart_scheduled──▶ restarting ──started──▶ running
//!     │                    │                          │ restart_cancelled ▶ exited
//!     └────────────────────┴──removal_started──▶ removing ──removal_failed──▶ dead
//! ```
//! A removal asked while the container runs (`rm -f`) is remembered
//! (`removal_requested`): its exit then leads to `removing`, never to a restart.
//! The side effects of a transition (events, health monitors, waiters) are applied in
//! one place, `state_changes`.
use bollard_stubs::models::RestartPolicyNameEnum;
use chrono::{DateTime, Utc};

use super::engine::ExitInfo;
use super::record::{Container, RunState, Status};
use super::{ContainerError, Result};

fn conflict(message: impl Into<String>) -> ContainerError {
    ContainerError::Conflict(message.into())
}

impl RunState {
    /// Whether a start may begin: 304 when running, 409 when paused or going away.
    pub fn check_start(&self) -> Result<()> {
        if self.removal_requested {
            return Err(conflict(
                "container is marked for removal and cannot be started",
            ));
        }
        match self.status {
            Status::Running => Err(ContainerError::NotModified),
            Status::Paused => Err(conflict(
                "cannot start a paused container, try unpause instead",
            )),
            Status::Removing | Status::Dead => Err(conflict(
                "container is marked for removal and cannot be started",
            )),
            Status::Created | Status::Exited | Status::Restarting => Ok(()),
        }
    }

    /// A start the user asked for ends an earlier `docker stop`'s hold on the restart
    /// policy.
    pub fn start_requested(&mut self) {
        self.manually_stopped = false;
    }

    /// `docker stop`, `kill`, `rm -f`: the restart policy does not bring it back.
    pub fn stop_requested(&mut self) {
        self.manually_stopped = true;
    }

    /// The task runs with init `pid`; clients attach at `attach_socket`.
    pub fn started(&mut self, pid: u32, attach_socket: String, at: DateTime<Utc>) -> Result<()> {
        self.check_start()?;
        self.status = Status::Running;
        self.pid = pid;
        self.attach_socket = attach_socket;
        self.exit_code = 0;
        self.error.clear();
        self.oom_killed = false;
        self.started_at = Some(at);
        self.has_task = true;
        Ok(())
    }

    /// The start failed with `code` (dockerd's 126/127/128) and `message`: back to
    /// created if it never ran, else exited.
    pub fn start_failed(&mut self, code: i64, message: String) {
        if !self.status.is_running() {
            self.status = if self.started_at.is_some() {
                Status::Exited
            } else {
                Status::Created
            };
        }
        self.exit_code = code;
        self.error = message;
        self.has_task = false;
    }

    pub fn paused(&mut self) -> Result<()> {
        match self.status {
            Status::Running => {
                self.status = Status::Paused;
                Ok(())
            }
            _ => Err(conflict("Container is not running")),
        }
    }

    pub fn resumed(&mut self) -> Result<()> {
        match self.status {
            Status::Paused => {
                self.status = Status::Running;
                Ok(())
            }
            _ => Err(conflict("Container is not paused")),
        }
    }

    /// The run whose init was `pid` exited. False (and nothing changes) when this
    /// exit is not news: the container is not running, or runs another init.
    pub fn exited(&mut self, pid: u32, exit: &ExitInfo, at: DateTime<Utc>) -> bool {
        if !self.status.is_running() || (pid != 0 && self.pid != 0 && pid != self.pid) {
            return false;
        }
        self.status = if self.removal_requested {
            Status::Removing
        } else {
            Status::Exited
        };
        self.pid = 0;
        self.attach_socket.clear();
        self.exit_code = i64::from(exit.exit_status);
        self.oom_killed = exit.oom_killed;
        self.finished_at = Some(at);
        self.has_task = false;
        true
    }

    /// Waiting for the restart policy's next run.
    pub fn restart_scheduled(&mut self) -> Result<()> {
        match self.status {
            Status::Exited => {
                self.status = Status::Restarting;
                Ok(())
            }
            s => Err(conflict(format!(
                "cannot restart a container that is {}",
                s.as_str()
            ))),
        }
    }

    /// The next run will not happen (stopped meanwhile, or it could not start).
    /// False when the container was not waiting for one.
    pub fn restart_cancelled(&mut self) -> bool {
        if self.status != Status::Restarting {
            return false;
        }
        self.status = Status::Exited;
        true
    }

    /// `rm -f` of a running container: its exit leads to `removing`.
    pub fn removal_requested(&mut self) -> Result<()> {
        if self.removal_requested || self.status == Status::Removing {
            return Err(ContainerError::Conflict(String::new()));
        }
        self.removal_requested = true;
        self.manually_stopped = true;
        Ok(())
    }

    /// The removal of a stopped container begins (409 with an empty message when one
    /// is under way already: the caller words it).
    pub fn removal_started(&mut self) -> Result<()> {
        match self.status {
            Status::Removing => Err(ContainerError::Conflict(String::new())),
            Status::Running | Status::Paused => Err(conflict("container is running")),
            Status::Created | Status::Exited | Status::Restarting | Status::Dead => {
                self.status = Status::Removing;
                self.removal_requested = true;
                Ok(())
            }
        }
    }

    /// A removal that did not finish: dockerd's `SetRemovalError` (dead).
    pub fn removal_failed(&mut self, message: String) {
        self.removal_requested = false;
        if !self.status.is_running() {
            self.status = Status::Dead;
        }
        self.error = message;
    }

    /// A removal asked while it ran, given up before the exit (the kill failed).
    pub fn removal_abandoned(&mut self) {
        self.removal_requested = false;
    }

    /// After a restart of berthd: the task is in this state.
    pub fn adopted(&mut self, paused: bool, pid: u32, attach_socket: String) {
        if self.status.is_running() {
            self.attach_socket = attach_socket;
            self.status = if paused {
                Status::Paused
            } else {
                Status::Running
            };
            self.pid = pid;
        }
    }
}

/// What follows an exit, as the restart policy and `--rm` decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterExit {
    Stay,
    AutoRemove,
    /// Restart after this delay.
    Restart(std::time::Duration),
    /// `rm -f` is removing it.
    Removal,
}

impl Container {
    /// Records an exit and decides what follows: the `exited` transition, then
    /// `restart_scheduled` when the policy asks (one step, so a `stop` in between
    /// never sees an exited container with a restart still to come). None when the
    /// exit was recorded already.
    pub fn record_exit(
        &mut self,
        pid: u32,
        exit: &ExitInfo,
        at: DateTime<Utc>,
    ) -> Option<AfterExit> {
        if !self.state.exited(pid, exit, at) {
            return None;
        }
        if self.state.status == Status::Removing {
            return Some(AfterExit::Removal);
        }
        if self.auto_remove() {
            return Some(AfterExit::AutoRemove);
        }
        if !should_restart(self) {
            return Some(AfterExit::Stay);
        }
        let delay = backoff(self);
        self.state.restart_scheduled().ok()?;
        self.restart_count += 1;
        Some(AfterExit::Restart(delay))
    }
}

/// Whether the restart policy asks for another run after this exit.
pub fn should_restart(c: &Container) -> bool {
    if c.state.manually_stopped {
        return false;
    }
    let Some(policy) = &c.host_config.restart_policy else {
        return false;
    };
    match policy.name {
        Some(RestartPolicyNameEnum::ALWAYS) | Some(RestartPolicyNameEnum::UNLESS_STOPPED) => true,
        Some(RestartPolicyNameEnum::ON_FAILURE) => {
            let max = policy.maximum_retry_count.unwrap_or(0);
            c.state.exit_code != 0 && (max == 0 || (c.restart_count as i64) < max)
        }
        _ => false,
    }
}

/// dockerd's back-off: 100 ms doubling per restart, reset after 10 s of running, at most
/// 1 min.
pub fn backoff(c: &Container) -> std::time::Duration {
    let ran = match (c.state.started_at, c.state.finished_at) {
        (Some(s), Some(f)) => (f - s).num_milliseconds(),
        _ => 0,
    };
    if ran >= 10_000 {
        return std::time::Duration::from_millis(100);
    }
    let exp = c.restart_count.min(10) as u32;
    std::time::Duration::from_millis(100u64 << exp).min(std::time::Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: Status) -> RunState {
        RunState {
            status,
            pid: 7,
            ..Default::default()
        }
    }

    #[test]
    fn start_checks_as_dockerd() {
        let cases = [
            (Status::Created, true),
            (Status::Exited, true),
            (Status::Restarting, true),
            (Status::Running, false),
            (Status::Paused, false),
            (Status::Removing, false),
            (Status::Dead, false),
        ];
        for (status, ok) in cases {
            let mut s = state(status);
            assert_eq!(
                s.started(9, String::new(), Utc::now()).is_ok(),
                ok,
                "{status:?}"
            );
            if ok {
                assert_eq!((s.status, s.pid, s.has_task), (Status::Running, 9, true));
            }
        }
        assert!(matches!(
            state(Status::Running).check_start(),
            Err(ContainerError::NotModified)
        ));
        let mut going = state(Status::Exited);
        going.removal_requested = true;
        assert!(going.check_start().is_err());
    }

    #[test]
    fn illegal_moves_are_conflicts() {
        type Op = fn(&mut RunState) -> Result<()>;
        let cases: Vec<(Status, Op)> = vec![
            (Status::Created, RunState::paused),
            (Status::Exited, RunState::paused),
            (Status::Paused, RunState::paused),
            (Status::Running, RunState::resumed),
            (Status::Running, RunState::restart_scheduled),
            (Status::Created, RunState::restart_scheduled),
            (Status::Removing, RunState::removal_started),
            (Status::Running, RunState::removal_started),
        ];
        for (from, op) in cases {
            let mut s = state(from);
            assert!(
                matches!(op(&mut s), Err(ContainerError::Conflict(_))),
                "{from:?}"
            );
            assert_eq!(s.status, from, "unchanged after an illegal move");
        }
    }

    #[test]
    fn an_exit_is_recorded_once_per_run() {
        let mut s = state(Status::Running);
        let exit = ExitInfo::now(3);
        assert!(!s.exited(8, &exit, Utc::now()), "another run's init");
        assert!(s.exited(7, &exit, Utc::now()));
        assert_eq!((s.status, s.exit_code, s.pid), (Status::Exited, 3, 0));
        assert!(!s.exited(7, &ExitInfo::now(4), Utc::now()), "again");
        assert_eq!(s.exit_code, 3);
        let mut p = state(Status::Paused);
        assert!(
            p.exited(0, &exit, Utc::now()),
            "pid unknown: the current run"
        );
    }

    #[test]
    fn removal_while_running_ends_in_removing() {
        let mut s = state(Status::Running);
        s.removal_requested().unwrap();
        assert!(s.removal_requested().is_err(), "once");
        assert!(s.manually_stopped);
        assert!(s.exited(7, &ExitInfo::now(137), Utc::now()));
        assert_eq!(s.status, Status::Removing);
        s.removal_failed("busy".into());
        assert_eq!(s.status, Status::Dead);
        let mut e = state(Status::Exited);
        e.removal_started().unwrap();
        assert_eq!(e.status, Status::Removing);
    }

    #[test]
    fn failed_start_goes_back_where_it_was() {
        let mut s = state(Status::Created);
        s.start_failed(127, "not found".into());
        assert_eq!((s.status, s.exit_code), (Status::Created, 127));
        let mut s = state(Status::Restarting);
        s.started_at = Some(Utc::now());
        s.start_failed(128, "boom".into());
        assert_eq!(s.status, Status::Exited);
    }
}
