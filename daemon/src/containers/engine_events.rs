//! Following berth-containerd's `GET /events`: exits are recorded as soon as they are
//! published (the per-task waiters of `monitor` are the backstop), OOM kills become
//! `oom` container events. After each (re)connect, `GET /tasks` catches the exits
//! that happened while nobody listened (`/events` does not replay).
use std::time::Duration;

use super::engine::{ExitInfo, TaskStatus};
use super::monitor;
use crate::state::SharedDaemon;
use berth_proto::{Event, EventKind};

/// Runs for the daemon's life.
pub fn spawn(daemon: SharedDaemon) {
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(200);
        loop {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
            let follower = {
                let engine = daemon.engine.clone();
                tokio::spawn(async move {
                    engine
                        .follow_events(move |ev| {
                            let _ = tx.send(ev);
                        })
                        .await
                })
            };
            // Connected (or failing): catch up with what happened meanwhile.
            sync_exits(&daemon).await;
            while let Some(ev) = rx.recv().await {
                delay = Duration::from_millis(200);
                handle(&daemon, ev).await;
            }
            match follower.await {
                Ok(Ok(())) => tracing::debug!("berth-containerd's event stream ended"),
                Ok(Err(e)) => tracing::debug!(error = %e, "berth-containerd's event stream"),
                Err(e) => tracing::debug!(error = %e, "event follower"),
            }
            if !daemon.engine.ping().await {
                if let Err(e) = super::engine::launcher::connect_or_launch(&daemon.config).await {
                    tracing::warn!(error = %e, "berth-containerd is down");
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    });
}

async fn handle(daemon: &SharedDaemon, ev: Event) {
    let Some(c) = daemon.containers.by_task_id(&ev.id) else {
        return;
    };
    match ev.kind {
        EventKind::Oom => daemon
            .events
            .publish("container", "oom", &c.id, c.event_attributes()),
        EventKind::Exit if ev.exec_id.is_none() => {
            // The waiter holds the exit's details (time, OOM flag); give it a moment,
            // then record what the event says if it has not.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let exit = match daemon.engine.get(c.task_id()).await {
                Ok(t) if t.status == TaskStatus::Stopped => ExitInfo {
                    exit_status: t.exit_status.or(ev.exit_status).unwrap_or(255),
                    exited_at: t.exited_at.unwrap_or_default(),
                    oom_killed: false,
                },
                // A new run of the container (a restart) already has the task ID.
                Ok(_) => return,
                Err(e) if e.is_not_found() => ExitInfo {
                    exit_status: ev.exit_status.unwrap_or(255),
                    exited_at: String::new(),
                    oom_killed: false,
                },
                Err(_) => return,
            };
            monitor::handle_exit(daemon, &c.id, c.state.started_at, exit).await;
        }
        _ => {}
    }
}

/// Records the exits of containers whose task stopped or vanished.
pub async fn sync_exits(daemon: &SharedDaemon) {
    let Ok(tasks) = daemon.engine.list().await else {
        return;
    };
    for c in daemon.containers.list() {
        if !c.state.status.is_running() {
            continue;
        }
        let exit = match tasks.iter().find(|t| t.id == c.task_id()) {
            Some(t) if t.status == TaskStatus::Stopped => ExitInfo {
                exit_status: t.exit_status.unwrap_or(255),
                exited_at: t.exited_at.clone().unwrap_or_default(),
                oom_killed: false,
            },
            Some(_) => continue,
            None => ExitInfo {
                exit_status: 255,
                exited_at: String::new(),
                oom_killed: false,
            },
        };
        monitor::handle_exit(daemon, &c.id, c.state.started_at, exit).await;
    }
}
