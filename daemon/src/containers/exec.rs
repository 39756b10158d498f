//! Exec instances: `POST /containers/{id}/exec` records one, `POST /exec/{id}/start`
//! runs it in the container's task through berth-containerd, `GET /exec/{id}/json`
//! shows it. Kept in memory (as dockerd), dropped with their container.
use std::collections::HashMap;
use std::sync::RwLock;

use bollard_stubs::models::ExecConfig;
use serde_json::{json, Value};

use super::record::{Container, Status};
use super::{ContainerError, Result};
use crate::security;
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

#[derive(Default)]
pub struct ExecStore {
    execs: RwLock<HashMap<String, Exec>>,
}

impl ExecStore {
    pub fn get(&self, id: &str) -> Result<Exec> {
        self.execs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| ContainerError::Missing(format!("No such exec instance: {id}")))
    }

    fn insert(&self, exec: Exec) {
        self.execs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(exec.id.clone(), exec);
    }

    pub fn update(&self, id: &str, f: impl FnOnce(&mut Exec)) {
        if let Some(e) = self
            .execs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(id)
        {
            f(e);
        }
    }

    /// IDs of a container's execs (inspect's ExecIDs).
    pub fn of_container(&self, container_id: &str) -> Vec<String> {
        self.execs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|e| e.container_id == container_id && (e.running || !e.started))
            .map(|e| e.id.clone())
            .collect()
    }

    /// Forgets one exec (a finished healthcheck probe).
    pub fn remove(&self, id: &str) {
        self.execs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Forgets a removed container's execs.
    pub fn remove_container(&self, container_id: &str) {
        self.execs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, e| e.container_id != container_id);
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
fn event_action(action: &str, config: &ExecConfig) -> String {
    if action == "exec_die" {
        return action.to_string();
    }
    format!(
        "{action}: {}",
        config.cmd.clone().unwrap_or_default().join(" ")
    )
}

fn publish(
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

/// The OCI process of an exec: the container's environment plus the exec's, its user
/// (resolved in the container's root), working dir and capabilities.
fn process(c: &Container, exec: &Exec) -> Result<Value> {
    let user_name = exec
        .config
        .user
        .clone()
        .filter(|u| !u.is_empty())
        .or_else(|| c.config.user.clone())
        .unwrap_or_default();
    let user = security::users::resolve(
        &c.merged_dir(),
        &user_name,
        c.host_config.group_add.as_deref().unwrap_or(&[]),
    )?;
    let sec = security::container::for_container(&c.host_config)?;
    let caps = security::container::exec_capabilities(
        exec.config.privileged.unwrap_or(false),
        &sec.capabilities,
    );
    let mut env = super::spec::process_env(c, user.home.as_deref());
    if exec.tty() && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    for e in exec.config.env.iter().flatten() {
        let key = e.split('=').next().unwrap_or("");
        if let Some(slot) = env.iter_mut().find(|x| x.split('=').next() == Some(key)) {
            *slot = e.clone();
        } else {
            env.push(e.clone());
        }
    }
    let cwd = exec
        .config
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| c.config.working_dir.clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".into());
    Ok(json!({
        "terminal": exec.tty(),
        "user": { "uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids },
        "args": exec.config.cmd.clone().unwrap_or_default(),
        "env": env,
        "cwd": cwd,
        "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
        "noNewPrivileges": sec.options.no_new_privileges,
    }))
}

/// Checks an exec can start, marks it running; returns it with its container.
pub fn begin(daemon: &SharedDaemon, exec_id: &str) -> Result<(Exec, Container)> {
    let exec = daemon.execs.get(exec_id)?;
    if exec.running {
        return Err(ContainerError::Conflict(format!(
            "Error: Exec command {exec_id} is already running"
        )));
    }
    if exec.started {
        return Err(ContainerError::Conflict(format!(
            "Error: Exec command {exec_id} has already run"
        )));
    }
    let c = daemon.containers.lookup(&exec.container_id)?;
    if c.state.status == Status::Paused {
        return Err(ContainerError::Conflict(format!(
            "Container {} is paused, unpause the container before exec",
            c.id
        )));
    }
    if !c.state.status.is_running() {
        return Err(ContainerError::Conflict(format!(
            "container {} is not running",
            c.id
        )));
    }
    daemon.execs.update(exec_id, |e| {
        e.running = true;
        e.started = true;
    });
    Ok((exec, c))
}

/// Registers the process with the container's task (before anyone attaches).
pub async fn prepare(daemon: &SharedDaemon, exec: &Exec, c: &Container) -> Result<()> {
    let result = async {
        let process = process(c, exec)?;
        daemon
            .engine
            .exec(
                c.task_id(),
                &berth_proto::ExecRequest {
                    exec_id: exec.id.clone(),
                    process,
                    terminal: exec.tty(),
                    stdin: exec.attach_stdin(),
                },
            )
            .await?;
        Ok(())
    }
    .await;
    if result.is_err() {
        daemon.execs.update(&exec.id, |e| {
            e.running = false;
            e.exit_code = Some(126);
        });
    }
    result
}

/// Starts the prepared process and follows it to its exit.
pub async fn run(daemon: &SharedDaemon, exec: &Exec, c: &Container) -> Result<()> {
    let pid = match daemon.engine.exec_start(c.task_id(), &exec.id).await {
        Ok(pid) => pid,
        Err(e) => {
            let message = e.to_string();
            let code = if message.contains("not found") || message.contains("no such file") {
                127
            } else {
                126
            };
            daemon.execs.update(&exec.id, |x| {
                x.running = false;
                x.exit_code = Some(code);
            });
            return Err(ContainerError::Internal(message));
        }
    };
    daemon.execs.update(&exec.id, |e| e.pid = pid);
    publish(daemon, c, "exec_start", exec, &[]);
    let daemon = daemon.clone();
    let exec = exec.clone();
    let c = c.clone();
    tokio::spawn(async move {
        let code = match daemon.engine.wait(c.task_id(), Some(&exec.id)).await {
            Ok(exit) => exit.exit_status as i64,
            Err(e) => {
                tracing::debug!(exec = %exec.id, error = %e, "waiting on the exec");
                126
            }
        };
        daemon.execs.update(&exec.id, |e| {
            e.running = false;
            e.exit_code = Some(code);
        });
        publish(
            &daemon,
            &c,
            "exec_die",
            &exec,
            &[("exitCode", code.to_string())],
        );
    });
    Ok(())
}

/// Asks the engine about a running exec: its exit may not have reached our waiter yet
/// (the CLI inspects the exec the moment its output ends).
async fn refresh(daemon: &SharedDaemon, e: &Exec) {
    if !e.running || e.pid == 0 {
        return;
    }
    let Some(c) = daemon.containers.get(&e.container_id) else {
        return;
    };
    let Ok(state) = daemon.engine.exec_state(c.task_id(), &e.id).await else {
        return;
    };
    if state.status == berth_proto::TaskStatus::Stopped {
        if let Some(code) = state.exit_status {
            daemon.execs.update(&e.id, |x| {
                x.running = false;
                x.exit_code = Some(i64::from(code));
            });
        }
    }
}

/// `GET /exec/{id}/json`.
pub async fn inspect(daemon: &SharedDaemon, exec_id: &str) -> Result<Value> {
    let e = daemon.execs.get(exec_id)?;
    refresh(daemon, &e).await;
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
