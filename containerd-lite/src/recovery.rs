//! Finding the tasks again when berth-containerd starts: a shim that answers is
//! adopted (and its waiter restarted); otherwise `exit.json` gives the exit status;
//! a task with neither is reported stopped with exit 255 and cleaned on delete.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::Engine;
use crate::model::ExitInfo;
use crate::tasks::{Status, Task};

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a restart found for one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Adopted(Status),
    ExitedMeanwhile(u32),
    Lost,
}

/// Scan `STATE/tasks/` and rebuild the registry. Returns what was found per id.
pub async fn recover(engine: &Arc<Engine>) -> Vec<(String, Found)> {
    let ids = match engine.state.list() {
        Ok(ids) => ids,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the tasks directory");
            return Vec::new();
        }
    };
    let mut found = Vec::new();
    for id in ids {
        let record = match engine.state.load(&id) {
            Ok(r) => r,
            Err(e) => {
                // A crash between mkdir and the first write of task.json leaves an empty
                // directory: remove it so the id can be used again. Anything else is left.
                let dir = engine.state.task_dir(&id);
                let empty = std::fs::read_dir(&dir)
                    .map(|mut d| d.next().is_none())
                    .unwrap_or(false);
                if empty {
                    let _ = std::fs::remove_dir(&dir);
                } else {
                    tracing::warn!(%id, error = %e, "task directory without a readable task.json; left alone");
                }
                continue;
            }
        };
        let attach = engine.state.attach_socket(&id).display().to_string();
        let shim = engine.launcher.connect(engine.state.shim_socket(&id));
        let probe = tokio::time::timeout(PROBE_TIMEOUT, shim.state()).await;
        let (mut task, what) = match probe {
            Ok(Ok(st)) => {
                let mut task = Task::new(record, st.pid, Some(shim.clone()), attach);
                match st.status {
                    Status::Stopped => {
                        let exit = st.exit().unwrap_or_else(|| ExitInfo::now(255));
                        let exit = engine.state.exit_file(&id).unwrap_or(exit);
                        let code = exit.exit_status;
                        task.set_exited(exit);
                        (task, Found::ExitedMeanwhile(code))
                    }
                    s => {
                        task.status = s;
                        (task, Found::Adopted(s))
                    }
                }
            }
            _ => {
                let mut task = Task::new(record, 0, None, attach);
                match engine.state.exit_file(&id) {
                    Some(exit) => {
                        let code = exit.exit_status;
                        task.set_exited(exit);
                        (task, Found::ExitedMeanwhile(code))
                    }
                    None => {
                        task.set_exited(ExitInfo::now(255));
                        (task, Found::Lost)
                    }
                }
            }
        };
        if let Ok(pid) = std::fs::read_to_string(engine.state.task_dir(&id).join("init.pid")) {
            if task.pid == 0 {
                task.pid = pid.trim().parse().unwrap_or(0);
            }
        }
        tracing::info!(%id, ?what, "task found again");
        let live = matches!(what, Found::Adopted(_));
        engine.tasks.insert(task);
        if live {
            engine.spawn_waiter(id.clone(), shim);
        }
        found.push((id, what));
    }
    found
}
