//! The CRI's own records: pod sandboxes and containers, kept apart from Docker's containers
//! (containerd keeps them in its `k8s.io` namespace). One folder per object under the CRI's
//! root, its record a JSON file written whole (temp file, fsync, rename); an in-memory index
//! by ID and by unique name. Updates copy the record, change the copy, write it, then swap
//! it in: an error leaves memory and disk as they were.
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{CriError, CriResult};

pub mod container;
pub mod sandbox;

/// What a stored record must tell about itself.
pub trait Record: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    fn id(&self) -> &str;
    /// The name that must be unique (the kubelet's `<name>_<namespace>_<uid>_<attempt>`).
    fn unique_name(&self) -> String;
    /// "sandbox" or "container", for messages.
    const KIND: &'static str;
}

pub struct RecordStore<T: Record> {
    dir: PathBuf,
    records: RwLock<HashMap<String, T>>,
    names: RwLock<HashMap<String, String>>,
}

/// The record file's name in each object's folder.
const RECORD_FILE: &str = "record.json";

impl<T: Record> RecordStore<T> {
    /// Loads every record under `dir` (creating it); unreadable records are skipped with a
    /// warning, and their folders left for an operator to look at.
    pub fn open(dir: &Path) -> CriResult<RecordStore<T>> {
        std::fs::create_dir_all(dir)
            .map_err(|e| CriError::io(format!("creating {}", dir.display()), e))?;
        let mut records = HashMap::new();
        let mut names = HashMap::new();
        let entries = std::fs::read_dir(dir)
            .map_err(|e| CriError::io(format!("reading {}", dir.display()), e))?;
        for entry in entries.flatten() {
            let path = entry.path().join(RECORD_FILE);
            let Ok(text) = std::fs::read(&path) else {
                continue;
            };
            match serde_json::from_slice::<T>(&text) {
                Ok(r) => {
                    names.insert(r.unique_name(), r.id().to_string());
                    records.insert(r.id().to_string(), r);
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unreadable CRI record")
                }
            }
        }
        Ok(RecordStore {
            dir: dir.to_path_buf(),
            records: RwLock::new(records),
            names: RwLock::new(names),
        })
    }

    /// The object's folder.
    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, T>> {
        self.records.read().unwrap_or_else(|p| p.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, T>> {
        self.records.write().unwrap_or_else(|p| p.into_inner())
    }
    fn names(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, String>> {
        self.names.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves `name` for `id`; AlreadyExists when another object holds it.
    pub fn reserve_name(&self, name: &str, id: &str) -> CriResult<()> {
        let mut names = self.names();
        match names.get(name) {
            Some(owner) if owner != id => Err(CriError::AlreadyExists(format!(
                "failed to reserve {} name {name:?}: name {name:?} is reserved for {owner:?}",
                T::KIND
            ))),
            _ => {
                names.insert(name.to_string(), id.to_string());
                Ok(())
            }
        }
    }

    /// Lets go of a name reserved by [`RecordStore::reserve_name`] for an object never stored.
    pub fn release_name(&self, name: &str, id: &str) {
        let mut names = self.names();
        if names.get(name).is_some_and(|owner| owner == id) {
            names.remove(name);
        }
    }

    /// Writes a new record (its name reserved already).
    pub fn insert(&self, record: T) -> CriResult<T> {
        let dir = self.dir_of(record.id());
        std::fs::create_dir_all(&dir)
            .map_err(|e| CriError::io(format!("creating {}", dir.display()), e))?;
        write_json(&dir.join(RECORD_FILE), &record)?;
        self.names()
            .insert(record.unique_name(), record.id().to_string());
        self.write().insert(record.id().to_string(), record.clone());
        Ok(record)
    }

    pub fn get(&self, id: &str) -> Option<T> {
        self.read().get(id).cloned()
    }

    /// The record a full ID or a unique ID prefix names.
    pub fn lookup(&self, id: &str) -> CriResult<T> {
        if id.is_empty() {
            return Err(CriError::InvalidArgument(format!(
                "{} ID must not be empty",
                T::KIND
            )));
        }
        let records = self.read();
        if let Some(r) = records.get(id) {
            return Ok(r.clone());
        }
        let mut found = records.values().filter(|r| r.id().starts_with(id));
        match (found.next(), found.next()) {
            (Some(r), None) => Ok(r.clone()),
            (Some(_), Some(_)) => Err(CriError::NotFound(format!(
                "{} ID prefix {id:?} is ambiguous",
                T::KIND
            ))),
            _ => Err(CriError::NotFound(format!(
                "an error occurred when try to find {} {id:?}: not found",
                T::KIND
            ))),
        }
    }

    pub fn list(&self) -> Vec<T> {
        self.read().values().cloned().collect()
    }

    /// Copy, change, write whole, then swap. Answers the new record and `f`'s value.
    pub fn update<R>(&self, id: &str, f: impl FnOnce(&mut T) -> CriResult<R>) -> CriResult<(T, R)> {
        let mut records = self.write();
        let current = records
            .get(id)
            .ok_or_else(|| CriError::NotFound(format!("{} {id:?} not found", T::KIND)))?;
        let mut copy = current.clone();
        let out = f(&mut copy)?;
        write_json(&self.dir_of(id).join(RECORD_FILE), &copy)?;
        records.insert(id.to_string(), copy.clone());
        Ok((copy, out))
    }

    /// Forgets the record and removes its folder (whose mounts the caller has undone).
    pub fn remove(&self, id: &str) -> CriResult<()> {
        let dir = self.dir_of(id);
        // The record goes first: a crash half-way leaves a folder without a record, which the
        // start-up sweep removes, never a record whose files are half gone.
        match std::fs::remove_file(dir.join(RECORD_FILE)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CriError::io(format!("removing {}", dir.display()), e)),
        }
        if let Some(r) = self.write().remove(id) {
            self.release_name(&r.unique_name(), id);
        }
        remove_dir_all_quiet(&dir);
        Ok(())
    }

    /// Folders that hold no record (a removal interrupted half-way, or a create that failed).
    pub fn orphan_dirs(&self) -> Vec<PathBuf> {
        let records = self.read();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| !records.contains_key(n))
            })
            .map(|e| e.path())
            .collect()
    }
}

/// Removes a folder tree; what cannot go is logged (a mount still busy, say).
pub fn remove_dir_all_quiet(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "removing a CRI folder"),
    }
}

/// Writes `value` as JSON to `path` whole: a temporary sibling, fsync, rename.
pub fn write_json<V: Serialize>(path: &Path, value: &V) -> CriResult<()> {
    let data = serde_json::to_vec(value)
        .map_err(|e| CriError::Failed(format!("serialising {}: {e}", path.display())))?;
    write_whole(path, &data)
}

/// Writes `data` to `path` whole: a temporary sibling, fsync, rename.
pub fn write_whole(path: &Path, data: &[u8]) -> CriResult<()> {
    let tmp = path.with_extension(format!("tmp-{:08x}", rand::random::<u32>()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(CriError::io(format!("writing {}", path.display()), e));
    }
    Ok(())
}

/// A new object ID: 64 random hex digits, as containerd's.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The berth-containerd task of a CRI object: `k8s.` and the ID's first 32 digits. The
/// prefix is the CRI's namespace on the shared task list: berthd leaves such tasks alone.
pub fn task_id(id: &str) -> String {
    format!("{}{}", crate::TASK_PREFIX, &id[..32.min(id.len())])
}

/// Nanoseconds since the epoch, now.
pub fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Thing {
        id: String,
        name: String,
        n: u32,
    }
    impl Record for Thing {
        fn id(&self) -> &str {
            &self.id
        }
        fn unique_name(&self) -> String {
            self.name.clone()
        }
        const KIND: &'static str = "thing";
    }

    #[test]
    fn names_are_unique_records_survive_reopen_and_lookup_by_prefix() {
        let d = tempfile::tempdir().unwrap();
        let s: RecordStore<Thing> = RecordStore::open(d.path()).unwrap();
        s.reserve_name("a", "abc1").unwrap();
        s.insert(Thing {
            id: "abc1".into(),
            name: "a".into(),
            n: 1,
        })
        .unwrap();
        assert!(matches!(
            s.reserve_name("a", "zzz"),
            Err(CriError::AlreadyExists(_))
        ));
        s.update("abc1", |t| {
            t.n = 2;
            Ok(())
        })
        .unwrap();
        let again: RecordStore<Thing> = RecordStore::open(d.path()).unwrap();
        assert_eq!(again.lookup("ab").unwrap().n, 2);
        assert!(again.reserve_name("a", "other").is_err());
        again.remove("abc1").unwrap();
        assert!(again.lookup("abc1").unwrap_err().is_not_found());
        again.reserve_name("a", "other").unwrap();
    }

    #[test]
    fn a_failed_update_changes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let s: RecordStore<Thing> = RecordStore::open(d.path()).unwrap();
        s.insert(Thing {
            id: "x".into(),
            name: "x".into(),
            n: 1,
        })
        .unwrap();
        let r: CriResult<(Thing, ())> = s.update("x", |t| {
            t.n = 9;
            Err(CriError::Failed("no".into()))
        });
        assert!(r.is_err());
        assert_eq!(s.get("x").unwrap().n, 1);
    }
}
