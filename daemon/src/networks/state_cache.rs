//! Each container's `network.json` (`endpoints::ContainerNetwork`), kept in memory once read
//! or written, so that `docker ps` and inspect read no file per container. Every write goes
//! through [`Networks::save_container_state`] (write-through: file first, then memory).
//! A removed container's entry goes with it; entries whose folder is gone otherwise are
//! dropped whenever the cache has doubled since it was last trimmed, so it never holds
//! much more than the containers that exist.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::endpoints::ContainerNetwork;
use super::{Networks, Result};

/// The smallest size at which the cache is trimmed.
const TRIM_FLOOR: usize = 256;

#[derive(Default)]
pub struct StateCache {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    /// By container folder; `None`: the container has no `network.json`.
    states: HashMap<PathBuf, Option<Arc<ContainerNetwork>>>,
    trim_at: usize,
}

impl StateCache {
    fn get(&self, dir: &Path) -> Option<Option<Arc<ContainerNetwork>>> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        inner.states.get(dir).cloned()
    }

    fn forget(&self, dir: &Path) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        inner.states.remove(dir);
    }

    fn put(&self, dir: &Path, state: Option<Arc<ContainerNetwork>>) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        inner.states.insert(dir.to_path_buf(), state);
        if inner.states.len() >= inner.trim_at.max(TRIM_FLOOR) {
            inner.states.retain(|dir, _| dir.exists());
            inner.trim_at = inner.states.len() * 2;
        }
    }
}

impl Networks {
    /// The container's networking state (from memory after the first read); `None` when it
    /// has no `network.json` (a container recorded before it had endpoint requests).
    pub fn container_state(&self, dir: &Path) -> Option<Arc<ContainerNetwork>> {
        if let Some(known) = self.container_states.get(dir) {
            return known;
        }
        let state = ContainerNetwork::recorded(dir).then(|| Arc::new(ContainerNetwork::load(dir)));
        self.container_states.put(dir, state.clone());
        state
    }

    /// A copy of the container's networking state (from memory after the first read),
    /// to change and save again; the default when it has none.
    pub fn container_state_to_change(&self, dir: &Path) -> ContainerNetwork {
        self.container_state(dir)
            .map(|state| (*state).clone())
            .unwrap_or_default()
    }

    /// Forgets a removed container's state (its folder goes).
    pub fn forget_container_state(&self, dir: &Path) {
        self.container_states.forget(dir);
    }

    /// Writes the container's `network.json`, and keeps it.
    pub fn save_container_state(&self, dir: &Path, state: &ContainerNetwork) -> Result<()> {
        state.save(dir)?;
        self.container_states
            .put(dir, Some(Arc::new(state.clone())));
        Ok(())
    }

    /// The same for what a run changed (its sandbox, the networks it is on): written
    /// without fsync (`ContainerNetwork::save_run_state`), and kept. Nothing is written
    /// when the file already holds it (a run's steps save after each change; each write
    /// is a new file renamed over the old, an inode made and one freed).
    pub fn save_container_run_state(&self, dir: &Path, state: &ContainerNetwork) -> Result<()> {
        if self
            .container_states
            .get(dir)
            .is_some_and(|known| known.as_deref() == Some(state))
        {
            return Ok(());
        }
        state.save_run_state(dir)?;
        self.container_states
            .put(dir, Some(Arc::new(state.clone())));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_states_are_read_from_memory_and_gone_folders_trimmed() {
        let root = tempfile::tempdir().expect("tempdir");
        let networks = Networks::open(root.path()).expect("networks");
        let dir = root.path().join("c1");
        std::fs::create_dir_all(&dir).expect("dir");
        assert!(networks.container_state(&dir).is_none());
        let state = ContainerNetwork {
            sandbox_id: "s1".into(),
            ..Default::default()
        };
        networks.save_container_state(&dir, &state).expect("save");
        // The file changes behind our back: memory is what is served.
        std::fs::write(dir.join("network.json"), "{}").expect("overwrite");
        let got = networks.container_state(&dir).expect("recorded");
        assert_eq!(got.sandbox_id, "s1");

        for i in 0..TRIM_FLOOR {
            networks.container_state(&root.path().join(format!("gone-{i}")));
        }
        let inner = networks.container_states.inner.read().expect("lock");
        assert!(inner.states.len() < TRIM_FLOOR, "{}", inner.states.len());
        assert!(inner.states.contains_key(&dir));
        drop(inner);

        // A removed container is forgotten at once: should anything still ask, its file
        // (overwritten above with an empty state) is read again, not memory's "s1".
        networks.forget_container_state(&dir);
        assert_eq!(networks.container_state_to_change(&dir).sandbox_id, "");
    }

    #[test]
    fn a_run_state_already_written_is_not_written_again() {
        use std::os::unix::fs::MetadataExt;
        let root = tempfile::tempdir().expect("tempdir");
        let networks = Networks::open(root.path()).expect("networks");
        let dir = root.path().join("c1");
        std::fs::create_dir_all(&dir).expect("dir");
        let inode = || {
            std::fs::metadata(dir.join("network.json"))
                .expect("file")
                .ino()
        };
        let mut state = ContainerNetwork {
            sandbox_id: "s1".into(),
            ..Default::default()
        };
        networks.save_container_state(&dir, &state).expect("save");
        let first = inode();
        networks
            .save_container_run_state(&dir, &state)
            .expect("same");
        assert_eq!(inode(), first, "the same state is not written again");
        state.sandbox_id = "s2".into();
        networks
            .save_container_run_state(&dir, &state)
            .expect("changed");
        assert_ne!(inode(), first, "a changed state is written");
        assert_eq!(ContainerNetwork::load(&dir).sandbox_id, "s2");
    }
}
