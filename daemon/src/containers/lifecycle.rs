//! Start, stop, kill, pause, unpause, restart, remove and rename, through berth-containerd.
use std::time::Duration;

use super::record::{Container, Status};
use super::{rootfs, signals, ContainerError, Result};
use crate::state::SharedDaemon;

/// The OCI bundle folder of a container: `<exec-root>/containers/<id>`.
pub(crate) fn bundle_dir(daemon: &SharedDaemon, id: &str) -> std::path::PathBuf {
    daemon.config.exec_root.join("containers").join(id)
}

fn not_running(c: &Container) -> ContainerError {
    ContainerError::Conflict(format!("Container {} is not running", c.id))
}

pub use super::start::{parse_size, start, start_by_user, start_container};

/// Sends a signal; 409 when the container is not running.
pub async fn kill(daemon: &SharedDaemon, reference: &str, signal: Option<&str>) -> Result<()> {
    let c = daemon.containers.lookup(reference)?;
    let signo = match signal.filter(|s| !s.is_empty()) {
        Some(s) => signals::parse(s)?,
        None => 9,
    };
    if !c.state.status.is_running() {
        return Err(ContainerError::Conflict(format!(
            "Cannot kill container: {reference}: Container {} is not running",
            c.id
        )));
    }
    if signo == 9 {
        let _ = daemon.containers.update(&c.id, |r| {
            r.state.manually_stopped = true;
            Ok(())
        });
    }
    signal_with_event(daemon, &c, signo).await?;
    if signo == 9 {
        // dockerd's `Kill`: SIGKILL answers once the container has stopped (10 s at most),
        // so a `rm` right after the kill finds it stopped.
        wait_stopped(daemon, &c.id, Some(Duration::from_secs(10))).await;
    }
    Ok(())
}

/// Sends a signal and, once it is delivered, the `kill` event with its number, as
/// dockerd's `killWithSignal` does for `docker kill`, `stop` and `rm -f` alike.
async fn signal_with_event(daemon: &SharedDaemon, c: &Container, signo: i32) -> Result<()> {
    send_signal(daemon, c, signo).await?;
    if c.state.status == Status::Paused && ends_the_container(c, signo) {
        // As dockerd: a frozen process takes the signal once it is thawed.
        if daemon.engine.resume(c.task_id()).await.is_ok() {
            let _ = daemon.containers.update(&c.id, |r| {
                if r.state.status == Status::Paused {
                    r.state.status = Status::Running;
                }
                Ok(())
            });
            super::health::resume(daemon, &c.id);
        }
    }
    let mut attrs = c.event_attributes();
    attrs.insert("signal".into(), signo.to_string());
    daemon.events.publish("container", "kill", &c.id, attrs);
    Ok(())
}

/// dockerd's `killWithSignal` resumes a paused container for SIGKILL, for its stop
/// signal, and for any signal when it has no stop signal of its own.
fn ends_the_container(c: &Container, signo: i32) -> bool {
    match c.config.stop_signal.as_deref().filter(|s| !s.is_empty()) {
        None => true,
        Some(stop) => signo == 9 || signals::parse(stop).ok() == Some(signo),
    }
}

async fn send_signal(daemon: &SharedDaemon, c: &Container, signo: i32) -> Result<()> {
    match daemon.engine.kill(c.task_id(), signo, None).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_conflict() || e.is_not_found() => Err(not_running(c)),
        Err(e) => Err(e.into()),
    }
}

/// Waits up to `timeout` (None: forever) for the container to stop running.
async fn wait_stopped(daemon: &SharedDaemon, id: &str, timeout: Option<Duration>) -> bool {
    let Some(mut rx) = daemon.containers.watch(id) else {
        return true;
    };
    let check = async {
        loop {
            match daemon.containers.get(id) {
                Some(c) if c.state.status.is_running() => {}
                _ => return,
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, check).await.is_ok(),
        None => {
            check.await;
            true
        }
    }
}

/// Stops a container: StopSignal, then SIGKILL after the timeout. 304 when not running.
pub async fn stop(
    daemon: &SharedDaemon,
    reference: &str,
    timeout: Option<i64>,
    signal: Option<&str>,
) -> Result<()> {
    let c = daemon.containers.lookup(reference)?;
    if c.state.status == Status::Restarting {
        // Waiting for its next run: cancel it.
        daemon.containers.update(&c.id, |r| {
            r.state.manually_stopped = true;
            r.state.status = Status::Exited;
            Ok(())
        })?;
        daemon.containers.notify_exit(&c.id, c.state.exit_code);
        daemon
            .events
            .publish("container", "stop", &c.id, c.event_attributes());
        return Ok(());
    }
    if !c.state.status.is_running() {
        return Err(ContainerError::NotModified);
    }
    stop_container(daemon, &c, timeout, signal).await?;
    daemon
        .events
        .publish("container", "stop", &c.id, c.event_attributes());
    Ok(())
}

pub async fn stop_container(
    daemon: &SharedDaemon,
    c: &Container,
    timeout: Option<i64>,
    signal: Option<&str>,
) -> Result<()> {
    let signal = signal
        .map(str::to_string)
        .or_else(|| c.config.stop_signal.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "SIGTERM".into());
    let signo = signals::parse(&signal)?;
    let timeout = timeout.or(c.config.stop_timeout).unwrap_or(10);
    let _ = daemon.containers.update(&c.id, |r| {
        r.state.manually_stopped = true;
        Ok(())
    });
    if c.state.status == Status::Paused {
        let _ = daemon.engine.resume(c.task_id()).await;
    }
    let stopped = 'stopped: {
        if signo != 9 {
            let _ = signal_with_event(daemon, c, signo).await;
            let limit = (timeout >= 0).then(|| Duration::from_secs(timeout as u64));
            if wait_stopped(daemon, &c.id, limit).await {
                break 'stopped true;
            }
        }
        let _ = signal_with_event(daemon, c, 9).await;
        wait_stopped(daemon, &c.id, Some(Duration::from_secs(30))).await
    };
    if !stopped {
        return Err(ContainerError::Internal(format!(
            "cannot stop container: {}: tried to kill container, but did not receive an exit event",
            c.id
        )));
    }
    // An exit of its own just before the stop may have scheduled a restart: the stop wins.
    let _ = daemon.containers.update(&c.id, |r| {
        if r.state.status == Status::Restarting {
            r.state.status = Status::Exited;
        }
        Ok(())
    });
    Ok(())
}

pub async fn restart(
    daemon: &SharedDaemon,
    reference: &str,
    timeout: Option<i64>,
    signal: Option<&str>,
) -> Result<()> {
    let id = daemon.containers.lookup(reference)?.id;
    let guard = daemon.container_locks.lock(&id).await;
    let c = daemon.containers.lookup(&id)?;
    if c.state.status.is_running() {
        stop_container(daemon, &c, timeout, signal).await?;
    }
    let c = daemon.containers.lookup(&c.id)?;
    start_by_user(daemon, &c).await?;
    drop(guard);
    daemon
        .events
        .publish("container", "restart", &c.id, c.event_attributes());
    Ok(())
}

pub async fn pause(daemon: &SharedDaemon, reference: &str) -> Result<()> {
    let c = daemon.containers.lookup(reference)?;
    match c.state.status {
        Status::Paused => {
            return Err(ContainerError::Conflict(format!(
                "Container {} is already paused",
                c.id
            )))
        }
        Status::Running => {}
        _ => return Err(not_running(&c)),
    }
    daemon.engine.pause(c.task_id()).await?;
    daemon.containers.update(&c.id, |r| {
        r.state.status = Status::Paused;
        Ok(())
    })?;
    super::health::stop(daemon, &c.id);
    daemon
        .events
        .publish("container", "pause", &c.id, c.event_attributes());
    Ok(())
}

pub async fn unpause(daemon: &SharedDaemon, reference: &str) -> Result<()> {
    let c = daemon.containers.lookup(reference)?;
    if c.state.status != Status::Paused {
        return Err(ContainerError::Conflict(format!(
            "Container {} is not paused",
            c.id
        )));
    }
    daemon.engine.resume(c.task_id()).await?;
    daemon.containers.update(&c.id, |r| {
        r.state.status = Status::Running;
        Ok(())
    })?;
    super::health::resume(daemon, &c.id);
    daemon
        .events
        .publish("container", "unpause", &c.id, c.event_attributes());
    Ok(())
}

/// Removes a container; 409 while running unless `force` (then it is killed first).
pub async fn remove(daemon: &SharedDaemon, reference: &str, force: bool) -> Result<()> {
    let id = daemon.containers.lookup(reference)?.id;
    // A start in progress finishes first (then this sees the container running).
    let _guard = daemon.container_locks.lock(&id).await;
    let c = daemon.containers.lookup(&id)?;
    if c.state.status.is_running() {
        if !force {
            let what = if c.state.status == Status::Paused {
                "paused"
            } else {
                "running"
            };
            return Err(ContainerError::Conflict(format!(
                "You cannot remove a {what} container {}. Stop the container before attempting removal or force remove",
                c.id
            )));
        }
        let _ = daemon.containers.update(&c.id, |r| {
            r.state.manually_stopped = true;
            Ok(())
        });
        if c.state.status == Status::Paused {
            let _ = daemon.engine.resume(c.task_id()).await;
        }
        let _ = signal_with_event(daemon, &c, 9).await;
        if !wait_stopped(daemon, &c.id, Some(Duration::from_secs(30))).await {
            return Err(ContainerError::Internal(format!(
                "Could not kill running container {}, cannot remove",
                c.id
            )));
        }
    }
    if daemon.containers.get(&c.id).is_none() {
        // It removed itself on exit (AutoRemove) while we waited.
        return Ok(());
    }
    daemon.containers.update(&c.id, |r| {
        if r.state.status == Status::Removing {
            return Err(ContainerError::Conflict(format!(
                "removal of container {reference} is already in progress"
            )));
        }
        r.state.status = Status::Removing;
        Ok(())
    })?;
    destroy(daemon, &c.id).await
}

/// Deletes the task, unmounts, forgets the record; publishes `destroy`.
pub async fn destroy(daemon: &SharedDaemon, id: &str) -> Result<()> {
    let Some(c) = daemon.containers.get(id) else {
        return Ok(());
    };
    super::health::stop(daemon, id);
    if c.state.has_task {
        if let Err(e) = daemon.engine.delete(c.task_id()).await {
            if !e.is_not_found() {
                tracing::warn!(id, error = %e, "deleting the task of a removed container");
            }
        }
    }
    super::mounts_setup::release(daemon, &c);
    let folder_can_go = rootfs::release_for_removal(&c);
    let _ = std::fs::remove_dir_all(bundle_dir(daemon, id));
    daemon.containers.remove(id, folder_can_go)?;
    daemon.container_locks.forget(id);
    daemon
        .events
        .publish("container", "destroy", id, c.event_attributes());
    Ok(())
}

pub fn rename(daemon: &SharedDaemon, reference: &str, new_name: &str) -> Result<()> {
    if new_name.is_empty() {
        return Err(ContainerError::Invalid(
            "Neither old nor new names may be empty".into(),
        ));
    }
    let c = daemon.containers.lookup(reference)?;
    let new_name = super::names::validate(new_name)?;
    if new_name == c.name {
        return Err(ContainerError::Invalid(
            "Renaming a container with the same name as its current name".into(),
        ));
    }
    // dockerd wraps the name store's conflict: "Error when allocating new name: Conflict. …".
    let renamed = daemon
        .containers
        .rename(&c.id, &new_name)
        .map_err(|e| match e {
            ContainerError::Conflict(m) => {
                ContainerError::Conflict(format!("Error when allocating new name: {m}"))
            }
            other => other,
        })?;
    let mut attrs = renamed.event_attributes();
    attrs.insert("oldName".into(), c.name.clone());
    daemon.events.publish("container", "rename", &c.id, attrs);
    Ok(())
}
