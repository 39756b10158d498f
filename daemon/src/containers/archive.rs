//! `HEAD`/`GET /containers/{id}/archive?path=…` (`docker cp` out of a container): the
//! path's stat in `X-Docker-Container-Path-Stat`, and a tar of it. Paths resolve inside
//! the container's root: symlinks are followed as the container sees them, never out.
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use serde_json::json;

use super::{ContainerError, Result};

/// How many symlinks a path may go through.
const MAX_LINKS: usize = 40;

/// `path` (as the container sees it) resolved to a host path under `root`. The last
/// component is not followed when it is a symlink (as `docker cp` copies the link).
pub fn resolve_in_root(root: &Path, path: &str) -> Result<PathBuf> {
    let mut pending: Vec<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    pending.reverse();
    let mut current: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                current.pop();
                continue;
            }
            _ => {}
        }
        let candidate = root.join(current.join("/")).join(&part);
        let is_last = pending.is_empty();
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() && !is_last => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(ContainerError::Invalid(
                        "too many levels of symbolic links".into(),
                    ));
                }
                let target = std::fs::read_link(&candidate).map_err(|e| {
                    ContainerError::io(format!("reading {}", candidate.display()), e)
                })?;
                if target.is_absolute() {
                    current.clear();
                }
                let mut parts: Vec<String> = target
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                        Component::ParentDir => Some("..".into()),
                        _ => None,
                    })
                    .collect();
                parts.reverse();
                pending.extend(parts);
            }
            _ => current.push(part),
        }
    }
    Ok(root.join(current.join("/")))
}

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

/// The value of `X-Docker-Container-Path-Stat` (base64 of dockerd's JSON).
pub fn stat_header(host_path: &Path, container_path: &str) -> Result<String> {
    let meta = std::fs::symlink_metadata(host_path)
        .map_err(|e| ContainerError::io(container_path.to_string(), e))?;
    let name = Path::new(container_path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    let link = if meta.file_type().is_symlink() {
        std::fs::read_link(host_path)
            .map(|t| t.display().to_string())
            .unwrap_or_default()
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

/// Writes `host_path` (a file, link or folder, named `name` in the archive) as a tar.
pub fn write_tar(host_path: &Path, name: &str, out: impl std::io::Write) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let meta = std::fs::symlink_metadata(host_path)?;
    if meta.is_dir() {
        builder.append_dir(name, host_path)?;
        let mut stack = vec![host_path.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir)?.flatten() {
                let path = e.path();
                let Ok(rel) = path.strip_prefix(host_path) else {
                    continue;
                };
                let ft = e.file_type()?;
                if ft.is_socket() {
                    continue;
                }
                builder.append_path_with_name(&path, Path::new(name).join(rel))?;
                if ft.is_dir() {
                    stack.push(path);
                }
            }
        }
    } else {
        builder.append_path_with_name(host_path, name)?;
    }
    builder.finish()
}

/// What `GET /containers/{id}/archive` answers: the stat header and the tar's bytes.
pub fn archive(
    c: super::Container,
    layers_root: &Path,
    path: &str,
    with_body: bool,
) -> Result<(
    String,
    Option<tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>>,
)> {
    let mounted_here = !c.state.status.is_running();
    let merged = super::rootfs::mount_rootfs(&c, layers_root)?;
    let release = |c: &super::Container| {
        if mounted_here {
            super::rootfs::unmount_rootfs(c);
        }
    };
    let host = match resolve_in_root(&merged, path) {
        Ok(h) if std::fs::symlink_metadata(&h).is_ok() => h,
        Ok(_) => {
            release(&c);
            return Err(ContainerError::Missing(format!(
                "Could not find the file {path} in container {}",
                c.bare_name()
            )));
        }
        Err(e) => {
            release(&c);
            return Err(e);
        }
    };
    let stat = match stat_header(&host, path) {
        Ok(s) => s,
        Err(e) => {
            release(&c);
            return Err(e);
        }
    };
    if !with_body {
        release(&c);
        return Ok((stat, None));
    }
    let name = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into());
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::task::spawn_blocking(move || {
        let writer = super::export::ChannelWriter { tx: tx.clone() };
        if let Err(e) = write_tar(&host, &name, writer) {
            let _ = tx.blocking_send(Err(e));
        }
        if mounted_here {
            super::rootfs::unmount_rootfs(&c);
        }
    });
    Ok((stat, Some(rx)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("real/sub")).expect("dirs");
        std::os::unix::fs::symlink("/real", root.join("abs")).expect("link");
        std::os::unix::fs::symlink("../../../../etc", root.join("real/escape")).expect("link");
        assert_eq!(
            resolve_in_root(root, "/abs/sub").unwrap(),
            root.join("real/sub")
        );
        assert_eq!(
            resolve_in_root(root, "/real/escape/passwd").unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(resolve_in_root(root, "/../../x").unwrap(), root.join("x"));
        // The last component is the link itself.
        assert_eq!(resolve_in_root(root, "/abs").unwrap(), root.join("abs"));
    }
}
