//! Following berth-containerd's `GET /events` for the daemon's life: an `exit` carries
//! the whole exit (code, time, OOM flag) and goes straight to the exit path; `oom`
//! becomes the container's `oom` event; `exec-exit` ends an exec (its waiters are woken).
//! `/events` does not replay, so after each (re)subscription the tasks are listed to
//! catch what happened while nobody listened; a stream that ends (berth-containerd went
//! away, or this subscriber fell behind) is followed again after the engine is made to
//! answer.
use std::time::Duration;

use futures::StreamExt;

use super::engine::{Event, EventKind};
use super::{exec, exit, reconcile};
use crate::state::SharedDaemon;

/// Runs for the daemon's life.
pub fn spawn(daemon: SharedDaemon) {
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(200);
        loop {
            match daemon.engine.events().await {
                Ok(mut events) => {
                    delay = Duration::from_millis(200);
                    // Subscribed: catch up with what happened meanwhile.
                    reconcile::sync_exits(&daemon).await;
                    while let Some(ev) = events.next().await {
                        handle(&daemon, ev);
                    }
                    tracing::debug!("berth-containerd's event stream ended");
                }
                Err(e) => tracing::debug!(error = %e, "subscribing to berth-containerd's events"),
            }
            if let Err(e) = daemon.engine.ensure_running().await {
                tracing::warn!(error = %e, "berth-containerd is down");
            }
            // Retry back-off before subscribing again.
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    });
}

fn handle(daemon: &SharedDaemon, ev: Event) {
    match ev.kind {
        EventKind::ExecExit => {
            if let (Some(exec_id), Some(code)) = (ev.exec_id.as_deref(), ev.exit_status) {
                exec::exited(daemon, exec_id, i64::from(code));
            }
        }
        EventKind::Oom => {
            if let Some(c) = daemon.containers.by_task_id(&ev.id) {
                daemon
                    .events
                    .publish("container", "oom", &c.id, c.event_attributes());
            }
        }
        EventKind::Exit if ev.exec_id.is_none() => {
            let (Some(c), Some(info)) = (daemon.containers.by_task_id(&ev.id), ev.exit_info())
            else {
                return;
            };
            // In a task of its own: the exit waits for the container's lock (a start in
            // progress) without holding up the other containers' events.
            let daemon = daemon.clone();
            let pid = ev.pid.unwrap_or(0);
            tokio::spawn(async move { exit::record_exit(&daemon, &c.id, pid, info).await });
        }
        _ => {}
    }
}
