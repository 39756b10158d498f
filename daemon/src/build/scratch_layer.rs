//! A writable layer over an image's layers that belongs to no container (dockerd's
//! `NewRWLayer` for COPY and ADD, and the source of `COPY --from`): an overlay in a
//! folder of `<data-root>/build`, unmounted and removed when dropped. Folders a
//! stopped berthd left behind are swept when the next one is made.
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::BuildError;
use crate::state::SharedDaemon;

/// The layer folders of this process's builds.
static ACTIVE: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

struct Active(MutexGuard<'static, Option<HashSet<PathBuf>>>);

impl Active {
    fn insert(&mut self, dir: PathBuf) {
        self.0.get_or_insert_with(HashSet::new).insert(dir);
    }
    fn remove(&mut self, dir: &Path) {
        if let Some(set) = self.0.as_mut() {
            set.remove(dir);
        }
    }
    fn contains(&self, dir: &Path) -> bool {
        self.0.as_ref().is_some_and(|set| set.contains(dir))
    }
}

fn active() -> Active {
    Active(ACTIVE.lock().unwrap_or_else(|p| p.into_inner()))
}

/// Unmounts and removes `layer-*` folders no build of this process uses.
fn sweep(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let active = active();
    for entry in entries.flatten() {
        let dir = entry.path();
        let is_layer = entry.file_name().to_string_lossy().starts_with("layer-");
        if !is_layer || active.contains(&dir) {
            continue;
        }
        let _ = nix::mount::umount2(&dir.join("merged"), nix::mount::MntFlags::MNT_DETACH);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "removing a stale build layer");
        }
    }
}

/// A writable layer over an image's layers without a container (COPY and ADD, as
/// dockerd's `NewRWLayer`): an overlay in a scratch folder, unmounted and removed on drop.
pub struct ScratchLayer {
    dir: PathBuf,
    mounted: bool,
}

impl ScratchLayer {
    pub fn new(daemon: &SharedDaemon, image_id: &str) -> Result<ScratchLayer, BuildError> {
        let layers: Vec<String> = match image_id {
            "" => Vec::new(),
            id => daemon
                .images
                .get(id)
                .ok_or_else(|| BuildError::Internal(format!("the image {id} is gone")))?
                .layers
                .iter()
                .map(|l| l.chain_id.clone())
                .collect(),
        };
        let root = daemon.config.data_root.join("build");
        sweep(&root);
        let dir = root.join(format!("layer-{}", hex::encode(rand::random::<[u8; 8]>())));
        active().insert(dir.clone());
        // From here on, a failure removes the folder (Drop).
        let mut layer = ScratchLayer {
            dir,
            mounted: false,
        };
        let io = |e| BuildError::Internal(format!("preparing a layer for the copy: {e}"));
        for sub in ["upper", "work", "merged"] {
            std::fs::create_dir_all(layer.dir.join(sub)).map_err(io)?;
        }
        let lowers =
            crate::containers::rootfs::lower_dirs(&daemon.config.data_root.join("layers"), &layers);
        crate::containers::rootfs::mount_overlay_dirs(
            &lowers,
            &layer.upper(),
            &layer.dir.join("work"),
            &layer.root(),
            &layer.dir.join("empty"),
        )
        .map_err(io)?;
        layer.mounted = true;
        Ok(layer)
    }

    /// Where the image's files are seen, writable.
    pub fn root(&self) -> PathBuf {
        self.dir.join("merged")
    }

    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    pub fn unmount(&mut self) {
        if self.mounted {
            if let Err(e) = nix::mount::umount2(&self.root(), nix::mount::MntFlags::MNT_DETACH) {
                tracing::warn!(dir = %self.dir.display(), error = %e, "unmounting a build layer");
            }
            self.mounted = false;
        }
    }
}

impl Drop for ScratchLayer {
    fn drop(&mut self) {
        self.unmount();
        let _ = std::fs::remove_dir_all(&self.dir);
        active().remove(&self.dir);
    }
}
