//! A container's root: an overlay of the image's unpacked layers plus the container's
//! own upper and work folders, mounted at `<container>/merged` while it runs (the files
//! berthd writes for it are `etc_files`).
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::record::Container;
use super::{ContainerError, Result};
use crate::store::layers::LayerStore;

/// The `diff` folders of an image's layers, top first (overlay's lowerdir order).
pub fn lower_dirs(layers_root: &Path, chain_ids: &[String]) -> Vec<PathBuf> {
    chain_ids
        .iter()
        .rev()
        .map(|c| {
            layers_root
                .join(c.trim_start_matches("sha256:"))
                .join("diff")
        })
        .collect()
}

/// The lower folders of a container's overlay, top first: its init layer (when made),
/// then its image's layers.
pub fn container_lowers(c: &Container, layers_root: &Path) -> Vec<PathBuf> {
    let init = super::init_layer::dir(c, layers_root);
    let mut lowers = Vec::new();
    if init.is_dir() {
        lowers.push(init);
    }
    lowers.extend(lower_dirs(layers_root, &c.layers));
    lowers
}

/// Mounts an overlay of `lowers` (top first) with `upper` and `work` at `merged`, for
/// a writable layer that belongs to no container (the builder's COPY and ADD); `empty`
/// (created here) stands in for an image without layers, as overlay needs a lower folder.
pub fn mount_overlay_dirs(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    merged: &Path,
    empty: &Path,
) -> std::io::Result<()> {
    mount_overlay_with(lowers, upper, work, merged, empty, "")
}

/// The same, with `extra` (`,option…`) after the folders.
fn mount_overlay_with(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    merged: &Path,
    empty: &Path,
    extra: &str,
) -> std::io::Result<()> {
    let mut lowers = lowers.to_vec();
    if lowers.is_empty() {
        std::fs::create_dir_all(empty)?;
        lowers.push(empty.to_path_buf());
    }
    let lower = lowers
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let data = format!(
        "lowerdir={lower},upperdir={},workdir={}{extra}",
        upper.display(),
        work.display()
    );
    mount(
        Some("overlay"),
        merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(std::io::Error::from)
}

/// Creates the container's upper, work and mount-point folders.
pub fn prepare(c: &Container) -> Result<()> {
    for dir in [c.upper_dir(), c.work_dir(), c.merged_dir()] {
        std::fs::create_dir_all(&dir)
            .map_err(|e| ContainerError::io(format!("creating {}", dir.display()), e))?;
    }
    Ok(())
}

/// Whether something is mounted at `path` (a container's overlay): its device is not
/// its parent folder's. Two stats, where reading the host's whole mount table cost
/// milliseconds on a busy host, twice per run.
pub fn is_mounted(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(here), Some(Ok(parent))) = (
        std::fs::symlink_metadata(path),
        path.parent().map(std::fs::metadata),
    ) else {
        return false;
    };
    here.dev() != parent.dev() || here.ino() == parent.ino()
}

/// Who holds each container's overlay mounted: its run, an export, a `cp` into or out of
/// it while stopped, a copy-up. The last one to let go unmounts it, so an export is not
/// cut short by the container's exit or by a `cp` finishing at its side; and a container
/// removed meanwhile (`rm`, `container prune`) keeps its folder until then, as dockerd's
/// layer store keeps a mounted RW layer.
#[derive(Debug)]
struct Holds {
    count: usize,
    /// The container was removed: the last holder removes this folder.
    remove_dir: Option<PathBuf>,
}

static HOLDERS: LazyLock<Mutex<HashMap<String, Holds>>> = LazyLock::new(Mutex::default);

fn holders() -> std::sync::MutexGuard<'static, HashMap<String, Holds>> {
    HOLDERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Mounts the overlay at `<container>/merged` (or takes another hold on it when it is
/// already mounted). Each successful call is paired with one `unmount_rootfs`.
pub fn mount_rootfs(c: &Container, layers_root: &Path) -> Result<PathBuf> {
    prepare(c)?;
    let merged = c.merged_dir();
    let mut holders = holders();
    if is_mounted(&merged) {
        // Mounted with no hold recorded: a run from before berthd restarted holds it.
        let holds = holders.entry(c.id.clone()).or_insert(Holds {
            count: 1,
            remove_dir: None,
        });
        holds.count += 1;
        return Ok(merged);
    }
    mount_overlay(c, layers_root, &merged)?;
    holders.insert(
        c.id.clone(),
        Holds {
            count: 1,
            remove_dir: None,
        },
    );
    Ok(merged)
}

fn mount_overlay(c: &Container, layers_root: &Path, merged: &Path) -> Result<()> {
    super::init_layer::ensure(c, layers_root)?;
    let lowers = container_lowers(c, layers_root);
    let (upper, work, empty) = (c.upper_dir(), c.work_dir(), c.dir.join("empty"));
    let failed = |e| ContainerError::io(format!("mounting the overlay of {}", c.id), e);
    if c.auto_remove() {
        mount_discardable(&lowers, &upper, &work, merged, &empty)
    } else {
        mount_overlay_dirs(&lowers, &upper, &work, merged, &empty)
    }
    .map_err(failed)
}

/// Mounts an overlay whose writable layer is thrown away after it (a `--rm` container's)
/// `volatile`: its unmount skips the sync of the whole upper filesystem (overlayfs syncs
/// it at every unmount: 1.5-3 ms of each `run --rm`'s end on this project's machine) and
/// syncs inside it are not written through. A volatile mount leaves a marker that refuses
/// the next mount of the same folders; this layer's state after a crash does not matter,
/// so an earlier marker is removed. Kernels before 5.10 get a plain mount.
fn mount_discardable(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    merged: &Path,
    empty: &Path,
) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(work.join("work").join("incompat"));
    match mount_overlay_with(lowers, upper, work, merged, empty, ",volatile") {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            mount_overlay_dirs(lowers, upper, work, merged, empty)
        }
        done => done,
    }
}

/// Lets go of one hold on the overlay; the last one unmounts it (and removes the
/// container's folder when the container was removed meanwhile).
pub fn unmount_rootfs(c: &Container) {
    let remove_dir = {
        let mut holders = holders();
        match holders.get_mut(&c.id) {
            Some(holds) if holds.count > 1 => {
                holds.count -= 1;
                return;
            }
            _ => holders.remove(&c.id).and_then(|h| h.remove_dir),
        }
    };
    detach(c);
    if let Some(dir) = remove_dir {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(id = %c.id, error = %e, "removing the folder of a removed container");
        }
    }
}

/// At start-up, for a container that does not run: its overlay is unmounted if an
/// interrupted run left it mounted (and nobody holds it).
pub fn unmount_unheld(c: &Container) {
    if !holders().contains_key(&c.id) {
        detach(c);
    }
}

/// The container is being removed. Returns true when its folder can go now: nobody holds
/// its overlay (it is unmounted here). Otherwise the last holder unmounts it and removes
/// the folder.
pub fn release_for_removal(c: &Container) -> bool {
    {
        let mut holders = holders();
        if let Some(holds) = holders.get_mut(&c.id) {
            if holds.count > 0 {
                holds.remove_dir = Some(c.dir.clone());
                return false;
            }
            holders.remove(&c.id);
        }
    }
    detach(c);
    true
}

/// At start-up: container folders without a record (a crash between a removal's steps,
/// or an export that held a removed container's root) are unmounted and removed.
pub fn remove_unrecorded(containers_root: &Path, known: &std::collections::HashSet<String>) {
    let Ok(entries) = std::fs::read_dir(containers_root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let dir = entry.path();
        if known.contains(&name) || !dir.is_dir() || Container::record_path(&dir).exists() {
            continue;
        }
        let merged = dir.join("merged");
        if is_mounted(&merged) {
            if let Err(e) = umount2(&merged, MntFlags::MNT_DETACH) {
                tracing::warn!(dir = %dir.display(), error = %e, "unmounting a leftover container root");
                continue;
            }
        }
        tracing::info!(dir = %dir.display(), "removing the folder of a container that is gone");
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "removing a leftover container folder");
        }
    }
}

fn detach(c: &Container) {
    let merged = c.merged_dir();
    if !is_mounted(&merged) {
        return;
    }
    if let Err(e) = umount2(&merged, MntFlags::MNT_DETACH) {
        tracing::warn!(id = %c.id, error = %e, "unmounting the container's root");
    }
}

/// The unpacked layer folders must all exist (a layer store path for each chain ID).
pub fn check_layers(layers: &LayerStore, chain_ids: &[String]) -> Result<()> {
    for chain in chain_ids {
        if layers.get(chain)?.is_none() {
            return Err(ContainerError::Internal(format!(
                "layer {chain} of the image is missing"
            )));
        }
    }
    Ok(())
}

/// Creates the working directory `wd` inside the mounted root `rootfs`, symlinks followed
/// inside the root, never on the host (dockerd's `SetupWorkingDirectory`:
/// `FollowSymlinkInScope` then `MkdirAll`, by handle here).
pub fn make_working_dir(rootfs: &Path, wd: &str) -> Result<()> {
    let root = crate::in_root::InRoot::from_dir(rootfs, &[])
        .map_err(|e| ContainerError::io(format!("opening {}", rootfs.display()), e))?;
    match root.mkdir_all(wd) {
        Ok(_) => Ok(()),
        Err(nix::errno::Errno::ENOTDIR | nix::errno::Errno::EEXIST) => Err(
            ContainerError::Internal(format!("Cannot mkdir: {wd} is not a directory")),
        ),
        Err(e) => Err(ContainerError::io(
            format!("creating the working directory {wd}"),
            e.into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_folder_is_not_a_mount_point_and_proc_is() {
        let d = tempfile::tempdir().unwrap();
        assert!(!is_mounted(d.path()));
        assert!(!is_mounted(&d.path().join("missing")));
        assert!(is_mounted(Path::new("/proc")));
    }

    /// Root: a discardable overlay is mounted `volatile`, and can be mounted again after
    /// its unmount (the marker the first left is cleared).
    #[test]
    fn a_discardable_overlay_is_volatile_and_mounts_again() {
        let d = tempfile::tempdir_in("/tmp").unwrap();
        let dirs: Vec<PathBuf> = ["lower", "upper", "work", "merged"]
            .iter()
            .map(|n| d.path().join(n))
            .collect();
        for dir in &dirs {
            std::fs::create_dir_all(dir).unwrap();
        }
        let (lower, upper, work, merged) = (&dirs[0], &dirs[1], &dirs[2], &dirs[3]);
        for round in 0..2 {
            mount_discardable(
                std::slice::from_ref(lower),
                upper,
                work,
                merged,
                &d.path().join("empty"),
            )
            .unwrap_or_else(|e| panic!("mount {round}: {e}"));
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
            let line = mountinfo
                .lines()
                .find(|l| l.split(' ').nth(4) == Some(merged.to_str().unwrap()))
                .map(str::to_string);
            std::fs::write(merged.join("f"), "x").unwrap();
            umount2(merged.as_path(), MntFlags::MNT_DETACH).unwrap();
            let line = line.expect("mounted");
            assert!(line.contains("volatile"), "{line}");
        }
        assert_eq!(std::fs::read_to_string(upper.join("f")).unwrap(), "x");
    }
}
