//! Unpacking a tar into a folder of a container (`PUT /containers/{id}/archive`), as
//! dockerd's `archive.Untar`: entries replace what is there (folders merge), missing
//! parents are created, ownership, modes and times come from the headers.
//!
//! Every entry is placed through [`InRoot`]: names are cleaned (an absolute name is
//! taken as relative, `..` may not climb above the extraction point), parents resolve
//! inside the container's root, the last component is never followed, and hard links
//! point only at files inside the extraction point.
use std::io::Read;
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstatat, mkdirat, mknodat, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

use crate::in_root::{fd_path, is_dir, is_symlink, InRoot};

/// What dockerd's `TarOptions` say for a copy.
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// Refuse to replace a folder with a non-folder and the reverse (`docker cp` sets it).
    pub no_overwrite_dir_non_dir: bool,
    /// Owner for every entry instead of the headers' (`docker cp -a`: the container's user).
    pub chown: Option<(u32, u32)>,
}

/// Why an extraction stopped (500 in dockerd, with these messages).
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{0}")]
    Refused(String),
    /// The stream is no tar, or is cut short.
    #[error("reading the archive: {0}")]
    BadArchive(#[source] std::io::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(context: impl Into<String>, e: impl Into<std::io::Error>) -> ExtractError {
    ExtractError::Io {
        context: context.into(),
        source: e.into(),
    }
}

/// `name` cleaned as Go's `filepath.Clean` relative to the extraction point; `None`
/// when it climbs above it.
pub fn clean_relative(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// Unpacks `tar` into the container folder `dest` (already resolved, a folder).
pub fn extract(
    fs: &InRoot,
    dest: &str,
    tar: impl Read,
    opts: &ExtractOptions,
) -> Result<(), ExtractError> {
    let mut archive = tar::Archive::new(tar);
    let mut dir_times: Vec<(String, i64)> = Vec::new();
    let entries = archive.entries().map_err(ExtractError::BadArchive)?;
    for entry in entries {
        let mut entry = entry.map_err(ExtractError::BadArchive)?;
        let raw = entry
            .path()
            .map_err(|e| io_err("reading the archive", e))?
            .to_string_lossy()
            .into_owned();
        let Some(rel) = clean_relative(&raw) else {
            return Err(ExtractError::Refused(format!(
                "{raw:?} is outside of {dest:?}"
            )));
        };
        if rel.is_empty() {
            continue;
        }
        let full = format!("{}/{rel}", dest.trim_end_matches('/'));
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader | tar::EntryType::GNULongName
        ) {
            continue;
        }
        let parent = fs
            .resolve_parent(&full, true)
            .map_err(|e| io_err(format!("resolving {full}"), e))?;
        let name = parent.name.as_str();
        if name.is_empty() {
            continue;
        }
        let dir = &parent.dir;
        let wants_dir = kind.is_dir();
        match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let has_dir = is_dir(&st);
                if opts.no_overwrite_dir_non_dir && has_dir && !wants_dir {
                    return Err(ExtractError::Refused(format!(
                        "cannot overwrite directory {:?} with non-directory {dest:?}",
                        parent.path
                    )));
                }
                if opts.no_overwrite_dir_non_dir && !has_dir && wants_dir {
                    return Err(ExtractError::Refused(format!(
                        "cannot overwrite non-directory {:?} with directory {dest:?}",
                        parent.path
                    )));
                }
                if !(has_dir && wants_dir) {
                    remove_all_at(dir, name)
                        .map_err(|e| io_err(format!("removing {}", parent.path), e))?;
                }
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(io_err(format!("lstat {}", parent.path), e)),
        }
        let header = entry.header().clone();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let perm = Mode::from_bits_truncate(mode);
        let created = |e: Errno| io_err(format!("creating {}", parent.path), e);
        match kind {
            tar::EntryType::Directory => match mkdirat(dir, name, perm) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(created(e)),
            },
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = openat(
                    dir,
                    name,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW,
                    perm,
                )
                .map_err(created)?;
                let mut file = std::fs::File::from(fd);
                std::io::copy(&mut entry, &mut file)
                    .map_err(|e| io_err(format!("writing {}", parent.path), e))?;
            }
            tar::EntryType::Symlink => {
                let target = header
                    .link_name()
                    .map_err(|e| io_err("reading the archive", e))?
                    .unwrap_or_default();
                symlinkat(target.as_os_str(), dir, name).map_err(created)?;
            }
            tar::EntryType::Link => {
                let target = header
                    .link_name()
                    .map_err(|e| io_err("reading the archive", e))?
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let Some(target_rel) = clean_relative(&target) else {
                    return Err(ExtractError::Refused(format!(
                        "invalid hardlink {target:?} -> {raw:?}"
                    )));
                };
                let target_full = format!("{}/{target_rel}", dest.trim_end_matches('/'));
                let source = fs
                    .resolve_parent(&target_full, false)
                    .map_err(|e| io_err(format!("resolving {target_full}"), e))?;
                linkat(
                    &source.dir,
                    source.name.as_str(),
                    dir,
                    name,
                    AtFlags::empty(),
                )
                .map_err(created)?;
                continue;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let sflag = match kind {
                    tar::EntryType::Char => SFlag::S_IFCHR,
                    tar::EntryType::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                let dev = nix::sys::stat::makedev(major.into(), minor.into());
                mknodat(dir, name, sflag, perm, dev).map_err(created)?;
            }
            other => {
                tracing::debug!(entry = %raw, kind = ?other, "skipping tar entry of unhandled type");
                continue;
            }
        }
        let (uid, gid) = opts.chown.unwrap_or((
            header.uid().unwrap_or(0) as u32,
            header.gid().unwrap_or(0) as u32,
        ));
        fchownat(
            dir,
            name,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_err(format!("lchown {}", parent.path), e))?;
        if kind != tar::EntryType::Symlink {
            chmod_at(dir, name, mode).map_err(|e| io_err(format!("chmod {}", parent.path), e))?;
        }
        let mtime = header.mtime().unwrap_or(0) as i64;
        if wants_dir {
            dir_times.push((full, mtime));
        } else {
            set_mtime(dir, name, mtime)
                .map_err(|e| io_err(format!("setting times of {}", parent.path), e))?;
        }
    }
    // Folders' times last: their entries changed them meanwhile.
    for (path, mtime) in dir_times.into_iter().rev() {
        if let Ok(parent) = fs.resolve_parent(&path, false) {
            let _ = set_mtime(&parent.dir, &parent.name, mtime);
        }
    }
    Ok(())
}

fn set_mtime(dir: &OwnedFd, name: &str, mtime: i64) -> nix::Result<()> {
    let t = TimeSpec::new(mtime, 0);
    utimensat(dir, name, &t, &t, UtimensatFlags::NoFollowSymlink)
}

/// chmod of `name` in `dir`, never through a symlink (the umask does not apply).
fn chmod_at(dir: &OwnedFd, name: &str, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let fd = openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let st = nix::sys::stat::fstat(&fd)?;
    if is_symlink(&st) {
        return Ok(());
    }
    std::fs::set_permissions(fd_path(&fd), std::fs::Permissions::from_mode(mode))
}

/// Removes `name` in `dir`, a whole tree for a folder, never following a symlink.
pub fn remove_all_at(dir: &OwnedFd, name: &str) -> nix::Result<()> {
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => return Ok(()),
        Err(Errno::EISDIR) => {}
        Err(e) => return Err(e),
    }
    let child = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let names: Vec<String> = std::fs::read_dir(fd_path(&child))
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for n in names {
        remove_all_at(&child, &n)?;
    }
    unlinkat(dir, name, UnlinkatFlags::RemoveDir)
}

#[cfg(test)]
#[path = "archive_extract_tests.rs"]
mod tests;
