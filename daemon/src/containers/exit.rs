//! The one exit path. However an exit is learnt — berth-containerd's `exit` event, the
//! resync after the event stream reconnects, the reconcile at start-up — it ends in
//! [`record_exit`], which records it once per run (a run is known by its init's pid) and
//! whichever arrives second finds nothing to do. As dockerd's `handleContainerExit`, under
//! the container's lock: the task is deleted, the state set (`die`, waiters woken), the
//! run's environment torn down (network `disconnect` events after `die`); then `--rm`
//! removes the container, or the restart policy schedules the next run.
use std::time::Duration;

use super::engine::ExitInfo;
use super::run_state::AfterExit;
use super::{remove, state_changes};
use crate::state::SharedDaemon;

/// Records that the run of container `id` whose init was `pid` (0: whichever runs)
/// exited with `exit`.
pub async fn record_exit(daemon: &SharedDaemon, id: &str, pid: u32, exit: ExitInfo) {
    let guard = daemon.container_locks.lock(id).await;
    let Some(c) = daemon.containers.get(id) else {
        return;
    };
    if !c.state.status.is_running() || (pid != 0 && c.state.pid != 0 && c.state.pid != pid) {
        return; // recorded already, or an earlier run's
    }
    if let Err(e) = daemon.engine.delete(c.task_id()).await {
        if !e.is_not_found() {
            tracing::warn!(%id, error = %e, "deleting the exited task");
        }
    }
    let Some((c, after)) = state_changes::exited(daemon, id, pid, &exit) else {
        return;
    };
    daemon.environment.teardown(daemon, &c).await;
    drop(guard);
    match after {
        AfterExit::AutoRemove => remove::auto_remove(daemon, id).await,
        AfterExit::Restart(delay) => schedule_restart(daemon.clone(), id.to_string(), delay),
        AfterExit::Stay | AfterExit::Removal => {}
    }
}

/// Starts the container again after `delay`, unless it was stopped or removed meanwhile.
fn schedule_restart(daemon: SharedDaemon, id: String, delay: Duration) {
    tokio::spawn(async move {
        // The restart policy's back-off (dockerd's), not an ordering of processes.
        tokio::time::sleep(delay).await;
        let guard = daemon.container_locks.lock(&id).await;
        let Some(c) = daemon.containers.get(&id) else {
            return;
        };
        if c.state.status != super::Status::Restarting {
            return;
        }
        if c.state.manually_stopped || c.state.removal_requested {
            state_changes::restart_cancelled(&daemon, &id);
            return;
        }
        let started = super::start::run(&daemon, &c).await;
        drop(guard);
        match started {
            Ok(()) => {
                // A `docker stop` that came while this run was starting still wins.
                if let Some(now) = daemon.containers.get(&id) {
                    if now.state.manually_stopped && now.state.status.is_running() {
                        if let Err(e) =
                            super::lifecycle::stop_container(&daemon, &now, Some(0), None).await
                        {
                            tracing::warn!(%id, error = %e, "stopping a restarted container");
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(%id, error = %e, "restarting the container");
                // Its waiters hear of the end of the restarts.
                if let Some(now) = daemon.containers.get(&id) {
                    daemon.containers.notify_exit(&id, now.state.exit_code);
                }
            }
        }
    });
}
