//! Exec instances: `POST /containers/{id}/exec` records one (here), `POST
//! /exec/{id}/start` runs it in the container's task (`start`), `GET /exec/{id}/json`
//! shows it. Kept in memory (as dockerd), dropped with their container. An exec's exit
//! comes with berth-containerd's `exec-exit` event and is pushed to whoever waits for it.
//!
//! - `process` — the OCI process of an exec (user, env, caps, cwd).
//! - `start`   — start, detached or attached (the hijacked stream), and the exit.
mod process;
mod start;

pub use start::{exited, start, sync_exits, ExecSession, StartRequest, Started};

use std::collections::HashMap;
use std::sync::RwLock;

use bollard_stubs::models::ExecConfig;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::record::{Container, Status};
use super::{ContainerError, Result};
use crate::state::SharedDaemon;

/// One exec instance.
#[derive(Debug, Clone)]
pub struct Exec {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    pub running: bool,
    /// Set once it ran.
    pub started: bool,
    pub exit_code: Option<i64>,
    pub pid: u32,
}

impl Exec {
    pub fn tty(&self) -> bool {
        self.config.tty.unwrap_or(false)
    }
    pub fn attach_stdin(&self) -> bool {
        self.config.attach_stdin.unwrap_or(false)
    }
}

struct Entry {
    exec: Exec,
    /// The exit code once known (waiters subscribe).
    exit: watch::Sender<Option<i64>>,
}

#[derive(Default)]
pub struct ExecStore {
    execs: RwLock<HashMap<String, Entry>>,
}

impl ExecStore {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.execs.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.execs.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, id: &str) -> Result<Exec> {
        self.read()
            .get(id)
            .map(|e| e.exec.clone())
            .ok_or_else(|| ContainerError::Missing(format!("No such exec instance: {id}")))
    }

    fn insert(&self, exec: Exec) {
        let entry = Entry {
            exec: exec.clone(),
            exit: watch::channel(None).0,
        };
        self.write().insert(exec.id, entry);
    }

    pub fn update(&self, id: &str, f: impl FnOnce(&mut Exec)) {
        if let Some(e) = self.write().get_mut(id) {
            f(&mut e.exec);
        }
    }

    /// Records the exit of a running exec and wakes its waiters; the exec as it was
    /// (None when it was not running: an exit is recorded once).
    pub fn finish(&self, id: &str, code: i64) -> Option<Exec> {
        let mut execs = self.write();
        let e = execs.get_mut(id)?;
        if !e.exec.running {
            return None;
        }
        e.exec.running = false;
        e.exec.exit_code = Some(code);
        e.exit.send_replace(Some(code));
        Some(e.exec.clone())
    }

    /// Resolves with the exec's exit code once it has one (None if the exec is
    /// forgotten first).
    pub fn exit_code(
        &self,
        id: &str,
    ) -> impl std::future::Future<Output = Option<i64>> + Send + 'static {
        let rx = self.read().get(id).map(|e| e.exit.subscribe());
        async move {
            let mut rx = rx?;
            let code = rx.wait_for(Option::is_some).await.ok()?;
            *code
        }
    }

    /// The execs that run (started, no exit yet).
    pub fn running(&self) -> Vec<Exec> {
        self.read()
            .values()
            .filter(|e| e.exec.running)
            .map(|e| e.exec.clone())
            .collect()
    }

    /// IDs of a container's execs (inspect's ExecIDs).
    pub fn of_container(&self, container_id: &str) -> Vec<String> {
        self.read()
            .values()
            .filter(|e| e.exec.container_id == container_id && (e.exec.running || !e.exec.started))
            .map(|e| e.exec.id.clone())
            .collect()
    }

    /// Forgets one exec (a finished healthcheck probe).
    pub fn remove(&self, id: &str) {
        self.write().remove(id);
    }

    /// Forgets a removed container's execs.
    pub fn remove_container(&self, container_id: &str) {
        self.write()
            .retain(|_, e| e.exec.container_id != container_id);
    }
}

/// A running (not paused) container, as exec wants it.
fn active(daemon: &SharedDaemon, reference: &str) -> Result<Container> {
    let c = daemon.containers.lookup(reference)?;
    match c.state.status {
        Status::Running => Ok(c),
        Status::Paused => Err(ContainerError::Conflict(format!(
            "Container {reference} is paused, unpause the container before exec"
        ))),
        Status::Restarting => Err(ContainerError::Conflict(format!(
            "Container {} is restarting, wait until the container is running",
            c.id
        ))),
        _ => Err(ContainerError::Conflict(format!(
            "Container {} is not running",
            c.id
        ))),
    }
}

/// "exec_create: sh -c ls", "exec_start: sh -c ls"; dockerd's `exec_die` has no command.
/// As dockerd's, the entrypoint and the arguments are joined by one space even when there
/// are no arguments ("exec_start: true ").
fn event_action(action: &str, config: &ExecConfig) -> String {
    if action == "exec_die" {
        return action.to_string();
    }
    let cmd = config.cmd.as_deref().unwrap_or_default();
    let (entrypoint, args) = cmd
        .split_first()
        .map_or(("", &[][..]), |(e, a)| (e.as_str(), a));
    format!("{action}: {entrypoint} {}", args.join(" "))
}

pub(super) fn publish(
    daemon: &SharedDaemon,
    c: &Container,
    action: &str,
    exec: &Exec,
    extra: &[(&str, String)],
) {
    let mut attrs = c.event_attributes();
    attrs.insert("execID".into(), exec.id.clone());
    for (k, v) in extra {
        attrs.insert((*k).into(), v.clone());
    }
    daemon.events.publish(
        "container",
        &event_action(action, &exec.config),
        &c.id,
        attrs,
    );
}

/// `POST /containers/{id}/exec`.
pub fn create(daemon: &SharedDaemon, reference: &str, config: ExecConfig) -> Result<String> {
    if config.cmd.as_ref().is_none_or(Vec::is_empty) {
        return Err(ContainerError::Invalid("No exec command specified".into()));
    }
    if let Some(keys) = config.detach_keys.as_deref().filter(|k| !k.is_empty()) {
        if !valid_detach_keys(keys) {
            return Err(ContainerError::Invalid(format!(
                "Invalid detach keys ({keys}) provided"
            )));
        }
    }
    let c = active(daemon, reference)?;
    let exec = Exec {
        id: hex::encode(rand::random::<[u8; 32]>()),
        container_id: c.id.clone(),
        config,
        running: false,
        started: false,
        exit_code: None,
        pid: 0,
    };
    daemon.execs.insert(exec.clone());
    publish(daemon, &c, "exec_create", &exec, &[]);
    Ok(exec.id)
}

/// "ctrl-p,ctrl-q", "a", "ctrl-@": dockerd's detach key syntax.
fn valid_detach_keys(keys: &str) -> bool {
    keys.split(',').all(|k| {
        let k = k.trim();
        k.len() == 1
            || k.strip_prefix("ctrl-").is_some_and(|c| {
                c.len() == 1
                    && c.chars()
                        .all(|ch| ch.is_ascii_lowercase() || "@[\\]^_".contains(ch))
            })
    })
}

/// `GET /exec/{id}/json`.
pub async fn inspect(daemon: &SharedDaemon, exec_id: &str) -> Result<Value> {
    let e = daemon.execs.get(exec_id)?;
    let cmd = e.config.cmd.clone().unwrap_or_default();
    let mut process = json!({
        "tty": e.tty(),
        "entrypoint": cmd.first().cloned().unwrap_or_default(),
        "arguments": cmd.get(1..).unwrap_or(&[]).to_vec(),
        "privileged": e.config.privileged.unwrap_or(false),
    });
    if let Some(u) = e.config.user.as_deref().filter(|u| !u.is_empty()) {
        process["user"] = json!(u);
    }
    Ok(json!({
        "ID": e.id,
        "Running": e.running,
        "ExitCode": e.exit_code,
        "ProcessConfig": process,
        "OpenStdin": e.attach_stdin(),
        "OpenStderr": e.config.attach_stderr.unwrap_or(false),
        "OpenStdout": e.config.attach_stdout.unwrap_or(false),
        "CanRemove": false,
        "ContainerID": e.container_id,
        "DetachKeys": e.config.detach_keys.clone().unwrap_or_default(),
        "Pid": e.pid,
    }))
}

/// `POST /exec/{id}/resize`.
pub async fn resize(daemon: &SharedDaemon, exec_id: &str, width: u32, height: u32) -> Result<()> {
    let e = daemon.execs.get(exec_id)?;
    let c = daemon.containers.lookup(&e.container_id)?;
    daemon
        .engine
        .resize(
            c.task_id(),
            &berth_proto::ResizeRequest {
                width,
                height,
                exec_id: Some(exec_id.to_string()),
            },
        )
        .await
        .map_err(ContainerError::from)
}
