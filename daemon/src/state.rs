//! The daemon's shared state, handed to every API handler.
use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::store::{content::ContentStore, images::ImageStore, layers::LayerStore, StoreError};

/// Everything a handler may need. Cheap to clone through `Arc`.
pub struct Daemon {
    pub config: Config,
    pub content: ContentStore,
    pub layers: LayerStore,
    pub images: ImageStore,
    /// When this daemon started (for /info's SystemTime etc.).
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Keeps garbage collection away from pulls in progress.
    pub gc_gate: crate::store::gc::GcGate,
    /// This engine's persistent ID (/info's `ID`), kept in `<data-root>/engine-id` as dockerd does.
    pub engine_id: String,
    /// Container, image, network and volume events for `GET /events`.
    pub events: crate::events::EventBus,
    /// Container records (`<data-root>/containers`).
    pub containers: crate::containers::ContainerStore,
    /// The task engine: berth-containerd (`<exec-root>/containerd/containerd.sock`).
    pub engine: Arc<dyn crate::containers::engine::TaskEngine>,
    /// What a container's run needs besides its task (root, volumes, network, bundle).
    pub environment: Arc<dyn crate::containers::environment::RunEnvironment>,
    /// Exec instances, in memory as in dockerd.
    pub execs: crate::containers::exec::ExecStore,
    /// Clients attached before their container's task exists (`docker run`).
    pub attach_gate: crate::containers::attach_gate::AttachGate,
    /// Healthcheck monitors of running containers.
    pub health: crate::containers::health::HealthMonitors,
    /// Docker networks and netd (`<data-root>/network`).
    pub networks: crate::networks::Networks,
    /// Volumes (`<data-root>/volumes`).
    pub volumes: crate::volumes::VolumeStore,
    /// One lock per container: starts and removals do not interleave.
    pub container_locks: crate::containers::locks::ContainerLocks,
    /// Images that pods' containers (the CRI's) run on.
    pub cri_image_holds: crate::cri::ImageHolds,
}

pub type SharedDaemon = Arc<Daemon>;

impl Daemon {
    /// Opens (creating where missing) the stores under `config.data_root`
    /// and cleans whatever an interrupted run left behind.
    pub fn open(config: Config) -> Result<SharedDaemon, StoreError> {
        crate::containers::engine::runtime_wrappers::write_all(
            &config,
            crate::containers::engine::launcher::find_binary,
        )
        .map_err(|e| StoreError::io("writing the scripts of runtimes with arguments", e))?;
        let engine = Arc::new(crate::containers::engine::EngineClient::for_daemon(&config));
        let environment = Arc::new(crate::containers::environment::HostEnvironment::default());
        Daemon::open_with(config, engine, environment)
    }

    /// The same with another task engine and run environment (tests use fakes).
    pub fn open_with(
        config: Config,
        engine: Arc<dyn crate::containers::engine::TaskEngine>,
        environment: Arc<dyn crate::containers::environment::RunEnvironment>,
    ) -> Result<SharedDaemon, StoreError> {
        let root = config.data_root.clone();
        let engine_id = load_engine_id(&root)?;
        let content = ContentStore::open(&root.join("content"))?;
        let layers = LayerStore::open(&root.join("layers"))?;
        let images = ImageStore::open(&root.join("images"))?;
        let containers = crate::containers::ContainerStore::open(&root.join("containers"))
            .map_err(|e| {
                StoreError::io(
                    "opening the container records",
                    std::io::Error::other(e.to_string()),
                )
            })?;
        let networks = crate::networks::Networks::open(&config.data_root).map_err(|e| {
            StoreError::io(
                "opening the network records",
                std::io::Error::other(e.to_string()),
            )
        })?;
        let volumes = crate::volumes::VolumeStore::open(&root.join("volumes")).map_err(|e| {
            StoreError::io(
                "opening the volume records",
                std::io::Error::other(e.to_string()),
            )
        })?;
        crate::containers::mounts::restore_volume_users(&containers, &volumes);
        let daemon = Arc::new(Daemon {
            config,
            content,
            layers,
            images,
            started_at: chrono::Utc::now(),
            gc_gate: Default::default(),
            engine_id,
            events: Default::default(),
            containers,
            engine,
            environment,
            execs: Default::default(),
            attach_gate: Default::default(),
            health: Default::default(),
            networks,
            volumes,
            container_locks: Default::default(),
            cri_image_holds: Default::default(),
        });
        // Whatever an interrupted pull or delete left half-done goes now, before any request.
        crate::images::recovery::check_store(&daemon)?;
        Ok(daemon)
    }
}

/// Reads `<data-root>/engine-id`, creating it (a random UUID, as dockerd's) on first start.
fn load_engine_id(root: &Path) -> Result<String, StoreError> {
    let path = root.join("engine-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e)),
    }
    std::fs::create_dir_all(root)
        .map_err(|e| StoreError::io(format!("creating {}", root.display()), e))?;
    let id = new_uuid();
    let tmp = root.join(".engine-id.tmp");
    std::fs::write(&tmp, &id)
        .map_err(|e| StoreError::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, &path)
        .map_err(|e| StoreError::io(format!("writing {}", path.display()), e))?;
    Ok(id)
}

/// A random (version 4) UUID in its usual text form.
fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Daemon {
    /// Removes layers and blobs no image and no container uses, unless a pull is writing
    /// some right now (then nothing is collected this time; the next collection catches up).
    /// A container keeps its image's layers, as dockerd's RW layer keeps its parents: a
    /// `docker rmi -f` of the image leaves the container able to start.
    pub fn collect_garbage(&self) -> Result<crate::store::gc::Collected, StoreError> {
        match self.gc_gate.collect_if_idle(|| {
            let held: std::collections::HashSet<String> = self
                .containers
                .with_all(|all| all.iter().flat_map(|c| c.layers.iter().cloned()).collect());
            crate::store::gc::collect(&self.content, &self.layers, &self.images, held)
        }) {
            Some(result) => result,
            None => {
                tracing::debug!(
                    "a pull is in progress: unused layers and blobs are collected later"
                );
                Ok(Default::default())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_id_is_persistent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = load_engine_id(dir.path()).expect("id");
        let b = load_engine_id(dir.path()).expect("id again");
        assert_eq!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
    }
}
