//! The Docker network model as berthd keeps it: one JSON file per network under
//! `<data-root>/network/docker/`, written whole (temp file, fsync, rename).
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::NetworkError;

/// Names of the networks every daemon has (dockerd's "predefined" networks).
pub const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

/// Whether `name` is one of the predefined networks.
pub fn is_predefined(name: &str) -> bool {
    PREDEFINED.contains(&name)
}

/// One IPAM config entry as inspect shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamConfig {
    pub subnet: String,
    pub gateway: String,
    #[serde(default)]
    pub ip_range: Option<String>,
    /// `--aux-address name=ip`: reserved, never leased.
    #[serde(default)]
    pub aux_addresses: BTreeMap<String, String>,
    /// A subnet asked for without its gateway: the gateway is netd's choice, and inspect
    /// leaves it out, as dockerd shows only the configuration it was given.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gateway_chosen: bool,
}

/// A container on a network (inspect's `Containers`, and the container's
/// `NetworkSettings.Networks.<name>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    /// The container's name, without the leading slash.
    pub name: String,
    pub endpoint_id: String,
    pub mac: String,
    pub ip: String,
    pub prefix_len: u8,
    pub gateway: String,
    /// On a network with IPv6: the endpoint's address, prefix length and gateway.
    #[serde(default)]
    pub ipv6: String,
    #[serde(default)]
    pub ipv6_prefix_len: u8,
    #[serde(default)]
    pub ipv6_gateway: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub dns_names: Vec<String>,
}

/// A network as the Docker API knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// `None` shows as `null` (the predefined networks), else `{}` or the options given.
    #[serde(default)]
    pub ipam_options: Option<BTreeMap<String, String>>,
    /// EnableIPv6: an IPv6 subnet among `ipam`.
    #[serde(default)]
    pub enable_ipv6: bool,
    #[serde(default)]
    pub ipam: Vec<IpamConfig>,
    /// Container id -> endpoint.
    #[serde(default)]
    pub endpoints: BTreeMap<String, EndpointRecord>,
}

impl NetworkRecord {
    pub fn is_predefined(&self) -> bool {
        is_predefined(&self.name)
    }

    /// Whether containers on it get netd bridges (user-defined or default bridge).
    pub fn is_bridge(&self) -> bool {
        self.driver == "bridge"
    }
}

/// The folder of records.
#[derive(Debug, Clone)]
pub struct RecordDir {
    dir: PathBuf,
}

impl RecordDir {
    pub fn open(dir: &Path) -> Result<RecordDir, NetworkError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| NetworkError::io(format!("creating {}", dir.display()), e))?;
        Ok(RecordDir {
            dir: dir.to_path_buf(),
        })
    }

    /// Every readable record; unreadable files are logged and skipped.
    pub fn load_all(&self) -> Result<Vec<NetworkRecord>, NetworkError> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| NetworkError::io(format!("reading {}", self.dir.display()), e))?;
        let mut records = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let parsed = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()));
            match parsed {
                Ok(record) => records.push(record),
                Err(e) => tracing::warn!(path = %path.display(), "skipping network record: {e}"),
            }
        }
        Ok(records)
    }

    pub fn save(&self, record: &NetworkRecord) -> Result<(), NetworkError> {
        self.write(record, true)
    }

    /// Saves a change of endpoints only, without fsync: they describe live containers,
    /// which a crash of the machine ends too (the start-up reconcile drops those of
    /// containers that do not run), as netd's own `save_endpoints`.
    pub fn save_endpoints(&self, record: &NetworkRecord) -> Result<(), NetworkError> {
        self.write(record, false)
    }

    fn write(&self, record: &NetworkRecord, durable: bool) -> Result<(), NetworkError> {
        let path = self.dir.join(format!("{}.json", record.id));
        let tmp = self.dir.join(format!(".{}.tmp", record.id));
        let bytes = serde_json::to_vec_pretty(record)
            .map_err(|e| NetworkError::Internal(format!("encoding network record: {e}")))?;
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            if durable {
                f.sync_all()?;
            }
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| NetworkError::io(format!("writing {}", path.display()), e))
    }

    pub fn remove(&self, id: &str) -> Result<(), NetworkError> {
        let path = self.dir.join(format!("{id}.json"));
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(NetworkError::io(format!("removing {}", path.display()), e)),
        }
    }
}

/// A new random 64-hex-digit network id.
pub fn new_id() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_changes_are_saved_with_the_record() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = RecordDir::open(root.path()).expect("open");
        let mut record = crate::networks::create::predefined("bridge", "bridge");
        dir.save(&record).expect("save");
        record.endpoints.insert(
            "c1".into(),
            EndpointRecord {
                name: "web".into(),
                ip: "172.17.0.2".into(),
                ..Default::default()
            },
        );
        dir.save_endpoints(&record).expect("save endpoints");
        let loaded = dir.load_all().expect("load");
        assert_eq!(loaded, vec![record]);
        let names: Vec<String> = std::fs::read_dir(root.path())
            .expect("read")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }
}
