//! Starting a container: the overlay root, the OCI bundle, the task in berth-containerd
//! (with the json-file log), clients attached before the start, and dockerd's exit codes
//! for a process that cannot start.
use super::lifecycle::bundle_dir;
use super::record::{Container, Status};
use super::{monitor, rootfs, spec, ContainerError, Result};
use crate::security;
use crate::state::SharedDaemon;
use berth_proto::{CreateTaskRequest, LogConfig};

fn log_spec(c: &Container) -> Option<LogConfig> {
    if c.log_driver() == "none" {
        return None;
    }
    let opts = c
        .host_config
        .log_config
        .as_ref()
        .and_then(|l| l.config.clone())
        .unwrap_or_default();
    Some(LogConfig {
        path: c.log_path().display().to_string(),
        max_size: opts.get("max-size").and_then(|s| parse_size(s)),
        max_file: opts.get("max-file").and_then(|s| s.parse().ok()),
        format: Default::default(),
    })
}

/// "10m", "1k", "512" → bytes (go-units RAMInBytes, binary multiples).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.trim_end_matches('b');
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1u64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .map(|n| (n * mult as f64) as u64)
}

/// Writes the bundle's config.json for `c`, whose root is mounted at `rootfs`.
fn write_bundle(
    daemon: &SharedDaemon,
    c: &Container,
    rootfs: &std::path::Path,
    netns: Option<&std::path::Path>,
) -> Result<std::path::PathBuf> {
    let user = security::users::resolve(
        rootfs,
        c.config.user.as_deref().unwrap_or(""),
        c.host_config.group_add.as_deref().unwrap_or(&[]),
    )?;
    if let Some(wd) = c
        .config
        .working_dir
        .as_deref()
        .filter(|w| !w.is_empty() && !w.contains(".."))
    {
        let dir = rootfs.join(wd.trim_start_matches('/'));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::debug!(dir = %dir.display(), error = %e, "creating the working directory");
        }
    }
    let init = if spec::wants_init(c, daemon.config.init) {
        Some(
            daemon
                .config
                .init_binary()
                .map_err(ContainerError::Internal)?,
        )
    } else {
        None
    };
    let inputs = spec::SpecInputs {
        rootfs,
        cgroup_v2: crate::api::host::cgroup_version() == "2",
        netns,
        init: init.as_deref(),
    };
    let spec = spec::build(c, &user, &inputs)?;
    let bundle = bundle_dir(daemon, &c.id);
    std::fs::create_dir_all(&bundle)
        .map_err(|e| ContainerError::io(format!("creating {}", bundle.display()), e))?;
    let data =
        serde_json::to_vec_pretty(&spec).map_err(|e| ContainerError::Internal(e.to_string()))?;
    crate::store::atomic::write_file(&bundle.join("config.json"), &data)?;
    Ok(bundle)
}

/// How dockerd turns a runtime's start failure into an exit code and a status.
fn start_failure(message: &str) -> (i64, ContainerError) {
    let lower = message.to_ascii_lowercase();
    let code = if lower.contains("permission denied") {
        126
    } else if lower.contains("not found") || lower.contains("no such file") {
        127
    } else {
        128
    };
    let err = if code == 128 {
        ContainerError::Internal(message.to_string())
    } else {
        ContainerError::Invalid(message.to_string())
    };
    (code, err)
}

/// Starts a container: 304 when it runs already.
pub async fn start(daemon: &SharedDaemon, reference: &str) -> Result<()> {
    let id = daemon.containers.lookup(reference)?.id;
    // Held until the record says running: a removal waits, then finds it running.
    let guard = daemon.container_locks.lock(&id).await;
    let c = daemon.containers.lookup(&id)?;
    match c.state.status {
        Status::Running => return Err(ContainerError::NotModified),
        Status::Paused => {
            return Err(ContainerError::Conflict(
                "cannot start a paused container, try unpause instead".into(),
            ))
        }
        Status::Removing | Status::Dead => {
            return Err(ContainerError::Conflict(
                "container is marked for removal and cannot be started".into(),
            ))
        }
        _ => {}
    }
    let started = start_by_user(daemon, &c).await;
    drop(guard);
    if let Err(e) = started {
        // As dockerd: a `--rm` container that cannot start is removed (the CLI waits
        // for its removal).
        if c.auto_remove() {
            match super::lifecycle::remove(daemon, &c.id, true).await {
                Ok(()) => super::mounts::remove_anonymous_volumes(daemon, &c),
                Err(rm) => {
                    tracing::warn!(id = %c.id, error = %rm, "removing an auto-remove container that failed to start")
                }
            }
        }
        return Err(e);
    }
    daemon
        .events
        .publish("container", "start", &c.id, c.event_attributes());
    Ok(())
}

/// A start the user asked for (start, restart): it ends an earlier `docker stop`'s hold on
/// the restart policy. Restarts by the policy itself call `start_container` directly.
pub async fn start_by_user(daemon: &SharedDaemon, c: &Container) -> Result<()> {
    let (c, ()) = daemon.containers.update(&c.id, |r| {
        r.state.manually_stopped = false;
        Ok(())
    })?;
    start_container(daemon, &c).await
}

/// Mounts, builds the bundle, creates and starts the task; records the start.
pub async fn start_container(daemon: &SharedDaemon, c: &Container) -> Result<()> {
    if c.state.has_task {
        // A leftover task from the previous run.
        let _ = daemon.engine.delete(c.task_id()).await;
    }
    rootfs::check_layers(&daemon.layers, &c.layers)?;
    let merged = rootfs::mount_rootfs(c, &daemon.config.data_root.join("layers"))?;
    if let Err(e) = super::mounts_setup::setup(daemon, c) {
        rootfs::unmount_rootfs(c);
        return Err(e);
    }
    let netns = match crate::networks::sandbox::setup(daemon, c).await {
        Ok(netns) => netns,
        Err(e) => {
            super::mounts_setup::release(daemon, c);
            rootfs::unmount_rootfs(c);
            return Err(e.into());
        }
    };
    let result = async {
        let bundle = write_bundle(daemon, c, &merged, netns.as_deref())?;
        let req = CreateTaskRequest {
            id: c.task_id().to_string(),
            bundle: bundle.display().to_string(),
            runtime: c.host_config.runtime.clone().filter(|r| !r.is_empty()),
            terminal: c.tty(),
            stdin: c.config.open_stdin.unwrap_or(false),
            log: log_spec(c),
        };
        let task = daemon
            .engine
            .create(&req)
            .await
            .map_err(engine_start_error)?;
        // Clients that attached before the start connect now, before the process runs.
        daemon
            .attach_gate
            .open(&c.id, task.attach_socket.into())
            .await;
        match daemon.engine.start(c.task_id()).await {
            Ok(pid) => Ok(pid),
            Err(e) => {
                let _ = daemon.engine.delete(c.task_id()).await;
                Err(engine_start_error(e))
            }
        }
    }
    .await;
    match result {
        Ok(pid) => {
            daemon.containers.update(&c.id, |r| {
                r.state.status = Status::Running;
                r.state.pid = pid;
                r.state.exit_code = 0;
                r.state.error.clear();
                r.state.oom_killed = false;
                r.state.started_at = Some(chrono::Utc::now());
                r.state.has_task = true;
                Ok(())
            })?;
            monitor::watch_task(daemon.clone(), c.id.clone());
            super::health::start(daemon, &c.id);
            Ok(())
        }
        Err(e) => {
            super::mounts_setup::release(daemon, c);
            rootfs::unmount_rootfs(c);
            crate::networks::sandbox::release(daemon, c).await;
            let (code, err) = match &e {
                ContainerError::Engine(inner) => start_failure(&inner.to_string()),
                other => (128, ContainerError::Internal(other.to_string())),
            };
            let message = err.to_string();
            let _ = daemon.containers.update(&c.id, |r| {
                r.state.status = if r.state.started_at.is_some() {
                    Status::Exited
                } else {
                    Status::Created
                };
                r.state.exit_code = code;
                r.state.error = message.clone();
                r.state.has_task = false;
                Ok(())
            });
            match e {
                ContainerError::Engine(_) => Err(err),
                other => Err(other),
            }
        }
    }
}

fn engine_start_error(e: super::engine::EngineError) -> ContainerError {
    ContainerError::Engine(e)
}
