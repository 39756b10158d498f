//! The status of a task (or of one process in it), as containerd names them. The
//! transitions are the owners' business (containerd-lite's `tasks`, the shim's
//! `process`); this is only the vocabulary they share on the wire.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Created,
    Running,
    /// `pausing` (runc's word while the freezer works) reads as paused.
    #[serde(alias = "pausing")]
    Paused,
    Stopped,
    Deleted,
}

impl TaskStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Created => "created",
            TaskStatus::Running => "running",
            TaskStatus::Paused => "paused",
            TaskStatus::Stopped => "stopped",
            TaskStatus::Deleted => "deleted",
        }
    }

    /// The process exists (created, running or paused): it can take a signal.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            TaskStatus::Created | TaskStatus::Running | TaskStatus::Paused
        )
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            TaskStatus::Created,
            TaskStatus::Running,
            TaskStatus::Paused,
            TaskStatus::Stopped,
            TaskStatus::Deleted,
        ] {
            let v = serde_json::to_value(s).unwrap();
            assert_eq!(v, s.as_str());
            assert_eq!(serde_json::from_value::<TaskStatus>(v).unwrap(), s);
        }
        assert_eq!(
            serde_json::from_str::<TaskStatus>("\"pausing\"").unwrap(),
            TaskStatus::Paused
        );
        assert!(serde_json::from_str::<TaskStatus>("\"bogus\"").is_err());
        assert!(TaskStatus::Paused.is_live());
        assert!(!TaskStatus::Stopped.is_live());
    }
}
