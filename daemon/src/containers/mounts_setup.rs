//! A container's mounts at start and stop: volumes mounted (reference-counted by the
//! volume store, with `mount` / `unmount` events), missing `-v` host folders created, and
//! the image's content copied into new empty volumes on their first use.
use std::path::Path;

use super::mounts_copy::{copy_up, resolve_in_root};
use super::record::{Container, MountKind, MountPoint};
use super::{ContainerError, Result};
use crate::state::Daemon;
use crate::volumes::service;

fn prepare_one(daemon: &Daemon, c: &Container, m: &MountPoint, rootfs: &Path) -> Result<bool> {
    match m.kind {
        MountKind::Bind if m.create_source && !m.source.exists() => {
            std::fs::create_dir_all(&m.source).map_err(|e| {
                ContainerError::io(
                    format!(
                        "error while creating mount source path '{}'",
                        m.source.display()
                    ),
                    e,
                )
            })?;
            Ok(false)
        }
        MountKind::Volume => {
            let data = service::mount(daemon, &c.id, m)?;
            if !m.copy_data {
                return Ok(false);
            }
            let Some(source) = resolve_in_root(rootfs, &m.destination) else {
                return Ok(true);
            };
            copy_up(&source, &data).map_err(|e| {
                ContainerError::io(
                    format!("copying the image's {} into the volume", m.destination),
                    e,
                )
            })?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Before the task is created, with the container's root mounted at `rootfs`: mounts its
/// volumes, creates missing `-v` sources, copies image content into new volumes. On an
/// error, what was mounted is released.
pub fn setup(daemon: &Daemon, c: &Container, rootfs: &Path) -> Result<()> {
    let mut copied = false;
    for m in &c.mount_points {
        match prepare_one(daemon, c, m, rootfs) {
            Ok(did_copy) => copied |= did_copy,
            Err(e) => {
                release(daemon, c);
                return Err(e);
            }
        }
    }
    if copied {
        // The copy happens once, at the first start, as dockerd's at create.
        daemon.containers.update(&c.id, |r| {
            for m in r.mount_points.iter_mut() {
                m.copy_data = false;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// After the container stopped (or could not start, or is removed): its volumes are
/// unmounted where it was their last user. Safe to call more than once.
pub fn release(daemon: &Daemon, c: &Container) {
    for m in c
        .mount_points
        .iter()
        .filter(|m| m.kind == MountKind::Volume)
    {
        if let Some(name) = &m.name {
            service::unmount(daemon, &c.id, name);
        }
    }
}
