//! `docker rm` (and `--rm`, `container prune`): dockerd's `ContainerRm`. A running
//! container is refused, or with `force` marked for removal, killed, and waited for
//! without the container's lock (its exit is recorded under that lock, and leads to
//! `removing`, never to a restart); then, under the lock, `destroy` deletes the task,
//! tears the run's environment down and forgets the record.
use std::time::Duration;

use super::record::Status;
use super::{health, rootfs, state_changes, timing, ContainerError, Result};
use crate::state::SharedDaemon;

/// Removes a container; 409 while running unless `force` (then it is killed first).
pub async fn remove(daemon: &SharedDaemon, reference: &str, force: bool) -> Result<()> {
    let (daemon, reference) = (daemon.clone(), reference.to_string());
    super::to_the_end::to_the_end(async move { remove_now(&daemon, &reference, force).await }).await
}

async fn remove_now(daemon: &SharedDaemon, reference: &str, force: bool) -> Result<()> {
    let c = daemon.containers.lookup(reference)?;
    let _stage = timing::stage("remove", &c.id);
    let in_progress = || {
        ContainerError::Conflict(format!(
            "removal of container {reference} is already in progress"
        ))
    };
    let mut requested_here = false;
    if refused_without_force(c.state.status) && !force {
        return Err(running_refusal(&c.id, c.state.status));
    }
    loop {
        let Some(before) = daemon.containers.get(&c.id) else {
            return Ok(());
        };
        if before.state.status.is_running() {
            // Only with `force` (refused above otherwise, or below once locked).
            if !requested_here {
                state_changes::removal_requested(daemon, &c.id).map_err(|_| in_progress())?;
                requested_here = true;
            }
            match super::lifecycle::signal_with_event(daemon, &before, 9).await {
                // Stopped meanwhile (409): its exit path records it.
                Ok(()) | Err(ContainerError::Conflict(_)) => {}
                // The kill did not reach it (berth-containerd down): dockerd's error, at
                // once, rather than waiting for an exit that is not coming.
                Err(e) => {
                    state_changes::removal_abandoned(daemon, &c.id);
                    return Err(ContainerError::Internal(format!(
                        "Could not kill running container {}, cannot remove: {e}",
                        c.id
                    )));
                }
            }
            if !super::lifecycle::wait_stopped(daemon, &c.id, Some(Duration::from_secs(30))).await {
                state_changes::removal_abandoned(daemon, &c.id);
                return Err(ContainerError::Internal(format!(
                    "Could not kill running container {}, cannot remove",
                    c.id
                )));
            }
        }
        // A start in progress finishes first; the exit path finishes its teardown.
        let _guard = daemon.container_locks.lock(&c.id).await;
        let Some(now) = daemon.containers.get(&c.id) else {
            // It removed itself on exit (AutoRemove) while we waited.
            return Ok(());
        };
        match now.state.status {
            // A start that was under way when we looked finished first: with `force`,
            // kill that run too (once the removal is requested, no other start begins).
            Status::Running | Status::Paused if force => continue,
            Status::Running | Status::Paused => {
                return Err(running_refusal(&c.id, now.state.status))
            }
            status @ Status::Restarting if !force => return Err(running_refusal(&c.id, status)),
            Status::Removing if requested_here => {}
            Status::Removing => return Err(in_progress()),
            _ => {
                state_changes::removal_started(daemon, &c.id).map_err(|_| in_progress())?;
            }
        }
        return destroy(daemon, &c.id).await;
    }
}

/// dockerd's `IsRunning()` in `cleanupContainer`: running, paused, or waiting for the
/// restart policy's next run (a forced removal cancels that run).
fn refused_without_force(status: Status) -> bool {
    status.is_running() || status == Status::Restarting
}

/// dockerd 20.10's text (`cleanupContainer`), with the state's name.
fn running_refusal(id: &str, status: Status) -> ContainerError {
    let procedure = "Stop the container before attempting removal or force remove";
    let procedure = if status == Status::Paused {
        format!("Unpause and then {}", procedure.to_lowercase())
    } else {
        procedure.to_string()
    };
    ContainerError::Conflict(format!(
        "You cannot remove a {} container {id}. {procedure}",
        status.as_str()
    ))
}

/// `--rm`: the container removes itself after its exit, taking its anonymous volumes.
pub async fn auto_remove(daemon: &SharedDaemon, id: &str) {
    let Some(c) = daemon.containers.get(id) else {
        return;
    };
    match remove(daemon, id, true).await {
        // `--rm` takes the anonymous volumes along, as `rm -v`.
        Ok(()) => super::mounts::remove_anonymous_volumes(daemon, &c),
        Err(e) => tracing::warn!(%id, error = %e, "auto-removing the container"),
    }
}

/// Deletes the task, releases the run's environment, forgets the record; publishes
/// `destroy`. The caller holds the container's lock and the container does not run.
pub async fn destroy(daemon: &SharedDaemon, id: &str) -> Result<()> {
    let Some(c) = daemon.containers.get(id) else {
        return Ok(());
    };
    health::stop(daemon, id);
    if c.state.has_task {
        if let Err(e) = daemon.engine.delete(c.task_id()).await {
            if !e.is_not_found() {
                tracing::warn!(id, error = %e, "deleting the task of a removed container");
            }
        }
    }
    daemon.environment.teardown(daemon, &c).await;
    let _stage = timing::stage("remove.record", id);
    let folder_can_go = rootfs::release_for_removal(&c);
    if let Err(e) = daemon.containers.remove(id, folder_can_go) {
        state_changes::removal_failed(daemon, id, e.to_string());
        return Err(e);
    }
    daemon.execs.remove_container(id);
    daemon.networks.forget_container_state(&c.dir);
    daemon.container_locks.forget(id);
    daemon
        .events
        .publish("container", "destroy", id, c.event_attributes());
    // The last holder of a force-deleted image's layers: they go with it.
    if !c.layers.is_empty() && !daemon.images.contains(&c.image_id) {
        let d = daemon.clone();
        let collected = tokio::task::spawn_blocking(move || d.collect_garbage()).await;
        if let Ok(Err(e)) = collected {
            tracing::warn!(id, error = %e, "collecting the layers of a deleted image");
        }
    }
    Ok(())
}
