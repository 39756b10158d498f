//! A container's mounts at create, start and stop: the image's content copied into new
//! empty volumes when the container is created (dockerd's `populateVolumes`), volumes
//! mounted at start and unmounted at stop (reference-counted by the volume store, with
//! `mount` / `unmount` events), missing `-v` host folders created.
use super::record::{Container, MountKind, MountPoint};
use super::{rootfs, ContainerError, Result};
use crate::in_root::copy::copy_up;
use crate::in_root::walk::Entry;
use crate::in_root::InRoot;
use crate::state::Daemon;
use crate::volumes::service;

/// Right after create: each new volume that is still empty gets what the image has at its
/// destination (owners and modes kept), unless `nocopy`. As with dockerd, a volume whose
/// driver options mount a tmpfs loses that copy when it is unmounted again.
pub fn populate(daemon: &Daemon, c: &Container) -> Result<()> {
    let wanted: Vec<&MountPoint> = c
        .mount_points
        .iter()
        .filter(|m| m.kind == MountKind::Volume && m.copy_data)
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let merged = rootfs::mount_rootfs(c, &daemon.config.data_root.join("layers"))?;
    let user = format!("create-{}", c.id);
    let copied = InRoot::from_dir(&merged, &[])
        .map_err(|e| ContainerError::io(format!("opening {}", merged.display()), e))
        .and_then(|root| {
            wanted
                .iter()
                .try_for_each(|m| populate_one(daemon, &root, m, &user))
        });
    rootfs::unmount_rootfs(c);
    copied?;
    daemon.containers.update(&c.id, |r| {
        for m in r.mount_points.iter_mut() {
            m.copy_data = false;
        }
        Ok(())
    })?;
    Ok(())
}

/// Copies what the image has at `m`'s destination (resolved inside the root, by handle)
/// into its volume when the volume is empty.
fn populate_one(daemon: &Daemon, root: &InRoot, m: &MountPoint, user: &str) -> Result<()> {
    let name = m.name.as_deref().unwrap_or("");
    let data = daemon.volumes.mount(name, user)?;
    let fail = |e: std::io::Error| {
        ContainerError::io(
            format!("copying the image's {} into volume {name}", m.destination),
            e,
        )
    };
    let result = match root.resolve(&m.destination, true) {
        Ok(source) => Entry::from_fd(source.fd)
            .and_then(|source| copy_up(&source, &data))
            .map(drop)
            .map_err(fail),
        // Nothing there in the image: nothing to copy.
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => Ok(()),
        Err(e) => Err(fail(e.into())),
    };
    if let Err(e) = daemon.volumes.unmount(name, user) {
        tracing::warn!(volume = name, error = %e, "unmounting a volume after copy-up");
    }
    result
}

fn prepare_one(daemon: &Daemon, c: &Container, m: &MountPoint) -> Result<()> {
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
            Ok(())
        }
        MountKind::Volume => service::mount(daemon, &c.id, m)
            .map(|_| ())
            .map_err(Into::into),
        _ => Ok(()),
    }
}

/// Before the task is created: mounts the container's volumes and creates missing `-v`
/// sources. On an error, what was mounted is released.
pub fn setup(daemon: &Daemon, c: &Container) -> Result<()> {
    for m in &c.mount_points {
        if let Err(e) = prepare_one(daemon, c, m) {
            release(daemon, c);
            return Err(e);
        }
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
