//! berthd's side of the Kubernetes CRI (the `berth-cri` crate): the three narrow traits the
//! CRI server needs, implemented over berthd's own parts, and its start at daemon start.
//!
//! - `images`   — the image store and registry client (pulls through the same mirrors as
//!   `docker pull`), roots of pods' containers mounted from the shared layers.
//! - `tasks`    — berth-containerd's task API, through the engine client.
//! - `security` — Docker's capability set, seccomp profile, masked paths, user lookup.
//! - `holds`    — images that pods' containers run on: `docker rmi` and CRI removals
//!   leave their layers alone while a hold exists.
use std::sync::Arc;

use crate::state::SharedDaemon;

pub mod holds;
pub mod images;
pub mod security;
pub mod tasks;

pub use holds::ImageHolds;

/// Starts the CRI server when `--cri-socket` is not empty.
pub async fn start(daemon: &SharedDaemon) -> Option<berth_cri::CriHandle> {
    let cfg = daemon.config.cri.clone();
    let socket = cfg.socket.clone()?;
    let mut opts =
        berth_cri::CriOptions::new(socket, &daemon.config.data_root, &daemon.config.exec_root);
    opts.sandbox_image = cfg.sandbox_image;
    opts.cni_conf_dir = cfg.cni_conf_dir;
    opts.cni_bin_dirs = cfg.cni_bin_dirs;
    opts.stream_address = cfg.stream_address;
    opts.runtime_version = crate::api::version::ENGINE_VERSION.to_string();
    let backends = berth_cri::service::Backends {
        images: Arc::new(images::DaemonImages(daemon.clone())),
        tasks: Arc::new(tasks::EngineTasks(daemon.engine.clone())),
        security: Arc::new(security::DockerSecurity),
    };
    match berth_cri::serve(opts, backends).await {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::error!(error = %e, "the CRI server could not start");
            None
        }
    }
}
