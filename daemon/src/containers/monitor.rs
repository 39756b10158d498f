//! Exits: one waiter per running task (`POST /tasks/{id}/wait` on berth-containerd),
//! the reconciliation with `GET /tasks` after berthd starts, auto-remove and restart
//! policies.
use std::time::Duration;

use bollard_stubs::models::RestartPolicyNameEnum;

use super::engine::{EngineError, ExitInfo, TaskStatus};
use super::record::{Container, Status};
use super::{lifecycle, rootfs};
use crate::state::SharedDaemon;

/// Follows the container's task until it exits, then records the exit.
pub fn watch_task(daemon: SharedDaemon, id: String) {
    tokio::spawn(async move {
        let Some(c) = daemon.containers.get(&id) else {
            return;
        };
        let started_at = c.state.started_at;
        let task = c.task_id().to_string();
        let mut delay = Duration::from_millis(200);
        loop {
            match daemon.engine.wait(&task, None).await {
                Ok(exit) => {
                    handle_exit(&daemon, &id, started_at, exit).await;
                    return;
                }
                Err(e) if e.is_not_found() => {
                    // The task is gone without an exit we saw: the engine lost it.
                    let exit = ExitInfo {
                        exit_status: 255,
                        exited_at: String::new(),
                        oom_killed: false,
                    };
                    handle_exit(&daemon, &id, started_at, exit).await;
                    return;
                }
                Err(e) => {
                    tracing::debug!(%id, error = %e, "waiting on the task; retrying");
                    if matches!(e, EngineError::Unavailable(_)) {
                        relaunch_engine(&daemon).await;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
}

/// Starts berth-containerd again if it died.
async fn relaunch_engine(daemon: &SharedDaemon) {
    if daemon.engine.ping().await {
        return;
    }
    if let Err(e) = super::engine::launcher::connect_or_launch(&daemon.config).await {
        tracing::warn!(error = %e, "berth-containerd is down and could not be restarted");
    }
}

fn parse_time(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now())
}

/// Records an exit (once per start), cleans the task and the mount, publishes `die`,
/// then auto-removes or restarts as the container asks.
pub async fn handle_exit(
    daemon: &SharedDaemon,
    id: &str,
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    exit: ExitInfo,
) {
    let Some(c) = daemon.containers.get(id) else {
        return;
    };
    if c.state.started_at != started_at || !c.state.status.is_running() {
        return; // this exit was recorded already, or belongs to an earlier run
    }
    super::health::stop(daemon, id);
    if let Err(e) = daemon.engine.delete(c.task_id()).await {
        if !e.is_not_found() {
            tracing::warn!(%id, error = %e, "deleting the exited task");
        }
    }
    super::mounts_setup::release(daemon, &c);
    rootfs::unmount_rootfs(&c);
    crate::networks::sandbox::release(daemon, &c).await;
    let code = exit.exit_status as i64;
    let finished = if exit.exited_at.is_empty() {
        chrono::Utc::now()
    } else {
        parse_time(&exit.exited_at)
    };
    // Exited and, when the policy says so, Restarting in one step: a stop in between
    // would otherwise see an exited container and leave the restart to happen.
    let updated = daemon.containers.update(id, |r| {
        r.state.status = Status::Exited;
        r.state.pid = 0;
        r.state.exit_code = code;
        r.state.oom_killed = exit.oom_killed;
        r.state.finished_at = Some(finished);
        r.state.has_task = false;
        if r.auto_remove() || !should_restart(r) {
            return Ok(None);
        }
        let delay = backoff(r);
        r.state.status = Status::Restarting;
        r.restart_count += 1;
        Ok(Some(delay))
    });
    let Ok((c, restart_after)) = updated else {
        return;
    };
    let mut attrs = c.event_attributes();
    attrs.insert("exitCode".into(), code.to_string());
    daemon.events.publish("container", "die", id, attrs);
    daemon.containers.notify_exit(id, code);
    if c.auto_remove() {
        match lifecycle::destroy(daemon, id).await {
            // `--rm` takes the anonymous volumes along, as `rm -v`.
            Ok(()) => super::mounts::remove_anonymous_volumes(daemon, &c),
            Err(e) => tracing::warn!(%id, error = %e, "auto-removing the container"),
        }
        return;
    }
    if let Some(delay) = restart_after {
        schedule_restart(daemon.clone(), c, delay);
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

/// dockerd's backoff: 100 ms doubling per restart, reset after 10 s of running, at most 1 min.
fn backoff(c: &Container) -> Duration {
    let ran = match (c.state.started_at, c.state.finished_at) {
        (Some(s), Some(f)) => (f - s).num_milliseconds(),
        _ => 0,
    };
    if ran >= 10_000 {
        return Duration::from_millis(100);
    }
    let exp = c.restart_count.min(10) as u32;
    Duration::from_millis(100u64 << exp).min(Duration::from_secs(60))
}

/// Starts the container again after `delay`, unless it was stopped or removed meanwhile.
fn schedule_restart(daemon: SharedDaemon, c: Container, delay: Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let Some(current) = daemon.containers.get(&c.id) else {
            return;
        };
        if current.state.status != Status::Restarting {
            return;
        }
        if current.state.manually_stopped {
            // Stopped while waiting for this run.
            let _ = daemon.containers.update(&c.id, |r| {
                r.state.status = Status::Exited;
                Ok(())
            });
            return;
        }
        match lifecycle::start_container(&daemon, &current).await {
            Ok(()) => {
                daemon
                    .events
                    .publish("container", "start", &c.id, current.event_attributes());
                // A `docker stop` that came while this run was starting still wins.
                if let Some(now) = daemon.containers.get(&c.id) {
                    if now.state.manually_stopped && now.state.status.is_running() {
                        if let Err(e) =
                            lifecycle::stop_container(&daemon, &now, Some(0), None).await
                        {
                            tracing::warn!(id = %c.id, error = %e, "stopping a restarted container");
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(id = %c.id, error = %e, "restarting the container");
                let _ = daemon.containers.update(&c.id, |r| {
                    r.state.status = Status::Exited;
                    Ok(())
                });
            }
        }
    });
}

/// After berthd starts: matches records with berth-containerd's tasks. Running tasks get
/// a waiter again; exits that happened meanwhile are recorded; containers whose policy
/// says so are started.
pub async fn reconcile(daemon: &SharedDaemon) {
    let tasks = match daemon.engine.list().await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "listing berth-containerd's tasks");
            return;
        }
    };
    for c in daemon.containers.list() {
        let task = tasks.iter().find(|t| t.id == c.task_id());
        match (c.state.status, task) {
            (Status::Running | Status::Paused, Some(t)) if t.status.is_live() => {
                let paused = t.status == TaskStatus::Paused;
                let _ = daemon.containers.update(&c.id, |r| {
                    r.state.status = if paused {
                        Status::Paused
                    } else {
                        Status::Running
                    };
                    r.state.pid = t.pid;
                    Ok(())
                });
                watch_task(daemon.clone(), c.id.clone());
                super::health::start(daemon, &c.id);
            }
            (Status::Running | Status::Paused, Some(t)) => {
                let exit = ExitInfo {
                    exit_status: t.exit_status.unwrap_or(255),
                    exited_at: t.exited_at.clone().unwrap_or_default(),
                    oom_killed: false,
                };
                handle_exit(daemon, &c.id, c.state.started_at, exit).await;
            }
            (Status::Running | Status::Paused, None) => {
                let exit = ExitInfo {
                    exit_status: 255,
                    exited_at: String::new(),
                    oom_killed: false,
                };
                handle_exit(daemon, &c.id, c.state.started_at, exit).await;
            }
            (Status::Restarting, _) => {
                let _ = daemon.containers.update(&c.id, |r| {
                    r.state.status = Status::Exited;
                    Ok(())
                });
            }
            _ => {}
        }
    }
    let known: std::collections::HashSet<String> =
        daemon.containers.list().into_iter().map(|c| c.id).collect();
    remove_orphan_tasks(daemon, &tasks, &known).await;
    rootfs::remove_unrecorded(&daemon.config.data_root.join("containers"), &known);
    // Containers with "always" (or "unless-stopped" not stopped by hand) start with the daemon.
    for c in daemon.containers.list() {
        let wants = matches!(
            c.host_config.restart_policy.as_ref().and_then(|p| p.name),
            Some(RestartPolicyNameEnum::ALWAYS) | Some(RestartPolicyNameEnum::UNLESS_STOPPED)
        );
        if wants && !c.state.manually_stopped && c.state.status == Status::Exited {
            if let Err(e) = lifecycle::start_container(daemon, &c).await {
                tracing::warn!(id = %c.id, error = %e, "starting the container at daemon start");
            }
        }
    }
}

/// Tasks whose container record is gone (a crash between a removal's steps) are killed
/// and deleted: nothing else would ever stop them or free what they hold.
async fn remove_orphan_tasks(
    daemon: &SharedDaemon,
    tasks: &[super::engine::TaskView],
    containers: &std::collections::HashSet<String>,
) {
    let known: std::collections::HashSet<&str> = containers
        .iter()
        .map(|id| super::record::task_id_of(id))
        .collect();
    // Pods' tasks (the CRI's namespace) are the CRI's to manage.
    for t in tasks
        .iter()
        .filter(|t| !known.contains(t.id.as_str()) && !berth_cri::is_cri_task(&t.id))
    {
        tracing::warn!(task = %t.id, "removing a task whose container is gone");
        if t.status.is_live() {
            if t.status == TaskStatus::Paused {
                // A frozen process takes its SIGKILL only once thawed.
                let _ = daemon.engine.resume(&t.id).await;
            }
            let _ = daemon.engine.kill(&t.id, 9, None).await;
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                daemon.engine.wait(&t.id, None),
            )
            .await;
        }
        if let Err(e) = daemon.engine.delete(&t.id).await {
            tracing::warn!(task = %t.id, error = %e, "deleting a task whose container is gone");
        }
    }
}

/// Connects to (or launches) berth-containerd and reconciles; called once at start-up.
pub async fn start_engine(daemon: &SharedDaemon) {
    match super::engine::launcher::connect_or_launch(&daemon.config).await {
        Ok(_) => {
            reconcile(daemon).await;
            super::engine_events::spawn(daemon.clone());
        }
        Err(e) => {
            tracing::error!(error = %e, "containers cannot run until berth-containerd answers")
        }
    }
}
