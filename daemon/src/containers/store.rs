//! Every container record, in memory and on disk (`<data-root>/containers/<id>/`);
//! names; lookups by full ID, name or unique ID prefix; change notifications for waiters.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use tokio::sync::watch;

use super::record::{Container, RECORD_FILE};
use super::{ContainerError, Result};
use crate::store::atomic::{write_json, write_json_volatile};

/// What waiters watch: bumped on every exit; `removed` once the container is gone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Notice {
    pub exits: u64,
    pub removed: bool,
    pub exit_code: i64,
}

struct Entry {
    record: Container,
    notice: watch::Sender<Notice>,
}

pub struct ContainerStore {
    root: PathBuf,
    entries: RwLock<HashMap<String, Entry>>,
}

impl ContainerStore {
    /// Opens (creates) `root` and loads every record in it.
    pub fn open(root: &Path) -> Result<ContainerStore> {
        std::fs::create_dir_all(root)
            .map_err(|e| ContainerError::io(format!("creating {}", root.display()), e))?;
        let mut entries = HashMap::new();
        let dir = std::fs::read_dir(root)
            .map_err(|e| ContainerError::io(format!("reading {}", root.display()), e))?;
        for entry in dir.flatten() {
            let path = entry.path();
            let file = Container::record_path(&path);
            let Ok(data) = std::fs::read(&file) else {
                continue;
            };
            match serde_json::from_slice::<Container>(&data) {
                Ok(mut c) => {
                    c.dir = path.clone();
                    let (notice, _) = watch::channel(Notice::default());
                    entries.insert(c.id.clone(), Entry { record: c, notice });
                }
                Err(e) => {
                    tracing::warn!(path = %file.display(), error = %e, "unreadable container record; skipped")
                }
            }
        }
        tracing::info!(count = entries.len(), "loaded container records");
        Ok(ContainerStore {
            root: root.to_path_buf(),
            entries: RwLock::new(entries),
        })
    }

    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    /// A new 64-hex ID no container has (nor shares its task ID with).
    pub fn new_id(&self) -> String {
        let entries = self.read();
        loop {
            let id = hex::encode(rand::random::<[u8; 32]>());
            let task = super::record::task_id_of(&id);
            if !entries.keys().any(|k| k.starts_with(task)) {
                return id;
            }
        }
    }

    /// Whether a container has this name ("/x"); returns its ID.
    pub fn name_owner(&self, name: &str) -> Option<String> {
        self.read()
            .values()
            .find(|e| e.record.name == name)
            .map(|e| e.record.id.clone())
    }

    fn name_conflict(name: &str, owner: &str) -> ContainerError {
        ContainerError::Conflict(format!(
            "Conflict. The container name \"{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
        ))
    }

    /// Adds a new record (its name must be free) and writes it.
    pub fn insert(&self, mut record: Container) -> Result<Container> {
        record.dir = self.dir_of(&record.id);
        let mut entries = self.write();
        if let Some(owner) = entries.values().find(|e| e.record.name == record.name) {
            return Err(Self::name_conflict(&record.name, &owner.record.id));
        }
        std::fs::create_dir_all(&record.dir)
            .map_err(|e| ContainerError::io(format!("creating {}", record.dir.display()), e))?;
        write_json(&record.dir.join(RECORD_FILE), &record)?;
        let (notice, _) = watch::channel(Notice::default());
        entries.insert(
            record.id.clone(),
            Entry {
                record: record.clone(),
                notice,
            },
        );
        Ok(record)
    }

    pub fn get(&self, id: &str) -> Option<Container> {
        self.read().get(id).map(|e| e.record.clone())
    }

    pub fn list(&self) -> Vec<Container> {
        self.read().values().map(|e| e.record.clone()).collect()
    }

    /// Every record, borrowed under the store's read lock: for reads of many records
    /// (`docker ps`) without copying them. `f` must not await, nor call the store.
    pub fn with_all<T>(&self, f: impl FnOnce(Vec<&Container>) -> T) -> T {
        let entries = self.read();
        f(entries.values().map(|e| &e.record).collect())
    }

    pub fn by_task_id(&self, task_id: &str) -> Option<Container> {
        self.read()
            .values()
            .find(|e| e.record.task_id() == task_id)
            .map(|e| e.record.clone())
    }

    /// Finds a container by full ID, name (with or without "/"), or unique ID prefix.
    pub fn lookup(&self, reference: &str) -> Result<Container> {
        let not_found = || ContainerError::NotFound(reference.to_string());
        if reference.is_empty() {
            return Err(not_found());
        }
        let entries = self.read();
        if let Some(e) = entries.get(reference) {
            return Ok(e.record.clone());
        }
        let name = format!("/{}", reference.trim_start_matches('/'));
        if let Some(e) = entries.values().find(|e| e.record.name == name) {
            return Ok(e.record.clone());
        }
        let mut found = entries.keys().filter(|k| k.starts_with(reference));
        match (found.next(), found.next()) {
            (Some(id), None) => Ok(entries[id].record.clone()),
            // dockerd 20.10: a plain error, so a 500.
            (Some(_), Some(_)) => Err(ContainerError::Internal(format!(
                "Multiple IDs found with provided prefix: {reference}"
            ))),
            _ => Err(not_found()),
        }
    }

    /// Changes a record, writes it whole, and returns the new version.
    pub fn update<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Container) -> Result<T>,
    ) -> Result<(Container, T)> {
        self.update_with(id, change, true)
    }

    /// The same for a change of the run state only (start, exit, pause…): written whole
    /// but without fsync, as the state of live processes (`atomic::write_file_volatile`).
    pub fn update_state<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Container) -> Result<T>,
    ) -> Result<(Container, T)> {
        self.update_with(id, change, false)
    }

    fn update_with<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Container) -> Result<T>,
        durable: bool,
    ) -> Result<(Container, T)> {
        let mut entries = self.write();
        let entry = entries
            .get_mut(id)
            .ok_or_else(|| ContainerError::NotFound(id.to_string()))?;
        let mut next = entry.record.clone();
        let out = change(&mut next)?;
        let path = next.dir.join(RECORD_FILE);
        if durable {
            write_json(&path, &next)?;
        } else {
            write_json_volatile(&path, &next)?;
        }
        entry.record = next.clone();
        Ok((next, out))
    }

    /// Renames a container; the new name must be free.
    pub fn rename(&self, id: &str, new_name: &str) -> Result<Container> {
        let mut entries = self.write();
        if let Some(owner) = entries.values().find(|e| e.record.name == new_name) {
            return Err(Self::name_conflict(new_name, &owner.record.id));
        }
        let entry = entries
            .get_mut(id)
            .ok_or_else(|| ContainerError::NotFound(id.to_string()))?;
        let mut next = entry.record.clone();
        next.name = new_name.to_string();
        write_json(&next.dir.join(RECORD_FILE), &next)?;
        entry.record = next.clone();
        Ok(next)
    }

    /// Tells waiters that the container exited with `exit_code`.
    pub fn notify_exit(&self, id: &str, exit_code: i64) {
        if let Some(e) = self.read().get(id) {
            e.notice.send_modify(|n| {
                n.exits += 1;
                n.exit_code = exit_code;
            });
        }
    }

    pub fn watch(&self, id: &str) -> Option<watch::Receiver<Notice>> {
        self.read().get(id).map(|e| e.notice.subscribe())
    }

    /// Forgets a container and removes its folder.
    /// Forgets the container; its folder goes too unless `remove_folder` is false (an
    /// export still reads its root: see `rootfs::release_for_removal`).
    pub fn remove(&self, id: &str, remove_folder: bool) -> Result<()> {
        let entry = self.write().remove(id);
        if let Some(entry) = entry {
            entry.notice.send_modify(|n| n.removed = true);
            if !remove_folder {
                // Without its record the folder is not a container after a restart.
                let record = entry.record.dir.join(RECORD_FILE);
                if let Err(e) = std::fs::remove_file(&record) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        return Err(ContainerError::io(
                            format!("removing {}", record.display()),
                            e,
                        ));
                    }
                }
                return Ok(());
            }
            let dir = entry.record.dir;
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(ContainerError::io(format!("removing {}", dir.display()), e));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::record::RunState;

    fn record(id: &str, name: &str) -> Container {
        Container {
            id: id.to_string(),
            name: name.to_string(),
            created: chrono::Utc::now(),
            path: "sh".into(),
            args: vec![],
            config: Default::default(),
            host_config: Default::default(),
            image_id: String::new(),
            layers: vec![],
            state: RunState::default(),
            restart_count: 0,
            mount_points: Vec::new(),
            health: None,
            dir: Default::default(),
        }
    }

    #[test]
    fn lookups_by_id_name_and_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ContainerStore::open(dir.path()).expect("open");
        let a = format!("ab{}", "0".repeat(62));
        let b = format!("ac{}", "1".repeat(62));
        store.insert(record(&a, "/web")).expect("insert a");
        store.insert(record(&b, "/db")).expect("insert b");
        assert_eq!(store.lookup(&a).unwrap().name, "/web");
        assert_eq!(store.lookup("web").unwrap().id, a);
        assert_eq!(store.lookup("/db").unwrap().id, b);
        assert_eq!(store.lookup("ab").unwrap().id, a);
        assert_eq!(
            store.lookup("a").unwrap_err().to_string(),
            "Multiple IDs found with provided prefix: a"
        );
        assert_eq!(
            store.lookup("nope").unwrap_err().to_string(),
            "No such container: nope"
        );
        let dup = store.insert(record(&"f".repeat(64), "/web")).unwrap_err();
        assert!(dup.to_string().starts_with(
            "Conflict. The container name \"/web\" is already in use by container \"ab00"
        ));
        // Records come back after a reopen.
        let again = ContainerStore::open(dir.path()).expect("reopen");
        assert_eq!(again.lookup("db").unwrap().id, b);
        again.remove(&b, true).expect("remove");
        assert!(again.lookup("db").is_err());
    }
}
