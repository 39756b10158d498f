//! The operations on tasks: each checks the state machine, calls the shim, applies
//! the transition and publishes the event. Also the background exit waiters.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind, Events};
use crate::launcher::{LaunchSpec, ShimLauncher};
use crate::model::*;
use crate::persist::{StateDir, TaskRecord};
use crate::shim_client::ShimClient;
use crate::tasks::{Registry, Status, Task, Transitions};

pub struct Engine {
    pub config: Config,
    pub state: StateDir,
    pub tasks: Registry,
    pub events: Events,
    pub launcher: Arc<dyn ShimLauncher>,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 76
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A stage of the benchmark's breakdown (debug events of target `berth_timing`, as
/// berthd's `containers::timing`).
fn timed(stage: &'static str, id: &str, since: Instant) {
    tracing::debug!(
        target: "berth_timing",
        stage,
        us = since.elapsed().as_micros() as u64,
        id
    );
}

async fn timed_delete(shim: &dyn ShimClient, id: &str) -> Result<ExitInfo> {
    let t0 = Instant::now();
    let r = shim.delete().await;
    timed("containerd.shim_delete", id, t0);
    r
}

impl Engine {
    pub fn new(config: Config, launcher: Arc<dyn ShimLauncher>) -> Arc<Engine> {
        let state = StateDir::new(&config.state);
        Arc::new(Engine {
            config,
            state,
            tasks: Registry::default(),
            events: Events::new(),
            launcher,
        })
    }

    /// The runtime's `--root`, per runtime, under the state dir: containers of two
    /// berth-containerd instances never share a runtime state directory.
    fn runtime_root(&self, runtime: &str) -> PathBuf {
        let name: String = runtime
            .chars()
            .map(|c| if c == '/' { '_' } else { c })
            .collect();
        self.config.state.join("runtime").join(name)
    }

    /// The live shim of a task, or 409 if it has none (it was found dead).
    fn shim(
        &self,
        id: &str,
        check: impl FnOnce(Status) -> Result<()>,
    ) -> Result<Arc<dyn ShimClient>> {
        self.tasks.with(id, |t| {
            check(t.status)?;
            t.shim
                .clone()
                .ok_or_else(|| Error::Conflict(format!("task {id} has no live shim")))
        })
    }

    pub async fn create(self: &Arc<Self>, req: CreateTaskRequest) -> Result<CreateTaskResponse> {
        if !valid_id(&req.id) {
            return Err(Error::BadRequest(format!("invalid task id {:?}", req.id)));
        }
        if !req.bundle.starts_with('/') {
            return Err(Error::BadRequest(format!(
                "bundle must be an absolute path: {}",
                req.bundle
            )));
        }
        let (runtime, runtime_path) = self.config.resolve_runtime(req.runtime.as_deref())?;
        self.tasks.reserve(&req.id)?;
        let result = if self.state.task_dir(&req.id).exists() {
            Err(Error::Conflict(format!(
                "task {} already exists on disk",
                req.id
            )))
        } else {
            self.create_reserved(&req, runtime, runtime_path).await
        };
        if result.is_err() {
            self.tasks.unreserve(&req.id);
        }
        result
    }

    fn remove_dir_after_failure(&self, id: &str) {
        if let Err(e) = self.state.remove(id) {
            tracing::warn!(%id, error = %e, "cannot clean up after a failed create");
        }
    }

    async fn create_reserved(
        self: &Arc<Self>,
        req: &CreateTaskRequest,
        runtime: String,
        runtime_path: String,
    ) -> Result<CreateTaskResponse> {
        let record = TaskRecord {
            id: req.id.clone(),
            bundle: req.bundle.clone(),
            runtime,
            runtime_path: runtime_path.clone(),
            created: now_rfc3339(),
            terminal: req.terminal,
            stdin: req.stdin,
        };
        // Written before the shim starts, so a crash mid-create is found again.
        let t0 = Instant::now();
        if let Err(e) = self.state.save(&record) {
            self.remove_dir_after_failure(&req.id);
            return Err(e);
        }
        let spec = LaunchSpec {
            id: req.id.clone(),
            bundle: PathBuf::from(&req.bundle),
            state_dir: self.state.task_dir(&req.id),
            runtime_root: Some(self.runtime_root(&record.runtime)),
            runtime: runtime_path,
            terminal: req.terminal,
            stdin: req.stdin,
            log: req.log.clone(),
        };
        timed("containerd.record", &req.id, t0);
        let t0 = Instant::now();
        let launched = self.launcher.launch(spec).await;
        timed("containerd.shim_launch", &req.id, t0);
        let socket = match launched {
            Ok(socket) => socket,
            Err(e) => {
                // The shim removes what it made when the runtime fails.
                self.remove_dir_after_failure(&req.id);
                return Err(e);
            }
        };
        let shim = self.launcher.connect(socket);
        // The launcher returns once the shim's sockets are bound: it answers at once.
        let t0 = Instant::now();
        let state = shim.state().await;
        timed("containerd.shim_state", &req.id, t0);
        let (pid, shim_protocol) = match state {
            Ok(s) => (s.pid, s.protocol),
            Err(e) => {
                // The shim started but does not answer: make it go away. If it cannot be
                // told to, keep its directory so a restart finds it again.
                match shim.delete().await {
                    Ok(_) => self.remove_dir_after_failure(&req.id),
                    Err(d) => {
                        tracing::warn!(id = %req.id, error = %d, "shim left behind; its directory is kept")
                    }
                }
                return Err(e);
            }
        };
        let attach = self.state.attach_socket(&req.id).display().to_string();
        let mut task = Task::new(record, pid, Some(shim.clone()), attach.clone());
        task.shim_protocol = shim_protocol;
        self.tasks.insert(task);
        tracing::info!(id = %req.id, pid, "task created");
        self.spawn_waiter(req.id.clone(), shim);
        Ok(CreateTaskResponse {
            id: req.id.clone(),
            pid,
            attach_socket: attach,
            shim_protocol,
        })
    }

    pub async fn start(&self, id: &str) -> Result<u32> {
        let shim = self.tasks.with(id, |t| {
            t.status.start()?;
            let shim = t
                .shim
                .clone()
                .ok_or_else(|| Error::Conflict(format!("task {id} has no live shim")))?;
            // An exit seen before this start is answered is published after `start`.
            t.starting = true;
            Ok(shim)
        })?;
        let t0 = Instant::now();
        let started = shim.start().await;
        timed("containerd.shim_start", id, t0);
        self.tasks.with(id, |t| {
            t.starting = false;
            if let Ok(pid) = started {
                t.pid = pid;
                if t.status == Status::Created {
                    t.transition(Status::start)?;
                }
                self.events
                    .publish(Event::new(EventKind::Start, id).pid(pid));
            }
            if let Some(exit) = t.exit.clone() {
                self.publish_exit(t, &exit);
            }
            Ok(())
        })?;
        started
    }

    pub async fn kill(&self, id: &str, req: KillRequest) -> Result<()> {
        let exec = req.exec_id.is_some();
        let shim = self.shim(id, |s| {
            if exec {
                s.check_live("kill an exec of")
            } else {
                s.check_kill()
            }
        })?;
        shim.kill(req).await
    }

    pub async fn pause(&self, id: &str) -> Result<()> {
        let shim = self.shim(id, |s| s.pause().map(|_| ()))?;
        shim.pause().await?;
        self.tasks.with(id, |t| t.transition(Status::pause))?;
        self.events.publish(Event::new(EventKind::Paused, id));
        Ok(())
    }

    /// New resource limits for a live task (the runtime's `update`).
    pub async fn update(&self, id: &str, req: UpdateRequest) -> Result<()> {
        self.shim(id, |s| s.check_live("update"))?.update(req).await
    }

    /// Reopens the task's log file (the kubelet rotated it: CRI `ReopenContainerLog`).
    pub async fn reopen_log(&self, id: &str) -> Result<()> {
        self.shim(id, |s| s.check_live("reopen-log"))?
            .reopen_log()
            .await
    }

    pub async fn resume(&self, id: &str) -> Result<()> {
        let shim = self.shim(id, |s| s.resume().map(|_| ()))?;
        shim.resume().await?;
        self.tasks.with(id, |t| t.transition(Status::resume))?;
        self.events.publish(Event::new(EventKind::Resumed, id));
        Ok(())
    }

    pub async fn resize(&self, id: &str, req: ResizeRequest) -> Result<()> {
        self.shim(id, |s| s.check_live("resize"))?.resize(req).await
    }

    pub async fn close_stdin(&self, id: &str, exec_id: Option<String>) -> Result<()> {
        self.shim(id, |s| s.check_live("close stdin of"))?
            .close_stdin(exec_id)
            .await
    }

    pub async fn exec(&self, id: &str, req: ExecRequest) -> Result<()> {
        if !valid_id(&req.exec_id) {
            return Err(Error::BadRequest(format!(
                "invalid exec id {:?}",
                req.exec_id
            )));
        }
        let t0 = Instant::now();
        let shim = self.shim(id, |s| s.check_live("exec in"))?;
        let r = shim.exec(req).await;
        timed("containerd.shim_exec", id, t0);
        r
    }

    pub async fn exec_start(self: &Arc<Self>, id: &str, exec_id: &str) -> Result<u32> {
        let shim = self.shim(id, |s| s.check_live("exec in"))?;
        let t0 = Instant::now();
        let pid = shim.exec_start(exec_id.to_string()).await;
        timed("containerd.shim_exec_start", id, t0);
        let pid = pid?;
        self.events
            .publish(Event::new(EventKind::ExecStart, id).exec(exec_id).pid(pid));
        self.spawn_exec_waiter(id.to_string(), exec_id.to_string(), pid, shim);
        Ok(pid)
    }

    pub async fn exec_state(&self, id: &str, exec_id: &str) -> Result<ExecState> {
        self.shim(id, |_| Ok(()))?
            .exec_state(exec_id.to_string())
            .await
    }

    pub async fn wait(&self, id: &str, exec_id: Option<String>) -> Result<ExitInfo> {
        if let Some(exec_id) = exec_id {
            return self.shim(id, |_| Ok(()))?.wait(Some(exec_id)).await;
        }
        let mut rx = self.tasks.with(id, |t| Ok(t.exit_watch()))?;
        let waited = rx.wait_for(Option::is_some).await.map(|v| v.clone());
        match waited {
            Ok(Some(exit)) => Ok(exit),
            // The task was deleted while we waited: its exit was recorded first.
            _ => Err(Error::NotFound(format!("task {id} was deleted"))),
        }
    }

    pub async fn delete(&self, id: &str) -> Result<ExitInfo> {
        let (shim, status) = self.tasks.with(id, |t| {
            t.status.delete()?;
            Ok((t.shim.clone(), t.status))
        })?;
        let from_shim = match shim {
            Some(shim) => match timed_delete(shim.as_ref(), id).await {
                Ok(exit) => Some(exit),
                Err(Error::ShimUnavailable(e)) => {
                    tracing::warn!(%id, error = %e, "shim gone at delete");
                    None
                }
                Err(e) => return Err(e),
            },
            None => None,
        };
        if from_shim.is_none() {
            // Nobody reaped it: what is left of the container is the runtime's to kill.
            let (runtime, root) = self.tasks.with(id, |t| {
                let runtime = t.record.runtime_path.clone();
                Ok((runtime, self.runtime_root(&t.record.runtime)))
            })?;
            if !runtime.is_empty() {
                let _ = self.launcher.delete_without_shim(id, &runtime, &root).await;
            }
        }
        let exit = self.tasks.with(id, |t| {
            let exit = t
                .exit
                .clone()
                .or(from_shim)
                .or_else(|| self.state.exit_file(id))
                .unwrap_or_else(|| {
                    ExitInfo::now(if status == Status::Created { 137 } else { 255 })
                });
            t.set_exited(exit.clone());
            t.transition(Status::delete)?;
            t.shim = None;
            Ok(exit)
        })?;
        self.tasks.remove(id);
        self.state.remove(id)?;
        tracing::info!(%id, "task deleted");
        self.events
            .publish(Event::new(EventKind::Delete, id).status(exit.exit_status));
        Ok(exit)
    }

    pub fn get(&self, id: &str) -> Result<TaskView> {
        self.tasks.with(id, |t| Ok(t.view()))
    }

    pub fn list(&self) -> Vec<TaskView> {
        self.tasks.list()
    }
}
