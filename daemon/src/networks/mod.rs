//! Docker networks on top of netd: the network records (the Docker model), the
//! predefined `bridge`, `host` and `none` networks, and the `netd::Netd` berthd
//! opens at start-up (state under `<data-root>/network`, namespace files under
//! `<exec-root>/netns`).
//!
//! - `record`  — the persisted Docker network model.
//! - `create`  — `POST /networks/create` validated into a record and a netd network.
//! - `view`    — inspect JSON and the list filters.
//! - `events`  — connect and disconnect events.
//! - `host`    — opening netd: names of this daemon's bridge and firewall table.
//! - `state_cache` — each container's `network.json`, kept in memory.
//! - `ipam`    — IPAM config entries (IPv4 and IPv6) to and from netd.
//! - `links`   — legacy container links (`--link`).
pub mod connect;
pub mod create;
pub mod endpoints;
pub mod events;
pub mod host;
pub mod hosts_file;
pub mod ipam;
pub mod links;
pub mod ports;
pub mod record;
pub mod sandbox;
pub mod settings;
pub mod state_cache;
pub mod view;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

pub use record::{EndpointRecord, IpamConfig, NetworkRecord};

/// What can go wrong with networks, mapped once to Docker's statuses in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// 404.
    #[error("network {0} not found")]
    NotFound(String),
    /// 400.
    #[error("{0}")]
    Invalid(String),
    /// 403 (dockerd's "forbidden": predefined networks, pools overlapping).
    #[error("{0}")]
    Forbidden(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 404 with its own text (`plugin "x" not found`).
    #[error("{0}")]
    Missing(String),
    /// 503: what needs a swarm (the `overlay` driver), as a dockerd that is no manager.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Netd(#[from] netd::Error),
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("{0}")]
    Internal(String),
}

impl NetworkError {
    pub fn io(what: impl Into<String>, e: std::io::Error) -> Self {
        NetworkError::Io(what.into(), e)
    }
}

pub type Result<T, E = NetworkError> = std::result::Result<T, E>;

/// Every network of this daemon, and netd once it is open.
pub struct Networks {
    dir: record::RecordDir,
    records: Mutex<BTreeMap<String, NetworkRecord>>,
    netd: OnceLock<Arc<netd::Netd>>,
    /// Creations and removals one at a time (the duplicate-name check stays true).
    changes: tokio::sync::Mutex<()>,
    /// Containers' `network.json`, read once.
    container_states: state_cache::StateCache,
}

/// The network records, locked for reading several at once (`docker ps` of many
/// containers) without copying them.
pub struct RecordsView<'a>(MutexGuard<'a, BTreeMap<String, NetworkRecord>>);

impl RecordsView<'_> {
    /// As [`Networks::find`], borrowed.
    pub fn find(&self, reference: &str) -> Result<&NetworkRecord> {
        find_in(&self.0, reference)
    }
}

impl Networks {
    /// Loads the records under `<data-root>/network/docker`, adding `host` and `none`
    /// when missing (the `bridge` record comes with netd, in [`Networks::start`]).
    pub fn open(data_root: &std::path::Path) -> Result<Networks> {
        let dir = record::RecordDir::open(&data_root.join("network").join("docker"))?;
        let mut records: BTreeMap<String, NetworkRecord> = dir
            .load_all()?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        for (name, driver) in [("host", "host"), ("none", "null")] {
            if !records.values().any(|r| r.name == name) {
                let r = create::predefined(name, driver);
                dir.save(&r)?;
                records.insert(r.id.clone(), r);
            }
        }
        Ok(Networks {
            dir,
            records: Mutex::new(records),
            netd: OnceLock::new(),
            changes: tokio::sync::Mutex::new(()),
            container_states: Default::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, NetworkRecord>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// netd, once `start` has opened it.
    pub fn netd(&self) -> Result<&Arc<netd::Netd>> {
        self.netd
            .get()
            .ok_or_else(|| NetworkError::Internal("networking is not available".into()))
    }

    /// Every network, sorted by name.
    pub fn list(&self) -> Vec<NetworkRecord> {
        let mut all: Vec<NetworkRecord> = self.lock().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// dockerd's lookup: full id, then exact name, then unique id prefix.
    pub fn find(&self, reference: &str) -> Result<NetworkRecord> {
        find_in(&self.lock(), reference).cloned()
    }

    /// What `--add-host NAME:host-gateway` stands for: the daemon's `host-gateway-ips`
    /// when `configured`, else dockerd's default, the default bridge's gateways, IPv4
    /// first, then IPv6 when the bridge has it. None without a default bridge.
    pub fn host_gateway_ips(&self, configured: &[std::net::IpAddr]) -> Vec<String> {
        if !configured.is_empty() {
            return configured.iter().map(|ip| ip.to_string()).collect();
        }
        let records = self.lock();
        let Some(bridge) = records.values().find(|r| r.name == "bridge") else {
            return Vec::new();
        };
        let mut ips: Vec<String> = bridge
            .ipam
            .iter()
            .map(|c| c.gateway.clone())
            .filter(|g| !g.is_empty())
            .filter(|g| bridge.enable_ipv6 || !g.contains(':'))
            .collect();
        ips.sort_by_key(|g| g.contains(':'));
        ips
    }

    /// Every record, locked for reading (keep it short: creations and updates wait).
    pub fn read(&self) -> RecordsView<'_> {
        RecordsView(self.lock())
    }

    /// Saves and keeps a new or changed record.
    pub fn put(&self, record: NetworkRecord) -> Result<()> {
        self.dir.save(&record)?;
        self.lock().insert(record.id.clone(), record);
        Ok(())
    }

    /// Adds or removes a container's endpoint on network `id` and saves the record
    /// without fsync (`RecordDir::save_endpoints`): every container start and stop on a
    /// network does, and its fsync was a third of a millisecond of each.
    pub fn update_endpoints(
        &self,
        id: &str,
        edit: impl FnOnce(&mut BTreeMap<String, EndpointRecord>),
    ) -> Result<()> {
        let mut records = self.lock();
        let record = records
            .get_mut(id)
            .ok_or_else(|| NetworkError::NotFound(id.to_string()))?;
        edit(&mut record.endpoints);
        self.dir.save_endpoints(record)
    }

    fn forget(&self, id: &str) -> Result<()> {
        self.dir.remove(id)?;
        self.lock().remove(id);
        Ok(())
    }

    /// Removes a network (`DELETE /networks/{id}`): refused for the predefined ones
    /// and while containers are connected, as dockerd.
    pub async fn remove(&self, reference: &str) -> Result<NetworkRecord> {
        let _one_at_a_time = self.changes.lock().await;
        let record = self.find(reference)?;
        if record.is_predefined() {
            return Err(NetworkError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                record.name
            )));
        }
        if !record.endpoints.is_empty() {
            let list: Vec<String> = record
                .endpoints
                .values()
                .map(|ep| {
                    let id = &ep.endpoint_id[..ep.endpoint_id.len().min(12)];
                    format!("name:{:?} id:{:?}", ep.name, id)
                })
                .collect();
            return Err(NetworkError::Forbidden(format!(
                "error while removing network: network {} has active endpoints ({})",
                record.name,
                list.join(", ")
            )));
        }
        if record.is_bridge() {
            self.netd()?.remove_network(&record.id).await?;
        }
        self.forget(&record.id)?;
        Ok(record)
    }
}

impl Networks {
    /// Opens netd (restoring its bridges, rules and ports), then makes sure the default
    /// `bridge` network and every user-defined network are in place. Failures are
    /// logged: the daemon still serves, with networking unavailable.
    pub async fn start(&self, config: &crate::config::Config) {
        let netd = match host::open_netd(config).await {
            Ok(n) => Arc::new(n),
            Err(e) => {
                tracing::error!("networking is unavailable: {e}");
                return;
            }
        };
        let _ = self.netd.set(netd);
        let names = host::HostNames::for_data_root(&config.data_root);
        let ipv6 = config.ipv6.then_some(config.fixed_cidr_v6.as_deref());
        if let Err(e) =
            create::ensure_default_bridge(self, &names.bridge, config.bip.as_deref(), ipv6).await
        {
            tracing::error!("the default bridge network could not be created: {e}");
        }
        if let Err(e) = create::restore_user_networks(self).await {
            tracing::error!("restoring networks: {e}");
        }
    }
}

/// dockerd's lookup in `records`: full id, then exact name, then unique id prefix.
fn find_in<'a>(
    records: &'a BTreeMap<String, NetworkRecord>,
    reference: &str,
) -> Result<&'a NetworkRecord> {
    if let Some(r) = records.get(reference) {
        return Ok(r);
    }
    let mut by_name = records.values().filter(|r| r.name == reference);
    match (by_name.next(), by_name.count()) {
        (Some(r), 0) => return Ok(r),
        (None, _) => {}
        (Some(_), more) => {
            return Err(NetworkError::Invalid(format!(
                "network {reference} is ambiguous ({} matches found based on name)",
                more + 1
            )))
        }
    }
    if reference.is_empty() {
        return Err(NetworkError::NotFound(reference.to_string()));
    }
    let mut by_prefix = records.values().filter(|r| r.id.starts_with(reference));
    match (by_prefix.next(), by_prefix.count()) {
        (Some(r), 0) => Ok(r),
        (None, _) => Err(NetworkError::NotFound(reference.to_string())),
        (Some(_), more) => Err(NetworkError::Invalid(format!(
            "network {reference} is ambiguous ({} matches found based on ID prefix)",
            more + 1
        ))),
    }
}
