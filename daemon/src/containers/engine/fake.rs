//! An in-process [`TaskEngine`] for tests of the container lifecycle without root, a
//! runtime or berth-containerd (the model is `containerd-lite/src/testing.rs`). It keeps
//! tasks as berth-containerd does — created → running ⇄ paused → stopped, deleted —
//! publishes the same events, and lets a test decide what the "processes" do:
//! [`FakeEngine::exit`] makes one exit by itself, [`Behaviour`] makes starts fail or
//! signals be ignored. Signals to a paused task wait until it is resumed, as a frozen
//! process's do. Every call is recorded ([`FakeEngine::calls`]).
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use berth_proto::{
    CreateTaskRequest, CreateTaskResponse, Event, EventKind, ExecRequest, ExecState, ExitInfo,
    ResizeRequest, TaskStatus, TaskView, UpdateRequest,
};
use tokio::sync::{broadcast, watch};

use super::{EngineError, EngineFuture, EventStream, TaskEngine};

/// What the fake's processes do.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Signals the inits ignore (a SIGTERM-deaf process, to test stop's SIGKILL).
    pub ignored_signals: HashSet<i32>,
    /// `start` fails with this message (the runtime's error).
    pub start_error: Option<String>,
    /// `create` fails with this message.
    pub create_error: Option<String>,
    /// Execs exit with this code as soon as they start.
    pub exec_exit_code: u32,
    /// `kill` finds berth-containerd gone (its socket does not answer).
    pub kill_unavailable: bool,
}

struct FakeTask {
    status: TaskStatus,
    pid: u32,
    exit: watch::Sender<Option<ExitInfo>>,
    /// Signals sent while paused, delivered at resume.
    pending: Vec<i32>,
    execs: HashMap<String, ExecState>,
    bundle: String,
}

#[derive(Default)]
struct State {
    tasks: HashMap<String, FakeTask>,
    next_pid: u32,
    calls: Vec<String>,
    behaviour: Behaviour,
}

pub struct FakeEngine {
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
}

impl Default for FakeEngine {
    fn default() -> Self {
        FakeEngine {
            state: Mutex::new(State {
                next_pid: 1000,
                ..Default::default()
            }),
            events: broadcast::channel(1024).0,
        }
    }
}

fn not_found(id: &str) -> EngineError {
    EngineError::Status {
        status: 404,
        message: format!("no such task: {id}"),
    }
}

fn conflict(message: String) -> EngineError {
    EngineError::Status {
        status: 409,
        message,
    }
}

fn ready<'a, T: Send + 'a>(r: Result<T, EngineError>) -> EngineFuture<'a, T> {
    Box::pin(async move { r })
}

impl FakeEngine {
    pub fn new() -> FakeEngine {
        FakeEngine::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the task, recording the call.
    fn with<T>(
        &self,
        call: &str,
        id: &str,
        f: impl FnOnce(&mut FakeTask, &Behaviour) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let mut st = self.lock();
        st.calls.push(format!("{call} {id}"));
        let behaviour = st.behaviour.clone();
        let task = st.tasks.get_mut(id).ok_or_else(|| not_found(id))?;
        f(task, &behaviour)
    }

    fn publish(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Changes what the processes do from now on.
    pub fn set_behaviour(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.lock().behaviour);
    }

    /// The calls so far, as "call task-id".
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// The task's status, if it exists.
    pub fn status(&self, id: &str) -> Option<TaskStatus> {
        self.lock().tasks.get(id).map(|t| t.status)
    }

    /// The ids of the tasks that exist.
    pub fn task_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().tasks.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The init of `id` exits by itself with `code` (as the shim would report it).
    pub fn exit(&self, id: &str, code: u32) {
        let event = {
            let mut st = self.lock();
            let Some(t) = st.tasks.get_mut(id) else {
                return;
            };
            exit_task(t, id, code)
        };
        if let Some(ev) = event {
            self.publish(ev);
        }
    }
}

/// Records the exit of a live task; its `exit` event.
fn exit_task(t: &mut FakeTask, id: &str, code: u32) -> Option<Event> {
    if !t.status.is_live() {
        return None;
    }
    let exit = ExitInfo::now(code);
    t.status = TaskStatus::Stopped;
    t.exit.send_replace(Some(exit.clone()));
    Some(Event::new(EventKind::Exit, id).pid(t.pid).exit(&exit))
}

/// A signal reaching a running process.
fn deliver(t: &mut FakeTask, id: &str, signal: i32, b: &Behaviour) -> Option<Event> {
    if b.ignored_signals.contains(&signal) && signal != 9 {
        return None;
    }
    exit_task(t, id, 128 + signal.unsigned_abs())
}

impl FakeEngine {
    fn view(id: &str, t: &FakeTask) -> TaskView {
        let exit = t.exit.borrow().clone();
        TaskView {
            id: id.to_string(),
            pid: t.pid,
            status: t.status,
            exit_status: exit.as_ref().map(|e| e.exit_status),
            exited_at: exit.as_ref().map(|e| e.exited_at.clone()),
            oom_killed: false,
            bundle: t.bundle.clone(),
            runtime: "fake".into(),
            attach_socket: format!("/nonexistent/{id}/attach.sock"),
            shim_protocol: berth_proto::PROTOCOL_VERSION,
        }
    }
}

impl TaskEngine for FakeEngine {
    fn create<'a>(&'a self, req: &'a CreateTaskRequest) -> EngineFuture<'a, CreateTaskResponse> {
        let mut st = self.lock();
        st.calls.push(format!("create {}", req.id));
        if let Some(message) = st.behaviour.create_error.clone() {
            return ready(Err(EngineError::Status {
                status: 500,
                message,
            }));
        }
        if st.tasks.contains_key(&req.id) {
            return ready(Err(conflict(format!("task {} already exists", req.id))));
        }
        st.next_pid += 1;
        let pid = st.next_pid;
        st.tasks.insert(
            req.id.clone(),
            FakeTask {
                status: TaskStatus::Created,
                pid,
                exit: watch::channel(None).0,
                pending: Vec::new(),
                execs: HashMap::new(),
                bundle: req.bundle.clone(),
            },
        );
        ready(Ok(CreateTaskResponse {
            id: req.id.clone(),
            pid,
            attach_socket: format!("/nonexistent/{}/attach.sock", req.id),
            shim_protocol: berth_proto::PROTOCOL_VERSION,
        }))
    }

    fn start<'a>(&'a self, id: &'a str) -> EngineFuture<'a, u32> {
        let r = self.with("start", id, |t, b| {
            if t.status != TaskStatus::Created {
                return Err(conflict(format!(
                    "cannot start a task that is {}",
                    t.status
                )));
            }
            if let Some(message) = b.start_error.clone() {
                return Err(EngineError::Status {
                    status: 500,
                    message,
                });
            }
            t.status = TaskStatus::Running;
            Ok(t.pid)
        });
        if let Ok(pid) = &r {
            self.publish(Event::new(EventKind::Start, id).pid(*pid));
        }
        ready(r)
    }

    fn kill<'a>(
        &'a self,
        id: &'a str,
        signal: i32,
        exec_id: Option<&'a str>,
    ) -> EngineFuture<'a, ()> {
        let r = self.with("kill", id, |t, b| {
            if b.kill_unavailable {
                return Err(EngineError::Unavailable("the fake is down".into()));
            }
            if !t.status.is_live() {
                return Err(conflict(format!("cannot kill a task that is {}", t.status)));
            }
            if exec_id.is_some() {
                return Ok(None);
            }
            Ok(match t.status {
                TaskStatus::Paused => {
                    t.pending.push(signal);
                    None
                }
                _ => deliver(t, id, signal, b),
            })
        });
        ready(r.map(|ev| {
            if let Some(ev) = ev {
                self.publish(ev);
            }
        }))
    }

    fn kill_all<'a>(&'a self, id: &'a str, signal: i32) -> EngineFuture<'a, ()> {
        self.kill(id, signal, None)
    }

    fn pause<'a>(&'a self, id: &'a str) -> EngineFuture<'a, ()> {
        let r = self.with("pause", id, |t, _| match t.status {
            TaskStatus::Running => {
                t.status = TaskStatus::Paused;
                Ok(())
            }
            s => Err(conflict(format!("cannot pause a task that is {s}"))),
        });
        if r.is_ok() {
            self.publish(Event::new(EventKind::Paused, id));
        }
        ready(r)
    }

    fn resume<'a>(&'a self, id: &'a str) -> EngineFuture<'a, ()> {
        let r = self.with("resume", id, |t, b| match t.status {
            TaskStatus::Paused => {
                t.status = TaskStatus::Running;
                let pending = std::mem::take(&mut t.pending);
                Ok(pending
                    .into_iter()
                    .find_map(|signal| deliver(t, id, signal, b)))
            }
            s => Err(conflict(format!("cannot resume a task that is {s}"))),
        });
        let r = r.map(|exit| {
            self.publish(Event::new(EventKind::Resumed, id));
            if let Some(ev) = exit {
                self.publish(ev);
            }
        });
        ready(r)
    }

    fn update<'a>(&'a self, id: &'a str, _req: &'a UpdateRequest) -> EngineFuture<'a, ()> {
        ready(self.with("update", id, |_, _| Ok(())))
    }

    fn resize<'a>(&'a self, id: &'a str, _req: &'a ResizeRequest) -> EngineFuture<'a, ()> {
        ready(self.with("resize", id, |_, _| Ok(())))
    }

    fn reopen_log<'a>(&'a self, id: &'a str) -> EngineFuture<'a, ()> {
        ready(self.with("reopen-log", id, |t, _| {
            if !t.status.is_live() {
                return Err(conflict(format!(
                    "cannot reopen the log of a task that is {}",
                    t.status
                )));
            }
            Ok(())
        }))
    }

    fn close_stdin<'a>(&'a self, id: &'a str, _exec_id: Option<&'a str>) -> EngineFuture<'a, ()> {
        ready(self.with("close-stdin", id, |_, _| Ok(())))
    }

    fn exec<'a>(&'a self, id: &'a str, req: &'a ExecRequest) -> EngineFuture<'a, ()> {
        ready(self.with("exec", id, |t, _| {
            if t.status != TaskStatus::Running {
                return Err(conflict(format!(
                    "cannot exec in a task that is {}",
                    t.status
                )));
            }
            t.execs.insert(
                req.exec_id.clone(),
                ExecState {
                    exec_id: req.exec_id.clone(),
                    pid: 0,
                    status: TaskStatus::Created,
                    exit_status: None,
                    exited_at: None,
                },
            );
            Ok(())
        }))
    }

    fn exec_start<'a>(&'a self, id: &'a str, exec_id: &'a str) -> EngineFuture<'a, u32> {
        let r = self.with("exec-start", id, |t, b| {
            let pid = t.pid + 1;
            let e = t.execs.get_mut(exec_id).ok_or_else(|| not_found(exec_id))?;
            let exit = ExitInfo::now(b.exec_exit_code);
            e.pid = pid;
            e.status = TaskStatus::Stopped;
            e.exit_status = Some(exit.exit_status);
            e.exited_at = Some(exit.exited_at.clone());
            Ok((pid, exit))
        });
        let r = r.map(|(pid, exit)| {
            self.publish(Event::new(EventKind::ExecStart, id).exec(exec_id).pid(pid));
            self.publish(
                Event::new(EventKind::ExecExit, id)
                    .exec(exec_id)
                    .pid(pid)
                    .exit(&exit),
            );
            pid
        });
        ready(r)
    }

    fn exec_state<'a>(&'a self, id: &'a str, exec_id: &'a str) -> EngineFuture<'a, ExecState> {
        ready(self.with("exec-state", id, |t, _| {
            t.execs
                .get(exec_id)
                .cloned()
                .ok_or_else(|| not_found(exec_id))
        }))
    }

    fn wait<'a>(&'a self, id: &'a str, exec_id: Option<&'a str>) -> EngineFuture<'a, ExitInfo> {
        let rx = self.with("wait", id, |t, _| match exec_id {
            None => Ok(Ok(t.exit.subscribe())),
            Some(e) => {
                let state = t.execs.get(e).ok_or_else(|| not_found(e))?;
                Ok(Err(ExitInfo {
                    exit_status: state.exit_status.unwrap_or(0),
                    exited_at: state.exited_at.clone().unwrap_or_default(),
                    oom_killed: false,
                }))
            }
        });
        Box::pin(async move {
            match rx? {
                Err(exec_exit) => Ok(exec_exit),
                Ok(mut rx) => match rx.wait_for(Option::is_some).await {
                    Ok(exit) => Ok(exit.clone().unwrap_or_else(|| ExitInfo::now(255))),
                    Err(_) => Err(not_found(id)),
                },
            }
        })
    }

    fn delete<'a>(&'a self, id: &'a str) -> EngineFuture<'a, ExitInfo> {
        let r = {
            let mut st = self.lock();
            st.calls.push(format!("delete {id}"));
            match st.tasks.get(id).map(|t| t.status) {
                None => Err(not_found(id)),
                Some(s @ (TaskStatus::Running | TaskStatus::Paused)) => {
                    Err(conflict(format!("cannot delete a task that is {s}")))
                }
                Some(_) => {
                    let t = st.tasks.remove(id).expect("checked above");
                    let exit = t
                        .exit
                        .borrow()
                        .clone()
                        .unwrap_or_else(|| ExitInfo::now(137));
                    Ok(exit)
                }
            }
        };
        if let Ok(exit) = &r {
            self.publish(Event::new(EventKind::Delete, id).status(exit.exit_status));
        }
        ready(r)
    }

    fn get<'a>(&'a self, id: &'a str) -> EngineFuture<'a, TaskView> {
        let st = self.lock();
        ready(
            st.tasks
                .get(id)
                .map(|t| FakeEngine::view(id, t))
                .ok_or_else(|| not_found(id)),
        )
    }

    fn list(&self) -> EngineFuture<'_, Vec<TaskView>> {
        let st = self.lock();
        let mut v: Vec<TaskView> = st
            .tasks
            .iter()
            .map(|(id, t)| FakeEngine::view(id, t))
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        ready(Ok(v))
    }

    fn events(&self) -> EngineFuture<'_, EventStream> {
        let rx = self.events.subscribe();
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            // A lagging subscriber's stream ends, as berth-containerd's does.
            rx.recv().await.ok().map(|ev| (ev, rx))
        });
        ready(Ok(Box::pin(stream)))
    }

    fn ensure_running(&self) -> EngineFuture<'_, ()> {
        ready(Ok(()))
    }
}
