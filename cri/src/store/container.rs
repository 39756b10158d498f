//! A container's record: the kubelet's config, the image it runs, where it logs, and its
//! state as the CRI sees it (CREATED → RUNNING → EXITED, with containerd's exit reasons:
//! "Completed", "Error", "OOMKilled"). Transitions are methods returning `Result`; a
//! container never starts twice.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Record;
use crate::error::{CriError, CriResult};
use crate::proto::ContainerConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContainerState {
    Created,
    Running,
    Exited,
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub sandbox_id: String,
    pub config: ContainerConfig,
    /// The image as the kubelet named it.
    pub image_ref: String,
    pub image_id: String,
    pub created_at: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub exit_code: i32,
    pub reason: String,
    pub message: String,
    pub state: ContainerState,
    /// `<sandbox log_directory>/<log_path>`, when both are given.
    pub log_path: Option<PathBuf>,
    pub pid: u32,
    /// The sandbox's unique name (part of this container's unique name).
    pub sandbox_name: String,
    /// The cgroup path given to the runtime.
    #[serde(default)]
    pub cgroups_path: String,
    /// A StopContainer asked for this exit (its reason stays "Completed"/"Error").
    #[serde(default)]
    pub stopping: bool,
}

impl Record for Container {
    fn id(&self) -> &str {
        &self.id
    }
    fn unique_name(&self) -> String {
        let m = self.config.metadata.clone().unwrap_or_default();
        container_name(&m, &self.sandbox_name)
    }
    const KIND: &'static str = "container";
}

/// The kubelet's unique container name: `<name>_<sandbox name>_<attempt>`.
pub fn container_name(m: &crate::proto::ContainerMetadata, sandbox_name: &str) -> String {
    format!("{}_{}_{}", m.name, sandbox_name, m.attempt)
}

impl Container {
    pub fn task_id(&self) -> String {
        super::task_id(&self.id)
    }

    /// Created → Running.
    pub fn start(&mut self, pid: u32, at: i64) -> CriResult<()> {
        match self.state {
            ContainerState::Created => {
                self.state = ContainerState::Running;
                self.pid = pid;
                self.started_at = at;
                Ok(())
            }
            other => Err(CriError::FailedPrecondition(format!(
                "container {} is in {} state, not CONTAINER_CREATED",
                self.id,
                state_name(other)
            ))),
        }
    }

    /// Running (or Created whose start failed half-way) → Exited, with containerd's reason.
    pub fn exit(&mut self, code: i32, at: i64, oom_killed: bool) -> CriResult<()> {
        match self.state {
            ContainerState::Running | ContainerState::Created | ContainerState::Unknown => {
                self.state = ContainerState::Exited;
                self.pid = 0;
                self.exit_code = code;
                self.finished_at = at;
                self.reason = if oom_killed {
                    "OOMKilled".into()
                } else if code == 0 {
                    "Completed".into()
                } else {
                    "Error".into()
                };
                Ok(())
            }
            ContainerState::Exited => Err(CriError::FailedPrecondition(format!(
                "container {} has exited already",
                self.id
            ))),
        }
    }
}

pub fn state_name(s: ContainerState) -> &'static str {
    match s {
        ContainerState::Created => "CONTAINER_CREATED",
        ContainerState::Running => "CONTAINER_RUNNING",
        ContainerState::Exited => "CONTAINER_EXITED",
        ContainerState::Unknown => "CONTAINER_UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(state: ContainerState) -> Container {
        Container {
            id: "c".into(),
            sandbox_id: "s".into(),
            config: ContainerConfig::default(),
            image_ref: String::new(),
            image_id: String::new(),
            created_at: 1,
            started_at: 0,
            finished_at: 0,
            exit_code: 0,
            reason: String::new(),
            message: String::new(),
            state,
            log_path: None,
            pid: 0,
            sandbox_name: String::new(),
            cgroups_path: String::new(),
            stopping: false,
        }
    }

    #[test]
    fn transitions_table() {
        use ContainerState::*;
        for (from, start_ok, exit_ok) in [
            (Created, true, true),
            (Running, false, true),
            (Exited, false, false),
            (Unknown, false, true),
        ] {
            assert_eq!(
                container(from).start(1, 2).is_ok(),
                start_ok,
                "{from:?} start"
            );
            assert_eq!(
                container(from).exit(0, 2, false).is_ok(),
                exit_ok,
                "{from:?} exit"
            );
        }
    }

    #[test]
    fn exit_reasons() {
        let mut c = container(ContainerState::Running);
        c.exit(137, 5, true).unwrap();
        assert_eq!(c.reason, "OOMKilled");
        let mut c = container(ContainerState::Running);
        c.exit(1, 5, false).unwrap();
        assert_eq!((c.reason.as_str(), c.exit_code), ("Error", 1));
        let mut c = container(ContainerState::Running);
        c.exit(0, 5, false).unwrap();
        assert_eq!(c.reason, "Completed");
    }
}
