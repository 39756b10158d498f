//! Exits and recovery. One waiter per running container (`wait` on its task): the exit
//! is recorded (code, time, OOM kill), the task deleted (the shim exits, its exit file
//! already read) and the exit published. A pause process that dies makes its sandbox
//! NOTREADY. After berthd restarts, `recover` matches the records with berth-containerd's
//! tasks: running ones get a waiter again (the pods never stopped: their shims outlived
//! berthd and berth-containerd), exits that happened meanwhile are recorded, roots are
//! held again, and folders without a record (an interrupted removal) are removed.
use std::sync::Arc;
use std::time::Duration;

use super::Cri;
use crate::backend::{BackendError, ExitInfo};
use crate::store::container::ContainerState;
use crate::store::sandbox::SandboxState;

fn exit_time(exit: &ExitInfo) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&exit.exited_at)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or_else(crate::store::now_nanos)
}

/// Follows a running container's task until it exits, then records the exit.
pub fn watch_container(cri: Arc<Cri>, id: String) {
    tokio::spawn(async move {
        let Some(c) = cri.containers.get(&id) else {
            return;
        };
        let task = c.task_id();
        let mut delay = Duration::from_millis(100);
        loop {
            match cri.tasks.wait(&task, None).await {
                Ok(exit) => return record_exit(&cri, &id, exit).await,
                Err(BackendError::NotFound(_)) => {
                    let lost = ExitInfo {
                        exit_status: 255,
                        exited_at: String::new(),
                        oom_killed: false,
                    };
                    return record_exit(&cri, &id, lost).await;
                }
                Err(e) => {
                    tracing::debug!(container = %id, error = %e, "waiting for the task; retrying");
                    // Retry back-off while berth-containerd is away (berthd relaunches it).
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    if cri
                        .containers
                        .get(&id)
                        .is_none_or(|c| c.state != ContainerState::Running)
                    {
                        return;
                    }
                }
            }
        }
    });
}

/// Records a container's exit once, deletes its task, publishes it.
async fn record_exit(cri: &Cri, id: &str, exit: ExitInfo) {
    let at = exit_time(&exit);
    let updated = cri.containers.update(id, |r| {
        if r.state != ContainerState::Running {
            return Ok(false);
        }
        r.exit(exit.exit_status as i32, at, exit.oom_killed)?;
        Ok(true)
    });
    let Ok((c, true)) = updated else {
        return;
    };
    if let Err(e) = cri.tasks.delete(&c.task_id()).await {
        if !e.is_not_found() {
            tracing::warn!(container = %id, error = %e, "deleting the exited task");
        }
    }
    tracing::debug!(container = %id, code = exit.exit_status, "container exited");
    let _ = cri.exits.send(id.to_string());
    cri.publish(&c, crate::proto::ContainerEventType::ContainerStoppedEvent);
}

/// Asks the task of a container marked running how it is, recording an exit it missed.
pub async fn check_container(cri: &Cri, id: &str) {
    let Some(c) = cri.containers.get(id) else {
        return;
    };
    if c.state != ContainerState::Running {
        return;
    }
    match cri.tasks.state(&c.task_id()).await {
        Ok(t) if !t.status.is_live() => {
            let exit = ExitInfo {
                exit_status: t.exit_status.unwrap_or(255),
                exited_at: t.exited_at.clone().unwrap_or_default(),
                oom_killed: t.oom_killed,
            };
            record_exit(cri, id, exit).await;
        }
        Ok(_) => {}
        Err(BackendError::NotFound(_)) => {
            let lost = ExitInfo {
                exit_status: 255,
                exited_at: String::new(),
                oom_killed: false,
            };
            record_exit(cri, id, lost).await;
        }
        Err(e) => tracing::warn!(container = %id, error = %e, "task state"),
    }
}

/// Follows a sandbox's pause process: when it dies, the sandbox is NOTREADY.
pub fn watch_sandbox(cri: Arc<Cri>, id: String) {
    tokio::spawn(async move {
        let Some(s) = cri.sandboxes.get(&id) else {
            return;
        };
        let task = s.task_id();
        let mut delay = Duration::from_millis(100);
        loop {
            match cri.tasks.wait(&task, None).await {
                Ok(_) | Err(BackendError::NotFound(_)) => break,
                Err(_) => {
                    // Retry back-off while berth-containerd is away.
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    if cri
                        .sandboxes
                        .get(&id)
                        .is_none_or(|s| s.state != SandboxState::Ready)
                    {
                        return;
                    }
                }
            }
        }
        let _ = cri.sandboxes.update(&id, |r| {
            if r.state == SandboxState::Ready {
                r.stopped();
            }
            Ok(())
        });
    });
}

/// Rebuilds the live view after a restart (see the module header).
pub async fn recover(cri: &Arc<Cri>) {
    let tasks = match cri.tasks.list().await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "listing berth-containerd's tasks; CRI state not recovered");
            Vec::new()
        }
    };
    let state_of = |task: &str| tasks.iter().find(|t| t.id == task);
    for s in cri.sandboxes.list() {
        match s.state {
            SandboxState::Creating => {
                // Interrupted while being set up: nobody was told its ID; undo it.
                cri.tear_down_sandbox_public(&s).await;
                let _ = cri.sandboxes.remove(&s.id);
            }
            SandboxState::Ready => {
                let _ = cri
                    .images
                    .mount_rootfs(&s.image_id, &cri.sandbox_dir(&s.id));
                match state_of(&s.task_id()) {
                    Some(t) if t.status.is_live() => {
                        let pid = t.pid;
                        let _ = cri.sandboxes.update(&s.id, |r| {
                            r.pid = pid;
                            Ok(())
                        });
                        watch_sandbox(cri.clone(), s.id.clone());
                    }
                    _ => {
                        let _ = cri.sandboxes.update(&s.id, |r| {
                            r.stopped();
                            Ok(())
                        });
                    }
                }
            }
            SandboxState::NotReady => {}
        }
    }
    for c in cri.containers.list() {
        if cri.sandboxes.get(&c.sandbox_id).is_none() {
            tracing::warn!(container = %c.id, "container of a sandbox that is gone");
        }
        let _ = cri
            .images
            .mount_rootfs(&c.image_id, &cri.container_dir(&c.id));
        if c.state == ContainerState::Running {
            match state_of(&c.task_id()) {
                Some(t) if t.status.is_live() => {
                    watch_container(cri.clone(), c.id.clone());
                }
                _ => check_container(cri, &c.id).await,
            }
        }
    }
    for dir in cri
        .containers
        .orphan_dirs()
        .into_iter()
        .chain(cri.sandboxes.orphan_dirs())
    {
        tracing::info!(dir = %dir.display(), "removing a CRI folder without a record");
        crate::store::remove_dir_all_quiet(&dir);
    }
}

impl Cri {
    /// Publishes a container event (`GetContainerEvents`).
    pub(crate) fn publish(
        &self,
        c: &crate::store::container::Container,
        kind: crate::proto::ContainerEventType,
    ) {
        if self.events.receiver_count() == 0 {
            return;
        }
        let sandbox = self
            .sandboxes
            .get(&c.sandbox_id)
            .map(|s| super::sandboxes::sandbox_status_public(&s));
        let status = super::status::container_status(self, c);
        let _ = self.events.send(crate::proto::ContainerEventResponse {
            container_id: c.id.clone(),
            container_event_type: kind as i32,
            created_at: crate::store::now_nanos(),
            pod_sandbox_status: sandbox,
            containers_statuses: vec![status],
        });
    }
}
