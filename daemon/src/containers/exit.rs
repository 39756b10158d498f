//! The one exit path. However an exit is learnt — berth-containerd's `exit` event, the
//! resync after the event stream reconnects, the reconcile at start-up — it ends in
//! [`record_exit`], which records it once per run (a run is known by its init's pid) and
//! whichever arrives second finds nothing to do. As dockerd's `handleContainerExit`, under
//! the container's lock: the state set (`die`, waiters woken), then the task deleted and
//! the run's environment torn down, at once (network `disconnect` events after `die`);
//! then `--rm` removes the container, or the restart policy schedules the next run. A
//! container that is being removed does not wait for its task's deletion (it runs
//! after the answer, as the removal's last step would).
use std::time::Duration;

use super::engine::ExitInfo;
use super::run_state::AfterExit;
use super::{remove, state_changes, timing};
use crate::state::SharedDaemon;

/// Records that the run of container `id` whose init was `pid` (0: whichever runs)
/// exited with `exit`.
pub async fn record_exit(daemon: &SharedDaemon, id: &str, pid: u32, exit: ExitInfo) {
    let lock_stage = timing::stage("exit.lock", id);
    let guard = daemon.container_locks.lock(id).await;
    drop(lock_stage);
    let Some(c) = daemon.containers.get(id) else {
        return;
    };
    if !c.state.status.is_running() || (pid != 0 && c.state.pid != 0 && c.state.pid != pid) {
        return; // recorded already, or an earlier run's
    }
    let record_stage = timing::stage("exit.record", id);
    let Some((c, after)) = state_changes::exited(daemon, id, pid, &exit) else {
        return;
    };
    drop(record_stage);
    // Recorded, waiters woken: the task's deletion (the runtime's delete) and the
    // environment's teardown at once, still under the lock. A container about to be
    // forgotten (`--rm`, `rm -f`) is removed without waiting for its task's deletion:
    // nothing reuses its task id, and should berthd stop first, the reconcile at
    // start-up deletes the task whose container is gone. Any other container's task
    // is gone before the lock is released (its next start creates the same task id).
    let forgotten = matches!(after, AfterExit::AutoRemove | AfterExit::Removal);
    let task = async {
        if forgotten {
            let (daemon, id) = (daemon.clone(), id.to_string());
            tokio::spawn(async move { delete_task(&daemon, &id).await });
        } else {
            delete_task(daemon, id).await;
        }
    };
    let teardown = async {
        let _stage = timing::stage("exit.teardown", id);
        daemon.environment.teardown(daemon, &c).await;
    };
    tokio::join!(task, teardown);
    drop(guard);
    match after {
        AfterExit::AutoRemove => remove::auto_remove(daemon, id).await,
        AfterExit::Restart(delay) => schedule_restart(daemon.clone(), id.to_string(), delay),
        AfterExit::Stay | AfterExit::Removal => {}
    }
}

/// Deletes the exited task of container `id` (the runtime's delete, the shim's end).
async fn delete_task(daemon: &SharedDaemon, id: &str) {
    let _stage = timing::stage("exit.task_delete", id);
    if let Err(e) = daemon.engine.delete(super::record::task_id_of(id)).await {
        if !e.is_not_found() {
            tracing::warn!(%id, error = %e, "deleting the exited task");
        }
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
