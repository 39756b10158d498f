//! The daemon work behind a step, as dockerd's `containerManager` and `CommitBuildStep`:
//! a container from the step's config (host settings from the build's options), a
//! RUN attached and waited for, a container's changes committed as a child image, the
//! intermediate containers removed (COPY's layer without a container: `scratch_layer`).
use std::path::{Path, PathBuf};

pub use super::scratch_layer::ScratchLayer;

use bollard_stubs::models::ContainerCreateBody;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::options::BuildOptions;
use super::output::Output;
use super::run_config::RunConfig;
use super::{short, BuildError};
use crate::containers::attach::AttachRequest;
use crate::containers::commit::{store_child_image, ChildImage};
use crate::containers::record::Container;
use crate::state::SharedDaemon;
use crate::streams::{FrameDecoder, StreamKind};

/// dockerd's `hostConfigFromOptions`: resources and network of every step container,
/// with no log (RUN output goes to the build's stream).
pub fn host_config(options: &BuildOptions) -> Value {
    let mut hc = json!({
        "LogConfig": {"Type": "none", "Config": {}},
        "NetworkMode": options.network_mode,
    });
    let ints = [
        ("ShmSize", options.shm_size),
        ("Memory", options.memory),
        ("MemorySwap", options.memory_swap),
        ("CpuShares", options.cpu_shares),
        ("CpuPeriod", options.cpu_period),
        ("CpuQuota", options.cpu_quota),
    ];
    for (key, value) in ints {
        if value != 0 {
            hc[key] = json!(value);
        }
    }
    let texts = [
        ("CpusetCpus", &options.cpuset_cpus),
        ("CpusetMems", &options.cpuset_mems),
        ("CgroupParent", &options.cgroup_parent),
    ];
    for (key, value) in texts {
        if !value.is_empty() {
            hc[key] = json!(value);
        }
    }
    if !options.extra_hosts.is_empty() {
        hc["ExtraHosts"] = json!(options.extra_hosts);
    }
    hc
}

/// Creates a step container (not started); prints " ---> Running in …".
pub async fn create(
    daemon: &SharedDaemon,
    out: &Output,
    options: &BuildOptions,
    config: &RunConfig,
) -> Result<Container, BuildError> {
    let mut body = config.to_value();
    body["HostConfig"] = host_config(options);
    let body: ContainerCreateBody = serde_json::from_value(body)
        .map_err(|e| BuildError::Internal(format!("step container config: {e}")))?;
    let c = crate::containers::create::create(daemon, None, body).await?;
    out.stream(format!(" ---> Running in {}\n", short(&c.id)))
        .await;
    Ok(c)
}

/// Starts the container with its output attached to the build's stream, and waits
/// for it; a non-zero exit is dockerd's "The command '…' returned a non-zero code".
pub async fn run(daemon: &SharedDaemon, out: &Output, c: &Container) -> Result<(), BuildError> {
    let request = AttachRequest {
        stdout: true,
        stderr: true,
        stream: true,
        ..Default::default()
    };
    let session = crate::containers::attach::prepare(daemon, &c.id, request).await?;
    let (tx, mut rx) = mpsc::channel::<(StreamKind, bytes::Bytes)>(64);
    let reader = tokio::spawn(async move {
        let (client, mut ours) = tokio::io::duplex(64 * 1024);
        let attach = session.run(client);
        let read = async {
            let mut frames = FrameDecoder::new();
            let mut buf = vec![0u8; 32 * 1024];
            while let Ok(n) = ours.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                frames.feed(&buf[..n]);
                while let Ok(Some(frame)) = frames.next_frame() {
                    if tx.send((frame.kind, frame.payload)).await.is_err() {
                        return;
                    }
                }
            }
        };
        tokio::join!(attach, read);
    });
    if let Err(e) = crate::containers::start::start(daemon, &c.id).await {
        reader.abort();
        return Err(e.into());
    }
    loop {
        tokio::select! {
            frame = rx.recv() => match frame {
                Some((StreamKind::Stderr, data)) => out.stderr(&data).await,
                Some((_, data)) => out.stdout(&data).await,
                None => break,
            },
            () = out.client_gone() => {
                // dockerd's cancelled build: the RUN is killed and its container removed.
                tracing::info!(id = %c.id, "build cancelled: the client went away");
                if let Err(e) = crate::containers::lifecycle::remove(daemon, &c.id, true).await {
                    tracing::warn!(id = %c.id, error = %e, "removing a cancelled build's container");
                }
                reader.abort();
                return Err(BuildError::Internal("build cancelled".into()));
            }
        }
    }
    let exit = crate::containers::wait::wait(
        daemon,
        &c.id,
        crate::containers::wait::Condition::NotRunning,
    )?
    .await;
    if exit != 0 {
        let cmd = c.config.cmd.clone().unwrap_or_default().join(" ");
        return Err(BuildError::Step {
            message: format!("The command '{cmd}' returned a non-zero code: {exit}"),
            code: exit,
        });
    }
    Ok(())
}

/// Commits a step container: the image's `config` is the stage's config, its
/// `container_config` the step's — with the container's hostname when the container was
/// made from that very config (`#(nop)` steps), as dockerd's shows.
pub async fn commit(
    daemon: &SharedDaemon,
    c: &Container,
    parent: &str,
    config: &RunConfig,
    container_config: &RunConfig,
    author: &str,
    hostname_from_container: bool,
) -> Result<String, BuildError> {
    let mut container_config = container_config.clone();
    if hostname_from_container {
        container_config.hostname = c.config.hostname.clone().unwrap_or_default();
    }
    let child = ChildImage {
        parent: (!parent.is_empty()).then(|| parent.to_string()),
        config: config.to_value(),
        container_config: container_config.to_value(),
        container: Some(c.id.clone()),
        author: author.to_string(),
        comment: String::new(),
        created_by: container_config.cmd.clone().unwrap_or_default().join(" "),
    };
    store(daemon, c.upper_dir(), child).await
}

/// Stores a child image from the changes in `upper`, away from garbage collection.
pub async fn store(
    daemon: &SharedDaemon,
    upper: PathBuf,
    child: ChildImage,
) -> Result<String, BuildError> {
    let lease = daemon.gc_gate.writer().await;
    let d = daemon.clone();
    let id = tokio::task::spawn_blocking(move || store_child_image(&d, &upper, &child)).await??;
    drop(lease);
    Ok(id)
}

/// Removes the intermediate containers (dockerd's `RemoveAll`), printing each.
pub async fn remove_all(daemon: &SharedDaemon, out: &Output, ids: &mut Vec<String>) {
    while let Some(id) = ids.first().cloned() {
        if daemon.containers.get(&id).is_none() {
            // Already gone (a cancelled RUN's container).
            ids.remove(0);
            continue;
        }
        if let Err(e) = crate::containers::lifecycle::remove(daemon, &id, true).await {
            out.stream(format!(
                "Error removing intermediate container {}: {e}\n",
                short(&id)
            ))
            .await;
            return;
        }
        if let Some(c) = daemon.containers.get(&id) {
            crate::containers::mounts::remove_anonymous_volumes(daemon, &c);
        }
        ids.remove(0);
        out.stream(format!("Removing intermediate container {}\n", short(&id)))
            .await;
    }
}

/// Creates `dir` (absolute, as the container sees it) inside `root`, symlinks followed
/// without leaving the root (dockerd's `ContainerCreateWorkdir`).
pub fn make_dir_in(root: &Path, dir: &str) -> Result<(), BuildError> {
    let in_root = crate::in_root::InRoot::from_dir(root, &[])
        .map_err(|e| BuildError::Internal(format!("mkdir {dir}: {e}")))?;
    in_root
        .mkdir_all(dir)
        .map_err(|e| BuildError::Internal(format!("mkdir {dir}: {e}")))?;
    Ok(())
}
