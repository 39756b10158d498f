//! Volumes: the `local` driver's volumes under `<data-root>/volumes/<name>/_data`, as
//! dockerd keeps them (moby `volume/local`, `volume/service`).
//!
//! - `names`   — volume name validation and generated (anonymous) names.
//! - `options` — the local driver's options (`type`, `device`, `o`) and the mount they make.
//! - `store`   — every volume on disk and in memory; who has it mounted (reference counts).
//! - `filters` — the filters of `GET /volumes` and `POST /volumes/prune`.
//! - `service` — create, remove, prune, mount and unmount with their events, over the
//!   store and the containers that use the volumes.
pub mod filters;
pub mod names;
pub mod options;
pub mod service;
pub mod store;

pub use crate::gotext::go_quote;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use store::VolumeStore;

/// The only volume driver: volumes are folders (or mounts) on this host.
pub const LOCAL_DRIVER: &str = "local";

/// The label dockerd (API ≥ 1.42) puts on volumes created without a name; prune removes
/// only those unless `all=true`.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// A volume's record, kept in `<data-root>/volumes/<name>/volume.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// The driver options as given (`type`, `device`, `o`); `None` when none were.
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
}

impl Volume {
    /// Whether this volume was created without a name (carries [`ANONYMOUS_LABEL`]).
    pub fn is_anonymous(&self) -> bool {
        self.labels
            .as_ref()
            .is_some_and(|l| l.contains_key(ANONYMOUS_LABEL))
    }
}

/// What `POST /volumes/create` (or a container's mount) asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRequest {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub driver: String,
    #[serde(default)]
    pub driver_opts: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Errors of the volume service, with dockerd's messages; mapped to API statuses once in
/// `api::volumes`.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// 404: "get NAME: no such volume".
    #[error("get {0}: no such volume")]
    NotFound(String),
    /// 409: "remove NAME: volume is in use - [ID …]".
    #[error("remove {name}: volume is in use - [{}]", .users.join(" "))]
    InUse { name: String, users: Vec<String> },
    /// 400: a bad name, option or filter (the message is whole, e.g. "create x: …").
    #[error("{0}")]
    Invalid(String),
    /// 404: a driver other than `local`.
    #[error(
        "create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"
    )]
    NoDriver { name: String, driver: String },
    /// 500: mounting or unmounting the volume's device failed.
    #[error("{0}")]
    Mount(String),
    /// 500: disk trouble.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
}

impl VolumeError {
    pub fn io(what: impl Into<String>, e: std::io::Error) -> Self {
        VolumeError::Io(what.into(), e)
    }
}

impl From<crate::store::StoreError> for VolumeError {
    fn from(e: crate::store::StoreError) -> Self {
        VolumeError::Io("volume store".into(), std::io::Error::other(e.to_string()))
    }
}

pub type Result<T, E = VolumeError> = std::result::Result<T, E>;
