//! The CRI's tasks on berth-containerd, through berthd's engine client. The CRI names its
//! tasks `k8s.<id>`; berthd's Docker side leaves such tasks alone.
use async_trait::async_trait;
use berth_cri::backend::{
    BackendError, BackendResult, NewTask, TaskBackend, TaskExit, TaskState, TaskStatus,
};

use crate::containers::engine::client::{CreateTask, LogSpec};
use crate::containers::engine::{EngineClient, EngineError, ExitInfo, TaskView};

pub struct EngineTasks(pub EngineClient);

fn err(e: EngineError) -> BackendError {
    match e {
        EngineError::Status {
            status: 404,
            message,
        } => BackendError::NotFound(message),
        EngineError::Status {
            status: 409,
            message,
        } => BackendError::Conflict(message),
        EngineError::Status {
            status: 400,
            message,
        } => BackendError::InvalidArgument(message),
        EngineError::Unavailable(m) => BackendError::Unavailable(m),
        other => BackendError::Failed(other.to_string()),
    }
}

fn state(t: TaskView) -> TaskState {
    TaskState {
        status: match t.status.as_str() {
            "created" => TaskStatus::Created,
            "running" => TaskStatus::Running,
            "paused" => TaskStatus::Paused,
            _ => TaskStatus::Stopped,
        },
        id: t.id,
        pid: t.pid,
        exit_status: t.exit_status,
        exited_at: t.exited_at,
        attach_socket: t.attach_socket.into(),
    }
}

fn exit(e: ExitInfo) -> TaskExit {
    TaskExit {
        exit_status: e.exit_status,
        exited_at: e.exited_at,
        oom_killed: e.oom_killed,
    }
}

#[async_trait]
impl TaskBackend for EngineTasks {
    async fn create(&self, task: NewTask) -> BackendResult<u32> {
        let req = CreateTask {
            id: task.id,
            bundle: task.bundle.display().to_string(),
            runtime: None,
            terminal: task.terminal,
            stdin: task.stdin,
            log: task.log.map(|l| LogSpec {
                path: l.path.display().to_string(),
                max_size: None,
                max_file: None,
                format: l.cri_format.then(|| "cri".to_string()),
            }),
        };
        self.0.create(&req).await.map_err(err)
    }
    async fn start(&self, id: &str) -> BackendResult<u32> {
        self.0.start(id).await.map_err(err)
    }
    async fn state(&self, id: &str) -> BackendResult<TaskState> {
        self.0.get(id).await.map(state).map_err(err)
    }
    async fn list(&self) -> BackendResult<Vec<TaskState>> {
        self.0
            .list()
            .await
            .map(|l| {
                l.into_iter()
                    .filter(|t| berth_cri::is_cri_task(&t.id))
                    .map(state)
                    .collect()
            })
            .map_err(err)
    }
    async fn kill(&self, id: &str, signal: i32, all: bool) -> BackendResult<()> {
        self.0.kill_with(id, signal, all, None).await.map_err(err)
    }
    async fn kill_exec(&self, id: &str, exec_id: &str, signal: i32) -> BackendResult<()> {
        self.0.kill(id, signal, Some(exec_id)).await.map_err(err)
    }
    async fn wait(&self, id: &str, exec_id: Option<&str>) -> BackendResult<TaskExit> {
        self.0.wait(id, exec_id).await.map(exit).map_err(err)
    }
    async fn delete(&self, id: &str) -> BackendResult<TaskExit> {
        self.0.delete(id).await.map(exit).map_err(err)
    }
    async fn exec(
        &self,
        id: &str,
        exec_id: &str,
        process: serde_json::Value,
        terminal: bool,
        stdin: bool,
    ) -> BackendResult<()> {
        self.0
            .exec(id, exec_id, process, terminal, stdin)
            .await
            .map_err(err)
    }
    async fn exec_start(&self, id: &str, exec_id: &str) -> BackendResult<u32> {
        self.0.exec_start(id, exec_id).await.map_err(err)
    }
    async fn resize(
        &self,
        id: &str,
        exec_id: Option<&str>,
        width: u32,
        height: u32,
    ) -> BackendResult<()> {
        self.0.resize(id, exec_id, width, height).await.map_err(err)
    }
    async fn close_stdin(&self, id: &str, exec_id: Option<&str>) -> BackendResult<()> {
        self.0.close_stdin(id, exec_id).await.map_err(err)
    }
    async fn update(&self, id: &str, resources: serde_json::Value) -> BackendResult<()> {
        self.0.update(id, resources).await.map_err(err)
    }
    async fn reopen_log(&self, id: &str) -> BackendResult<()> {
        self.0.reopen_log(id).await.map_err(err)
    }
}
