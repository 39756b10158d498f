//! A container's init layer, as dockerd's `<id>-init` layer: between the image's layers
//! and the container's own upper folder, it holds what berthd and the runtime mount on
//! (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`, `/proc`, `/sys`, `/dev/pts`,
//! `/dev/shm`, `/dev/console`) and `/.dockerenv`, `/etc/mtab`. `docker diff`, commits and
//! everything else that reads the container's upper folder never see them: a container
//! that changed nothing has no changes.
//!
//! Made as dockerd's `initlayer.Setup`: on an overlay of the image with the new layer on
//! top, each path's components that are not folders are removed (so an image's
//! `/etc -> /somewhere` is not followed), missing folders are made, then the entry itself;
//! all by handle, relative to the parent's descriptor, nothing followed.
//!
//! What it holds depends on the image's layers alone, so where dockerd makes one per
//! container (an overlay mount, a dozen entries, an unmount that syncs the upper file
//! system, and as many removals with the container), Berth makes it once per layer stack,
//! beside the top layer's `diff` (`<layers>/<chain>/init`), and every container of those
//! layers uses it as a read-only lower folder; it goes with that layer. A container of an
//! image without layers, and one made before the layer was shared, keep their own
//! (`<container>/init`).
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, renameat2, AtFlags, OFlag, RenameFlags};
use nix::mount::{umount2, MntFlags};
use nix::sys::stat::{fstatat, mkdirat, Mode};
use nix::unistd::{symlinkat, unlinkat, UnlinkatFlags};

use super::record::Container;
use super::{rootfs, ContainerError, Result};

/// What the layer holds, as dockerd's list.
enum Kind {
    Dir,
    File,
    Symlink(&'static str),
}

const ENTRIES: &[(&str, Kind)] = &[
    ("/dev/pts", Kind::Dir),
    ("/dev/shm", Kind::Dir),
    ("/proc", Kind::Dir),
    ("/sys", Kind::Dir),
    ("/.dockerenv", Kind::File),
    ("/etc/resolv.conf", Kind::File),
    ("/etc/hosts", Kind::File),
    ("/etc/hostname", Kind::File),
    ("/dev/console", Kind::File),
    ("/etc/mtab", Kind::Symlink("/proc/mounts")),
];

/// The init layer's folder (overlay's lower folder just under the container's upper):
/// the container's own when it has one or its image has no layers, else the one its
/// layer stack shares in `layers_root`.
pub fn dir(c: &Container, layers_root: &Path) -> PathBuf {
    let own = c.dir.join("init");
    match c.layers.last() {
        Some(top) if !own.is_dir() => layers_root
            .join(top.trim_start_matches("sha256:"))
            .join("init"),
        _ => own,
    }
}

/// Makes the init layer of the container's layers when there is none yet. It is made in
/// the container's folder (an attempt cut short goes with it) and then renamed into
/// place; when another container's creation placed one first, that one is kept.
pub fn ensure(c: &Container, layers_root: &Path) -> Result<()> {
    let done = dir(c, layers_root);
    if done.is_dir() {
        return Ok(());
    }
    let image_lowers = rootfs::lower_dirs(layers_root, &c.layers);
    let fail = |what: &str, e: std::io::Error| {
        ContainerError::io(format!("{what} the init layer of {}", c.id), e)
    };
    let upper = c.dir.join("init.new");
    let work = c.dir.join("init.work");
    let merged = c.dir.join("init.mnt");
    // Leftovers of an attempt cut short.
    for leftover in [&upper, &work, &merged] {
        if leftover.exists() {
            let _ = umount2(leftover.as_path(), MntFlags::MNT_DETACH);
            std::fs::remove_dir_all(leftover).map_err(|e| fail("clearing", e))?;
        }
    }
    for d in [&upper, &work, &merged] {
        std::fs::create_dir_all(d).map_err(|e| fail("preparing", e))?;
    }
    rootfs::mount_overlay_dirs(&image_lowers, &upper, &work, &merged, &c.dir.join("empty"))
        .map_err(|e| fail("mounting", e))?;
    let made = populate(&merged);
    if let Err(e) = umount2(merged.as_path(), MntFlags::MNT_DETACH) {
        tracing::warn!(id = %c.id, error = %e, "unmounting the init layer's overlay");
    }
    made.map_err(|e| fail("making", e))?;
    match renameat2(
        nix::fcntl::AT_FDCWD,
        &upper,
        nix::fcntl::AT_FDCWD,
        &done,
        RenameFlags::RENAME_NOREPLACE,
    ) {
        Ok(()) => {}
        // Another container of the same layers placed it meanwhile: the same content.
        Err(Errno::EEXIST | Errno::ENOTEMPTY) => {
            if let Err(e) = std::fs::remove_dir_all(&upper) {
                tracing::warn!(id = %c.id, error = %e, "removing a second init layer");
            }
        }
        Err(e) => return Err(fail("saving", e.into())),
    }
    for d in [&work, &merged] {
        if let Err(e) = std::fs::remove_dir_all(d) {
            tracing::warn!(id = %c.id, error = %e, "removing a work folder of the init layer");
        }
    }
    Ok(())
}

/// Creates the entries in the mounted root `root`.
fn populate(root: &Path) -> std::io::Result<()> {
    let root = nix::fcntl::open(root, dir_flags(), Mode::empty())?;
    for (path, kind) in ENTRIES {
        make(root.as_fd(), path, kind)?;
    }
    Ok(())
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

fn make(root: BorrowedFd<'_>, path: &str, kind: &Kind) -> std::io::Result<()> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let Some((last, parents)) = parts.split_last() else {
        return Ok(());
    };
    let mut current: Option<OwnedFd> = None;
    for part in parents {
        let dir = current.as_ref().map_or(root, |fd| fd.as_fd());
        // Whatever is not a folder goes (a symlink above all), as dockerd's Unlink.
        let _ = unlinkat(dir, *part, UnlinkatFlags::NoRemoveDir);
        match mkdirat(dir, *part, Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        current = Some(openat(dir, *part, dir_flags(), Mode::empty())?);
    }
    let dir = current.as_ref().map_or(root, |fd| fd.as_fd());
    let _ = unlinkat(dir, *last, UnlinkatFlags::NoRemoveDir);
    match fstatat(dir, *last, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(_) => return Ok(()),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e.into()),
    }
    match kind {
        Kind::Dir => mkdirat(dir, *last, Mode::from_bits_truncate(0o755))?,
        Kind::File => {
            openat(
                dir,
                *last,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o755),
            )?;
        }
        Kind::Symlink(target) => symlinkat(*target, dir, *last)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_of_the_same_layers_share_one_init_layer() {
        let tmp = tempfile::tempdir().expect("tmp");
        let layers = tmp.path().join("layers");
        let container = |id: &str, layers: &[&str]| Container {
            layers: layers.iter().map(|l| l.to_string()).collect(),
            ..Container::for_tests(id, tmp.path().join("containers").join(id))
        };
        let (a, b) = (
            container("a", &["sha256:0b", "sha256:1c"]),
            container("b", &["sha256:0b", "sha256:1c"]),
        );
        assert_eq!(dir(&a, &layers), layers.join("1c/init"));
        assert_eq!(dir(&a, &layers), dir(&b, &layers));
        // No layers: nothing to share it with.
        let empty = container("c", &[]);
        assert_eq!(dir(&empty, &layers), empty.dir.join("init"));
        // Made before init layers were shared: its own stays in use.
        std::fs::create_dir_all(b.dir.join("init")).expect("own init");
        assert_eq!(dir(&b, &layers), b.dir.join("init"));
    }

    #[test]
    fn entries_are_made_without_following_the_image_links() {
        let root = tempfile::tempdir().expect("tmp");
        let host = tempfile::tempdir().expect("host");
        // The image's /etc is a link to a host folder, its /dev a file.
        std::os::unix::fs::symlink(host.path(), root.path().join("etc")).expect("ln");
        std::fs::write(root.path().join("dev"), "x").expect("file");
        std::fs::create_dir(root.path().join("proc")).expect("mkdir");
        populate(root.path()).expect("populate");
        assert!(root.path().join("etc").is_dir());
        assert!(!root.path().join("etc").is_symlink());
        for f in [
            "etc/hosts",
            "etc/hostname",
            "etc/resolv.conf",
            ".dockerenv",
            "dev/console",
        ] {
            assert!(root.path().join(f).is_file(), "{f}");
        }
        for d in ["dev/pts", "dev/shm", "proc", "sys"] {
            assert!(root.path().join(d).is_dir(), "{d}");
        }
        assert_eq!(
            std::fs::read_link(root.path().join("etc/mtab")).expect("mtab"),
            Path::new("/proc/mounts")
        );
        assert_eq!(std::fs::read_dir(host.path()).expect("host").count(), 0);
    }
}
