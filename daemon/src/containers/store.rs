//! Every container record, in memory and on disk (`<data-root>/containers/<id>/`);
//! names; lookups by full ID, name or unique ID prefix; change notifications for waiters.
//!
//! A record's file is written before its memory changes, and never under the lock of the
//! whole map: one container's write (an fsync at create) does not hold up the lookups and
//! changes of the others. Each container's changes take its own `writes` lock first, so
//! its file and its memory change in the same order.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use tokio::sync::watch;

use super::record::{Container, RECORD_FILE};
use super::{ContainerError, Result};
use crate::store::atomic::{write_file_volatile, write_json};

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
    /// Held while this container's record is changed and written.
    writes: Arc<Mutex<()>>,
}

impl Entry {
    fn new(record: Container) -> Entry {
        let (notice, _) = watch::channel(Notice::default());
        Entry {
            record,
            notice,
            writes: Arc::default(),
        }
    }
}

fn hold(writes: &Mutex<()>) -> MutexGuard<'_, ()> {
    writes.lock().unwrap_or_else(|p| p.into_inner())
}

/// How a change of a record reaches its file.
#[derive(Clone, Copy)]
enum Write {
    /// Written and synced: the container's configuration.
    Durable,
    /// Written without fsync, and only when it changes the file: the run state.
    Volatile,
    /// Not written: see `ContainerStore::update_state_in_memory`.
    Never,
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
                    entries.insert(c.id.clone(), Entry::new(c));
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

    /// Adds a new record (its name must be free) and writes it. The file is written
    /// first (a new ID's folder is nobody else's); a name taken meanwhile undoes it.
    pub fn insert(&self, mut record: Container) -> Result<Container> {
        record.dir = self.dir_of(&record.id);
        let taken = |entries: &HashMap<String, Entry>| {
            entries
                .values()
                .find(|e| e.record.name == record.name)
                .map(|owner| Self::name_conflict(&record.name, &owner.record.id))
        };
        if let Some(conflict) = taken(&self.read()) {
            return Err(conflict);
        }
        std::fs::create_dir_all(&record.dir)
            .map_err(|e| ContainerError::io(format!("creating {}", record.dir.display()), e))?;
        let undo = |record: &Container| {
            if let Err(e) = std::fs::remove_dir_all(&record.dir) {
                tracing::warn!(dir = %record.dir.display(), error = %e, "removing the folder of a record not made");
            }
        };
        if let Err(e) = write_json(&record.dir.join(RECORD_FILE), &record) {
            undo(&record);
            return Err(e.into());
        }
        let mut entries = self.write();
        if let Some(conflict) = taken(&entries) {
            drop(entries);
            undo(&record);
            return Err(conflict);
        }
        entries.insert(record.id.clone(), Entry::new(record.clone()));
        Ok(record)
    }

    /// The lock a change of container `id` takes first.
    fn writes_of(&self, id: &str) -> Result<Arc<Mutex<()>>> {
        self.read()
            .get(id)
            .map(|e| e.writes.clone())
            .ok_or_else(|| ContainerError::NotFound(id.to_string()))
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
        self.update_with(id, change, Write::Durable)
    }

    /// The same for a change of the run state only (start, exit, pause…): written whole
    /// but without fsync, as the state of live processes (`atomic::write_file_volatile`).
    pub fn update_state<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Container) -> Result<T>,
    ) -> Result<(Container, T)> {
        self.update_with(id, change, Write::Volatile)
    }

    /// The same for a run-state change that need not outlive berthd: memory only, the
    /// file keeps the state before it. For the start of a removal of a stopped container:
    /// until the record's file goes, the removal releases nothing a restart would miss (a
    /// stopped container's task and leftovers are released by the reconcile at start-up),
    /// so a restart that finds the container as it was before is right.
    pub fn update_state_in_memory<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Container) -> Result<T>,
    ) -> Result<(Container, T)> {
        self.update_with(id, change, Write::Never)
    }

    fn update_with<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Container) -> Result<T>,
        write: Write,
    ) -> Result<(Container, T)> {
        let writes = self.writes_of(id)?;
        let _writing = hold(&writes);
        // Nobody else changes it while we hold its `writes`; it may have been removed.
        let before = self
            .get(id)
            .ok_or_else(|| ContainerError::NotFound(id.to_string()))?;
        let mut next = before.clone();
        let out = change(&mut next)?;
        let path = next.dir.join(RECORD_FILE);
        match write {
            // Always written (and synced), whatever an earlier unsynced write left.
            Write::Durable => write_json(&path, &next)?,
            // A run-state change that changes nothing (a start requested of a container
            // never stopped by hand, say) writes nothing: each rewrite is a new file.
            // (`before` may hold a change not written; then so does `next`, compared
            // with memory: such changes are followed by a real one or by the removal.)
            Write::Volatile => {
                let data = record_json(&next)?;
                if record_json(&before)? != data {
                    write_file_volatile(&path, &data)?;
                }
            }
            Write::Never => {}
        }
        match self.write().get_mut(id) {
            Some(entry) => entry.record = next.clone(),
            None => return Err(ContainerError::NotFound(id.to_string())),
        }
        Ok((next, out))
    }

    /// Renames a container; the new name must be free.
    pub fn rename(&self, id: &str, new_name: &str) -> Result<Container> {
        let writes = self.writes_of(id)?;
        let _writing = hold(&writes);
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
    ///
    /// The record file goes first: without it the folder is not a container (start-up's
    /// `rootfs::remove_unrecorded` removes such folders). The rest of the folder (the
    /// container's upper layer: whatever it wrote) is removed on a blocking thread after
    /// the answer, when there is a runtime to run it.
    pub fn remove(&self, id: &str, remove_folder: bool) -> Result<()> {
        let Ok(writes) = self.writes_of(id) else {
            return Ok(());
        };
        let _writing = hold(&writes);
        let entry = self.write().remove(id);
        if let Some(entry) = entry {
            entry.notice.send_modify(|n| n.removed = true);
            let dir = entry.record.dir;
            let record = dir.join(RECORD_FILE);
            if let Err(e) = std::fs::remove_file(&record) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(ContainerError::io(
                        format!("removing {}", record.display()),
                        e,
                    ));
                }
            }
            if remove_folder {
                remove_folder_soon(dir);
            }
        }
        Ok(())
    }
}

/// Removes a removed container's folder, on a blocking thread when called on the runtime.
fn remove_folder_soon(dir: PathBuf) {
    let remove = move || {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %dir.display(), error = %e, "removing a removed container's folder");
            }
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(remove)),
        Err(_) => remove(),
    }
}

/// A record as its file holds it.
fn record_json(c: &Container) -> Result<Vec<u8>> {
    serde_json::to_vec(c)
        .map_err(|e| ContainerError::Internal(format!("encoding the record of {}: {e}", c.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str) -> Container {
        Container {
            name: name.to_string(),
            ..Container::for_tests(id, Default::default())
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

    #[test]
    fn a_refused_or_removed_record_leaves_no_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ContainerStore::open(dir.path()).expect("open");
        let a = "a".repeat(64);
        store.insert(record(&a, "/web")).expect("insert");
        // The name is taken: the folder written for the new ID goes again.
        let b = "b".repeat(64);
        store.insert(record(&b, "/web")).expect_err("name taken");
        assert!(!store.dir_of(&b).exists());
        // Changes write the file, then memory.
        store
            .update_state(&a, |c| {
                c.restart_count = 3;
                Ok(())
            })
            .expect("update");
        let reopened = ContainerStore::open(dir.path()).expect("reopen");
        assert_eq!(reopened.lookup(&a).expect("a").restart_count, 3);
        // Removed: a late change neither succeeds nor brings the record file back.
        store.remove(&a, false).expect("remove");
        let late = store.update_state(&a, |c| {
            c.restart_count = 4;
            Ok(())
        });
        assert!(matches!(late, Err(ContainerError::NotFound(_))));
        assert!(!Container::record_path(&store.dir_of(&a)).exists());
    }

    #[test]
    fn a_change_that_changes_nothing_writes_nothing() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ContainerStore::open(dir.path()).expect("open");
        let a = "a".repeat(64);
        store.insert(record(&a, "/web")).expect("insert");
        let file = Container::record_path(&store.dir_of(&a));
        // The inode and its change time: a freed inode number can be reused at once.
        let inode = || {
            let m = std::fs::metadata(&file).expect("record file");
            (m.ino(), m.ctime(), m.ctime_nsec())
        };
        let first = inode();
        store.update_state(&a, |_| Ok(())).expect("no change");
        store
            .update_state(&a, |c| {
                c.restart_count = 0;
                Ok(())
            })
            .expect("the same value");
        assert_eq!(inode(), first, "not rewritten");
        // A durable change is written (and synced) even when it changes nothing.
        store.update(&a, |_| Ok(())).expect("durable");
        let durable = inode();
        assert_ne!(durable, first, "written");
        store
            .update_state(&a, |c| {
                c.restart_count = 1;
                Ok(())
            })
            .expect("a change");
        assert_ne!(inode(), durable, "rewritten whole");
        let reopened = ContainerStore::open(dir.path()).expect("reopen");
        assert_eq!(reopened.lookup(&a).expect("a").restart_count, 1);
    }

    #[test]
    fn a_removal_started_changes_memory_only_and_a_restart_finds_the_container_whole() {
        use crate::containers::Status;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ContainerStore::open(dir.path()).expect("open");
        let a = "a".repeat(64);
        store.insert(record(&a, "/web")).expect("insert");
        store
            .update_state(&a, |c| {
                c.state.status = Status::Exited;
                Ok(())
            })
            .expect("exited");
        let file = Container::record_path(&store.dir_of(&a));
        let written = std::fs::read(&file).expect("record file");
        let (now, ()) = store
            .update_state_in_memory(&a, |c| c.state.removal_started())
            .expect("removal started");
        assert_eq!(now.state.status, Status::Removing);
        assert_eq!(store.get(&a).expect("a").state.status, Status::Removing);
        assert_eq!(
            std::fs::read(&file).expect("record file"),
            written,
            "not written"
        );
        // berthd stops before the record's file goes: the container is as it was.
        let reopened = ContainerStore::open(dir.path()).expect("reopen");
        let found = reopened.lookup(&a).expect("a");
        assert_eq!(found.state.status, Status::Exited);
        assert!(!found.state.removal_requested);
        // A change after it is written with it (a failed removal: dead, on disk).
        store
            .update_state(&a, |c| {
                c.state.removal_failed("busy".into());
                Ok(())
            })
            .expect("failed");
        let reopened = ContainerStore::open(dir.path()).expect("reopen");
        assert_eq!(reopened.lookup(&a).expect("a").state.status, Status::Dead);
    }

    #[test]
    fn changes_of_one_container_from_many_threads_all_land_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = std::sync::Arc::new(ContainerStore::open(dir.path()).expect("open"));
        let a = "a".repeat(64);
        store.insert(record(&a, "/web")).expect("insert");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (store, a) = (store.clone(), a.clone());
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        store
                            .update_state(&a, |c| {
                                c.restart_count += 1;
                                Ok(())
                            })
                            .expect("update");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(store.get(&a).expect("a").restart_count, 200);
        let reopened = ContainerStore::open(dir.path()).expect("reopen");
        assert_eq!(reopened.lookup(&a).expect("a").restart_count, 200);
    }
}
