//! Container resource usage in Docker's shapes: `/containers/{id}/stats`
//! from cgroup v1 or v2 files and /proc, and `/containers/{id}/top`.
//!
//! - `model`   — the JSON dockerd sends (`StatsJson`, `TopResult`).
//! - `host`    — /proc/stat, /proc/meminfo, a container's /proc/<pid>/net/dev.
//! - `v1`, `v2` — reading one cgroup of each version.
//! - `cgroup`  — `CgroupPaths`, and finding a process's cgroup from /proc.
//! - `sample`  — one sample from a cgroup and a pid.
//! - `sampler` — the streamed and one-shot forms of `GET /containers/{id}/stats`.
//! - `top`     — `ps` on the host, keeping the container's processes.
//!
//! Wiring the routes (the container core owns them):
//! - `GET /containers/{id}/stats`: `Body::from_stream(stats_stream(StatsOptions { id,
//!   name: "/name", stream, one_shot, api_version }, Host::real(), locate))`, with
//!   `Content-Type: application/json`; `locate` is called before each sample and answers
//!   `Target::Running { cgroup, pid }` (the init pid) or `Target::Stopped`. dockerd
//!   refuses `stream=true&one-shot=true` with a 400 ("cannot have stream=true and
//!   one-shot=true"), and reads `one-shot` only from API 1.41.
//! - `GET /containers/{id}/top?ps_args=…`: a 409 when the container is not running
//!   (dockerd: "Container {id} is not running"), else `spawn_blocking(move ||
//!   top(&cgroup.pids()?, &ps_args))`, `Json` of the `TopResult`, then a `top` container
//!   event. `TopError` and `StatsError` convert into `ApiError` with `?`.
pub mod cgroup;
pub mod host;
pub mod model;
pub mod sample;
pub mod sampler;
pub mod top;
pub mod v1;
pub mod v2;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use cgroup::CgroupPaths;
pub use host::Host;
pub use model::{StatsJson, TopResult};
pub use sample::sample;
pub use sampler::{stats_stream, StatsOptions, Target};
pub use top::{top, TopError};

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: unexpected content {content:?}")]
    Parse { path: PathBuf, content: String },
    #[error("no cgroup found for process {0}")]
    NoCgroup(i32),
}

impl StatsError {
    pub fn io(path: &Path, source: std::io::Error) -> StatsError {
        StatsError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub fn parse(path: &Path, content: &str) -> StatsError {
        StatsError::Parse {
            path: path.to_path_buf(),
            content: content.chars().take(200).collect(),
        }
    }
}

/// A file's text; `None` when it (or its directory) does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, StatsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        // A cgroup removed while being read (ENODEV) reads as gone, too.
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(StatsError::io(path, e)),
    }
}

/// A one-number cgroup file; missing, empty or "max" reads as 0.
pub(crate) fn read_u64(path: &Path) -> Result<u64, StatsError> {
    let Some(text) = read_optional(path)? else {
        return Ok(0);
    };
    let value = text.trim();
    if value.is_empty() || value == "max" {
        return Ok(0);
    }
    value
        .parse::<u64>()
        .map_err(|_| StatsError::parse(path, value))
}

/// `key value` lines (memory.stat, cpu.stat, cpuacct.stat); unparsable lines skipped.
pub(crate) fn flat_keyed(text: &str) -> BTreeMap<&str, u64> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let key = fields.next()?;
            let value = fields.next()?.parse::<u64>().ok()?;
            Some((key, value))
        })
        .collect()
}

impl From<StatsError> for crate::api::ApiError {
    fn from(e: StatsError) -> Self {
        crate::api::ApiError::internal(e.to_string())
    }
}

impl From<TopError> for crate::api::ApiError {
    fn from(e: TopError) -> Self {
        match e {
            TopError::InvalidArgs(_) => crate::api::ApiError::bad_request(e.to_string()),
            _ => crate::api::ApiError::internal(e.to_string()),
        }
    }
}
