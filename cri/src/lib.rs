//! Berth's Kubernetes Container Runtime Interface: the CRI `runtime.v1` RuntimeService and
//! ImageService over gRPC on a unix socket, served from inside berthd (see README.md).
//!
//! The crate knows berthd only through the traits of [`backend`] (images, berth-containerd's
//! tasks, the host's security defaults), which berthd implements and hands to [`serve`].
//!
//! - `proto`   — the CRI protocol, compiled at build time from the vendored api.proto.
//! - `service` — the gRPC services: sandboxes, containers, images, exec, stats, info.
//! - `store`   — the CRI's own records of sandboxes and containers.
//! - `spec`    — OCI specs of pause processes and containers.
//! - `cni`     — pod networking through the node's CNI plugins.
//! - `stream`  — the streaming server for Exec, Attach and PortForward (SPDY, as the
//!   kubelet's clients speak it).
pub mod backend;
pub mod cni;
pub mod error;
pub mod options;
pub mod proto;
pub mod service;
pub mod spec;
pub mod store;
pub mod stream;

pub use options::CriOptions;
pub use service::{serve, CriHandle};

/// The CRI's namespace on berth-containerd's shared task list: its tasks' IDs start with
/// this (Docker's are 32 hex digits), and berthd's Docker side leaves them alone.
pub const TASK_PREFIX: &str = "k8s.";

/// Whether a berth-containerd task belongs to the CRI.
pub fn is_cri_task(task_id: &str) -> bool {
    task_id.starts_with(TASK_PREFIX)
}
