//! The CRI's tasks on berth-containerd, through berthd's [`TaskEngine`] seam (the engine
//! protocol's types, berth-proto, on both sides). The CRI names its tasks `k8s.<id>`;
//! berthd's Docker side leaves such tasks alone.
use async_trait::async_trait;
use berth_cri::backend::{
    BackendError, BackendResult, CreateTaskRequest, ExecRequest, ExitInfo, KillRequest,
    ResizeRequest, TaskBackend, TaskView, UpdateRequest,
};

use std::sync::Arc;

use crate::containers::engine::{EngineError, TaskEngine};

pub struct EngineTasks(pub Arc<dyn TaskEngine>);

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

#[async_trait]
impl TaskBackend for EngineTasks {
    async fn create(&self, req: CreateTaskRequest) -> BackendResult<u32> {
        self.0.create(&req).await.map(|r| r.pid).map_err(err)
    }
    async fn start(&self, id: &str) -> BackendResult<u32> {
        self.0.start(id).await.map_err(err)
    }
    async fn state(&self, id: &str) -> BackendResult<TaskView> {
        self.0.get(id).await.map_err(err)
    }
    async fn list(&self) -> BackendResult<Vec<TaskView>> {
        self.0
            .list()
            .await
            .map(|l| {
                l.into_iter()
                    .filter(|t| berth_cri::is_cri_task(&t.id))
                    .collect()
            })
            .map_err(err)
    }
    async fn kill(&self, id: &str, req: KillRequest) -> BackendResult<()> {
        let r = match (req.all, req.exec_id.as_deref()) {
            (true, None) => self.0.kill_all(id, req.signal).await,
            (_, exec_id) => self.0.kill(id, req.signal, exec_id).await,
        };
        r.map_err(err)
    }
    async fn wait(&self, id: &str, exec_id: Option<&str>) -> BackendResult<ExitInfo> {
        self.0.wait(id, exec_id).await.map_err(err)
    }
    async fn delete(&self, id: &str) -> BackendResult<ExitInfo> {
        self.0.delete(id).await.map_err(err)
    }
    async fn exec(&self, id: &str, req: ExecRequest) -> BackendResult<()> {
        self.0.exec(id, &req).await.map_err(err)
    }
    async fn exec_start(&self, id: &str, exec_id: &str) -> BackendResult<u32> {
        self.0.exec_start(id, exec_id).await.map_err(err)
    }
    async fn resize(&self, id: &str, req: ResizeRequest) -> BackendResult<()> {
        self.0.resize(id, &req).await.map_err(err)
    }
    async fn close_stdin(&self, id: &str, exec_id: Option<&str>) -> BackendResult<()> {
        self.0.close_stdin(id, exec_id).await.map_err(err)
    }
    async fn update(&self, id: &str, req: UpdateRequest) -> BackendResult<()> {
        self.0.update(id, &req).await.map_err(err)
    }
    async fn reopen_log(&self, id: &str) -> BackendResult<()> {
        self.0.reopen_log(id).await.map_err(err)
    }
}
