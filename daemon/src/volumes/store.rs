//! Every volume: `<root>/<name>/volume.json` (written whole) and `<root>/<name>/_data`, and,
//! in memory, which containers have each volume mounted. A volume with driver options is
//! mounted on its `_data` when its first user mounts it and unmounted when the last leaves.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::mount::{mount, umount2, MntFlags};

use super::{
    names, options, CreateRequest, Result, Volume, VolumeError, ANONYMOUS_LABEL, LOCAL_DRIVER,
};
use crate::store::atomic;

const RECORD_FILE: &str = "volume.json";
const DATA_DIR: &str = "_data";

#[derive(Default)]
struct Inner {
    volumes: BTreeMap<String, Volume>,
    /// Volume name → the containers that have it mounted now.
    users: BTreeMap<String, BTreeSet<String>>,
}

pub struct VolumeStore {
    root: PathBuf,
    inner: Mutex<Inner>,
}

fn lock_err() -> VolumeError {
    VolumeError::Mount("the volume store's lock is poisoned".into())
}

impl VolumeStore {
    /// Loads the volumes under `root` (creating it), dropping what an interrupted create or
    /// remove left behind.
    pub fn open(root: &Path) -> Result<VolumeStore> {
        std::fs::create_dir_all(root)
            .map_err(|e| VolumeError::io(format!("creating {}", root.display()), e))?;
        let mut volumes = BTreeMap::new();
        let entries = std::fs::read_dir(root)
            .map_err(|e| VolumeError::io(format!("reading {}", root.display()), e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let dir = entry.path();
            if name.starts_with('.') {
                // A removal that was interrupted.
                let _ = std::fs::remove_dir_all(&dir);
                continue;
            }
            match std::fs::read(dir.join(RECORD_FILE))
                .ok()
                .and_then(|b| serde_json::from_slice::<Volume>(&b).ok())
            {
                Some(v) if v.name == name => {
                    volumes.insert(name, v);
                }
                _ => {
                    tracing::warn!(dir = %dir.display(), "removing a volume folder without a record");
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        }
        Ok(VolumeStore {
            root: root.to_path_buf(),
            inner: Mutex::new(Inner {
                volumes,
                users: BTreeMap::new(),
            }),
        })
    }

    /// `<root>/<name>/_data`: what containers mount (dockerd's `Mountpoint`).
    pub fn data_path(&self, name: &str) -> PathBuf {
        self.root.join(name).join(DATA_DIR)
    }

    /// Creates a volume, or returns the existing one of that name (`false`: not new).
    pub fn create(&self, req: &CreateRequest) -> Result<(Volume, bool)> {
        let driver = if req.driver.is_empty() {
            LOCAL_DRIVER
        } else {
            req.driver.as_str()
        };
        let anonymous = req.name.is_empty();
        let name = if anonymous {
            names::generate()
        } else {
            req.name.clone()
        };
        if driver != LOCAL_DRIVER {
            return Err(VolumeError::NoDriver {
                name,
                driver: driver.to_string(),
            });
        }
        let invalid = |m: String| VolumeError::Invalid(format!("create {name}: {m}"));
        names::validate(&name).map_err(invalid)?;
        let opts = req.driver_opts.clone().filter(|o| !o.is_empty());
        options::validate(opts.as_ref().unwrap_or(&BTreeMap::new())).map_err(invalid)?;
        let mut inner = self.inner.lock().map_err(|_| lock_err())?;
        if let Some(v) = inner.volumes.get(&name) {
            return Ok((v.clone(), false));
        }
        let mut labels = req.labels.clone();
        if anonymous {
            labels
                .get_or_insert_with(BTreeMap::new)
                .insert(ANONYMOUS_LABEL.into(), String::new());
        }
        let volume = Volume {
            name: name.clone(),
            driver: LOCAL_DRIVER.into(),
            created_at: chrono::Utc::now(),
            labels,
            options: opts,
        };
        let dir = self.root.join(&name);
        let data = dir.join(DATA_DIR);
        let written = std::fs::create_dir_all(&data)
            .map_err(|e| VolumeError::io(format!("creating {}", data.display()), e))
            .and_then(|()| Ok(atomic::write_json(&dir.join(RECORD_FILE), &volume)?));
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        inner.volumes.insert(name, volume.clone());
        Ok((volume, true))
    }

    pub fn get(&self, name: &str) -> Result<Volume> {
        let inner = self.inner.lock().map_err(|_| lock_err())?;
        inner
            .volumes
            .get(name)
            .cloned()
            .ok_or_else(|| VolumeError::NotFound(name.to_string()))
    }

    /// Every volume, by name.
    pub fn list(&self) -> Vec<Volume> {
        self.inner
            .lock()
            .map(|i| i.volumes.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Removes a volume and its data; refused while a container has it mounted.
    pub fn remove(&self, name: &str) -> Result<Volume> {
        let mut inner = self.inner.lock().map_err(|_| lock_err())?;
        let Some(volume) = inner.volumes.get(name).cloned() else {
            return Err(VolumeError::NotFound(name.to_string()));
        };
        if let Some(users) = inner.users.get(name).filter(|u| !u.is_empty()) {
            return Err(VolumeError::InUse {
                name: name.to_string(),
                users: users.iter().cloned().collect(),
            });
        }
        let data = self.data_path(name);
        if is_mount_point(&data) {
            let _ = umount2(&data, MntFlags::MNT_DETACH);
        }
        let dir = self.root.join(name);
        let trash = self
            .root
            .join(format!(".{name}.removing-{:08x}", rand::random::<u32>()));
        std::fs::rename(&dir, &trash)
            .map_err(|e| VolumeError::io(format!("removing {}", dir.display()), e))?;
        let _ = atomic::sync_dir(&self.root);
        inner.volumes.remove(name);
        inner.users.remove(name);
        drop(inner);
        if let Err(e) = std::fs::remove_dir_all(&trash) {
            tracing::warn!(dir = %trash.display(), error = %e, "removing a volume's data");
        }
        Ok(volume)
    }

    /// Records that `container` mounts the volume, mounting its device first when it is the
    /// first user. Returns the path to bind into the container.
    pub fn mount(&self, name: &str, container: &str) -> Result<PathBuf> {
        let mut inner = self.inner.lock().map_err(|_| lock_err())?;
        let volume = inner
            .volumes
            .get(name)
            .cloned()
            .ok_or_else(|| VolumeError::NotFound(name.to_string()))?;
        let data = self.data_path(name);
        let first = inner.users.get(name).is_none_or(BTreeSet::is_empty);
        if first {
            if let Some(spec) = options::mount_spec(volume.options.as_ref()) {
                if !is_mount_point(&data) {
                    let data_opt = (!spec.data.is_empty()).then_some(spec.data.as_str());
                    mount(
                        Some(spec.device.as_str()),
                        &data,
                        Some(spec.fstype.as_str()),
                        spec.flags,
                        data_opt,
                    )
                    .map_err(|e| {
                        VolumeError::Mount(format!(
                            "error while mounting volume '{}': failed to mount local volume: mount {}:{}, flags: {:#x}, data: {}: {}",
                            data.display(),
                            spec.device,
                            data.display(),
                            spec.flags.bits(),
                            spec.data,
                            e.desc().to_lowercase()
                        ))
                    })?;
                }
            }
        }
        inner
            .users
            .entry(name.to_string())
            .or_default()
            .insert(container.to_string());
        Ok(data)
    }

    /// Records that `container` no longer mounts the volume; the last user unmounts its
    /// device. Returns whether `container` was a user (so an unmount happened for it).
    pub fn unmount(&self, name: &str, container: &str) -> Result<bool> {
        let mut inner = self.inner.lock().map_err(|_| lock_err())?;
        let Some(users) = inner.users.get_mut(name) else {
            return Ok(false);
        };
        if !users.remove(container) {
            return Ok(false);
        }
        if users.is_empty() {
            inner.users.remove(name);
            let has_opts = inner
                .volumes
                .get(name)
                .is_some_and(|v| options::mount_spec(v.options.as_ref()).is_some());
            let data = self.data_path(name);
            if has_opts && is_mount_point(&data) {
                umount2(&data, MntFlags::MNT_DETACH).map_err(|e| {
                    VolumeError::Mount(format!("unmounting {}: {e}", data.display()))
                })?;
            }
        }
        Ok(true)
    }

    /// After a daemon restart: `container` (still running) has the volume mounted already.
    pub fn restore_user(&self, name: &str, container: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            if inner.volumes.contains_key(name) {
                inner
                    .users
                    .entry(name.to_string())
                    .or_default()
                    .insert(container.to_string());
            }
        }
    }
}

/// Whether `path` is a mount point now (listed in /proc/self/mountinfo).
fn is_mount_point(path: &Path) -> bool {
    let wanted = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|m| {
            m.lines()
                .any(|l| l.split(' ').nth(4).is_some_and(|p| p == wanted))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str) -> CreateRequest {
        CreateRequest {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn create_get_list_remove_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let store = VolumeStore::open(dir.path()).unwrap();
        let (v, new) = store.create(&req("data")).unwrap();
        assert!(new);
        assert!(store.data_path("data").is_dir());
        let (again, new) = store.create(&req("data")).unwrap();
        assert!(!new);
        assert_eq!(again, v);
        let (anon, _) = store.create(&req("")).unwrap();
        assert!(anon.is_anonymous());
        assert_eq!(anon.name.len(), 64);
        drop(store);
        let store = VolumeStore::open(dir.path()).unwrap();
        assert_eq!(store.list().len(), 2);
        assert_eq!(store.get("data").unwrap(), v);
        store.remove("data").unwrap();
        assert!(!dir.path().join("data").exists());
        assert!(matches!(store.get("data"), Err(VolumeError::NotFound(_))));
        assert_eq!(
            store.get("nope").unwrap_err().to_string(),
            "get nope: no such volume"
        );
    }

    #[test]
    fn refused_names_drivers_and_options() {
        let dir = tempfile::tempdir().unwrap();
        let store = VolumeStore::open(&dir.path().join("volumes")).unwrap();
        let err = store.create(&req("../x")).unwrap_err().to_string();
        assert!(
            err.starts_with("create ../x: \"../x\" includes invalid characters"),
            "{err}"
        );
        assert!(!dir.path().join("x").exists());
        let err = store
            .create(&CreateRequest {
                name: "vv".into(),
                driver: "foo".into(),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "create vv: error looking up volume plugin foo: plugin \"foo\" not found"
        );
        let err = store
            .create(&CreateRequest {
                name: "vv".into(),
                driver_opts: Some([("foo".to_string(), "bar".to_string())].into()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "create vv: invalid option: \"foo\"");
        assert!(store.list().is_empty());
    }

    #[test]
    fn users_are_counted_and_block_removal() {
        let dir = tempfile::tempdir().unwrap();
        let store = VolumeStore::open(dir.path()).unwrap();
        store.create(&req("shared")).unwrap();
        store.mount("shared", "c1").unwrap();
        store.mount("shared", "c2").unwrap();
        let err = store.remove("shared").unwrap_err();
        assert_eq!(err.to_string(), "remove shared: volume is in use - [c1 c2]");
        assert!(store.unmount("shared", "c1").unwrap());
        assert!(!store.unmount("shared", "c1").unwrap());
        assert!(store.unmount("shared", "c2").unwrap());
        store.remove("shared").unwrap();
    }

    #[test]
    fn leftovers_are_cleaned_at_open() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("half/_data")).unwrap();
        std::fs::create_dir_all(dir.path().join(".gone.removing-1/_data")).unwrap();
        let store = VolumeStore::open(dir.path()).unwrap();
        assert!(store.list().is_empty());
        assert!(!dir.path().join("half").exists());
        assert!(!dir.path().join(".gone.removing-1").exists());
    }
}
