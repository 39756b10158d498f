//! A container's filesystem as `docker cp` sees it, running or stopped, as dockerd's
//! `openContainerFS`: the container's overlay root (mounted for the operation, or held
//! while it runs) with its volumes and binds, and its hosts, hostname and resolv.conf
//! files, mapped at their destinations. Its tmpfs mounts and the kernel's filesystems
//! (`/proc`, `/sys`, `/dev`) are not part of it: they are empty folders of the root. Never
//! `/proc/<pid>/root`, the container's live mount table, where a copy would stream the
//! host's kernel log from `/proc/kmsg`.
//!
//! Paths resolve by handle inside the root ([`crate::in_root`]).
use std::path::{Path, PathBuf};

use super::record::{Container, MountKind, MountPoint};
use super::{rootfs, ContainerError, Result};
use crate::in_root::{components, InRoot};

/// An opened view of a container's filesystem; its overlay stays held until it is dropped.
pub struct ContainerFs {
    root: InRoot,
    /// The container whose overlay this view holds.
    mounted: Container,
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
        let merged = rootfs::mount_rootfs(c, layers_root)?;
        match InRoot::from_dir(&merged, &[]) {
            Ok(root) => Ok(ContainerFs {
                root: InRoot::from_fd(root.into_fd(), mount_map(c)),
                mounted: c.clone(),
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

/// What is mounted on the container's root for a copy: its binds and volumes (tmpfs holds
/// nothing a copy sees), then the network files berthd binds in where no mount of the
/// user's takes their place (dockerd's `setupMounts` + `NetworkMounts`).
fn mount_map(c: &Container) -> Vec<(String, PathBuf)> {
    let mut mounts: Vec<(String, PathBuf)> = c
        .mount_points
        .iter()
        .filter(|m| m.kind != MountKind::Tmpfs && !m.source.as_os_str().is_empty())
        .map(|m| (m.destination.clone(), m.source.clone()))
        .collect();
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
    mounts
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
