//! `HEAD`/`GET /containers/{id}/archive?path=…` (`docker cp` out of a container): the
//! path's stat in `X-Docker-Container-Path-Stat`, and a tar of it. Paths resolve inside
//! the container's root: symlinks are followed as the container sees them, never out.
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use super::archive_fs::{fd_path, ContainerFs};

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

/// Writes the object behind `fd` (a file, link or folder, named `name` in the archive)
/// as a tar; a folder with everything below it, symlinks not followed.
pub fn write_tar(fd: &OwnedFd, name: &str, out: impl std::io::Write) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let host_path = fd_path(fd);
    let meta = std::fs::metadata(&host_path)?;
    let ft = meta.file_type();
    if ft.is_dir() {
        builder.append_dir(name, &host_path)?;
        super::tar_tree::append_tree(&mut builder, &host_path, Path::new(name))?;
    } else if ft.is_file() {
        builder.append_file(name, &mut std::fs::File::open(&host_path)?)?;
    } else {
        let mut header = tar::Header::new_gnu();
        header.set_metadata(&meta);
        if ft.is_symlink() {
            builder.append_link(&mut header, name, link_target(fd))?;
        } else {
            header.set_size(0);
            builder.append_data(&mut header, name, std::io::empty())?;
        }
    }
    builder.finish()
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
    let resolved = fs.resolve(path, follow).map_err(|e| match e {
        nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR => ContainerError::Missing(format!(
            "Could not find the file {path} in container {}",
            c.bare_name()
        )),
        e => ContainerError::io(path.to_string(), std::io::Error::from(e)),
    })?;
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
        if let Err(e) = write_tar(&resolved.fd, &name, writer) {
            let _ = tx.blocking_send(Err(e));
        }
        // The descriptor and the view (and any mount it made) live until the tar is written.
        drop(resolved);
        drop(fs);
    });
    Ok((stat, Some(rx)))
}
