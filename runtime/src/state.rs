//! The container's record on disk (`<root>/<id>/state.json`, written whole)
//! and its status, derived from the init process, the exec fifo and the freezer.
use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use crate::utils::write_atomic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const OCI_VERSION: &str = "1.0.2-dev";
pub const EXEC_FIFO: &str = "exec.fifo";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    pub pid: i32,
    /// Start time of the init (field 22 of /proc/<pid>/stat), against pid reuse.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub cgroup: Option<Cgroup>,
    /// The spec's process, the base of `exec` without --process.
    pub process: Option<serde_json::Value>,
    /// The spec's hooks (poststart and poststop run after create).
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// The seccomp profile, applied to exec'd processes too.
    #[serde(default)]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// The cgroup resources: the spec's, with every `update` merged in.
    #[serde(default)]
    pub resources: Option<oci_spec::runtime::LinuxResources>,
}

/// Container ids: letters, digits, `_ + - .`, not `.` or `..`.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::State(format!("invalid container id format: {id}")))
    }
}

pub fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

impl State {
    pub fn load(root: &Path, id: &str) -> Result<State> {
        validate_id(id)?;
        let p = dir(root, id).join("state.json");
        let data = match std::fs::read(&p) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()))
            }
            Err(e) => return Err(Error::io("read", p, e)),
        };
        serde_json::from_slice(&data).map_err(|e| Error::Json(p.display().to_string(), e))
    }

    pub fn save(&self, root: &Path) -> Result<()> {
        let p = dir(root, &self.id).join("state.json");
        let data = serde_json::to_vec(self).map_err(|e| Error::Json("state".into(), e))?;
        write_atomic(&p, &data)
    }

    pub fn is_alive(&self) -> bool {
        self.pid > 0 && pid_start_time(self.pid) == Some(self.pid_start)
    }

    pub fn status(&self, root: &Path) -> Status {
        if !self.is_alive() {
            return Status::Stopped;
        }
        if self.cgroup.as_ref().is_some_and(|c| c.is_frozen()) {
            return Status::Paused;
        }
        if dir(root, &self.id).join(EXEC_FIFO).exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    /// runc's `state` output.
    pub fn to_runc_json(&self, status: Status) -> serde_json::Value {
        let mut v = serde_json::json!({
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "pid": if status == Status::Stopped { 0 } else { self.pid },
            "status": status.as_str(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.annotations);
        }
        v
    }
}

/// Start time of a live (not zombie) process, in clock ticks since boot.
pub fn pid_start_time(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("abc-1.2_x+y").is_ok());
        assert!(validate_id("../x").is_err());
        assert!(validate_id("").is_err());
        assert!(validate_id("..").is_err());
    }

    #[test]
    fn own_start_time_and_save_load() {
        let me = std::process::id() as i32;
        let st = pid_start_time(me).expect("own stat");
        let d = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(d.path().join("c1")).expect("mkdir");
        let s = State {
            id: "c1".into(),
            pid: me,
            pid_start: st,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: now_rfc3339(),
            owner: String::new(),
            annotations: BTreeMap::new(),
            cgroup: None,
            process: None,
            hooks: None,
            seccomp: None,
            resources: None,
        };
        s.save(d.path()).expect("save");
        let l = State::load(d.path(), "c1").expect("load");
        assert_eq!(l.status(d.path()), Status::Running);
        std::fs::write(d.path().join("c1").join(EXEC_FIFO), "").expect("fifo");
        assert_eq!(l.status(d.path()), Status::Created);
        let j = l.to_runc_json(Status::Created);
        assert_eq!(j["status"], "created");
        assert!(j.get("annotations").is_none());
        assert!(matches!(
            State::load(d.path(), "nope"),
            Err(Error::NotFound(_))
        ));
    }
}
