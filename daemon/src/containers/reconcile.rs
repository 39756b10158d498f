//! Matching the container records with berth-containerd's tasks: at start-up (after
//! berthd restarts, its containers kept running) and after the event stream reconnects.
//! Running tasks are adopted; exits that happened meanwhile go through the exit path;
//! tasks whose container is gone, or recorded created or exited, are killed and
//! deleted; at start-up what interrupted runs left is released (mounts, network
//! namespaces, addresses, processes in a container's cgroup) and interrupted removals
//! are finished. Then, once the network's leftovers are released too
//! (`start_by_restart_policy`), containers with `always` (or `unless-stopped`, not
//! stopped by hand) are started, as dockerd's `restore`.
use std::collections::HashSet;

use bollard_stubs::models::RestartPolicyNameEnum;

use super::engine::{ExitInfo, TaskStatus, TaskView};
use super::record::{task_id_of, Status};
use super::{exit, rootfs, state_changes};
use crate::state::SharedDaemon;

/// Connects to (or launches) berth-containerd, reconciles, and follows its events;
/// called once at start-up. Whether berth-containerd answered.
pub async fn start_engine(daemon: &SharedDaemon) -> bool {
    match daemon.engine.ensure_running().await {
        Ok(()) => {
            reconcile(daemon).await;
            super::engine_events::spawn(daemon.clone());
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "containers cannot run until berth-containerd answers");
            false
        }
    }
}

/// After berthd starts: every record against the tasks.
pub async fn reconcile(daemon: &SharedDaemon) {
    let tasks = match daemon.engine.list().await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "listing berth-containerd's tasks");
            return;
        }
    };
    for c in daemon.containers.list() {
        if c.state.status.is_running() {
            // Its run holds its environment (mounted before berthd restarted).
            daemon.environment.adopt(&c);
        }
        let task = tasks.iter().find(|t| t.id == c.task_id());
        match (c.state.status, task) {
            (Status::Running | Status::Paused, Some(t)) if t.status.is_live() => {
                let paused = t.status == TaskStatus::Paused;
                state_changes::adopted(daemon, &c.id, paused, t);
                if c.state.removal_requested {
                    finish_forced_removal(daemon, &c.id, t).await;
                }
            }
            (Status::Running | Status::Paused, _) => {
                let (pid, exit) = exit_of(c.state.pid, task);
                exit::record_exit(daemon, &c.id, pid, exit).await;
            }
            (Status::Restarting, _) => {
                state_changes::restart_cancelled(daemon, &c.id);
            }
            _ => {}
        }
    }
    // Containers that do not run keep no task (a start cut short leaves a created task
    // whose init waits forever) and nothing a run of theirs held; a removal that was
    // under way is finished.
    for c in daemon.containers.list() {
        if c.state.status.is_running() {
            continue;
        }
        remove_stale_task(daemon, &c.id, &tasks).await;
        if c.state.removal_requested || c.state.status == Status::Removing {
            let _guard = daemon.container_locks.lock(&c.id).await;
            tracing::info!(id = %c.id, "finishing a removal that was under way");
            if let Err(e) = super::remove::destroy(daemon, &c.id).await {
                tracing::warn!(id = %c.id, error = %e, "finishing a removal");
            }
        } else {
            daemon.environment.release_leftovers(daemon, &c).await;
        }
    }
    let known: HashSet<String> = daemon.containers.list().into_iter().map(|c| c.id).collect();
    remove_orphan_tasks(daemon, &tasks, &known).await;
    rootfs::remove_unrecorded(&daemon.config.data_root.join("containers"), &known);
    release_unowned_addresses(daemon).await;
}

/// At start-up, once what interrupted runs left is released (the network's namespaces
/// included: `networks::sandbox::restore`), containers with "always" (or
/// "unless-stopped", not stopped by hand) start with the daemon, as dockerd's restore.
pub async fn start_by_restart_policy(daemon: &SharedDaemon) {
    for c in daemon.containers.list() {
        let wants = matches!(
            c.host_config.restart_policy.as_ref().and_then(|p| p.name),
            Some(RestartPolicyNameEnum::ALWAYS) | Some(RestartPolicyNameEnum::UNLESS_STOPPED)
        );
        if wants && !c.state.manually_stopped && c.state.status == Status::Exited {
            let _guard = daemon.container_locks.lock(&c.id).await;
            if let Err(e) = super::start::run(daemon, &c).await {
                tracing::warn!(id = %c.id, error = %e, "starting the container at daemon start");
            }
        }
    }
}

/// After the event stream (re)connects: the exits of running containers whose task
/// stopped or went while nobody listened.
pub async fn sync_exits(daemon: &SharedDaemon) {
    // The records before the tasks: a container started after this snapshot has its
    // task in the list below or is left out; never is a fresh run taken for gone.
    let running: Vec<_> = daemon
        .containers
        .list()
        .into_iter()
        .filter(|c| c.state.status.is_running())
        .collect();
    let Ok(tasks) = daemon.engine.list().await else {
        return;
    };
    for c in running {
        let task = tasks.iter().find(|t| t.id == c.task_id());
        if task.is_some_and(|t| t.status.is_live()) {
            continue;
        }
        // The run seen in the snapshot: a later run (another pid) is left alone.
        let (pid, exit) = exit_of(c.state.pid, task);
        exit::record_exit(daemon, &c.id, pid, exit).await;
    }
    for c in daemon.containers.list() {
        if !c.state.status.is_running() {
            remove_stale_task(daemon, &c.id, &tasks).await;
        }
    }
    // Tasks whose container is gone (a removal whose task deletion failed while
    // berth-containerd was down). The records are read after the task list: a container
    // created meanwhile is known. Killed and deleted in a task of their own, so that
    // events go on meanwhile.
    let known: HashSet<String> = daemon.containers.list().into_iter().map(|c| c.id).collect();
    let daemon_for_orphans = daemon.clone();
    let orphans = tokio::spawn(async move {
        remove_orphan_tasks(&daemon_for_orphans, &tasks, &known).await;
    });
    super::exec::sync_exits(daemon).await;
    let _ = orphans.await;
}

/// The task of a container recorded created or exited is a leftover (a start cut
/// short, an exit whose task was not deleted): killed and deleted. Under the
/// container's lock, so a start in progress (whose task is created before the record
/// says running) finishes first and is left alone.
async fn remove_stale_task(daemon: &SharedDaemon, id: &str, tasks: &[TaskView]) {
    let Some(t) = tasks.iter().find(|t| t.id == task_id_of(id)) else {
        return;
    };
    let _guard = daemon.container_locks.lock(id).await;
    if daemon
        .containers
        .get(id)
        .is_some_and(|c| c.state.status.is_running())
    {
        return;
    }
    tracing::info!(task = %t.id, container = %id, "removing the task of a container that does not run");
    stop_and_delete(daemon, t).await;
    let _ = daemon.containers.update(id, |r| {
        r.state.has_task = false;
        Ok(())
    });
}

/// A `rm -f` was under way when berthd stopped: the container still runs, and its record
/// refuses another removal ("already in progress"). Its kill is finished here and the
/// exit recorded (the removal itself follows with the other interrupted removals), as
/// dockerd's restore removes, with force, a container marked for removal. Should the
/// task not stop, the removal is abandoned, so that a later `rm -f` tries again.
async fn finish_forced_removal(daemon: &SharedDaemon, id: &str, t: &TaskView) {
    tracing::info!(%id, "finishing a forced removal that was under way");
    if t.status == TaskStatus::Paused {
        let _ = daemon.engine.resume(&t.id).await;
    }
    let _ = daemon.engine.kill(&t.id, 9, None).await;
    match tokio::time::timeout(KILL_WAIT, daemon.engine.wait(&t.id, None)).await {
        Ok(Ok(exit)) => exit::record_exit(daemon, id, t.pid, exit).await,
        Ok(Err(e)) if e.is_not_found() => {
            exit::record_exit(daemon, id, t.pid, ExitInfo::now(137)).await
        }
        _ => {
            tracing::warn!(%id, "the container of an interrupted removal did not stop");
            state_changes::removal_abandoned(daemon, id);
        }
    }
}

/// How long a SIGKILLed task is waited for.
const KILL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Kills a task (thawing it first) and deletes it.
async fn stop_and_delete(daemon: &SharedDaemon, t: &TaskView) {
    if t.status == TaskStatus::Running || t.status == TaskStatus::Paused {
        if t.status == TaskStatus::Paused {
            // A frozen process takes its SIGKILL only once thawed.
            let _ = daemon.engine.resume(&t.id).await;
        }
        let _ = daemon.engine.kill(&t.id, 9, None).await;
        let _ = tokio::time::timeout(KILL_WAIT, daemon.engine.wait(&t.id, None)).await;
    }
    // A created task's init is killed by the runtime's delete.
    if let Err(e) = daemon.engine.delete(&t.id).await {
        if !e.is_not_found() {
            tracing::warn!(task = %t.id, error = %e, "deleting a leftover task");
        }
    }
}

/// Addresses, endpoints and published ports netd holds for containers that are not
/// recorded at all (a crash between a removal's steps): released. Those of recorded
/// containers that do not run went with `release_leftovers`.
async fn release_unowned_addresses(daemon: &SharedDaemon) {
    let Ok(netd) = daemon.networks.netd() else {
        return;
    };
    let Ok(holders) = netd.holders() else {
        return;
    };
    let netns_dir = daemon.config.exec_root.join("netns");
    for id in holders {
        if daemon.containers.get(&id).is_some() {
            continue;
        }
        tracing::info!(container = %id, "releasing the addresses of a container that is gone");
        let path = netns_dir.join(&id[..12.min(id.len())]);
        let ns = path
            .exists()
            .then(|| netd::netns::NetnsPath::existing(path));
        if let Err(e) = netd.release_container(&id, ns.as_ref()).await {
            tracing::warn!(container = %id, "releasing a gone container's addresses: {e}");
        }
    }
}

/// The exit of the run whose init was `recorded_pid` (0: unknown): the stopped task's,
/// or 255 when its task is gone; with that pid, so the exit path records it against
/// that run only.
fn exit_of(recorded_pid: u32, task: Option<&TaskView>) -> (u32, ExitInfo) {
    match task {
        Some(t) if recorded_pid == 0 || t.pid == recorded_pid => {
            (t.pid, t.exit().unwrap_or_else(|| ExitInfo::now(255)))
        }
        // Gone, or the task of a later run (its own exit comes by its own event).
        _ => (recorded_pid, ExitInfo::now(255)),
    }
}

/// Tasks whose container record is gone (a crash between a removal's steps, or a task
/// deletion that failed while berth-containerd was down) are killed and deleted:
/// nothing else would ever stop them or free what they hold.
async fn remove_orphan_tasks(
    daemon: &SharedDaemon,
    tasks: &[TaskView],
    containers: &HashSet<String>,
) {
    let known: HashSet<&str> = containers.iter().map(|id| task_id_of(id)).collect();
    // Pods' tasks (the CRI's namespace, `k8s.<id>`) are the CRI's to manage.
    for t in tasks
        .iter()
        .filter(|t| !known.contains(t.id.as_str()) && !berth_cri::is_cri_task(&t.id))
    {
        tracing::warn!(task = %t.id, "removing a task whose container is gone");
        stop_and_delete(daemon, t).await;
    }
}
