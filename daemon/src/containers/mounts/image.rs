//! Image mounts (`--mount type=image,source=REF,target=DST[,image-subpath=SUB]`, API
//! 1.48), as dockerd's `registerMountPoints`: the image is looked up at create (dockerd's
//! "No such image" 404 when missing) and its layers kept with the mount point; at each
//! start its layers are mounted as a read-only overlay at
//! `<exec-root>/image-mounts/<container>/<hash of the destination>` — one per mount, so an
//! image may be mounted at several places — from where the runtime binds it read-only
//! (`rro`) into the container. A subfolder (`ImageOptions.Subpath`) is opened by handle
//! inside it and pinned as a volume's subpath is (`pinned`). The overlays go with the
//! run's teardown.
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use sha2::{Digest, Sha256};

use crate::containers::record::{Container, MountKind, MountPoint, MountedImage};
use crate::containers::{rootfs, ContainerError, Result};
use crate::state::Daemon;

/// `<exec-root>/image-mounts/<id>`: the image overlays of one container.
fn container_dir(exec_root: &Path, id: &str) -> PathBuf {
    exec_root.join("image-mounts").join(id)
}

/// Where the image mounted at `destination` of container `id` is mounted on the host
/// (what inspect shows as its `Source`).
pub fn source_path(exec_root: &Path, id: &str, destination: &str) -> PathBuf {
    let hash = Sha256::digest(format!("{id}-dst={destination}").as_bytes());
    container_dir(exec_root, id).join(hex::encode(&hash[..16]))
}

/// At create: the image `m` names (its `name`) looked up; its layers and the host path
/// it will be mounted at recorded.
pub fn resolve(daemon: &Daemon, id: &str, m: &mut MountPoint) -> Result<()> {
    let reference = m.name.clone().unwrap_or_default();
    let image = crate::images::lookup::resolve_image(daemon, &reference)?;
    m.image = Some(MountedImage {
        id: image.id.clone(),
        layers: image.layers.iter().map(|l| l.chain_id.clone()).collect(),
    });
    m.source = source_path(&daemon.config.exec_root, id, &m.destination);
    Ok(())
}

/// At start: each image mount's layers mounted, read-only, at its source. On an error
/// what was mounted is unmounted again.
pub fn mount_all(daemon: &Daemon, c: &Container) -> Result<()> {
    // A run cut short by a crash may have left overlays behind.
    unmount_all(&daemon.config.exec_root, &c.id);
    let layers_root = daemon.config.data_root.join("layers");
    for m in c.mount_points.iter().filter(|m| m.kind == MountKind::Image) {
        let layers = m
            .image
            .as_ref()
            .map(|i| i.layers.as_slice())
            .unwrap_or_default();
        let mounted = rootfs::check_layers(&daemon.layers, layers)
            .and_then(|_| mount_one(&layers_root, m, layers));
        if let Err(e) = mounted {
            unmount_all(&daemon.config.exec_root, &c.id);
            return Err(e);
        }
    }
    Ok(())
}

fn mount_one(layers_root: &Path, m: &MountPoint, layers: &[String]) -> Result<()> {
    let merged = &m.source;
    let io = |what: &str, p: &Path, e: std::io::Error| {
        ContainerError::io(format!("{what} {}", p.display()), e)
    };
    std::fs::create_dir_all(merged).map_err(|e| io("creating", merged, e))?;
    // Overlay needs two lower folders without an upper one: an empty one goes below.
    let empty = merged.with_extension("empty");
    std::fs::create_dir_all(&empty).map_err(|e| io("creating", &empty, e))?;
    let mut lowers = rootfs::lower_dirs(layers_root, layers);
    lowers.push(empty);
    let lowerdir = lowers
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    nix::mount::mount(
        Some("overlay"),
        merged,
        Some("overlay"),
        MsFlags::MS_RDONLY,
        Some(format!("lowerdir={lowerdir}").as_str()),
    )
    .map_err(|e| io("mounting the image's layers at", merged, e.into()))
}

/// After the run: the container's image overlays unmounted and their folders removed
/// (a folder something is still mounted on is left alone). Safe to call when none are.
pub fn unmount_all(exec_root: &Path, id: &str) {
    let dir = container_dir(exec_root, id);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut points: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    // The overlays first, then the empty lower folders.
    points.sort_by_key(|p| p.extension().is_some());
    for point in points {
        if point.extension().is_none() {
            match nix::mount::umount2(&point, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW) {
                Ok(()) | Err(nix::errno::Errno::EINVAL) => {}
                Err(e) => {
                    tracing::warn!(point = %point.display(), error = %e, "unmounting an image mount")
                }
            }
        }
        if let Err(e) = std::fs::remove_dir(&point) {
            tracing::warn!(point = %point.display(), error = %e, "removing an image mount's folder");
        }
    }
    if let Err(e) = std::fs::remove_dir(&dir) {
        tracing::debug!(dir = %dir.display(), error = %e, "removing the image mounts folder");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_destination_has_its_own_place() {
        let root = Path::new("/run/berth");
        let a = source_path(root, "c1", "/a");
        assert_eq!(a, source_path(root, "c1", "/a"));
        assert_ne!(a, source_path(root, "c1", "/b"));
        assert_ne!(a, source_path(root, "c2", "/a"));
        assert!(
            a.starts_with("/run/berth/image-mounts/c1"),
            "{}",
            a.display()
        );
        assert_eq!(a.extension(), None);
    }
}
