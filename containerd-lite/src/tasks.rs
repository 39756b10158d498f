//! The task state machine (created → running → paused → stopped → deleted, as in
//! containerd) and the registry of tasks this process knows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::model::{ExitInfo, TaskView};
use crate::persist::TaskRecord;
use crate::shim_client::ShimClient;

/// The task status of the protocol; its transitions are the methods of [`Transitions`].
pub use berth_proto::TaskStatus as Status;

/// The task state machine: one method per transition, each answering the next status
/// or a 409 naming the illegal move.
pub trait Transitions: Sized {
    fn start(self) -> Result<Self>;
    fn pause(self) -> Result<Self>;
    fn resume(self) -> Result<Self>;
    /// The init process was reaped.
    fn exit(self) -> Result<Self>;
    fn delete(self) -> Result<Self>;
    /// Signals go to a process that still exists.
    fn check_kill(self) -> Result<()>;
    /// exec, resize, close-stdin need a live process.
    fn check_live(self, op: &str) -> Result<()>;
}

fn illegal(s: Status, op: &str) -> Error {
    Error::Conflict(format!("cannot {op} a task that is {s}"))
}

impl Transitions for Status {
    fn start(self) -> Result<Status> {
        match self {
            Status::Created => Ok(Status::Running),
            s => Err(illegal(s, "start")),
        }
    }
    fn pause(self) -> Result<Status> {
        match self {
            Status::Running => Ok(Status::Paused),
            s => Err(illegal(s, "pause")),
        }
    }
    fn resume(self) -> Result<Status> {
        match self {
            Status::Paused => Ok(Status::Running),
            s => Err(illegal(s, "resume")),
        }
    }
    fn exit(self) -> Result<Status> {
        match self {
            Status::Created | Status::Running | Status::Paused | Status::Stopped => {
                Ok(Status::Stopped)
            }
            s => Err(illegal(s, "stop")),
        }
    }
    fn delete(self) -> Result<Status> {
        match self {
            Status::Created | Status::Stopped => Ok(Status::Deleted),
            s => Err(illegal(s, "delete")),
        }
    }
    fn check_kill(self) -> Result<()> {
        match self {
            s if s.is_live() => Ok(()),
            s => Err(illegal(s, "kill")),
        }
    }
    fn check_live(self, op: &str) -> Result<()> {
        match self {
            s if s.is_live() => Ok(()),
            s => Err(illegal(s, op)),
        }
    }
}

/// One task as this process knows it.
pub struct Task {
    pub record: TaskRecord,
    pub status: Status,
    pub pid: u32,
    pub exit: Option<ExitInfo>,
    /// None when the shim is gone (found dead after a restart, or after delete).
    pub shim: Option<Arc<dyn ShimClient>>,
    pub attach_socket: String,
    /// A start call is in flight (events: `start` goes out before `exit`).
    pub starting: bool,
    exit_tx: watch::Sender<Option<ExitInfo>>,
}

impl Task {
    pub fn new(
        record: TaskRecord,
        pid: u32,
        shim: Option<Arc<dyn ShimClient>>,
        attach_socket: String,
    ) -> Task {
        let (exit_tx, _) = watch::channel(None);
        Task {
            record,
            status: Status::Created,
            pid,
            exit: None,
            shim,
            attach_socket,
            starting: false,
            exit_tx,
        }
    }

    /// Apply a transition computed by `f` from the current status.
    pub fn transition(&mut self, f: impl FnOnce(Status) -> Result<Status>) -> Result<Status> {
        let next = f(self.status)?;
        self.status = next;
        Ok(next)
    }

    /// Record the exit of the init. Returns false if it was already recorded.
    pub fn set_exited(&mut self, exit: ExitInfo) -> bool {
        if self.exit.is_some() {
            return false;
        }
        self.status = match self.status.exit() {
            Ok(s) => s,
            Err(_) => return false,
        };
        self.exit = Some(exit.clone());
        self.exit_tx.send_replace(Some(exit));
        true
    }

    pub fn exit_watch(&self) -> watch::Receiver<Option<ExitInfo>> {
        self.exit_tx.subscribe()
    }

    pub fn view(&self) -> TaskView {
        TaskView {
            id: self.record.id.clone(),
            pid: self.pid,
            status: self.status,
            exit_status: self.exit.as_ref().map(|e| e.exit_status),
            exited_at: self.exit.as_ref().map(|e| e.exited_at.clone()),
            oom_killed: self.exit.as_ref().is_some_and(|e| e.oom_killed),
            bundle: self.record.bundle.clone(),
            runtime: self.record.runtime.clone(),
            attach_socket: self.attach_socket.clone(),
        }
    }
}

/// The tasks, by id. Never held across an await.
#[derive(Default)]
pub struct Registry {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    tasks: HashMap<String, Task>,
    /// Ids being created (reserved so two creates of one id cannot race).
    creating: std::collections::HashSet<String>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (no multi-step updates).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserve an id for a create; 409 if it exists or is being created.
    pub fn reserve(&self, id: &str) -> Result<()> {
        let mut g = self.lock();
        if g.tasks.contains_key(id) || !g.creating.insert(id.to_string()) {
            return Err(Error::Conflict(format!("task {id} already exists")));
        }
        Ok(())
    }

    pub fn unreserve(&self, id: &str) {
        self.lock().creating.remove(id);
    }

    pub fn insert(&self, task: Task) {
        let mut g = self.lock();
        g.creating.remove(&task.record.id);
        g.tasks.insert(task.record.id.clone(), task);
    }

    pub fn remove(&self, id: &str) -> Option<Task> {
        self.lock().tasks.remove(id)
    }

    /// Run `f` on the task `id` (404 if unknown).
    pub fn with<T>(&self, id: &str, f: impl FnOnce(&mut Task) -> Result<T>) -> Result<T> {
        let mut g = self.lock();
        match g.tasks.get_mut(id) {
            Some(t) => f(t),
            None => Err(Error::NotFound(format!("no such task: {id}"))),
        }
    }

    pub fn list(&self) -> Vec<TaskView> {
        let g = self.lock();
        let mut v: Vec<TaskView> = g.tasks.values().map(Task::view).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> TaskRecord {
        TaskRecord {
            id: id.into(),
            bundle: "/b".into(),
            runtime: "runc".into(),
            runtime_path: "runc".into(),
            created: "now".into(),
            terminal: false,
            stdin: false,
        }
    }

    #[test]
    fn legal_lifecycle() {
        let s = Status::Created;
        let s = s.start().unwrap();
        assert_eq!(s, Status::Running);
        let s = s.pause().unwrap();
        assert_eq!(s, Status::Paused);
        s.check_kill().unwrap();
        let s = s.resume().unwrap();
        let s = s.exit().unwrap();
        assert_eq!(s, Status::Stopped);
        assert_eq!(s.delete().unwrap(), Status::Deleted);
        // a created task can be deleted (the runtime's delete kills it)
        assert_eq!(Status::Created.delete().unwrap(), Status::Deleted);
    }

    #[test]
    fn illegal_transitions_are_conflicts() {
        type Op = fn(Status) -> Result<Status>;
        let cases: Vec<(Status, Op)> = vec![
            (Status::Running, Status::start),
            (Status::Stopped, Status::start),
            (Status::Created, Status::pause),
            (Status::Paused, Status::pause),
            (Status::Running, Status::resume),
            (Status::Running, Status::delete),
            (Status::Paused, Status::delete),
            (Status::Deleted, Status::delete),
            (Status::Deleted, Status::exit),
        ];
        for (from, op) in cases {
            let err = op(from).unwrap_err();
            assert_eq!(err.status(), axum::http::StatusCode::CONFLICT, "{from:?}");
        }
        assert!(Status::Stopped.check_kill().is_err());
        assert!(Status::Stopped.check_live("exec").is_err());
    }

    #[tokio::test]
    async fn exit_is_recorded_once_and_wakes_waiters() {
        let mut t = Task::new(record("a"), 10, None, String::new());
        let mut w = t.exit_watch();
        t.transition(Status::start).unwrap();
        assert!(t.set_exited(ExitInfo::now(3)));
        assert!(!t.set_exited(ExitInfo::now(4)));
        w.changed().await.unwrap();
        assert_eq!(w.borrow().as_ref().unwrap().exit_status, 3);
        let v = t.view();
        assert_eq!(v.status, Status::Stopped);
        assert_eq!(v.exit_status, Some(3));
    }

    #[test]
    fn registry_reserve_insert_remove() {
        let r = Registry::default();
        r.reserve("a").unwrap();
        assert!(r.reserve("a").is_err());
        r.insert(Task::new(record("a"), 1, None, String::new()));
        assert!(r.reserve("a").is_err());
        assert_eq!(r.list().len(), 1);
        assert_eq!(
            r.with("nope", |_| Ok(())).unwrap_err().status(),
            axum::http::StatusCode::NOT_FOUND
        );
        r.with("a", |t| t.transition(Status::start)).unwrap();
        assert!(r.with("a", |t| t.transition(Status::start)).is_err());
        assert!(r.remove("a").is_some());
        r.reserve("a").unwrap();
        r.unreserve("a");
        r.reserve("a").unwrap();
    }
}
