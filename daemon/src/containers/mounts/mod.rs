//! A container's mounts, resolved at create as dockerd's `registerMountPoints` does:
//! `--volumes-from` first, then `-v` (Binds) and `--mount` (Mounts) over them, `--tmpfs`
//! checked against those, then the anonymous volumes of Config.Volumes (the image's
//! VOLUMEs and `-v /path`) where nothing else is mounted. Named volumes are created on
//! demand. Also: `rm -v` (anonymous volumes go with their container) and, after a daemon
//! restart, which running containers use which volumes.
//!
//! Submodules: `parse` (the syntax), `setup` (image content copied in at create; volumes
//! mounted at start, unmounted at stop), `pinned` (volume subfolders opened by handle and
//! pinned for the runtime), `image` (image mounts: an image's layers as a read-only
//! overlay), `recursion` (how binds cover the mounts below them: `rro`,
//! `NonRecursive`), `spec` (the OCI mounts and the inspect/list views).
use bollard_stubs::models::{ContainerConfig, HostConfig};

use self::parse::{clean_path, Requested};
use super::record::{Container, MountKind, MountPoint};
use super::{ContainerError, ContainerStore, Result};
use crate::state::Daemon;
use crate::volumes::{service, CreateRequest, VolumeError, VolumeStore};

pub mod image;
pub mod parse;
pub mod pinned;
pub mod recursion;
pub mod setup;
pub mod spec;

impl From<VolumeError> for ContainerError {
    fn from(e: VolumeError) -> Self {
        match e {
            VolumeError::NotFound(_) | VolumeError::NoDriver { .. } => {
                ContainerError::Missing(e.to_string())
            }
            VolumeError::InUse { .. } => ContainerError::Conflict(e.to_string()),
            VolumeError::Invalid(m) => ContainerError::Invalid(m),
            VolumeError::Mount(_) | VolumeError::Io(..) => ContainerError::Internal(e.to_string()),
        }
    }
}

fn duplicate(destination: &str) -> ContainerError {
    ContainerError::Invalid(format!("Duplicate mount point: {destination}"))
}

/// The mounts asked for by `-v` and `--mount`, refusing two at one destination.
fn user_mounts(hc: &HostConfig) -> Result<Vec<Requested>> {
    let mut out: Vec<Requested> = Vec::new();
    let default_driver = hc.volume_driver.clone().unwrap_or_default();
    for raw in hc.binds.iter().flatten() {
        let mut r = parse::parse_bind(raw).map_err(ContainerError::Invalid)?;
        if r.kind == MountKind::Volume {
            r.driver = default_driver.clone();
        }
        if out.iter().any(|o| o.destination == r.destination) {
            return Err(duplicate(&r.destination));
        }
        out.push(r);
    }
    for m in hc.mounts.iter().flatten() {
        let r = parse::parse_mount(m, |p| std::path::Path::new(p).exists())
            .map_err(ContainerError::Invalid)?;
        if out.iter().any(|o| o.destination == r.destination) {
            return Err(duplicate(&r.destination));
        }
        out.push(r);
    }
    for dst in hc.tmpfs.iter().flatten().map(|(d, _)| clean_path(d)) {
        if out.iter().any(|o| o.destination == dst) {
            return Err(duplicate(&dst));
        }
    }
    // dockerd shows "z" as the mode of local volumes given without one.
    for r in out.iter_mut() {
        if r.kind == MountKind::Volume && r.mode.is_empty() {
            r.mode = "z".into();
        }
    }
    Ok(out)
}

/// The mounts of the `--volumes-from` containers (binds and volumes), read-only where asked.
fn inherited(daemon: &Daemon, hc: &HostConfig) -> Result<Vec<MountPoint>> {
    let mut out: Vec<MountPoint> = Vec::new();
    for spec in hc.volumes_from.iter().flatten() {
        let (id, rw) = parse::parse_volumes_from(spec).map_err(ContainerError::Invalid)?;
        // As dockerd's registerMountPoints.
        let source = daemon
            .containers
            .lookup(&id)
            .map_err(ContainerError::not_found_as_invalid)?;
        for m in source
            .mount_points
            .iter()
            .filter(|m| !matches!(m.kind, MountKind::Tmpfs | MountKind::Image))
        {
            let mut copy = m.clone();
            copy.rw = m.rw && rw;
            copy.copy_data = false;
            copy.create_source = false;
            out.retain(|o| o.destination != copy.destination);
            out.push(copy);
        }
    }
    Ok(out)
}

/// Resolves every mount of a container being created, creating the volumes it names.
/// `default_read_only_non_recursive`: read-only binds of a client older than API 1.44
/// are read-only only at their top, as dockerd's `DefaultReadOnlyNonRecursive`.
pub fn resolve(
    daemon: &Daemon,
    id: &str,
    config: &ContainerConfig,
    hc: &HostConfig,
    default_read_only_non_recursive: bool,
) -> Result<Vec<MountPoint>> {
    let mut inherited = inherited(daemon, hc)?;
    let mut requested = user_mounts(hc)?;
    if default_read_only_non_recursive {
        for r in requested
            .iter_mut()
            .filter(|r| r.kind == MountKind::Bind && !r.rw)
        {
            r.recursion.read_only_non_recursive = true;
        }
    }
    inherited.retain(|m| !requested.iter().any(|r| r.destination == m.destination));
    let tmpfs: Vec<String> = hc
        .tmpfs
        .iter()
        .flatten()
        .map(|(d, _)| clean_path(d))
        .collect();
    let default_driver = hc.volume_driver.clone().unwrap_or_default();
    for dst in config.volumes.iter().flatten().map(|d| clean_path(d)) {
        let taken = requested.iter().any(|r| r.destination == dst)
            || inherited.iter().any(|m| m.destination == dst)
            || tmpfs.contains(&dst);
        if !taken && dst.starts_with('/') && dst != "/" {
            let mut r = parse::parse_bind(&dst).map_err(ContainerError::Invalid)?;
            r.driver = default_driver.clone();
            requested.push(r);
        }
    }
    let mut out = inherited;
    let mut created_anonymous = Vec::new();
    for r in requested {
        match to_mount_point(daemon, id, r) {
            Ok(mp) => {
                if mp.anonymous {
                    created_anonymous.push(mp.clone());
                }
                out.push(mp);
            }
            Err(e) => {
                discard_anonymous(daemon, &created_anonymous);
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// A requested mount as the record keeps it; a volume is looked up or created.
fn to_mount_point(daemon: &Daemon, id: &str, r: Requested) -> Result<MountPoint> {
    let mut mp = MountPoint {
        kind: r.kind,
        name: None,
        source: r.source.clone().into(),
        destination: r.destination,
        rw: r.rw,
        mode: r.mode,
        propagation: r.propagation,
        driver: None,
        options: r.tmpfs_options,
        anonymous: false,
        copy_data: r.copy_data,
        create_source: r.create_source,
        subpath: r.subpath,
        recursion: r.recursion,
        image: None,
    };
    if r.kind == MountKind::Image {
        mp.name = Some(r.source.clone());
        image::resolve(daemon, id, &mut mp)?;
    }
    if r.kind == MountKind::Volume {
        let req = CreateRequest {
            name: r.source.clone(),
            driver: r.driver,
            driver_opts: (!r.driver_opts.is_empty()).then_some(r.driver_opts),
            labels: (!r.labels.is_empty()).then_some(r.labels),
        };
        let volume = service::create(daemon, &req)?;
        mp.source = daemon.volumes.data_path(&volume.name);
        mp.anonymous = r.source.is_empty();
        mp.name = Some(volume.name);
        mp.driver = Some(volume.driver);
    }
    Ok(mp)
}

/// Removes the anonymous volumes among `mounts` (a create that failed after making them).
pub fn discard_anonymous(daemon: &Daemon, mounts: &[MountPoint]) {
    for m in mounts
        .iter()
        .filter(|m| m.kind == MountKind::Volume && m.anonymous)
    {
        if let Some(name) = &m.name {
            if let Err(e) = service::remove(daemon, name, true) {
                tracing::debug!(volume = %name, error = %e, "removing an anonymous volume");
            }
        }
    }
}

/// `rm -v` and `--rm`: the removed container's anonymous volumes go too, unless another
/// container still uses them (`--volumes-from`); named volumes stay.
pub fn remove_anonymous_volumes(daemon: &Daemon, c: &Container) {
    discard_anonymous(daemon, &c.mount_points);
}

/// After a daemon restart: the volumes of containers still running are in use.
pub fn restore_volume_users(containers: &ContainerStore, volumes: &VolumeStore) {
    for c in containers
        .list()
        .iter()
        .filter(|c| c.state.status.is_running())
    {
        for m in c
            .mount_points
            .iter()
            .filter(|m| m.kind == MountKind::Volume)
        {
            if let Some(name) = &m.name {
                volumes.restore_user(name, &c.id);
            }
        }
    }
}
