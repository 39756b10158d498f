//! A pod sandbox's record: the kubelet's config, the pause task that holds the pod's
//! namespaces, its network (netns file and CNI addresses), and its state. As containerd's
//! sandbox store: READY while the pause process runs, NOTREADY once stopped; a stopped
//! sandbox is never started again (the kubelet makes a new one).
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Record;
use crate::error::{CriError, CriResult};
use crate::proto::PodSandboxConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SandboxState {
    /// Being set up: not listed yet as ready, stop tears down what exists.
    Creating,
    Ready,
    NotReady,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sandbox {
    pub id: String,
    pub config: PodSandboxConfig,
    pub runtime_handler: String,
    pub created_at: i64,
    pub state: SandboxState,
    /// The pod's network namespace (a bind-mounted file); `None` with host networking.
    pub netns: Option<PathBuf>,
    /// Whether CNI ADD succeeded (then stop runs CNI DEL).
    #[serde(default)]
    pub network_attached: bool,
    pub ip: String,
    #[serde(default)]
    pub additional_ips: Vec<String>,
    /// The pause process (0 when not running).
    pub pid: u32,
    /// The sandbox (pause) image's ID.
    pub image_id: String,
    /// The cgroup path given to the runtime (`<cgroup_parent>/<id>`).
    #[serde(default)]
    pub cgroups_path: String,
}

impl Record for Sandbox {
    fn id(&self) -> &str {
        &self.id
    }
    fn unique_name(&self) -> String {
        let m = self.config.metadata.clone().unwrap_or_default();
        sandbox_name(&m)
    }
    const KIND: &'static str = "sandbox";
}

/// The kubelet's unique sandbox name: `<name>_<namespace>_<uid>_<attempt>`.
pub fn sandbox_name(m: &crate::proto::PodSandboxMetadata) -> String {
    format!("{}_{}_{}_{}", m.name, m.namespace, m.uid, m.attempt)
}

impl Sandbox {
    pub fn task_id(&self) -> String {
        super::task_id(&self.id)
    }

    /// Creating → Ready, with the pause process.
    pub fn ready(&mut self, pid: u32) -> CriResult<()> {
        match self.state {
            SandboxState::Creating => {
                self.state = SandboxState::Ready;
                self.pid = pid;
                Ok(())
            }
            other => Err(CriError::FailedPrecondition(format!(
                "sandbox {} is {other:?}, not being created",
                self.id
            ))),
        }
    }

    /// Any state → NotReady (stopping is idempotent).
    pub fn stopped(&mut self) {
        self.state = SandboxState::NotReady;
        self.pid = 0;
    }

    pub fn host_network(&self) -> bool {
        self.namespace_mode(|n| n.network) == crate::proto::NamespaceMode::Node as i32
    }
    pub fn host_ipc(&self) -> bool {
        self.namespace_mode(|n| n.ipc) == crate::proto::NamespaceMode::Node as i32
    }
    /// The pod's pid namespace mode (POD, CONTAINER or NODE).
    pub fn pid_mode(&self) -> i32 {
        self.namespace_mode(|n| n.pid)
    }

    fn namespace_mode(&self, pick: impl Fn(&crate::proto::NamespaceOption) -> i32) -> i32 {
        self.config
            .linux
            .as_ref()
            .and_then(|l| l.security_context.as_ref())
            .and_then(|s| s.namespace_options.as_ref())
            .map(pick)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox(state: SandboxState) -> Sandbox {
        Sandbox {
            id: "s".into(),
            config: PodSandboxConfig::default(),
            runtime_handler: String::new(),
            created_at: 0,
            state,
            netns: None,
            network_attached: false,
            ip: String::new(),
            additional_ips: vec![],
            pid: 0,
            image_id: String::new(),
            cgroups_path: String::new(),
        }
    }

    #[test]
    fn transitions() {
        let table = [
            (SandboxState::Creating, true),
            (SandboxState::Ready, false),
            (SandboxState::NotReady, false),
        ];
        for (from, ok) in table {
            let mut s = sandbox(from);
            assert_eq!(s.ready(7).is_ok(), ok, "{from:?} → Ready");
            s.stopped();
            assert_eq!(s.state, SandboxState::NotReady);
            assert_eq!(s.pid, 0);
        }
    }
}
