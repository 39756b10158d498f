//! An in-process fake shim (`ShimClient` + `ShimLauncher`) for unit tests of the engine.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::error::Error;
use crate::launcher::{LaunchSpec, ShimLauncher};
use crate::model::*;
use crate::shim_client::{BoxFut, ShimClient};
use crate::tasks::Status;

#[derive(Default)]
pub struct FakeShim {
    pub status: Mutex<Option<Status>>,
    pub exit: watch::Sender<Option<ExitInfo>>,
    pub calls: Mutex<Vec<String>>,
    /// When set, `start` is answered only once this resolves (the test makes the
    /// process exit meanwhile); `started` is notified when the call arrives.
    pub start_gate: Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
    pub started: tokio::sync::Notify,
}

impl FakeShim {
    fn log(&self, call: &str) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(call.to_string());
    }
    fn set(&self, s: Status) {
        *self.status.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
    }
    pub fn exit_with(&self, code: u32) {
        self.set(Status::Stopped);
        self.exit.send_replace(Some(ExitInfo::now(code)));
    }
    fn ok<'a, T: Send + 'a>(&'a self, call: &str, v: T) -> BoxFut<'a, T> {
        self.log(call);
        Box::pin(async move { Ok(v) })
    }
}

impl ShimClient for FakeShim {
    fn state(&self) -> BoxFut<'_, ShimState> {
        let status = self
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(Status::Created);
        let e = self.exit.borrow().clone();
        self.ok(
            "state",
            ShimState {
                id: String::new(),
                pid: 42,
                status,
                exit_status: e.as_ref().map(|e| e.exit_status),
                exited_at: e.map(|e| e.exited_at),
                terminal: false,
                oom_killed: false,
            },
        )
    }
    fn start(&self) -> BoxFut<'_, u32> {
        self.set(Status::Running);
        self.log("start");
        let gate = self
            .start_gate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.started.notify_one();
        Box::pin(async move {
            if let Some(gate) = gate {
                let _ = gate.await;
            }
            Ok(42)
        })
    }
    fn kill(&self, req: KillRequest) -> BoxFut<'_, ()> {
        self.exit_with(128 + req.signal as u32);
        self.ok("kill", ())
    }
    fn pause(&self) -> BoxFut<'_, ()> {
        self.ok("pause", ())
    }
    fn resume(&self) -> BoxFut<'_, ()> {
        self.ok("resume", ())
    }
    fn resize(&self, _: ResizeRequest) -> BoxFut<'_, ()> {
        self.ok("resize", ())
    }
    fn close_stdin(&self, _: Option<String>) -> BoxFut<'_, ()> {
        self.ok("close-stdin", ())
    }
    fn exec(&self, _: ExecRequest) -> BoxFut<'_, ()> {
        self.ok("exec", ())
    }
    fn exec_start(&self, _: String) -> BoxFut<'_, u32> {
        self.ok("exec-start", 43)
    }
    fn exec_state(&self, exec_id: String) -> BoxFut<'_, ExecState> {
        self.ok(
            "exec-state",
            ExecState {
                exec_id,
                pid: 43,
                status: Status::Running,
                exit_status: None,
                exited_at: None,
            },
        )
    }
    fn wait(&self, _: Option<String>) -> BoxFut<'_, ExitInfo> {
        self.log("wait");
        let mut rx = self.exit.subscribe();
        Box::pin(async move {
            let v = rx.wait_for(Option::is_some).await.map(|v| v.clone());
            v.ok()
                .flatten()
                .ok_or_else(|| Error::ShimUnavailable("gone".into()))
        })
    }
    fn delete(&self) -> BoxFut<'_, ExitInfo> {
        let e = self
            .exit
            .borrow()
            .clone()
            .unwrap_or_else(|| ExitInfo::now(137));
        self.ok("delete", e)
    }
}

/// Hands out one shared `FakeShim`; `fail` makes launches fail like a runtime error.
#[derive(Default)]
pub struct FakeLauncher {
    pub shim: Arc<FakeShim>,
    pub fail: bool,
    pub live: bool,
}

impl ShimLauncher for FakeLauncher {
    fn launch(&self, spec: LaunchSpec) -> BoxFut<'_, PathBuf> {
        Box::pin(async move {
            if self.fail {
                return Err(Error::Shim("runtime: create failed".into()));
            }
            self.shim.set(Status::Created);
            Ok(spec.state_dir.join("shim.sock"))
        })
    }
    fn delete_without_shim(
        &self,
        id: &str,
        _runtime: &str,
        _root: &std::path::Path,
    ) -> BoxFut<'_, ()> {
        self.shim.log(&format!("runtime-delete {id}"));
        Box::pin(async { Ok(()) })
    }
    fn connect(&self, _socket: PathBuf) -> Arc<dyn ShimClient> {
        if self.live {
            self.shim.clone()
        } else {
            Arc::new(Dead)
        }
    }
}

/// A shim that is gone.
struct Dead;

fn gone<'a, T: Send + 'a>() -> BoxFut<'a, T> {
    Box::pin(async { Err(Error::ShimUnavailable("connection refused".into())) })
}

impl ShimClient for Dead {
    fn state(&self) -> BoxFut<'_, ShimState> {
        gone()
    }
    fn start(&self) -> BoxFut<'_, u32> {
        gone()
    }
    fn kill(&self, _: KillRequest) -> BoxFut<'_, ()> {
        gone()
    }
    fn pause(&self) -> BoxFut<'_, ()> {
        gone()
    }
    fn resume(&self) -> BoxFut<'_, ()> {
        gone()
    }
    fn resize(&self, _: ResizeRequest) -> BoxFut<'_, ()> {
        gone()
    }
    fn close_stdin(&self, _: Option<String>) -> BoxFut<'_, ()> {
        gone()
    }
    fn exec(&self, _: ExecRequest) -> BoxFut<'_, ()> {
        gone()
    }
    fn exec_start(&self, _: String) -> BoxFut<'_, u32> {
        gone()
    }
    fn exec_state(&self, _: String) -> BoxFut<'_, ExecState> {
        gone()
    }
    fn wait(&self, _: Option<String>) -> BoxFut<'_, ExitInfo> {
        gone()
    }
    fn delete(&self) -> BoxFut<'_, ExitInfo> {
        gone()
    }
}
