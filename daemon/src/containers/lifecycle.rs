//! Stop, kill, pause, unpause, restart and rename, through the task engine, as dockerd's
//! `daemon/stop.go`, `kill.go`, `pause.go`, `restart.go`. None of them holds the
//! container's lock while it waits for an exit: the exit path (`exit`) takes it to record
//! the exit, so `die` is published before the network is released, as in dockerd.
use std::time::Duration;

use super::record::{Container, Status};
use super::to_the_end::to_the_end;
use super::{signals, state_changes, ContainerError, Result};
use crate::state::SharedDaemon;

pub use super::environment::bundle_dir;
pub use super::remove::{destroy, remove};
pub use super::start::{parse_size, start};

/// The arguments of an operation, owned by the task that runs it (`to_the_end`).
fn owned(
    daemon: &SharedDaemon,
    reference: &str,
    signal: Option<&str>,
) -> (SharedDaemon, String, Option<String>) {
    (
        daemon.clone(),
        reference.to_string(),
        signal.map(str::to_string),
    )
}

fn not_running(c: &Container) -> ContainerError {
    ContainerError::Conflict(format!("Container {} is not running", c.id))
}

/// Sends a signal; 409 when the container is not running.
pub async fn kill(daemon: &SharedDaemon, reference: &str, signal: Option<&str>) -> Result<()> {
    let (daemon, reference, signal) = owned(daemon, reference, signal);
    to_the_end(async move { kill_now(&daemon, &reference, signal.as_deref()).await }).await
}

async fn kill_now(daemon: &SharedDaemon, reference: &str, signal: Option<&str>) -> Result<()> {
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
        let _ = state_changes::stop_requested(daemon, &c.id);
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
/// dockerd's `killWithSignal` does for `docker kill`, `stop` and `rm -f` alike. A paused
/// container is thawed after the signal when the signal is one that ends it. Under the
/// container's lock, as the exit path: the `die` the signal causes comes after its
/// `kill` (the caller holds no lock of this container).
pub(crate) async fn signal_with_event(
    daemon: &SharedDaemon,
    c: &Container,
    signo: i32,
) -> Result<()> {
    let _before_the_exit = daemon.container_locks.lock(&c.id).await;
    send_signal(daemon, c, signo).await?;
    let paused = daemon
        .containers
        .get(&c.id)
        .is_some_and(|now| now.state.status == Status::Paused);
    if paused && ends_the_container(c, signo) {
        // As dockerd: a frozen process takes the signal once it is thawed.
        if daemon.engine.resume(c.task_id()).await.is_ok() {
            let _ = state_changes::resumed(daemon, &c.id);
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

/// Waits up to `timeout` (None: forever) for the container to stop running (or to go).
pub(crate) async fn wait_stopped(
    daemon: &SharedDaemon,
    id: &str,
    timeout: Option<Duration>,
) -> bool {
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
    let (daemon, reference, signal) = owned(daemon, reference, signal);
    to_the_end(async move { stop_now(&daemon, &reference, timeout, signal.as_deref()).await }).await
}

async fn stop_now(
    daemon: &SharedDaemon,
    reference: &str,
    timeout: Option<i64>,
    signal: Option<&str>,
) -> Result<()> {
    let c = daemon.containers.lookup(reference)?;
    if c.state.status == Status::Restarting {
        // Waiting for its next run: cancel it.
        state_changes::stop_requested(daemon, &c.id)?;
        state_changes::restart_cancelled(daemon, &c.id);
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

/// The stop sequence of a running container (dockerd's `containerStop`).
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
    let _ = state_changes::stop_requested(daemon, &c.id);
    let stopped = 'stopped: {
        // A signal that does not reach the container (berth-containerd down) goes
        // straight to SIGKILL, as dockerd's "Failed to send signal … force killing"; one
        // that finds it stopped (409) waits for the exit being recorded.
        if signo != 9
            && matches!(
                signal_with_event(daemon, c, signo).await,
                Ok(()) | Err(ContainerError::Conflict(_))
            )
        {
            let limit = (timeout >= 0).then(|| Duration::from_secs(timeout as u64));
            if wait_stopped(daemon, &c.id, limit).await {
                break 'stopped true;
            }
        }
        if let Err(e) = signal_with_event(daemon, c, 9).await {
            if !matches!(e, ContainerError::Conflict(_)) {
                return Err(ContainerError::Internal(format!(
                    "Cannot kill container {}: {e}",
                    c.id
                )));
            }
        }
        wait_stopped(daemon, &c.id, Some(Duration::from_secs(30))).await
    };
    if !stopped {
        return Err(ContainerError::Internal(format!(
            "cannot stop container: {}: tried to kill container, but did not receive an exit event",
            c.id
        )));
    }
    // An exit of its own just before the stop may have scheduled a restart: the stop wins.
    state_changes::restart_cancelled(daemon, &c.id);
    Ok(())
}

/// `docker restart`: stop (as `stop`), then start; `restart` is published after `start`.
pub async fn restart(
    daemon: &SharedDaemon,
    reference: &str,
    timeout: Option<i64>,
    signal: Option<&str>,
) -> Result<()> {
    let (daemon, reference, signal) = owned(daemon, reference, signal);
    to_the_end(async move { restart_now(&daemon, &reference, timeout, signal.as_deref()).await })
        .await
}

async fn restart_now(
    daemon: &SharedDaemon,
    reference: &str,
    timeout: Option<i64>,
    signal: Option<&str>,
) -> Result<()> {
    let c = daemon.containers.lookup(reference)?;
    if c.state.status.is_running() {
        stop_container(daemon, &c, timeout, signal).await?;
    }
    let guard = daemon.container_locks.lock(&c.id).await;
    let c = state_changes::start_requested(daemon, &c.id)?;
    super::start::run(daemon, &c).await?;
    drop(guard);
    daemon
        .events
        .publish("container", "restart", &c.id, c.event_attributes());
    Ok(())
}

pub async fn pause(daemon: &SharedDaemon, reference: &str) -> Result<()> {
    let (daemon, reference, _) = owned(daemon, reference, None);
    to_the_end(async move { pause_now(&daemon, &reference).await }).await
}

async fn pause_now(daemon: &SharedDaemon, reference: &str) -> Result<()> {
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
    state_changes::paused(daemon, &c.id)?;
    Ok(())
}

pub async fn unpause(daemon: &SharedDaemon, reference: &str) -> Result<()> {
    let (daemon, reference, _) = owned(daemon, reference, None);
    to_the_end(async move { unpause_now(&daemon, &reference).await }).await
}

async fn unpause_now(daemon: &SharedDaemon, reference: &str) -> Result<()> {
    let c = daemon.containers.lookup(reference)?;
    if c.state.status != Status::Paused {
        return Err(ContainerError::Conflict(format!(
            "Container {} is not paused",
            c.id
        )));
    }
    daemon.engine.resume(c.task_id()).await?;
    state_changes::resumed(daemon, &c.id)?;
    Ok(())
}

pub fn rename(daemon: &SharedDaemon, reference: &str, new_name: &str) -> Result<()> {
    let new_name = new_name.trim();
    if new_name.trim_start_matches('/').is_empty() {
        return Err(ContainerError::Invalid(
            "Neither old nor new names may be empty".into(),
        ));
    }
    let c = daemon.containers.lookup(reference.trim())?;
    // As dockerd's ContainerRename: the same name first, then the name reserved (its
    // errors, a bad name included, wrapped as "Error when allocating new name: …").
    let canonical = format!("/{}", new_name.strip_prefix('/').unwrap_or(new_name));
    if canonical == c.name {
        return Err(ContainerError::Invalid(
            "Renaming a container with the same name as its current name".into(),
        ));
    }
    let new_name = super::names::validate(&canonical).map_err(|e| match e {
        ContainerError::Invalid(m) => {
            ContainerError::Invalid(format!("Error when allocating new name: {m}"))
        }
        other => other,
    })?;
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
