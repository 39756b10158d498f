//! The shim's state: the init and exec processes, and the control API's handlers.
use std::collections::BTreeMap;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{json, Value};

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
}

#[derive(Deserialize, Default)]
struct Target {
    #[serde(default)]
    exec_id: Option<String>,
}

#[derive(Deserialize)]
struct KillReq {
    signal: i32,
    #[serde(default)]
    all: bool,
    #[serde(default)]
    exec_id: Option<String>,
}

#[derive(Deserialize)]
struct ResizeReq {
    width: u16,
    height: u16,
    #[serde(default)]
    exec_id: Option<String>,
}

#[derive(Deserialize)]
struct ExecReq {
    exec_id: String,
    process: Value,
    #[serde(default)]
    terminal: bool,
    #[serde(default)]
    stdin: bool,
}

fn body<'a, T: Deserialize<'a> + Default>(b: &'a [u8]) -> Result<T> {
    if b.iter().all(|c| c.is_ascii_whitespace()) {
        Ok(T::default())
    } else {
        Ok(serde_json::from_slice(b)?)
    }
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
            None => self.state.join("exit.json"),
            Some(id) => self.state.join(format!("exec-{id}.exit.json")),
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
        if key.is_none() {
            self.init.oom_killed = Some(self.oom.as_ref().is_some_and(|w| w.killed(status)));
        }
        if let Ok(p) = self.proc_mut(&key) {
            p.exited(status, at);
        }
        let answer = self
            .proc(&key)
            .map(|p| p.exit_json())
            .unwrap_or(Value::Null);
        let _ = reaper::write_exit_file(&self.exit_file(&key), &answer);
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
            ("GET", ["state"]) => Ok(Reply::Now(self.state_json())),
            ("POST", ["start"]) => {
                self.accept_pending_clients();
                if self.init.status != Status::Created {
                    return Err(Error::Conflict(format!(
                        "container is {}",
                        self.init.status.as_str()
                    )));
                }
                self.rt.start()?;
                let pid = self.init.pid;
                self.init.started(pid)?;
                Ok(Reply::Now(json!({ "pid": pid })))
            }
            ("POST", ["kill"]) => {
                let r: KillReq = serde_json::from_slice(&req.body)?;
                self.kill(r)?;
                Ok(Reply::Now(json!({})))
            }
            ("POST", ["pause"]) => {
                if self.init.status != Status::Running {
                    return Err(Error::Conflict(format!(
                        "container is {}",
                        self.init.status.as_str()
                    )));
                }
                self.rt.pause()?;
                self.init.paused()?;
                Ok(Reply::Now(json!({})))
            }
            ("POST", ["update"]) => {
                if !matches!(
                    self.init.status,
                    Status::Running | Status::Paused | Status::Created
                ) {
                    return Err(Error::Conflict(format!(
                        "container is {}",
                        self.init.status.as_str()
                    )));
                }
                let body: serde_json::Value = serde_json::from_slice(&req.body)?;
                let resources = body.get("resources").cloned().unwrap_or(json!({}));
                let file = self.state.join("update-resources.json");
                std::fs::write(&file, serde_json::to_vec(&resources)?)?;
                let result = self.rt.update(&file);
                let _ = std::fs::remove_file(&file);
                result?;
                Ok(Reply::Now(json!({})))
            }
            ("POST", ["resume"]) => {
                if self.init.status != Status::Paused {
                    return Err(Error::Conflict(format!(
                        "container is {}",
                        self.init.status.as_str()
                    )));
                }
                self.rt.resume()?;
                self.init.resumed()?;
                Ok(Reply::Now(json!({})))
            }
            ("POST", ["resize"]) => {
                let r: ResizeReq = serde_json::from_slice(&req.body)?;
                let p = self.proc(&r.exec_id)?;
                match &p.io.master {
                    Some(m) => terminal::resize(m, r.width, r.height)?,
                    None if p.terminal => {
                        return Err(Error::Conflict("process has no terminal yet".into()))
                    }
                    // As containerd's runc shim: a process without a terminal has
                    // nothing to resize, and that is not an error (`docker resize` of a
                    // container started without -t answers 200 from dockerd).
                    None => {}
                }
                Ok(Reply::Now(json!({})))
            }
            ("POST", ["close-stdin"]) => {
                let r: Target = body(&req.body)?;
                self.read_pending_client_input();
                let p = self.proc_mut(&r.exec_id)?;
                p.io.close_stdin = true;
                p.io.flush_stdin();
                Ok(Reply::Now(json!({})))
            }
            ("POST", ["exec"]) => {
                let r: ExecReq = serde_json::from_slice(&req.body)?;
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
                        self.init.status.as_str()
                    )));
                }
                let mut p = Proc::new(r.terminal);
                p.spec = Some((r.process, r.stdin));
                self.execs.insert(r.exec_id, p);
                Ok(Reply::Now(json!({})))
            }
            ("POST", ["exec", id, "start"]) => {
                self.accept_pending_clients();
                let key = Some(id.to_string());
                let pid = self.start_exec(&key)?;
                Ok(Reply::Now(json!({ "pid": pid })))
            }
            ("GET", ["exec", id]) => {
                let p = self.proc(&Some(id.to_string()))?;
                let mut v = p.exit_json();
                v["exec_id"] = json!(id);
                v["pid"] = json!(p.pid);
                v["status"] = json!(p.status.as_str());
                Ok(Reply::Now(v))
            }
            ("POST", ["wait"]) => {
                let r: Target = body(&req.body)?;
                let p = self.proc(&r.exec_id)?;
                if p.exit.is_some() {
                    Ok(Reply::Now(p.exit_json()))
                } else {
                    Ok(Reply::Wait(r.exec_id))
                }
            }
            ("POST", ["delete"]) => self.delete().map(Reply::Exit),
            ("POST", ["reopen-log"]) => match &mut self.log {
                Some(log) => {
                    log.reopen()?;
                    Ok(Reply::Now(json!({})))
                }
                None => Err(Error::Conflict("the container has no log file".into())),
            },
            (_, _) => Err(Error::NotFound(format!(
                "no route {} {}",
                req.method, req.path
            ))),
        }
    }

    pub fn state_json(&self) -> Value {
        let mut v = self.init.exit_json();
        v["id"] = json!(self.args.id);
        v["pid"] = json!(self.init.pid);
        v["status"] = json!(self.init.status.as_str());
        v["terminal"] = json!(self.args.terminal);
        v
    }

    fn kill(&mut self, r: KillReq) -> Result<()> {
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
                    return Err(Error::Conflict(format!("exec is {}", p.status.as_str())));
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
            return Err(Error::Conflict(format!(
                "exec {id} is {}",
                p.status.as_str()
            )));
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

    fn delete(&mut self) -> Result<Value> {
        match self.init.status {
            Status::Running | Status::Paused => {
                return Err(Error::Conflict(format!(
                    "container is {}",
                    self.init.status.as_str()
                )))
            }
            Status::Created => {
                self.rt.delete(true)?;
                // The init was killed by the runtime: reap it to record its status.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                while self.init.exit.is_none() && std::time::Instant::now() < deadline {
                    for (pid, st) in self.reaper.reap() {
                        self.on_reaped(pid, st);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
            Status::Stopped => self.rt.delete(false).or_else(|_| self.rt.delete(true))?,
        }
        Ok(self.init.exit_json())
    }

    /// Removes what the shim made in the state dir (exit.json stays: it is the record).
    pub fn cleanup(&self) {
        for name in ["shim.sock", "attach.sock", "shim.pid", "init.pid"] {
            let _ = std::fs::remove_file(self.state.join(name));
        }
        for id in self.execs.keys() {
            let _ = std::fs::remove_file(self.state.join(format!("exec-{id}.exit.json")));
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
        self.init.pid = runtime::read_pid(&self.state.join("init.pid"))?;
        self.oom = OomWatch::for_pid(self.init.pid);
        Ok(())
    }
}
