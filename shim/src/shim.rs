//! The shim's state: the init and exec processes, and the control API's handlers.
use std::collections::BTreeMap;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use berth_proto::{
    files, Empty, ExecRequest, ExecState, ExitInfo, KillRequest, PidResponse, ProcessRef,
    ResizeRequest, ShimState, UpdateRequest,
};
use serde::Serialize;
use serde_json::Value;

use crate::attach::Client;
use crate::cli::StartArgs;
use crate::control::{Conn, Request};
use crate::error::{Error, Result};
use crate::exec;
use crate::log::ContainerLog;
use crate::oom::OomWatch;
use crate::process::{Proc, Status};
use crate::reaper::{self, Reaper};
use crate::runtime::{self, Runtime};
use crate::terminal;
use crate::util;

/// What a handler wants done with the connection.
pub enum Reply {
    Now(Value),
    /// Park until this process (None = init) exits.
    Wait(Option<String>),
    /// Answer, then the shim exits.
    Exit(Value),
}

pub struct Shim {
    pub args: StartArgs,
    pub state: PathBuf,
    pub rt: Runtime,
    pub reaper: Reaper,
    pub ctl: UnixListener,
    pub att: UnixListener,
    pub init: Proc,
    pub execs: BTreeMap<String, Proc>,
    pub log: Option<ContainerLog>,
    pub conns: BTreeMap<u64, Conn>,
    pub clients: BTreeMap<u64, Client>,
    pub next_id: u64,
    /// Children reaped before we knew their pid (an exec that exited at once).
    pub orphans: Vec<(i32, i32, String)>,
    pub exiting: bool,
    /// The container's memory cgroup OOM counter, read at create.
    pub oom: Option<OomWatch>,
    /// The protocol version it speaks (berth_proto::version), fixed at start: from
    /// version 2 on, an attach header is acknowledged.
    pub protocol: u32,
}

fn body<T: serde::de::DeserializeOwned + Default>(b: &[u8]) -> Result<T> {
    Ok(berth_proto::body_or_default(b)?)
}

/// A typed answer as the connection's JSON.
fn answer<T: Serialize>(v: T) -> Result<Reply> {
    Ok(Reply::Now(serde_json::to_value(v)?))
}

/// The answer of calls that return nothing.
fn done() -> Result<Reply> {
    answer(Empty {})
}

impl Shim {
    pub fn proc(&self, key: &Option<String>) -> Result<&Proc> {
        match key {
            None => Ok(&self.init),
            Some(id) => self
                .execs
                .get(id)
                .ok_or_else(|| Error::NotFound(format!("no such exec: {id}"))),
        }
    }

    pub fn proc_mut(&mut self, key: &Option<String>) -> Result<&mut Proc> {
        match key {
            None => Ok(&mut self.init),
            Some(id) => self
                .execs
                .get_mut(id)
                .ok_or_else(|| Error::NotFound(format!("no such exec: {id}"))),
        }
    }

    pub fn exit_file(&self, key: &Option<String>) -> PathBuf {
        match key {
            None => self.state.join(files::EXIT_FILE),
            Some(id) => self.state.join(files::exec_exit_file(id)),
        }
    }

    /// Records the exit of whichever process `pid` was.
    pub fn on_reaped(&mut self, pid: i32, status: i32) {
        let at = util::now();
        let key = if pid == self.init.pid && self.init.exit.is_none() {
            None
        } else if let Some(id) = self
            .execs
            .iter()
            .find(|(_, p)| p.pid == pid && p.exit.is_none())
            .map(|(k, _)| k.clone())
        {
            Some(id)
        } else {
            self.orphans.push((pid, status, at));
            if self.orphans.len() > 256 {
                self.orphans.remove(0);
            }
            return;
        };
        self.process_exited(key, status, at);
    }

    pub fn process_exited(&mut self, key: Option<String>, status: i32, at: String) {
        // What it wrote before dying is already in the pipes: log it before the exit.
        self.drain_output(&key);
        let oom_killed = key.is_none() && self.oom.as_ref().is_some_and(|w| w.killed(status));
        let Ok(p) = self.proc_mut(&key) else { return };
        p.exited(status, at, oom_killed);
        let Some(exit) = p.exit.clone() else { return };
        let _ = reaper::write_exit_file(&self.exit_file(&key), &exit);
        let answer = serde_json::to_value(&exit).unwrap_or(Value::Null);
        for c in self.conns.values_mut() {
            if let Some((k, keep)) = &c.waiting {
                if *k == key {
                    let keep = *keep;
                    c.waiting = None;
                    c.respond(200, &answer, keep);
                }
            }
        }
    }

    fn exec_target(&mut self, key: &Option<String>) -> Result<()> {
        self.proc(key).map(|_| ())
    }

    pub fn handle(&mut self, req: &Request) -> Result<Reply> {
        let segs: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        match (req.method.as_str(), segs.as_slice()) {
            ("GET", ["state"]) => answer(self.state_view()),
            ("POST", ["start"]) => {
                self.accept_pending_clients();
                if self.init.status != Status::Created {
                    return Err(Error::Conflict(format!(
                        "container is {}",
                        self.init.status
                    )));
                }
                self.rt.start()?;
                let pid = self.init.pid;
                self.init.started(pid)?;
                answer(PidResponse { pid: pid as u32 })
            }
            ("POST", ["kill"]) => {
                let r: KillRequest = serde_json::from_slice(&req.body)?;
                self.kill(r)?;
                done()
            }
            ("POST", ["pause"]) => {
                if self.init.status != Status::Running {
                    return Err(Error::Conflict(format!(
                        "container is {}",
                        self.init.status
                    )));
                }
                self.rt.pause()?;
                self.init.paused()?;
                done()
            }
            ("POST", ["update"]) => {
                if !matches!(
                    self.init.status,
                    Status::Running | Status::Paused | Status::Created
                ) {
                    return Err(Error::Conflict(format!(
                        "container is {}",
                        self.init.status
                    )));
                }
                let r: UpdateRequest = body(&req.body)?;
                let resources = match r.resources {
                    Value::Null => Value::Object(Default::default()),
                    v => v,
                };
                let file = self.state.join("update-resources.json");
                std::fs::write(&file, serde_json::to_vec(&resources)?)?;
                let result = self.rt.update(&file);
                let _ = std::fs::remove_file(&file);
                result?;
                done()
            }
            ("POST", ["resume"]) => {
                if self.init.status != Status::Paused {
                    return Err(Error::Conflict(format!(
                        "container is {}",
                        self.init.status
                    )));
                }
                self.rt.resume()?;
                self.init.resumed()?;
                done()
            }
            ("POST", ["resize"]) => {
                let r: ResizeRequest = serde_json::from_slice(&req.body)?;
                let p = self.proc(&r.exec_id)?;
                let dim = |n: u32| u16::try_from(n).unwrap_or(u16::MAX);
                match &p.io.master {
                    Some(m) => terminal::resize(m, dim(r.width), dim(r.height))?,
                    None if p.terminal => {
                        return Err(Error::Conflict("process has no terminal yet".into()))
                    }
                    // As containerd's runc shim: a process without a terminal has
                    // nothing to resize, and that is not an error (`docker resize` of a
                    // container started without -t answers 200 from dockerd).
                    None => {}
                }
                done()
            }
            ("POST", ["close-stdin"]) => {
                let r: ProcessRef = body(&req.body)?;
                self.read_pending_client_input();
                let p = self.proc_mut(&r.exec_id)?;
                p.io.close_stdin = true;
                p.io.flush_stdin();
                done()
            }
            ("POST", ["exec"]) => {
                let r: ExecRequest = serde_json::from_slice(&req.body)?;
                if !exec::valid_id(&r.exec_id) {
                    return Err(Error::BadRequest(format!(
                        "invalid exec id {:?}",
                        r.exec_id
                    )));
                }
                if self.execs.contains_key(&r.exec_id) {
                    return Err(Error::Conflict(format!(
                        "exec {} already exists",
                        r.exec_id
                    )));
                }
                if self.init.status != Status::Running {
                    return Err(Error::Conflict(format!(
                        "container is {}",
                        self.init.status
                    )));
                }
                let mut p = Proc::new(r.terminal);
                p.spec = Some((r.process, r.stdin));
                self.execs.insert(r.exec_id, p);
                done()
            }
            ("POST", ["exec", id, "start"]) => {
                self.accept_pending_clients();
                let key = Some(id.to_string());
                let pid = self.start_exec(&key)?;
                answer(PidResponse { pid: pid as u32 })
            }
            ("GET", ["exec", id]) => {
                let p = self.proc(&Some(id.to_string()))?;
                answer(ExecState {
                    exec_id: id.to_string(),
                    pid: p.pid as u32,
                    status: p.status,
                    exit_status: p.exit.as_ref().map(|e| e.exit_status),
                    exited_at: p.exit.as_ref().map(|e| e.exited_at.clone()),
                })
            }
            ("POST", ["wait"]) => {
                let r: ProcessRef = body(&req.body)?;
                match &self.proc(&r.exec_id)?.exit {
                    Some(exit) => answer(exit),
                    None => Ok(Reply::Wait(r.exec_id)),
                }
            }
            ("POST", ["delete"]) => {
                let exit = self.delete()?;
                Ok(Reply::Exit(serde_json::to_value(exit)?))
            }
            ("POST", ["reopen-log"]) => match &mut self.log {
                Some(log) => {
                    log.reopen()?;
                    done()
                }
                None => Err(Error::Conflict("the container has no log file".into())),
            },
            (_, _) => Err(Error::NotFound(format!(
                "no route {} {}",
                req.method, req.path
            ))),
        }
    }

    pub fn state_view(&self) -> ShimState {
        let exit = self.init.exit.as_ref();
        ShimState {
            id: self.args.id.clone(),
            pid: self.init.pid as u32,
            status: self.init.status,
            exit_status: exit.map(|e| e.exit_status),
            exited_at: exit.map(|e| e.exited_at.clone()),
            terminal: self.args.terminal,
            oom_killed: exit.is_some_and(|e| e.oom_killed),
            protocol: self.protocol,
        }
    }

    fn kill(&mut self, r: KillRequest) -> Result<()> {
        match &r.exec_id {
            None => {
                if self.init.status == Status::Stopped && !r.all {
                    return Err(Error::Conflict("container is not running".into()));
                }
                self.rt.kill(r.signal, r.all)
            }
            Some(_) => {
                let p = self.proc(&r.exec_id)?;
                if p.status != Status::Running && p.status != Status::Paused {
                    return Err(Error::Conflict(format!("exec is {}", p.status)));
                }
                // SAFETY: kill(2) on a pid we are the (sub)reaper of and have not reaped.
                if unsafe { libc::kill(p.pid, r.signal) } != 0 {
                    return Err(std::io::Error::last_os_error().into());
                }
                Ok(())
            }
        }
    }

    fn start_exec(&mut self, key: &Option<String>) -> Result<i32> {
        self.exec_target(key)?;
        if self.init.status != Status::Running {
            return Err(Error::Conflict(format!(
                "container is {}",
                self.init.status.as_str()
            )));
        }
        let Some(id) = key.as_deref() else {
            return Err(Error::BadRequest("no exec id".into()));
        };
        let p = self.proc(key)?;
        if p.status != Status::Created {
            return Err(Error::Conflict(format!("exec {id} is {}", p.status)));
        }
        let (process, stdin) = p
            .spec
            .clone()
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        let (io, pid) =
            match exec::start_exec(&self.rt, &self.state, id, &process, p.terminal, stdin) {
                Ok(v) => v,
                Err(e) => {
                    // The exec never ran: it ends here with the shell's "cannot execute"
                    // codes, and its attach streams end too.
                    let msg = e.to_string().to_lowercase();
                    let code = if msg.contains("not found") || msg.contains("no such file") {
                        127
                    } else {
                        126
                    };
                    self.process_exited(key.clone(), code, util::now());
                    self.close_clients(key);
                    return Err(e);
                }
            };
        let p = self.proc_mut(key)?;
        p.io = io;
        p.started(pid)?;
        // It may already have been reaped as an unknown child.
        if let Some(i) = self.orphans.iter().position(|o| o.0 == pid) {
            let (_, status, at) = self.orphans.remove(i);
            self.process_exited(key.clone(), status, at);
        }
        Ok(pid)
    }

    fn delete(&mut self) -> Result<ExitInfo> {
        match self.init.status {
            Status::Running | Status::Paused | Status::Deleted => {
                return Err(Error::Conflict(format!(
                    "container is {}",
                    self.init.status
                )))
            }
            Status::Created => {
                self.rt.delete(true)?;
                // The init was killed by the runtime: reap it (woken by its SIGCHLD) to
                // record its status.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                loop {
                    for (pid, st) in self.reaper.reap() {
                        self.on_reaped(pid, st);
                    }
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if self.init.exit.is_some() || left.is_zero() {
                        break;
                    }
                    self.reaper.wait_signal(left);
                }
            }
            Status::Stopped => self.rt.delete(false).or_else(|_| self.rt.delete(true))?,
        }
        // A created init the runtime killed but that was not reaped in time: 137 as
        // containerd says for it.
        Ok(self.init.exit.clone().unwrap_or_else(|| ExitInfo::now(137)))
    }

    /// Removes what the shim made in the state dir (exit.json stays: it is the record).
    pub fn cleanup(&self) {
        for name in [
            files::SHIM_SOCKET,
            files::ATTACH_SOCKET,
            files::SHIM_PID,
            files::INIT_PID,
        ] {
            let _ = std::fs::remove_file(self.state.join(name));
        }
        for id in self.execs.keys() {
            let _ = std::fs::remove_file(self.state.join(files::exec_exit_file(id)));
        }
    }

    /// Ends the attach streams of a process (once what is queued has been sent).
    pub fn close_clients(&mut self, key: &Option<String>) {
        for c in self.clients.values_mut() {
            if c.req.as_ref().is_some_and(|r| &r.exec_id == key) {
                c.closing = true;
                c.flush();
            }
        }
    }

    pub fn read_init_pid(&mut self) -> Result<()> {
        self.init.pid = runtime::read_pid(&self.state.join(files::INIT_PID))?;
        self.oom = OomWatch::for_pid(self.init.pid);
        Ok(())
    }
}
