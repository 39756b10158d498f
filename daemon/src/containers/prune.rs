//! `POST /containers/prune`: removes every stopped container the filters (`until`,
//! `label`, `label!`) select; answers the IDs and the bytes their layers held.
use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{lifecycle, list::dir_size, ContainerError, Result};
use crate::images::filters::{parse_timestamp, Filters};
use crate::state::SharedDaemon;

fn invalid(e: crate::images::RequestError) -> ContainerError {
    ContainerError::Invalid(e.to_string())
}

pub async fn prune(daemon: &SharedDaemon, filters: &str) -> Result<Value> {
    let (daemon, filters) = (daemon.clone(), filters.to_string());
    super::to_the_end::to_the_end(async move { prune_now(&daemon, &filters).await }).await
}

async fn prune_now(daemon: &SharedDaemon, filters: &str) -> Result<Value> {
    let f = Filters::from_json(filters).map_err(invalid)?;
    f.validate(&["until", "label", "label!"]).map_err(invalid)?;
    let until = match f.get("until").first() {
        Some(t) => Some(parse_timestamp(t, chrono::Utc::now()).map_err(invalid)?),
        None => None,
    };
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for c in daemon.containers.list() {
        if c.state.status.is_running() || c.state.status == super::Status::Restarting {
            continue;
        }
        if let Some(until) = until {
            if c.created.timestamp() >= until.timestamp() {
                continue;
            }
        }
        let labels: BTreeMap<String, String> = c
            .config
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        if f.contains("label") && !f.match_kv_list("label", &labels) {
            continue;
        }
        if f.contains("label!") && f.match_kv_list("label!", &labels) {
            continue;
        }
        // A start in progress finishes first; then the container may be running.
        let _guard = daemon.container_locks.lock(&c.id).await;
        match daemon.containers.get(&c.id) {
            Some(now)
                if !now.state.status.is_running()
                    && now.state.status != super::Status::Restarting => {}
            _ => continue,
        }
        let size = dir_size(&c.upper_dir());
        match lifecycle::destroy(daemon, &c.id).await {
            Ok(()) => {
                reclaimed += size;
                deleted.push(c.id.clone());
            }
            Err(e) => tracing::warn!(id = %c.id, error = %e, "pruning a container"),
        }
    }
    let mut attrs = BTreeMap::new();
    attrs.insert("reclaimed".to_string(), reclaimed.to_string());
    daemon.events.publish("container", "prune", "", attrs);
    Ok(json!({
        "ContainersDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) },
        "SpaceReclaimed": reclaimed,
    }))
}
