//! Starting a container: one run — its environment (`environment`: root, volumes,
//! network, the OCI bundle written here), the task in berth-containerd (with the
//! json-file log), clients attached before the start — and dockerd's exit codes for a
//! process that cannot start.
use crate::streams::ShimSocket;

use berth_proto::{CreateTaskRequest, LogConfig};

use super::environment::{bundle_dir, Prepared};
use super::record::Container;
use super::{spec, state_changes, timing, ContainerError, Result};
use crate::security;
use crate::state::SharedDaemon;

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
pub(crate) fn write_bundle(
    daemon: &crate::state::Daemon,
    c: &Container,
    rootfs: &std::path::Path,
    netns: Option<&std::path::Path>,
) -> Result<std::path::PathBuf> {
    let user = security::users::resolve(
        rootfs,
        c.config.user.as_deref().unwrap_or(""),
        c.host_config.group_add.as_deref().unwrap_or(&[]),
    )?;
    if let Some(wd) = c.config.working_dir.as_deref().filter(|w| !w.is_empty()) {
        super::rootfs::make_working_dir(rootfs, wd)?;
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
    let joined = super::shared_namespaces::prepare(daemon, c)?;
    let inputs = spec::SpecInputs {
        rootfs,
        cgroup_v2: crate::api::host::cgroup_version() == "2",
        netns,
        init: init.as_deref(),
        joined: &joined,
    };
    let spec = spec::build(c, &user, &inputs)?;
    let bundle = bundle_dir(daemon, &c.id);
    std::fs::create_dir_all(&bundle)
        .map_err(|e| ContainerError::io(format!("creating {}", bundle.display()), e))?;
    let data =
        serde_json::to_vec_pretty(&spec).map_err(|e| ContainerError::Internal(e.to_string()))?;
    // The bundle describes a live process: written whole, without fsync.
    crate::store::atomic::write_file_volatile(&bundle.join("config.json"), &data)?;
    Ok(bundle)
}

/// How dockerd turns a runtime's start failure into an exit code and a status.
fn start_failure(message: &str) -> (i64, ContainerError) {
    let failure = super::start_errors::classify(message);
    let err = if failure.invalid_config {
        ContainerError::Invalid(failure.message)
    } else {
        ContainerError::Internal(failure.message)
    };
    (failure.exit_code, err)
}

/// `docker start`: 304 when it runs already; a `--rm` container that cannot start is
/// removed (the CLI waits for its removal), as dockerd does.
pub async fn start(daemon: &SharedDaemon, reference: &str) -> Result<()> {
    let (daemon, reference) = (daemon.clone(), reference.to_string());
    super::to_the_end::to_the_end(async move { start_now(&daemon, &reference).await }).await
}

async fn start_now(daemon: &SharedDaemon, reference: &str) -> Result<()> {
    let id = daemon.containers.lookup(reference)?.id;
    let _stage = timing::stage("start", &id);
    // Held until the record says running: a removal waits, then finds it running; an
    // exit of the new run is recorded after its start.
    let guard = daemon.container_locks.lock(&id).await;
    let c = state_changes::start_requested(daemon, &id)?;
    let started = run(daemon, &c).await;
    drop(guard);
    if let Err(e) = started {
        if c.auto_remove() {
            match super::remove::remove(daemon, &c.id, true).await {
                Ok(()) => super::mounts::remove_anonymous_volumes(daemon, &c),
                Err(rm) => {
                    tracing::warn!(id = %c.id, error = %rm, "removing an auto-remove container that failed to start")
                }
            }
        }
        return Err(e);
    }
    Ok(())
}

/// One run of a container: its environment, its task, the start; the record says
/// running (and `start` is published) when it returns Ok. Whatever fails is undone and
/// recorded as dockerd does (exit code 126/127/128 and the error). The caller holds the
/// container's lock and has checked that it may start.
pub async fn run(daemon: &SharedDaemon, c: &Container) -> Result<()> {
    if c.state.has_task {
        // A leftover task from the previous run.
        let _ = daemon.engine.delete(c.task_id()).await;
    }
    // The runtime it was created with must still be registered; the parents of its cgroup
    // get the daemon's real-time budget (dockerd's initCPURtController).
    let runtime =
        super::runtime_choice::registered(&c.host_config, &daemon.config).and_then(|runtime| {
            super::cpu_rt::prepare_parents(&daemon.config, &super::spec::cgroups_path(c))?;
            Ok(runtime)
        });
    let started = match runtime {
        Ok(runtime) => match daemon.environment.prepare(daemon, c).await {
            Ok(prepared) => match start_task(daemon, c, prepared, runtime).await {
                Ok(pid) => Ok(pid),
                Err(e) => {
                    daemon.environment.teardown(daemon, c).await;
                    Err(e)
                }
            },
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let (pid, attach_socket, shim_protocol) = match started {
        Ok(task) => task,
        Err(e) => {
            let (code, err) = match &e {
                ContainerError::Engine(inner) => start_failure(&inner.to_string()),
                other => (128, ContainerError::Internal(other.to_string())),
            };
            state_changes::start_failed(daemon, &c.id, code, err.to_string());
            return Err(match e {
                ContainerError::Engine(_) => err,
                other => other,
            });
        }
    };
    let record_stage = timing::stage("start.record", &c.id);
    let recorded = state_changes::started(daemon, &c.id, pid, attach_socket, shim_protocol);
    drop(record_stage);
    if let Err(e) = recorded {
        // The record cannot say so: the run must not go on unrecorded.
        tracing::warn!(id = %c.id, error = %e, "recording a start; stopping the task again");
        let _ = daemon.engine.kill(c.task_id(), 9, None).await;
        let _ = daemon.engine.wait(c.task_id(), None).await;
        let _ = daemon.engine.delete(c.task_id()).await;
        daemon.environment.teardown(daemon, c).await;
        return Err(e);
    }
    Ok(())
}

/// Creates the task while the network's endpoints are made, lets the clients attached
/// before the start connect, starts it. A task that cannot start, or whose network
/// could not be made, is deleted again (a network error is the one told, as dockerd
/// meets it first). Its init's pid, the attach socket and its shim's protocol version.
async fn start_task(
    daemon: &SharedDaemon,
    c: &Container,
    prepared: Prepared,
    runtime: String,
) -> Result<(u32, String, u32)> {
    let req = CreateTaskRequest {
        id: c.task_id().to_string(),
        bundle: prepared.bundle.display().to_string(),
        runtime: Some(runtime),
        terminal: c.tty(),
        stdin: c.config.open_stdin.unwrap_or(false),
        log: log_spec(c),
    };
    let create = async {
        let _stage = timing::stage("start.task_create", &c.id);
        daemon.engine.create(&req).await
    };
    let task = match tokio::join!(create, prepared.network.finished()) {
        (Ok(task), Ok(())) => task,
        (created, Err(network)) => {
            if created.is_ok() {
                let _ = daemon.engine.delete(c.task_id()).await;
            }
            return Err(network);
        }
        (Err(e), Ok(())) => return Err(e.into()),
    };
    // Clients that attached before the start connect now, before the process runs.
    let attach_stage = timing::stage("start.attach", &c.id);
    daemon
        .attach_gate
        .open(
            &c.id,
            ShimSocket::new(&task.attach_socket, task.shim_protocol),
        )
        .await;
    drop(attach_stage);
    let _start_stage = timing::stage("start.task_start", &c.id);
    match daemon.engine.start(c.task_id()).await {
        Ok(pid) => Ok((pid, task.attach_socket, task.shim_protocol)),
        Err(e) => {
            let _ = daemon.engine.delete(c.task_id()).await;
            Err(e.into())
        }
    }
}
