//! A container's filesystem as `docker cp` sees it, running or stopped, as dockerd's
//! `openContainerFS`: the container's overlay root (mounted for the operation, or held
//! while it runs) with its volumes and binds, and its hosts, hostname and resolv.conf
//! files, mapped at their destinations. Its tmpfs mounts and the kernel's filesystems
//! (`/proc`, `/sys`, `/dev`) are not part of it: they are empty folders of the root. Never
//! `/proc/<pid>/root`, the container's live mount table, where a copy would stream the
//! host's kernel log from `/proc/kmsg`.
//!
//! Paths resolve by handle inside the root ([`crate::in_root`]); a volume mounted by
//! its subfolder shows that subfolder, opened by handle inside the volume.
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use super::mounts::pinned;
use super::record::{Container, MountKind, MountPoint};
use super::{rootfs, ContainerError, Result};
use crate::in_root::{components, fd_path, InRoot};

/// An opened view of a container's filesystem; its overlay stays held until it is dropped.
pub struct ContainerFs {
    root: InRoot,
    /// The container whose overlay this view holds.
    mounted: Container,
    /// Volume subfolders opened by handle, named in the view as `/proc/self/fd/N`.
    _subfolders: Vec<OwnedFd>,
}

impl std::ops::Deref for ContainerFs {
    type Target = InRoot;
    fn deref(&self) -> &InRoot {
        &self.root
    }
}

impl ContainerFs {
    /// The container's view: its overlay (mounted here when it is not) and its mounts.
    pub fn open(c: &Container, layers_root: &Path) -> Result<ContainerFs> {
        let (map, subfolders) = mount_map(c)?;
        let merged = rootfs::mount_rootfs(c, layers_root)?;
        match InRoot::from_dir(&merged, &[]) {
            Ok(root) => Ok(ContainerFs {
                root: InRoot::from_fd(root.into_fd(), map),
                mounted: c.clone(),
                _subfolders: subfolders,
            }),
            Err(e) => {
                rootfs::unmount_rootfs(c);
                Err(ContainerError::io(
                    format!("opening {}", merged.display()),
                    e,
                ))
            }
        }
    }
}

impl Drop for ContainerFs {
    fn drop(&mut self) {
        rootfs::unmount_rootfs(&self.mounted);
    }
}

/// (destination, source) of each mount of a container's view.
type MountMap = Vec<(String, PathBuf)>;

/// What is mounted on the container's root for a copy: its binds and volumes (tmpfs holds
/// nothing a copy sees; a volume's subfolder opened by handle, its descriptor returned to
/// be kept), then the network files berthd binds in where no mount of the user's takes
/// their place (dockerd's `setupMounts` + `NetworkMounts`).
fn mount_map(c: &Container) -> Result<(MountMap, Vec<OwnedFd>)> {
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    let mut subfolders = Vec::new();
    for m in c
        .mount_points
        .iter()
        .filter(|m| !matches!(m.kind, MountKind::Tmpfs | MountKind::Image))
        .filter(|m| !m.source.as_os_str().is_empty())
    {
        match m.subpath.as_deref().filter(|_| m.kind == MountKind::Volume) {
            Some(subpath) => {
                let fd = pinned::open_subpath(m, subpath)?;
                mounts.push((m.destination.clone(), fd_path(&fd)));
                subfolders.push(fd);
            }
            None => mounts.push((m.destination.clone(), m.source.clone())),
        }
    }
    for (destination, source) in [
        ("/etc/resolv.conf", c.resolv_conf_path()),
        ("/etc/hostname", c.hostname_path()),
        ("/etc/hosts", c.hosts_path()),
    ] {
        let taken = mounts
            .iter()
            .any(|(d, _)| components(d) == components(destination));
        if !taken && source.is_file() {
            mounts.push((destination.to_string(), source));
        }
    }
    Ok((mounts, subfolders))
}

/// The mount of `c` that holds the container path `path` (longest destination wins).
pub fn mount_holding(c: &Container, path: &str) -> Option<MountPoint> {
    let parts = components(path);
    c.mount_points
        .iter()
        .filter(|m| {
            let dest = components(&m.destination);
            parts.len() >= dest.len() && parts[..dest.len()] == dest[..]
        })
        .max_by_key(|m| components(&m.destination).len())
        .cloned()
}
