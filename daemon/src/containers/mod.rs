//! Containers: records on disk, names, create (Docker config → OCI bundle),
//! lifecycle through berth-containerd, inspect and list.
//!
//! - `record`    — the container record (`config.v2.json`-like) and its state.
//! - `store`     — every record in memory and on disk; names; lookup by ID, name, prefix.
//! - `names`     — name validation and generated names.
//! - `engine`    — the berth-containerd client and launcher.
//! - `create`    — `POST /containers/create`: merge with the image, validate, write the record.
//! - `create_checks` — dockerd's checks of a create request (config, host config, platform).
//! - `create_warnings` — the `Warnings` of a create answer (what dockerd accepts and notes).
//! - `resources` — HostConfig resources: dockerd's validation, the OCI `linux.resources`.
//! - `block_io`  — block I/O weights and throttles: host support, dockerd's warnings, OCI.
//! - `cpu_rt`    — real-time CPU time: checked against the kernel, the parents' budget.
//! - `storage_opts` — `--storage-opt`: refused as dockerd's overlay2 without quotas.
//! - `spec`      — the OCI `config.json` of a container.
//! - `shared_namespaces` — `--pid`/`--ipc container:X`, shareable and host IPC, /dev/shm.
//! - `runtime_choice` — `HostConfig.Runtime`: the default filled in, unknown names refused.
//! - `rootfs`    — the overlay root (`volatile` for `--rm`), who holds it mounted.
//! - `etc_files` — `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf` of a container.
//! - `init_layer` — dockerd's `<id>-init` layer: mount points that are not changes.
//! - `start`     — start: one run (environment, task, attached clients), exit codes.
//! - `environment` — a run's root, volumes, network and bundle: made and torn down.
//! - `run_state` — the run state machine: the only code that changes `State.Status`.
//! - `state_changes` — a transition applied to the record, with its side effects.
//! - `lifecycle` — stop, kill, pause, unpause, restart, rename.
//! - `timing`    — per-stage timings (debug events) for the benchmark's breakdown.
//! - `to_the_end` — state-changing operations finish whatever happens to their caller.
//! - `remove`    — rm, `--rm`, and the destruction of a container.
//! - `exit`      — the one exit path, the restart policy's next run.
//! - `engine_events` — berth-containerd's `/events`: exits, OOM kills, exec exits.
//! - `reconcile` — records against tasks at start-up and after a reconnect.
//! - `attach`, `attach_gate` — attach sessions; clients attached before the start.
//! - `exec`      — exec instances: create, start (detached or on the stream), exits.
//! - `health`, `health_config`, `health_probe` — healthchecks: monitors, config, probes.
//! - `archive*`  — `docker cp` both ways: the container's view of its files, safe unpacking
//!   (paths resolve and trees are read by handle in `crate::in_root`).
//! - `commit*`   — `docker commit`: the upper layer as a layer tar, the new config.
//! - `update`, `prune`, `changes` — `docker update`, `container prune`, `docker diff`.
//! - `wait`      — `POST /containers/{id}/wait`.
//! - `inspect`   — `GET /containers/{id}/json`.
//! - `mounts*`   — binds, volumes and tmpfs: resolved at create, set up at start, shown.
//! - `list`      — `GET /containers/json`, its filters and status strings.
pub mod archive;
pub mod archive_extract;
pub mod archive_fs;
pub mod archive_put;
pub mod attach;
pub mod attach_gate;
pub mod block_io;
pub mod cgroup_leftovers;
pub mod changes;
pub mod commit;
pub mod commit_config;
pub mod commit_tar;
pub mod cpu_rt;
pub mod create;
pub mod create_checks;
pub mod create_warnings;
pub mod engine;
pub mod engine_events;
pub mod environment;
pub mod etc_files;
pub mod exec;
pub mod exit;
pub mod export;
pub mod health;
pub mod health_config;
pub mod health_probe;
pub mod init_layer;
pub mod inspect;
pub mod lifecycle;
pub mod list;
pub mod locks;
pub mod mounts;
pub mod names;
pub mod prune;
pub mod reconcile;
pub mod record;
pub mod remove;
pub mod resources;
pub mod rootfs;
pub mod run_state;
pub mod runtime_choice;
pub mod shared_namespaces;
pub mod signals;
pub mod spec;
pub mod start;
pub mod start_errors;
pub mod state_changes;
pub mod storage_opts;
pub mod store;
pub mod sysctls;
pub mod timing;
pub mod to_the_end;
pub mod update;
pub mod wait;

pub use record::{Container, RunState, Status};
pub use store::ContainerStore;

/// Errors of the container service, mapped to API errors once in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// 404: "No such container: x".
    #[error("No such container: {0}")]
    NotFound(String),
    /// 404 with this exact message (e.g. "network foo not found").
    #[error("{0}")]
    Missing(String),
    /// 400: invalid parameter.
    #[error("{0}")]
    Invalid(String),
    /// 409: conflict (name in use, wrong state).
    #[error("{0}")]
    Conflict(String),
    /// 304: nothing to do (start of a running container, stop of a stopped one).
    #[error("not modified")]
    NotModified,
    /// 404 from the image service ("No such image: x").
    #[error(transparent)]
    Image(#[from] crate::images::ImageError),
    /// The engine (berth-containerd) failed or is unreachable (500).
    #[error("{0}")]
    Engine(#[from] engine::EngineError),
    /// A security setting could not be applied.
    #[error(transparent)]
    Security(#[from] crate::security::SecurityError),
    /// Disk trouble (500).
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Networking (its own statuses: 404 network not found, 403, 400…).
    #[error(transparent)]
    Network(#[from] crate::networks::NetworkError),
    /// Anything else (500).
    #[error("{0}")]
    Internal(String),
}

impl ContainerError {
    pub fn io(what: impl Into<String>, e: std::io::Error) -> Self {
        ContainerError::Io(what.into(), e)
    }

    /// A container a request names but that does not exist, as dockerd's
    /// `errdefs.InvalidParameter`: a 400 (a 404 from create makes the CLI pull the image).
    pub fn not_found_as_invalid(self) -> Self {
        match self {
            ContainerError::NotFound(_) => ContainerError::Invalid(self.to_string()),
            other => other,
        }
    }
}

pub type Result<T, E = ContainerError> = std::result::Result<T, E>;

/// "0001-01-01T00:00:00Z": dockerd's zero time.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// An RFC 3339 time with nanoseconds, UTC, as dockerd prints it (trailing zeros trimmed).
pub fn format_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    crate::images::config::format_rfc3339_nano(t)
}
#[cfg(test)]
mod lifecycle_tests;
