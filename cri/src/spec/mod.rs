//! The OCI runtime specs (`config.json`) of pods' processes, as containerd's CRI plugin
//! builds them (`pkg/cri/server/container_create_linux.go`, `sandbox_run_linux.go`): the
//! pause process that holds a pod's namespaces, and containers that join them.
//!
//! - `sandbox`   — the pause process.
//! - `container` — a container: process, user, security, mounts, namespaces, resources.
//! - `mounts`    — the standard mounts and the kubelet's with their propagation.
//! - `resources` — CRI resources to OCI `linux.resources`.
//! - `security`  — capabilities, seccomp, masked paths, users.
use std::path::Path;

use serde_json::{json, Value};

use crate::error::{CriError, CriResult};

pub mod container;
pub mod mounts;
pub mod resources;
pub mod sandbox;
pub mod security;

/// PATH when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Writes `spec` as the bundle's `config.json`.
pub fn write_bundle(bundle: &Path, spec: &Value) -> CriResult<()> {
    std::fs::create_dir_all(bundle)
        .map_err(|e| CriError::io(format!("creating {}", bundle.display()), e))?;
    let data = serde_json::to_vec(spec)
        .map_err(|e| CriError::Failed(format!("serialising the OCI spec: {e}")))?;
    crate::store::write_whole(&bundle.join("config.json"), &data)
}

/// Reads a bundle's `config.json` back (for exec processes).
pub fn read_bundle(bundle: &Path) -> CriResult<Value> {
    let path = bundle.join("config.json");
    let data =
        std::fs::read(&path).map_err(|e| CriError::io(format!("reading {}", path.display()), e))?;
    serde_json::from_slice(&data)
        .map_err(|e| CriError::Failed(format!("parsing {}: {e}", path.display())))
}

/// `<cgroup_parent>/<id>`, or `""` (the runtime's default) without a parent, as
/// containerd's cgroupfs `getCgroupsPath`.
pub fn cgroups_path(parent: &str, id: &str) -> String {
    if parent.is_empty() {
        return String::new();
    }
    format!("{}/{id}", parent.trim_end_matches('/'))
}

/// A namespace entry: joined by path, or new.
pub fn namespace(kind: &str, path: Option<String>) -> Value {
    match path {
        Some(p) => json!({"type": kind, "path": p}),
        None => json!({"type": kind}),
    }
}

/// The OOM score to give: never below berthd's own (containerd's
/// `restrict_oom_score_adj`; root here lacks CAP_SYS_RESOURCE to go lower).
pub fn restricted_oom_score_adj(wanted: i64) -> i64 {
    let current = std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0);
    wanted.max(current)
}
