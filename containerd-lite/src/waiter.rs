//! Exit tracking: for each live task a background task holds `POST /wait` on the shim;
//! when it returns, the exit is recorded and published. If the shim connection breaks
//! while the shim still answers, the wait is resumed.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::Engine;
use crate::events::{Event, EventKind};
use crate::model::ExitInfo;
use crate::shim_client::ShimClient;
use crate::tasks::{Status, Task};

/// How many times a broken wait is resumed while the shim still answers.
const WAIT_RETRIES: u32 = 5;

impl Engine {
    pub fn spawn_waiter(self: &Arc<Self>, id: String, shim: Arc<dyn ShimClient>) {
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            let exit = engine.wait_shim(&id, shim.as_ref()).await;
            engine.record_exit(&id, exit);
        });
    }

    async fn wait_shim(&self, id: &str, shim: &dyn ShimClient) -> ExitInfo {
        let mut tries = 0;
        loop {
            let err = match shim.wait(None).await {
                Ok(exit) => return exit,
                Err(e) => e,
            };
            tracing::warn!(%id, error = %err, "wait on the shim failed");
            if let Some(exit) = self.state.exit_file(id) {
                return exit;
            }
            match shim.state().await {
                Ok(st) if st.status == Status::Stopped => {
                    if let Some(exit) = st.exit() {
                        return exit;
                    }
                }
                Ok(_) if tries < WAIT_RETRIES => {}
                _ => return ExitInfo::now(255),
            }
            tries += 1;
            // Retry back-off: the shim still answers, the wait connection broke.
            tokio::time::sleep(Duration::from_millis(200 * u64::from(tries))).await;
        }
    }

    /// Record the init's exit and publish it (once; after `start` if one is in flight).
    pub fn record_exit(&self, id: &str, exit: ExitInfo) {
        let _ = self.tasks.with(id, |t| {
            if t.set_exited(exit.clone()) {
                tracing::info!(%id, status = exit.exit_status, "task exited");
                if !t.starting {
                    self.publish_exit(t, &exit);
                }
            }
            Ok(())
        });
    }

    pub(crate) fn publish_exit(&self, t: &Task, exit: &ExitInfo) {
        let id = &t.record.id;
        if exit.oom_killed {
            self.events
                .publish(Event::new(EventKind::Oom, id).pid(t.pid));
        }
        self.events
            .publish(Event::new(EventKind::Exit, id).pid(t.pid).exit(exit));
    }

    pub fn spawn_exec_waiter(
        self: &Arc<Self>,
        id: String,
        exec_id: String,
        pid: u32,
        shim: Arc<dyn ShimClient>,
    ) {
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            match shim.wait(Some(exec_id.clone())).await {
                Ok(exit) => engine.events.publish(
                    Event::new(EventKind::ExecExit, &id)
                        .exec(&exec_id)
                        .pid(pid)
                        .exit(&exit),
                ),
                Err(e) => {
                    tracing::warn!(%id, %exec_id, error = %e, "lost the shim while waiting for an exec")
                }
            }
        });
    }
}
