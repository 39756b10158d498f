//! `HEAD`/`GET /containers/{id}/archive?path=…` (`docker cp` out of a container): the
//! path's stat in `X-Docker-Container-Path-Stat`, and a tar of it. Paths resolve inside
//! the container's root: symlinks are followed as the container sees them, never out;
//! the tar is written from handles (`in_root::tar_out`), the container's volumes and
//! binds included, pseudo-filesystems never entered.
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use super::archive_fs::ContainerFs;
use crate::in_root::tar_out::TreeTar;
use crate::in_root::walk::Entry;
use crate::in_root::{components, fd_path};

use serde_json::json;

use super::{ContainerError, Result};

/// Go's `os.FileMode` of a file: permission bits plus Go's type bits.
fn go_mode(meta: &std::fs::Metadata) -> u32 {
    let ft = meta.file_type();
    let mode = meta.permissions().mode();
    let mut out = mode & 0o777;
    if ft.is_dir() {
        out |= 1 << 31;
    }
    if ft.is_symlink() {
        out |= 1 << 27;
    }
    if ft.is_fifo() {
        out |= 1 << 25;
    }
    if ft.is_socket() {
        out |= 1 << 24;
    }
    if ft.is_block_device() {
        out |= 1 << 26;
    }
    if ft.is_char_device() {
        out |= (1 << 26) | (1 << 21);
    }
    if mode & 0o4000 != 0 {
        out |= 1 << 23;
    }
    if mode & 0o2000 != 0 {
        out |= 1 << 22;
    }
    if mode & 0o1000 != 0 {
        out |= 1 << 20;
    }
    out
}

/// The target of the symlink behind an `O_PATH` descriptor.
fn link_target(fd: &OwnedFd) -> String {
    nix::fcntl::readlinkat(fd, "")
        .map(|t| t.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The value of `X-Docker-Container-Path-Stat` (base64 of dockerd's JSON) for the
/// object behind `fd`.
pub fn stat_header(fd: &OwnedFd, container_path: &str) -> Result<String> {
    // Following /proc/self/fd/N reaches the object itself, a symlink included.
    let meta = std::fs::metadata(fd_path(fd))
        .map_err(|e| ContainerError::io(container_path.to_string(), e))?;
    let trimmed = container_path.trim_end_matches("/.").trim_end_matches('/');
    let name = Path::new(trimmed)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    let link = if meta.file_type().is_symlink() {
        link_target(fd)
    } else {
        String::new()
    };
    let mtime = chrono::DateTime::from_timestamp(meta.mtime(), meta.mtime_nsec() as u32)
        .map(|t| super::format_time(&t))
        .unwrap_or_else(|| super::ZERO_TIME.into());
    let stat = json!({
        "name": name, "size": meta.len(), "mode": go_mode(&meta), "mtime": mtime, "linkTarget": link,
    });
    use base64::Engine;
    Ok(base64::engine::general_purpose::STANDARD.encode(stat.to_string()))
}

/// Writes the object `entry` (a file, link or folder, named `name` in the archive) as a
/// tar; a folder with everything below it, symlinks not followed, the mounts `fs` has
/// below `container_path` walked in their sources.
pub fn write_tar(
    fs: &ContainerFs,
    entry: &Entry,
    container_path: &str,
    name: &str,
    out: impl io::Write,
) -> io::Result<()> {
    let base = components(container_path);
    let mounts = |rel: &Path| -> Option<io::Result<Entry>> {
        let mut names = base.clone();
        names.extend(rel.iter().map(|c| c.to_string_lossy().into_owned()));
        let source = fs.mount_source(&names)?;
        Some(open_source(source))
    };
    let mut tar = TreeTar::new(out);
    tar.append_tree(entry, Path::new(name), &mounts)?;
    tar.finish().map(drop)
}

/// The source of a mount (a host path berthd chose or the user bound), as an entry.
fn open_source(source: &Path) -> io::Result<Entry> {
    let fd = nix::fcntl::open(
        source,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    Entry::from_fd(fd)
}

/// What `GET /containers/{id}/archive` answers: the stat header and the tar's bytes.
/// The path resolves as the container sees it (volumes and binds included); a trailing
/// "/" or "/." follows a final symlink, as dockerd does.
pub fn archive(
    c: super::Container,
    layers_root: &Path,
    path: &str,
    with_body: bool,
) -> Result<(
    String,
    Option<tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>>,
)> {
    let fs = ContainerFs::open(&c, layers_root)?;
    let follow = path.ends_with('/') || path.ends_with("/.");
    let not_found = || {
        ContainerError::Missing(format!(
            "Could not find the file {path} in container {}",
            c.bare_name()
        ))
    };
    let resolved = fs.resolve(path, follow).map_err(|e| match e {
        nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR => not_found(),
        e => ContainerError::io(path.to_string(), std::io::Error::from(e)),
    })?;
    let entry = Entry::from_fd(
        resolved
            .fd
            .try_clone()
            .map_err(|e| ContainerError::io(path.to_string(), e))?,
    )
    .map_err(|e| ContainerError::io(path.to_string(), e))?;
    // What the kernel shows (a running container's /proc or /sys seen through a
    // propagated mount) is not the container's files.
    if entry.on_pseudo_fs() {
        return Err(not_found());
    }
    let stat = stat_header(&resolved.fd, path)?;
    if !with_body {
        return Ok((stat, None));
    }
    let name = Path::new(path.trim_end_matches("/.").trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into());
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::task::spawn_blocking(move || {
        let writer = super::export::ChannelWriter::buffered(tx.clone());
        if let Err(e) = write_tar(&fs, &entry, &resolved.path, &name, writer) {
            let _ = tx.blocking_send(Err(e));
        }
        // The view (and the hold on the overlay) lives until the tar is written.
        drop(fs);
    });
    Ok((stat, Some(rx)))
}
