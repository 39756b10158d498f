//! ExecSync: runs a command in a running container and answers its output and exit code.
//! The process is the container's own (user, environment, capabilities, working folder)
//! with other arguments, as containerd's. Its output is read from the shim's attach
//! socket, connected before the process starts. A timeout kills the process before the
//! call answers (a later call must not see it), and the whole run happens in its own
//! task, so a client that goes away cannot leave it half done.
use std::sync::Arc;
use std::time::Duration;

use super::Cri;
use crate::error::{CriError, CriResult};
use crate::store::container::ContainerState;
use crate::stream::attach;

/// Most bytes kept of each stream (containerd's limit).
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// What an exec gave.
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: i32,
}

impl Cri {
    /// The OCI process for an exec in the container: its own, with `cmd` as arguments.
    pub(crate) fn exec_process(
        &self,
        id: &str,
        cmd: &[String],
        tty: bool,
    ) -> CriResult<serde_json::Value> {
        if cmd.is_empty() {
            return Err(CriError::InvalidArgument("cmd must not be empty".into()));
        }
        let spec = crate::spec::read_bundle(&self.container_dir(id).join("bundle"))?;
        let mut process = spec
            .get("process")
            .cloned()
            .ok_or_else(|| CriError::Failed("the container's spec has no process".into()))?;
        process["args"] = serde_json::json!(cmd);
        process["terminal"] = serde_json::json!(tty);
        if let Some(obj) = process.as_object_mut() {
            obj.remove("consoleSize");
        }
        Ok(process)
    }

    /// The container, which must be running.
    pub(crate) fn running_container(
        &self,
        id: &str,
    ) -> CriResult<crate::store::container::Container> {
        let c = self.containers.lookup(id)?;
        if c.state != ContainerState::Running {
            return Err(CriError::FailedPrecondition(format!(
                "container {} is not running",
                c.id
            )));
        }
        Ok(c)
    }

    pub async fn exec_sync(
        self: &Arc<Self>,
        id: &str,
        cmd: Vec<String>,
        timeout: i64,
    ) -> CriResult<ExecOutput> {
        let c = self.running_container(id)?;
        let process = self.exec_process(&c.id, &cmd, false)?;
        let task = c.task_id();
        let state = self
            .tasks
            .state(&task)
            .await
            .map_err(|e| CriError::backend("the container's task", e))?;
        let exec_id = format!("sync-{}", &crate::store::new_id()[..16]);
        self.tasks
            .exec(
                &task,
                crate::backend::ExecRequest {
                    exec_id: exec_id.clone(),
                    process,
                    terminal: false,
                    stdin: false,
                },
            )
            .await
            .map_err(|e| CriError::backend("creating the exec process", e))?;
        let io = attach::connect(
            std::path::Path::new(&state.attach_socket),
            Some(&exec_id),
            false,
            true,
            true,
        )
        .await
        .map_err(|e| CriError::io("attaching to the exec process", e))?;
        let reader = tokio::spawn(attach::read_all(io, MAX_OUTPUT));
        if let Err(e) = self.tasks.exec_start(&task, &exec_id).await {
            reader.abort();
            return Err(CriError::backend("starting the exec process", e));
        }
        let wait = self.tasks.wait(&task, Some(&exec_id));
        let exit = if timeout > 0 {
            match tokio::time::timeout(Duration::from_secs(timeout as u64), wait).await {
                Ok(r) => r,
                Err(_) => {
                    let _ = self.tasks.signal_exec(&task, &exec_id, libc::SIGKILL).await;
                    let _ = tokio::time::timeout(
                        Duration::from_secs(10),
                        self.tasks.wait(&task, Some(&exec_id)),
                    )
                    .await;
                    reader.abort();
                    return Err(CriError::DeadlineExceeded(format!(
                        "command {cmd:?} timed out after {timeout}s"
                    )));
                }
            }
        } else {
            wait.await
        }
        .map_err(|e| CriError::backend("waiting for the exec process", e))?;
        let (stdout, stderr) = reader
            .await
            .map_err(|e| CriError::Failed(format!("reading the exec output: {e}")))?
            .map_err(|e| CriError::io("reading the exec output", e))?;
        Ok(ExecOutput {
            stdout,
            stderr,
            exit_code: exit.exit_status as i32,
        })
    }
}
