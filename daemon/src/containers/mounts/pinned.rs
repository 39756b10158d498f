//! Mount sources that cannot be handed to the runtime as a host path string: a volume's
//! subfolder (`--mount type=volume,…,volume-subpath=SUB`, API 1.45), or an image's
//! (`type=image,…,image-subpath=SUB`, API 1.48). At each start the
//! subfolder is opened by handle inside the volume ([`crate::in_root::beneath`]: symlinks
//! followed while they stay inside, dockerd's errors for a missing path and for one that
//! leads out), and that very object is bound at `<exec-root>/mounts/<container>/<n>`,
//! from where the runtime binds it into the container — dockerd's `safepath.Join` and
//! its temporary mount. A container sharing the volume cannot swap a component for a
//! symlink between the check and the runtime's mount (CVE-2021-30465's class).
//!
//! The pins live as long as the run and go with its teardown; a pin still mounted is
//! never removed (no recursive removal ever runs under `<exec-root>/mounts`).
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use crate::containers::record::{Container, MountKind, MountPoint};
use crate::containers::{ContainerError, Result};
use crate::in_root::beneath::{self, BeneathError};
use crate::in_root::{fd_path, is_dir};

/// `<exec-root>/mounts/<id>`: the pins of one container's run.
pub fn pins_dir(exec_root: &Path, id: &str) -> PathBuf {
    exec_root.join("mounts").join(id)
}

/// Opens the volume subfolder `m` names (its source is the volume's `_data`), as an
/// `O_PATH` descriptor, with dockerd's errors.
pub fn open_subpath(m: &MountPoint, subpath: &str) -> Result<OwnedFd> {
    let base = &m.source;
    let dir = nix::fcntl::open(
        base,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| {
        ContainerError::Missing(format!(
            "cannot access path {}: {}",
            base.display(),
            std::io::Error::from(e)
        ))
    })?;
    beneath::open(dir.as_fd(), subpath).map_err(|e| subpath_error(base, subpath, e))
}

/// dockerd's words for a subpath that cannot be used (`safepath` errors): missing is a
/// 404, leading out of the volume a 400.
fn subpath_error(base: &Path, subpath: &str, e: BeneathError) -> ContainerError {
    match e {
        BeneathError::Missing { missing } => ContainerError::Missing(format!(
            "cannot access path {}: lstat {}: no such file or directory",
            base.join(subpath).display(),
            base.join(missing).display()
        )),
        BeneathError::Escapes => ContainerError::Invalid(format!(
            "path concatenation escapes the base directory, base: {}, subpath: {subpath}",
            base.display()
        )),
        BeneathError::Sys(errno) => ContainerError::Missing(format!(
            "cannot access path {}: {}",
            base.join(subpath).display(),
            std::io::Error::from(errno)
        )),
    }
}

/// The container's mount points as the runtime mounts them: each volume with a subpath
/// has its source replaced by its pin. Its volumes are mounted already. On an error the
/// pins made so far are released.
pub fn pin(exec_root: &Path, c: &Container) -> Result<Vec<MountPoint>> {
    // A run cut short by a crash may have left pins behind.
    unpin(exec_root, &c.id);
    let mut out = c.mount_points.clone();
    for (n, m) in out.iter_mut().enumerate() {
        let with_subpath = matches!(m.kind, MountKind::Volume | MountKind::Image);
        let Some(subpath) = m.subpath.clone().filter(|_| with_subpath) else {
            continue;
        };
        match pin_one(exec_root, &c.id, n, m, &subpath) {
            Ok(point) => m.source = point,
            Err(e) => {
                unpin(exec_root, &c.id);
                return Err(e);
            }
        }
    }
    Ok(out)
}

fn pin_one(exec_root: &Path, id: &str, n: usize, m: &MountPoint, subpath: &str) -> Result<PathBuf> {
    let fd = open_subpath(m, subpath)?;
    let dir = pins_dir(exec_root, id);
    let io =
        |what: &str, e: std::io::Error| ContainerError::io(format!("{what} {}", dir.display()), e);
    std::fs::create_dir_all(&dir).map_err(|e| io("creating", e))?;
    let point = dir.join(n.to_string());
    let stat = nix::sys::stat::fstat(&fd).map_err(|e| io("reading the subpath for", e.into()))?;
    if is_dir(&stat) {
        std::fs::create_dir(&point).map_err(|e| io("creating a pin in", e))?;
    } else {
        std::fs::File::create(&point).map_err(|e| io("creating a pin in", e))?;
    }
    nix::mount::mount(
        Some(&fd_path(&fd)),
        &point,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        ContainerError::io(
            format!(
                "failed to mount resolved path {}",
                m.source.join(subpath).display()
            ),
            e.into(),
        )
    })?;
    Ok(point)
}

/// Releases the pins of `id`'s run: each is unmounted, then removed when nothing is
/// mounted on it any more. Safe to call when there are none.
pub fn unpin(exec_root: &Path, id: &str) {
    let dir = pins_dir(exec_root, id);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let point = entry.path();
        match nix::mount::umount2(&point, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) => {}
            Err(e) => {
                tracing::warn!(point = %point.display(), error = %e, "unmounting a pinned mount source")
            }
        }
        let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir(&point)
        } else {
            std::fs::remove_file(&point)
        };
        if let Err(e) = removed {
            tracing::warn!(point = %point.display(), error = %e, "removing a pinned mount source");
        }
    }
    if let Err(e) = std::fs::remove_dir(&dir) {
        tracing::debug!(dir = %dir.display(), error = %e, "removing the pins folder");
    }
}
