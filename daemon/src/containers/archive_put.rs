//! `PUT /containers/{id}/archive?path=…` (`docker cp` into a container): the tar body
//! unpacked into `path`, an existing folder inside the container, as dockerd's
//! `containerExtractToDir` does: running or stopped, into the root or its volumes and
//! binds; a read-only root refuses writes outside writable mounts.
use std::io::Read;
use std::path::Path;

use bytes::Bytes;
use nix::errno::Errno;
use tokio::sync::mpsc;

use super::archive_extract::{extract, ExtractError, ExtractOptions};
use super::archive_fs::{mount_holding, ContainerFs};
use super::record::Container;
use super::{ContainerError, Result};
use crate::in_root::is_dir;
use crate::store::decompress::with_decompressed;

/// What the request asked for.
#[derive(Debug, Clone, Default)]
pub struct PutRequest {
    pub path: String,
    pub no_overwrite_dir_non_dir: bool,
    pub copy_uid_gid: bool,
}

/// A `Read` over the request body's chunks, for the blocking extraction.
pub struct BodyReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl BodyReader {
    pub fn new(rx: mpsc::Receiver<std::io::Result<Bytes>>) -> BodyReader {
        BodyReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

/// Unpacks the body into the container. Blocking: run it in `spawn_blocking`.
pub fn extract_to_dir(
    c: &Container,
    layers_root: &Path,
    req: &PutRequest,
    body: impl Read,
) -> Result<()> {
    let fs = ContainerFs::open(c, layers_root)?;
    // The extraction point follows symlinks all the way, the last one included.
    let dest = fs.resolve(&req.path, true).map_err(|e| match e {
        Errno::ENOENT | Errno::ENOTDIR => ContainerError::Missing(format!(
            "Could not find the file {} in container {}",
            req.path,
            c.bare_name()
        )),
        e => ContainerError::io(req.path.clone(), e.into()),
    })?;
    let stat = nix::sys::stat::fstat(&dest.fd)
        .map_err(|e| ContainerError::io(req.path.clone(), e.into()))?;
    if !is_dir(&stat) {
        return Err(ContainerError::Invalid(
            "extraction point is not a directory".into(),
        ));
    }
    check_writable(c, &dest.path)?;
    let chown = if req.copy_uid_gid {
        container_user(c, &fs)
    } else {
        None
    };
    let opts = ExtractOptions {
        no_overwrite_dir_non_dir: req.no_overwrite_dir_non_dir,
        chown,
    };
    // dockerd's `Untar` decompresses: gzip, bzip2, xz and zstd archives are accepted.
    let extracted =
        with_decompressed(body, |tar| extract(&fs, &dest.path, tar, &opts)).map_err(|e| {
            ContainerError::Internal(format!("Error processing tar file(exit status 1): {e}"))
        })?;
    extracted.map_err(|e| match e {
        ExtractError::Refused(m) => {
            ContainerError::Internal(format!("Error processing tar file(exit status 1): {m}"))
        }
        // A body that is no tar is the client's error: dockerd's text, as a 400.
        ExtractError::BadArchive(e) => ContainerError::Invalid(format!(
            "Error processing tar file(exit status 1): {}",
            crate::in_root::go_tar_message(&e)
        )),
        ExtractError::Io { .. } => {
            ContainerError::Internal(format!("Error processing tar file(exit status 1): {e}"))
        }
    })
}

/// dockerd's `checkIfPathIsInAVolume` and the read-only root check.
fn check_writable(c: &Container, path: &str) -> Result<()> {
    match mount_holding(c, path) {
        Some(m) if !m.rw => Err(ContainerError::Invalid(
            "mounted volume is marked read-only".into(),
        )),
        Some(_) => Ok(()),
        None if c.host_config.readonly_rootfs.unwrap_or(false) => Err(ContainerError::Invalid(
            "container rootfs is marked read-only".into(),
        )),
        None => Ok(()),
    }
}

/// The uid and gid of the container's `Config.User` (`docker cp -a`), numbers or names
/// looked up in the container's `/etc/passwd` and `/etc/group`. `None` for root/unset.
fn container_user(c: &Container, fs: &ContainerFs) -> Option<(u32, u32)> {
    let user = c.config.user.clone().unwrap_or_default();
    if user.is_empty() {
        return None;
    }
    let (name, group) = match user.split_once(':') {
        Some((u, g)) => (u.to_string(), Some(g.to_string())),
        None => (user.clone(), None),
    };
    let read = |path: &str| -> String {
        fs.resolve(path, true)
            .ok()
            .and_then(|r| std::fs::read_to_string(crate::in_root::fd_path(&r.fd)).ok())
            .unwrap_or_default()
    };
    let passwd = read("/etc/passwd");
    let (uid, primary_gid) = match name.parse::<u32>() {
        Ok(uid) => (
            uid,
            lookup(&passwd, |f| f.get(2) == Some(&name.as_str()))
                .and_then(|f| f.get(3).and_then(|g| g.parse().ok()))
                .unwrap_or(uid),
        ),
        Err(_) => {
            let fields = lookup(&passwd, |f| f.first() == Some(&name.as_str()))?;
            (fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)
        }
    };
    let gid = match group {
        None => primary_gid,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let groups = read("/etc/group");
                lookup(&groups, |f| f.first() == Some(&g.as_str()))?
                    .get(2)?
                    .parse()
                    .ok()?
            }
        },
    };
    Some((uid, gid))
}

/// The fields of the first `name:…` line of a passwd/group file matching `pick`.
fn lookup(file: &str, pick: impl Fn(&[&str]) -> bool) -> Option<Vec<String>> {
    file.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| pick(f))
        .map(|f| f.into_iter().map(str::to_string).collect())
}
