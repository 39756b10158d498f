//! What the CRI server needs from the engine that hosts it, as three narrow traits that
//! berthd implements: images (its image store and registry client), tasks (berth-containerd)
//! and the host's security defaults (Docker's capability set, seccomp profile, masked paths,
//! user lookup inside an image). The CRI crate knows nothing else of berthd, so the
//! dependency points one way (berthd → berth-cri) and the CRI logic is testable with fakes.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
pub use berth_proto::{
    CreateTaskRequest, ExecRequest, ExitInfo, KillRequest, LogConfig, LogFormat, ResizeRequest,
    TaskStatus, TaskView, UpdateRequest,
};

/// Errors the hosting engine reports. Kinds, not strings: the gRPC layer maps them once.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Failed(String),
}

impl BackendError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, BackendError::NotFound(_))
    }
}

pub type BackendResult<T> = Result<T, BackendError>;

/// Credentials the kubelet passes with a pull (`AuthConfig` of the CRI).
#[derive(Debug, Clone, Default)]
pub struct PullAuth {
    pub username: String,
    pub password: String,
    pub auth: String,
    pub server_address: String,
    pub identity_token: String,
    pub registry_token: String,
}

/// An image as the CRI lists it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageSummary {
    /// "sha256:…" (the config digest).
    pub id: String,
    /// Fully qualified "domain/path:tag".
    pub repo_tags: Vec<String>,
    /// Fully qualified "domain/path@sha256:…".
    pub repo_digests: Vec<String>,
    /// Bytes of the unpacked layers.
    pub size: u64,
    /// The image config's `User`.
    pub user: String,
    pub labels: HashMap<String, String>,
}

/// What a container inherits from its image's config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub stop_signal: String,
}

/// The image filesystem's usage (`ImageFsInfo`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FsUsage {
    pub mountpoint: PathBuf,
    pub used_bytes: u64,
    pub inodes_used: u64,
}

/// The host's image store and registry client.
#[async_trait]
pub trait ImageBackend: Send + Sync {
    /// Pulls `reference` (normalised, "domain/path:tag" or "…@digest") through the
    /// configured mirrors; answers the image ID.
    async fn pull(&self, reference: &str, auth: Option<PullAuth>) -> BackendResult<String>;
    /// Every image.
    fn list(&self) -> Vec<ImageSummary>;
    /// The image `name` (a reference, a full ID or an ID prefix) names, if any.
    fn status(&self, name: &str) -> Option<ImageSummary>;
    fn config(&self, id: &str) -> BackendResult<ImageConfig>;
    /// Removes the image `id` with all its names. `keep_record`: only drop the names (a
    /// container of the node still runs on it).
    async fn remove(&self, id: &str, keep_record: bool) -> BackendResult<()>;
    fn fs_usage(&self) -> FsUsage;
    /// Mounts the image's layers with `dir/upper` and `dir/work` at `dir/rootfs` (an
    /// overlay), holding the image against removal until [`ImageBackend::release_rootfs`].
    /// Called again for a mount that survived a restart, it only takes the hold back.
    fn mount_rootfs(&self, image_id: &str, dir: &Path) -> BackendResult<PathBuf>;
    /// Unmounts `dir/rootfs` (when mounted) and lets go of the image's hold.
    fn release_rootfs(&self, image_id: &str, dir: &Path);
}

/// berth-containerd's task API. Requests and answers are the engine protocol's own
/// types (crate berth-proto), shared with berthd, berth-containerd and berth-shim.
#[async_trait]
pub trait TaskBackend: Send + Sync {
    /// Creates the task (the runtime's `create`); answers the init's pid.
    async fn create(&self, req: CreateTaskRequest) -> BackendResult<u32>;
    async fn start(&self, id: &str) -> BackendResult<u32>;
    async fn state(&self, id: &str) -> BackendResult<TaskView>;
    /// The CRI's tasks (those whose ID starts with [`crate::TASK_PREFIX`]).
    async fn list(&self) -> BackendResult<Vec<TaskView>>;
    async fn kill(&self, id: &str, req: KillRequest) -> BackendResult<()>;
    /// Blocks until the task (or its exec `exec_id`) exits.
    async fn wait(&self, id: &str, exec_id: Option<&str>) -> BackendResult<ExitInfo>;
    async fn delete(&self, id: &str) -> BackendResult<ExitInfo>;
    /// Adds an exec process.
    async fn exec(&self, id: &str, req: ExecRequest) -> BackendResult<()>;
    async fn exec_start(&self, id: &str, exec_id: &str) -> BackendResult<u32>;
    async fn resize(&self, id: &str, req: ResizeRequest) -> BackendResult<()>;
    async fn close_stdin(&self, id: &str, exec_id: Option<&str>) -> BackendResult<()>;
    /// New resource limits.
    async fn update(&self, id: &str, req: UpdateRequest) -> BackendResult<()>;
    /// Reopens the task's log file (after the kubelet rotated it).
    async fn reopen_log(&self, id: &str) -> BackendResult<()>;
}

impl dyn TaskBackend {
    /// Signals the task's init (`all`: every process of the container).
    pub async fn signal(&self, id: &str, signal: i32, all: bool) -> BackendResult<()> {
        self.kill(
            id,
            KillRequest {
                signal,
                all,
                exec_id: None,
            },
        )
        .await
    }

    /// Signals an exec process of the task.
    pub async fn signal_exec(&self, id: &str, exec_id: &str, signal: i32) -> BackendResult<()> {
        let req = KillRequest {
            signal,
            all: false,
            exec_id: Some(exec_id.to_string()),
        };
        self.kill(id, req).await
    }
}

/// A user resolved inside an image's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// The primary gid first, then the user's groups from /etc/group, then the extra ones.
    pub additional_gids: Vec<u32>,
    pub home: String,
}

/// The host's security defaults (Docker's, which containerd's CRI shares).
pub trait HostSecurity: Send + Sync {
    /// The capabilities a container gets by default ("CAP_…").
    fn default_capabilities(&self) -> Vec<String>;
    /// Every capability this host knows ("CAP_…").
    fn all_capabilities(&self) -> Vec<String>;
    /// The runtime's default seccomp profile for a container with `caps`.
    fn default_seccomp(
        &self,
        caps: &[String],
    ) -> BackendResult<Option<oci_spec::runtime::LinuxSeccomp>>;
    /// A profile in the seccomp JSON format (Docker's and containerd's `Localhost` files).
    fn seccomp_from_json(
        &self,
        json: &str,
        caps: &[String],
    ) -> BackendResult<Option<oci_spec::runtime::LinuxSeccomp>>;
    fn masked_paths(&self) -> Vec<String>;
    fn readonly_paths(&self) -> Vec<String>;
    /// Resolves `user` ("name", "uid", "uid:gid", …) with `groups` inside `rootfs`.
    fn resolve_user(
        &self,
        rootfs: &Path,
        user: &str,
        groups: &[String],
    ) -> BackendResult<ResolvedUser>;
    /// The host's devices (for privileged containers).
    fn host_devices(&self) -> BackendResult<Vec<oci_spec::runtime::LinuxDevice>>;
    /// The device cgroup rules of an unprivileged container (deny all, then the usual
    /// character devices).
    fn default_device_rules(&self) -> Vec<oci_spec::runtime::LinuxDeviceCgroup>;
}
