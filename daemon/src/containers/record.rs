//! A container's record: what was asked (Config, HostConfig), what it runs from
//! (image, layers), and its state. Kept in `<data-root>/containers/<id>/config.json`,
//! written whole.
use std::path::{Path, PathBuf};

use bollard_stubs::models::{ContainerConfig, HostConfig};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The file holding a record inside its folder.
pub const RECORD_FILE: &str = "config.json";

/// dockerd's container states (`State.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Whether the container's process is alive (running or paused).
    pub fn is_running(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }
}

/// `State` of a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    pub status: Status,
    pub pid: u32,
    pub exit_code: i64,
    pub error: String,
    pub oom_killed: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `docker stop`/`kill` asked for this exit (restart policies leave it stopped).
    #[serde(default)]
    pub manually_stopped: bool,
    /// Whether a task exists in berth-containerd for this container.
    #[serde(default)]
    pub has_task: bool,
    /// A removal was asked (`rm -f` of a running container, or under way): no restart,
    /// no start; a removal a crash interrupted is finished at the next start-up, as
    /// dockerd's `RemovalInProgress`.
    #[serde(default)]
    pub removal_requested: bool,
    /// The attach socket of the running task's shim (empty when none runs).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub attach_socket: String,
    /// The protocol version of that shim (`berth_proto::version`): a shim started by an
    /// older build speaks its build's attach protocol.
    #[serde(default = "berth_proto::version::unversioned")]
    pub shim_protocol: u32,
}

/// How a [`MountPoint`] is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
    /// An image's filesystem, read-only (`--mount type=image`, API 1.48).
    Image,
}

/// One mount of a container, as dockerd's `MountPoint` (`Mounts` in inspect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPoint {
    pub kind: MountKind,
    /// The volume's name (volumes only).
    #[serde(default)]
    pub name: Option<String>,
    /// The host path mounted (a bind's path, a volume's `_data`); empty for tmpfs.
    #[serde(default)]
    pub source: PathBuf,
    /// Where it appears inside the container.
    pub destination: String,
    pub rw: bool,
    /// The mode string as given (`ro`, `z`, …), as dockerd shows it.
    #[serde(default)]
    pub mode: String,
    /// Bind propagation (`rprivate` by default for binds, empty otherwise).
    #[serde(default)]
    pub propagation: String,
    /// Volume driver (`local`), volumes only.
    #[serde(default)]
    pub driver: Option<String>,
    /// Extra mount options (tmpfs size/mode, `nocopy`, …).
    #[serde(default)]
    pub options: Vec<String>,
    /// An anonymous volume created for this container (removed by `rm -v`).
    #[serde(default)]
    pub anonymous: bool,
    /// The image's content at the destination is to be copied into the (empty) volume
    /// right after create (unset by `nocopy` and once copied).
    #[serde(default)]
    pub copy_data: bool,
    /// A bind from `-v` whose missing host folder is created at start (as dockerd does);
    /// `--mount type=bind` refuses a missing source instead.
    #[serde(default)]
    pub create_source: bool,
    /// The folder of the volume mounted instead of its root (`volume-subpath`, relative),
    /// resolved inside the volume at each start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subpath: Option<String>,
    /// How a bind treats the mounts below its source (`BindOptions`, API 1.44).
    #[serde(default, skip_serializing_if = "BindRecursion::is_default")]
    pub recursion: BindRecursion,
    /// An image mount's image, resolved at create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<MountedImage>,
}

/// The image of an image mount: its ID and its layers (chain IDs, bottom first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountedImage {
    pub id: String,
    pub layers: Vec<String>,
}

/// `BindOptions` that decide how a bind covers the mounts below its source, as dockerd
/// keeps them on its `MountPoint.Spec`: by default an `rbind`, and read-only all the way
/// down (`rro`) where the kernel has `mount_setattr` (dockerd 25+).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindRecursion {
    /// `NonRecursive` (`bind-recursive=disabled`): a plain bind, mounts below left out.
    #[serde(default)]
    pub non_recursive: bool,
    /// `ReadOnlyNonRecursive` (`bind-recursive=writable`, and every read-only bind of
    /// clients older than API 1.44): only the bind itself is read-only.
    #[serde(default)]
    pub read_only_non_recursive: bool,
    /// `ReadOnlyForceRecursive` (`bind-recursive=readonly`): recursively read-only, or
    /// the start fails.
    #[serde(default)]
    pub read_only_force_recursive: bool,
}

impl BindRecursion {
    pub fn is_default(&self) -> bool {
        *self == BindRecursion::default()
    }
}

/// `State.Health`: the healthcheck's status, failing streak and last results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// "starting", "healthy" or "unhealthy".
    pub status: String,
    pub failing_streak: u64,
    /// The last results, oldest first (dockerd keeps 5).
    #[serde(default)]
    pub log: Vec<HealthResult>,
}

/// One probe's result in `State.Health.Log`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResult {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub exit_code: i64,
    pub output: String,
}

/// One container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    /// 64 hex digits.
    pub id: String,
    /// With the leading "/".
    pub name: String,
    pub created: DateTime<Utc>,
    /// The process: Path and Args (entrypoint + cmd, split as dockerd does).
    pub path: String,
    pub args: Vec<String>,
    /// Config, merged with the image's.
    pub config: ContainerConfig,
    /// HostConfig as given, defaults filled.
    pub host_config: HostConfig,
    /// "sha256:<hex>" of the image.
    pub image_id: String,
    /// The image's layer chain IDs, bottom first.
    pub layers: Vec<String>,
    pub state: RunState,
    pub restart_count: u64,
    /// What is mounted into the container besides its root (binds, volumes, tmpfs),
    /// resolved at create; `Mounts` in inspect. Owned by `containers::mounts`.
    #[serde(default)]
    pub mount_points: Vec<MountPoint>,
    /// The healthcheck's state (`State.Health`), when the container has a healthcheck
    /// and has been started. Owned by `containers::health`.
    #[serde(default)]
    pub health: Option<Health>,
    /// Data root folder of this container (not serialised: known from where it was loaded).
    #[serde(skip)]
    pub dir: PathBuf,
}

#[cfg(test)]
impl Container {
    /// A record of `sh` with nothing else set but its ID and folder, for unit tests.
    pub fn for_tests(id: &str, dir: PathBuf) -> Container {
        Container {
            id: id.to_string(),
            name: format!("/{id}"),
            created: Utc::now(),
            path: "sh".into(),
            args: Vec::new(),
            config: Default::default(),
            host_config: Default::default(),
            image_id: String::new(),
            layers: Vec::new(),
            state: RunState::default(),
            restart_count: 0,
            mount_points: Vec::new(),
            health: None,
            dir,
        }
    }
}

impl Container {
    /// The ID berth-containerd knows the task by: the first 32 hex digits (the shim's
    /// socket paths must fit in 108 bytes).
    pub fn task_id(&self) -> &str {
        task_id_of(&self.id)
    }
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}-json.log", self.id))
    }
    pub fn hostname_path(&self) -> PathBuf {
        self.dir.join("hostname")
    }
    pub fn hosts_path(&self) -> PathBuf {
        self.dir.join("hosts")
    }
    pub fn resolv_conf_path(&self) -> PathBuf {
        self.dir.join("resolv.conf")
    }
    pub fn upper_dir(&self) -> PathBuf {
        self.dir.join("diff")
    }
    pub fn work_dir(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub fn merged_dir(&self) -> PathBuf {
        self.dir.join("merged")
    }
    pub fn record_path(dir: &Path) -> PathBuf {
        dir.join(RECORD_FILE)
    }
    /// The name without its leading "/".
    pub fn bare_name(&self) -> &str {
        self.name.trim_start_matches('/')
    }
    /// Config.Image as the user gave it.
    pub fn image_name(&self) -> String {
        self.config.image.clone().unwrap_or_default()
    }
    pub fn log_driver(&self) -> String {
        self.host_config
            .log_config
            .as_ref()
            .and_then(|l| l.typ.clone())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "json-file".into())
    }
    pub fn tty(&self) -> bool {
        self.config.tty.unwrap_or(false)
    }
    pub fn auto_remove(&self) -> bool {
        self.host_config.auto_remove.unwrap_or(false)
    }
    /// Attributes of this container's events: name, image and the labels.
    pub fn event_attributes(&self) -> std::collections::BTreeMap<String, String> {
        let mut attrs: std::collections::BTreeMap<String, String> = self
            .config
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        attrs.insert("name".into(), self.bare_name().to_string());
        attrs.insert("image".into(), self.image_name());
        attrs
    }
}

pub fn task_id_of(id: &str) -> &str {
    &id[..32.min(id.len())]
}
