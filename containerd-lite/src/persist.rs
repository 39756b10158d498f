//! What berth-containerd keeps on disk: `STATE/tasks/<id>/task.json`, written whole
//! (temp file, rename), and the shim's `exit.json` it reads after a restart.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::Result;
use crate::model::ExitInfo;

/// The persisted part of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub id: String,
    pub bundle: String,
    /// The runtime as asked (a name or a path).
    pub runtime: String,
    /// The runtime binary handed to the shim.
    #[serde(default)]
    pub runtime_path: String,
    pub created: String,
    #[serde(default)]
    pub terminal: bool,
    #[serde(default)]
    pub stdin: bool,
}

/// The layout of the state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> StateDir {
        StateDir { root: root.into() }
    }
    pub fn tasks_dir(&self) -> PathBuf {
        self.root.join("tasks")
    }
    pub fn task_dir(&self, id: &str) -> PathBuf {
        self.tasks_dir().join(id)
    }
    pub fn shim_socket(&self, id: &str) -> PathBuf {
        self.task_dir(id).join("shim.sock")
    }
    pub fn attach_socket(&self, id: &str) -> PathBuf {
        self.task_dir(id).join("attach.sock")
    }

    pub fn save(&self, record: &TaskRecord) -> Result<()> {
        let dir = self.task_dir(&record.id);
        std::fs::create_dir_all(&dir)?;
        write_json_atomic(&dir.join("task.json"), record)
    }

    pub fn load(&self, id: &str) -> Result<TaskRecord> {
        read_json(&self.task_dir(id).join("task.json"))
    }

    /// The init's exit as the shim recorded it, if it did.
    pub fn exit_file(&self, id: &str) -> Option<ExitInfo> {
        read_json(&self.task_dir(id).join("exit.json")).ok()
    }

    /// Ids of every task directory.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let entries = match std::fs::read_dir(self.tasks_dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                if let Some(name) = entry.file_name().to_str() {
                    ids.push(name.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        match std::fs::remove_dir_all(self.task_dir(id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// Write `value` as JSON to `path` whole: temp file, rename. No fsync: the state dir
/// describes live tasks (it is meant for a tmpfs, as /run); a crash of the machine ends
/// them too, and a crash of this process leaves the old version or the new one.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::File::create(&tmp)?.write_all(&bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path)?;
    Ok(serde_json::from_slice(&bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> TaskRecord {
        TaskRecord {
            id: id.into(),
            bundle: "/b".into(),
            runtime: "runc".into(),
            runtime_path: "/usr/sbin/runc".into(),
            created: crate::model::now_rfc3339(),
            terminal: true,
            stdin: false,
        }
    }

    #[test]
    fn save_load_list_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let st = StateDir::new(tmp.path());
        assert!(st.list().unwrap().is_empty());
        st.save(&record("b")).unwrap();
        st.save(&record("a")).unwrap();
        assert_eq!(st.list().unwrap(), vec!["a", "b"]);
        assert_eq!(st.load("a").unwrap(), record_with_created(&st, "a"));
        // no temp file left behind
        let names: Vec<_> = std::fs::read_dir(st.task_dir("a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("task.json")]);
        st.remove("a").unwrap();
        st.remove("a").unwrap();
        assert_eq!(st.list().unwrap(), vec!["b"]);
    }

    fn record_with_created(st: &StateDir, id: &str) -> TaskRecord {
        let mut r = record(id);
        r.created = st.load(id).unwrap().created;
        r
    }

    #[test]
    fn overwrite_is_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("x.json");
        write_json_atomic(
            &p,
            &serde_json::json!({"a": "long value ....................."}),
        )
        .unwrap();
        write_json_atomic(&p, &serde_json::json!({"a": 1})).unwrap();
        let v: serde_json::Value = read_json(&p).unwrap();
        assert_eq!(v, serde_json::json!({"a": 1}));
    }

    #[test]
    fn exit_file_and_garbage() {
        let tmp = tempfile::tempdir().unwrap();
        let st = StateDir::new(tmp.path());
        st.save(&record("t")).unwrap();
        assert!(st.exit_file("t").is_none());
        std::fs::write(st.task_dir("t").join("exit.json"), b"{not json").unwrap();
        assert!(st.exit_file("t").is_none());
        std::fs::write(
            st.task_dir("t").join("exit.json"),
            br#"{"exit_status": 3, "exited_at": "2026-01-01T00:00:00.000000000Z"}"#,
        )
        .unwrap();
        assert_eq!(st.exit_file("t").unwrap().exit_status, 3);
        assert!(st.load("missing").is_err());
    }
}
