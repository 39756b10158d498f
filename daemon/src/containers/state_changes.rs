//! The one place where a run-state transition (`run_state`) is applied to a container's
//! record and its side effects follow: the events dockerd publishes for it, the health
//! monitor, and the waiters of `POST /containers/{id}/wait`. Callers say what happened;
//! they never set a status or publish these events themselves.
//!
//! | change | events | health | waiters |
//! |---|---|---|---|
//! | `started` | `start` | reset to starting, monitor runs | |
//! | `paused` / `resumed` | `pause` / `unpause` | monitor stops / runs again | |
//! | `exited` | `die` (exitCode) | monitor stops (unhealthy) | an exit |
//! | `restart_cancelled` | | | an exit |
use chrono::Utc;

use super::engine::{ExitInfo, TaskView};
use super::record::Container;
use super::run_state::AfterExit;
use super::{health, Result};
use crate::state::SharedDaemon;

/// A start the user asked for (start, restart): the restart policy applies again.
pub fn start_requested(daemon: &SharedDaemon, id: &str) -> Result<Container> {
    let (c, ()) = daemon.containers.update_state(id, |r| {
        r.state.check_start()?;
        r.state.start_requested();
        Ok(())
    })?;
    Ok(c)
}

/// `docker stop`, `kill`: the restart policy leaves it stopped.
pub fn stop_requested(daemon: &SharedDaemon, id: &str) -> Result<Container> {
    let (c, ()) = daemon.containers.update_state(id, |r| {
        r.state.stop_requested();
        Ok(())
    })?;
    Ok(c)
}

/// The task runs with init `pid`; clients attach at `attach_socket` (its shim speaks
/// protocol `shim_protocol`).
pub fn started(
    daemon: &SharedDaemon,
    id: &str,
    pid: u32,
    attach_socket: String,
    shim_protocol: u32,
) -> Result<Container> {
    let (c, ()) = daemon.containers.update_state(id, |r| {
        r.state
            .started(pid, (attach_socket, shim_protocol), Utc::now())
    })?;
    daemon
        .events
        .publish("container", "start", id, c.event_attributes());
    health::start(daemon, id);
    Ok(c)
}

/// The start failed (dockerd's exit code and message are kept in the state).
pub fn start_failed(daemon: &SharedDaemon, id: &str, code: i64, message: String) {
    let _ = daemon.containers.update_state(id, |r| {
        r.state.start_failed(code, message);
        Ok(())
    });
}

pub fn paused(daemon: &SharedDaemon, id: &str) -> Result<Container> {
    let (c, ()) = daemon.containers.update_state(id, |r| r.state.paused())?;
    health::stop(daemon, id);
    daemon
        .events
        .publish("container", "pause", id, c.event_attributes());
    Ok(c)
}

pub fn resumed(daemon: &SharedDaemon, id: &str) -> Result<Container> {
    let (c, ()) = daemon.containers.update_state(id, |r| r.state.resumed())?;
    health::resume(daemon, id);
    daemon
        .events
        .publish("container", "unpause", id, c.event_attributes());
    Ok(c)
}

/// The run whose init was `pid` exited: records it once, decides what follows (restart
/// policy, `--rm`, a removal under way), publishes `die` and wakes the waiters. None
/// when the exit was not news.
pub fn exited(
    daemon: &SharedDaemon,
    id: &str,
    pid: u32,
    exit: &ExitInfo,
) -> Option<(Container, AfterExit)> {
    let finished = exit_time(exit);
    let (c, after) = daemon
        .containers
        .update_state(id, |r| Ok(r.record_exit(pid, exit, finished)))
        .ok()?;
    let after = after?;
    health::stop(daemon, id);
    let mut attrs = c.event_attributes();
    attrs.insert("exitCode".into(), exit.exit_status.to_string());
    daemon.events.publish("container", "die", id, attrs);
    daemon.containers.notify_exit(id, c.state.exit_code);
    Some((c, after))
}

/// A scheduled restart that will not happen. False when none was scheduled.
pub fn restart_cancelled(daemon: &SharedDaemon, id: &str) -> bool {
    match daemon
        .containers
        .update_state(id, |r| Ok(r.state.restart_cancelled()))
    {
        Ok((c, true)) => {
            daemon.containers.notify_exit(id, c.state.exit_code);
            true
        }
        _ => false,
    }
}

/// `rm -f` of a running container: remembered until its exit.
pub fn removal_requested(daemon: &SharedDaemon, id: &str) -> Result<Container> {
    Ok(daemon
        .containers
        .update_state(id, |r| r.state.removal_requested())?
        .0)
}

/// The removal of a stopped container begins. Not written: should berthd stop before
/// the record's file is gone, the container is found as it was (stopped, whole), as
/// dockerd finds one whose removal had not yet marked it dead.
pub fn removal_started(daemon: &SharedDaemon, id: &str) -> Result<Container> {
    Ok(daemon
        .containers
        .update_state_in_memory(id, |r| r.state.removal_started())?
        .0)
}

pub fn removal_failed(daemon: &SharedDaemon, id: &str, message: String) {
    let _ = daemon.containers.update_state(id, |r| {
        r.state.removal_failed(message);
        Ok(())
    });
}

pub fn removal_abandoned(daemon: &SharedDaemon, id: &str) {
    let _ = daemon.containers.update_state(id, |r| {
        r.state.removal_abandoned();
        Ok(())
    });
}

/// After a restart of berthd, the task of a running container was found live.
pub fn adopted(daemon: &SharedDaemon, id: &str, paused: bool, task: &TaskView) {
    if daemon
        .containers
        .update_state(id, |r| {
            r.state.adopted(
                paused,
                task.pid,
                (task.attach_socket.clone(), task.shim_protocol),
            );
            Ok(())
        })
        .is_ok()
        && !paused
    {
        health::start(daemon, id);
    }
}

/// When the exit happened: the shim's time, else now.
fn exit_time(exit: &ExitInfo) -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(&exit.exited_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}
