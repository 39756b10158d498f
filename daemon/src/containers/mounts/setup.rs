//! A container's mounts at create, start and stop: the image's content copied into new
//! empty volumes when the container is created (dockerd's `populateVolumes`), volumes
//! mounted at start and unmounted at stop (reference-counted by the volume store, with
//! `mount` / `unmount` events), missing `-v` host folders created, volume subfolders
//! pinned for the runtime (`pinned`).
use super::pinned;
use crate::containers::record::{Container, MountKind, MountPoint};
use crate::containers::{rootfs, ContainerError, Result};
use crate::in_root::copy::copy_up;
use crate::in_root::walk::Entry;
use crate::in_root::{fd_path, InRoot};
use crate::state::Daemon;
use crate::volumes::service;
use nix::fcntl::OFlag;
use std::os::fd::OwnedFd;

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
        Ok(source) => into_volume(&data, m).and_then(|target| {
            let Some(target) = target else {
                return Ok(());
            };
            Entry::from_fd(source.fd)
                .and_then(|source| copy_up(&source, &fd_path(&target)))
                .map(drop)
                .map_err(fail)
        }),
        // Nothing there in the image: nothing to copy.
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => Ok(()),
        Err(e) => Err(fail(e.into())),
    };
    if let Err(e) = daemon.volumes.unmount(name, user) {
        tracing::warn!(volume = name, error = %e, "unmounting a volume after copy-up");
    }
    result
}

/// Where a copy-up goes: the volume's folder, or its subfolder (by handle) when the
/// mount names one; `None` when that subfolder is missing (dockerd copies nothing then).
fn into_volume(data: &std::path::Path, m: &MountPoint) -> Result<Option<OwnedFd>> {
    let fail = |e: std::io::Error| ContainerError::io(format!("opening {}", data.display()), e);
    let Some(subpath) = &m.subpath else {
        let fd = nix::fcntl::open(
            data,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| fail(e.into()))?;
        return Ok(Some(fd));
    };
    let volume = MountPoint {
        source: data.to_path_buf(),
        ..m.clone()
    };
    match pinned::open_subpath(&volume, subpath) {
        Ok(fd) => Ok(Some(fd)),
        Err(ContainerError::Missing(_)) => Ok(None),
        Err(e) => Err(ContainerError::Invalid(format!(
            "failed to populate volume: {e}"
        ))),
    }
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

/// Before the task is created: mounts the container's volumes and images, creates
/// missing `-v` sources and pins volume and image subfolders; the mount points as the runtime mounts them. On
/// an error, what was mounted is released.
pub fn setup(daemon: &Daemon, c: &Container) -> Result<Vec<MountPoint>> {
    for m in &c.mount_points {
        super::recursion::check(m, super::recursion::kernel_supports_rro())?;
    }
    for m in &c.mount_points {
        if let Err(e) = prepare_one(daemon, c, m) {
            release(daemon, c);
            return Err(e);
        }
    }
    super::image::mount_all(daemon, c).inspect_err(|_| release(daemon, c))?;
    pinned::pin(&daemon.config.exec_root, c).inspect_err(|_| release(daemon, c))
}

/// After the container stopped (or could not start, or is removed): its pins are
/// released and its volumes unmounted where it was their last user. Safe to call more
/// than once.
pub fn release(daemon: &Daemon, c: &Container) {
    pinned::unpin(&daemon.config.exec_root, &c.id);
    super::image::unmount_all(&daemon.config.exec_root, &c.id);
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
