//! The CRI server: its state ([`Cri`]), start-up (recovery, then the gRPC and streaming
//! listeners) and the gRPC services, whose handlers are thin: parse, call one domain
//! function of the modules below, map the result.
//!
//! - `runtime_api`, `image_api` — the generated gRPC traits, implemented by delegation.
//! - `sandboxes`, `pod_files`   — pod sandboxes: the pause process, network, pod files.
//! - `containers`, `status`     — containers' lifecycle; status, listing, updates.
//! - `exec_sync`                — ExecSync through the shim's attach socket.
//! - `stats`                    — container and pod stats from the cgroups.
//! - `images`                   — the image service over the engine's image store.
//! - `monitor`                  — task exits, and recovery after a restart.
//! - `locks`                    — one lock per object.
use std::path::Path;
use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use crate::backend::{HostSecurity, ImageBackend, TaskBackend};
use crate::cni::Cni;
use crate::error::{CriError, CriResult};
use crate::options::CriOptions;
use crate::proto::image_service_server::ImageServiceServer;
use crate::proto::runtime_service_server::RuntimeServiceServer;
use crate::store::container::Container;
use crate::store::sandbox::Sandbox;
use crate::store::RecordStore;

mod containers;
mod exec_sync;
mod grpc_server;
mod image_api;
pub mod images;
mod locks;
mod monitor;
mod pod_files;
mod runtime_api;
mod sandboxes;
mod stats;
mod status;

/// The engine's parts the CRI uses.
#[derive(Clone)]
pub struct Backends {
    pub images: Arc<dyn ImageBackend>,
    pub tasks: Arc<dyn TaskBackend>,
    pub security: Arc<dyn HostSecurity>,
}

/// The CRI server's state.
pub struct Cri {
    pub(crate) opts: CriOptions,
    pub(crate) images: Arc<dyn ImageBackend>,
    pub(crate) tasks: Arc<dyn TaskBackend>,
    pub(crate) security: Arc<dyn HostSecurity>,
    pub(crate) sandboxes: RecordStore<Sandbox>,
    pub(crate) containers: RecordStore<Container>,
    pub(crate) cni: Cni,
    pub(crate) locks: locks::KeyedLocks,
    /// Container IDs, published when a container's exit is recorded.
    pub(crate) exits: broadcast::Sender<String>,
    /// Container lifecycle events (`GetContainerEvents`).
    pub(crate) events: broadcast::Sender<crate::proto::ContainerEventResponse>,
    pub(crate) streams: crate::stream::StreamServer,
    pub(crate) cpu_samples: stats::CpuSamples,
}

/// Stops the CRI server when dropped or shut down.
pub struct CriHandle {
    shutdown: watch::Sender<bool>,
    socket: std::path::PathBuf,
    pub cri: Arc<Cri>,
}

impl CriHandle {
    /// Stops listening and removes the socket (pods and containers keep running).
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Drop for CriHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Largest gRPC message (the kubelet's limit).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

impl Cri {
    /// Opens the CRI's stores under `opts.root` (creating them).
    pub fn open(
        opts: CriOptions,
        backends: Backends,
        streams: crate::stream::StreamServer,
    ) -> CriResult<Cri> {
        for dir in [&opts.root, &opts.state] {
            std::fs::create_dir_all(dir)
                .map_err(|e| CriError::io(format!("creating {}", dir.display()), e))?;
        }
        let sandboxes = RecordStore::open(&opts.root.join("sandboxes"))?;
        let containers = RecordStore::open(&opts.root.join("containers"))?;
        let cni = Cni::new(opts.cni_conf_dir.clone(), opts.cni_bin_dirs.clone());
        Ok(Cri {
            images: backends.images,
            tasks: backends.tasks,
            security: backends.security,
            sandboxes,
            containers,
            cni,
            locks: Default::default(),
            exits: broadcast::channel(256).0,
            events: broadcast::channel(256).0,
            streams,
            cpu_samples: Default::default(),
            opts,
        })
    }

    /// The sandbox's folder (record, pause bundle and root, pod files).
    pub(crate) fn sandbox_dir(&self, id: &str) -> std::path::PathBuf {
        self.sandboxes.dir_of(id)
    }
    /// The sandbox's runtime folder (shm mount, netns).
    pub(crate) fn sandbox_state_dir(&self, id: &str) -> std::path::PathBuf {
        self.opts.state.join("sandboxes").join(id)
    }
    pub(crate) fn container_dir(&self, id: &str) -> std::path::PathBuf {
        self.containers.dir_of(id)
    }
}

/// Starts the CRI server on `opts.socket`: recovers pods and containers, starts the
/// streaming server, then serves gRPC until the handle shuts it down.
pub async fn serve(opts: CriOptions, backends: Backends) -> CriResult<CriHandle> {
    let streams = crate::stream::StreamServer::bind(&opts.stream_address).await?;
    let socket = opts.socket.clone();
    let cri = Arc::new(Cri::open(opts, backends, streams)?);
    cri.streams.serve(cri.clone());
    monitor::recover(&cri).await;
    let listener = bind_socket(&socket)?;
    let (tx, rx) = watch::channel(false);
    let runtime = RuntimeServiceServer::new(runtime_api::RuntimeApi(cri.clone()))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let images = ImageServiceServer::new(image_api::ImageApi(cri.clone()))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let routes = tonic::service::Routes::new(runtime)
        .add_service(images)
        .prepare();
    grpc_server::spawn(listener, routes, rx);
    tracing::info!(socket = %socket.display(), stream = %cri.streams.base_url(), "CRI server listening");
    Ok(CriHandle {
        shutdown: tx,
        socket,
        cri,
    })
}

/// Binds the unix socket (a stale one from an earlier run is replaced), mode 0660.
fn bind_socket(path: &Path) -> CriResult<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CriError::io(format!("creating {}", dir.display()), e))?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CriError::io(format!("removing {}", path.display()), e)),
    }
    let listener = tokio::net::UnixListener::bind(path)
        .map_err(|e| CriError::io(format!("listening on {}", path.display()), e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| CriError::io(format!("chmod {}", path.display()), e))?;
    Ok(listener)
}
