//! Volume operations over the store and the containers that refer to volumes, with
//! dockerd's events (`create`, `mount`, `unmount`, `destroy`, `prune`).
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::filters::{ListFilter, PruneFilter};
use super::{CreateRequest, Result, Volume, VolumeError, LOCAL_DRIVER};
use crate::containers::record::{MountKind, MountPoint};
use crate::state::Daemon;

/// The containers (any state) whose mounts refer to volume `name`.
pub fn users(daemon: &Daemon, name: &str) -> Vec<String> {
    daemon
        .containers
        .list()
        .into_iter()
        .filter(|c| {
            c.mount_points
                .iter()
                .any(|m| m.kind == MountKind::Volume && m.name.as_deref() == Some(name))
        })
        .map(|c| c.id)
        .collect()
}

fn driver_attrs(v: &Volume) -> BTreeMap<String, String> {
    BTreeMap::from([("driver".to_string(), v.driver.clone())])
}

/// Creates a volume (or returns the existing one of that name); `create` is published for
/// a new one.
pub fn create(daemon: &Daemon, req: &CreateRequest) -> Result<Volume> {
    let (volume, new) = daemon.volumes.create(req)?;
    if new {
        daemon
            .events
            .publish("volume", "create", &volume.name, driver_attrs(&volume));
    }
    Ok(volume)
}

/// Removes a volume no container refers to. `force` only makes an unknown name a success.
pub fn remove(daemon: &Daemon, name: &str, force: bool) -> Result<()> {
    let volume = match daemon.volumes.get(name) {
        Ok(v) => v,
        Err(VolumeError::NotFound(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let users = users(daemon, name);
    if !users.is_empty() {
        return Err(VolumeError::InUse {
            name: name.to_string(),
            users,
        });
    }
    daemon.volumes.remove(name)?;
    daemon
        .events
        .publish("volume", "destroy", &volume.name, driver_attrs(&volume));
    Ok(())
}

/// The volumes `filters` keep.
pub fn list(daemon: &Daemon, filters: &str) -> Result<Vec<Volume>> {
    let f = ListFilter::parse(filters)?;
    Ok(daemon
        .volumes
        .list()
        .into_iter()
        .filter(|v| f.matches(v, !users(daemon, &v.name).is_empty()))
        .collect())
}

/// Removes the unused local volumes the filters select; returns their names and the
/// bytes they held.
pub fn prune(
    daemon: &Daemon,
    filters: &str,
    api_version: (u32, u32),
) -> Result<(Vec<String>, u64)> {
    let f = PruneFilter::parse(filters, api_version)?;
    let mut deleted = Vec::new();
    let mut reclaimed = 0;
    for v in daemon.volumes.list() {
        if v.driver != LOCAL_DRIVER || !f.matches(&v) || !users(daemon, &v.name).is_empty() {
            continue;
        }
        let size = size(daemon, &v.name);
        match remove(daemon, &v.name, false) {
            Ok(()) => {
                reclaimed += size;
                deleted.push(v.name.clone());
            }
            Err(e) => tracing::warn!(volume = %v.name, error = %e, "pruning a volume"),
        }
    }
    daemon.events.publish(
        "volume",
        "prune",
        "",
        BTreeMap::from([("reclaimed".to_string(), reclaimed.to_string())]),
    );
    Ok((deleted, reclaimed))
}

/// Mounts the volume of `mp` for container `id`; publishes `mount`. Returns the host path.
pub fn mount(daemon: &Daemon, id: &str, mp: &MountPoint) -> Result<PathBuf> {
    let name = mp.name.as_deref().unwrap_or("");
    let path = daemon.volumes.mount(name, id)?;
    let volume = daemon.volumes.get(name)?;
    let mut attrs = driver_attrs(&volume);
    attrs.insert("container".into(), id.to_string());
    attrs.insert("destination".into(), mp.destination.clone());
    attrs.insert("read/write".into(), mp.rw.to_string());
    attrs.insert("propagation".into(), mp.propagation.clone());
    daemon.events.publish("volume", "mount", name, attrs);
    Ok(path)
}

/// Container `id` no longer uses volume `name`; publishes `unmount` once per mount.
pub fn unmount(daemon: &Daemon, id: &str, name: &str) {
    match daemon.volumes.unmount(name, id) {
        Ok(true) => {
            let mut attrs = BTreeMap::from([("driver".to_string(), LOCAL_DRIVER.to_string())]);
            attrs.insert("container".into(), id.to_string());
            daemon.events.publish("volume", "unmount", name, attrs);
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(volume = name, container = id, error = %e, "unmounting a volume"),
    }
}

/// Bytes of the files in the volume.
pub fn size(daemon: &Daemon, name: &str) -> u64 {
    crate::containers::list::dir_size(&daemon.volumes.data_path(name))
}

/// A volume as the API shows it; `usage` adds `UsageData` (`/system/df`).
pub fn to_json(daemon: &Daemon, v: &Volume, usage: bool) -> Value {
    let created = v
        .created_at
        .with_timezone(&chrono::Local)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut out = json!({
        "CreatedAt": created,
        "Driver": v.driver,
        "Labels": v.labels,
        "Mountpoint": daemon.volumes.data_path(&v.name).display().to_string(),
        "Name": v.name,
        "Options": v.options,
        "Scope": "local",
    });
    if usage {
        out["UsageData"] = json!({
            "RefCount": users(daemon, &v.name).len(),
            "Size": size(daemon, &v.name),
        });
    }
    out
}
