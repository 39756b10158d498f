//! Writing sources into the destination root, as dockerd's `performCopyForInfo` and its
//! tar round trips do: the destination resolves inside the root (its symlinks as the
//! container sees them); a folder's content is merged into the destination folder; a
//! file lands inside a destination that ends in "/" or is a folder, else at it; missing
//! folders are created 0755 (owned by the new owner, root by default); entries keep
//! their mode, time (whole seconds) and kind (symlinks, hard links within the copy),
//! and get the owner (the kernel drops setuid/setgid bits on that chown, as in dockerd).
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstat, fstatat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, Mode,
    SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, Gid, Uid};

use super::gopath::clean;
use super::{io_err, CopyError};
use crate::containers::archive_extract::remove_all_at;
use crate::in_root::{components, is_dir, is_symlink, InRoot};

/// Symlinks followed in one destination path, as moby's limit.
const MAX_LINKS: usize = 255;

/// How entries are written.
pub struct Writer<'a> {
    pub fs: &'a InRoot,
    /// The owner of everything copied; `None` keeps the source's (COPY --from).
    pub owner: Option<(u32, u32)>,
    /// --chmod: the permission bits of everything copied.
    pub chmod: Option<u32>,
}

pub(super) fn fail(what: impl std::fmt::Display, e: impl Into<io::Error>) -> CopyError {
    io_err(format!("failed to copy files: {what}"), e.into())
}

/// dockerd's `normalizeDest`: a relative destination is taken from the working folder
/// (its trailing "/" kept).
pub fn normalize_dest(workdir: &str, dest: &str) -> String {
    if dest.starts_with('/') {
        return dest.to_string();
    }
    let mut joined = clean(&format!("/{workdir}/{dest}"));
    if dest.ends_with('/') && !joined.ends_with('/') {
        joined.push('/');
    }
    joined
}

/// The resolved path of `path` in the root, as moby's `FollowSymlinkInScope`: every
/// symlink on the way is followed inside the root (an absolute target restarts at the
/// root, `..` stops there), components that do not exist are kept as they are.
pub fn scoped(fs: &InRoot, path: &str) -> Result<String, CopyError> {
    let mut pending = components(path);
    pending.reverse();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = format!(
            "/{}",
            [resolved.as_slice(), std::slice::from_ref(&part)]
                .concat()
                .join("/")
        );
        let lstat = |e: Errno| fail(format!("lstat {}", clean(&format!("/{path}"))), e);
        match fs.resolve_parent(&candidate, false) {
            Ok(parent) => match fstatat(
                &parent.dir,
                parent.name.as_str(),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            ) {
                Ok(st) if is_symlink(&st) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(lstat(Errno::ELOOP));
                    }
                    let target = readlinkat(&parent.dir, parent.name.as_str()).map_err(lstat)?;
                    let target = target.to_string_lossy();
                    if target.starts_with('/') {
                        resolved.clear();
                    }
                    pending.extend(components(&target).into_iter().rev());
                    continue;
                }
                Ok(_) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(lstat(e)),
            },
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(lstat(e)),
        }
        resolved.push(part);
    }
    Ok(format!("/{}", resolved.join("/")))
}

/// Whether `path` (resolved) is an existing folder.
pub fn is_existing_dir(fs: &InRoot, path: &str) -> Result<bool, CopyError> {
    match fs.resolve(path, true) {
        Ok(r) => Ok(fstat(&r.fd).map(|st| is_dir(&st)).unwrap_or(false)),
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(fail(format!("lstat {path}"), e)),
    }
}

impl Writer<'_> {
    /// `mkdir -p` of the resolved `path` (missing folders 0755, owned by `owner`);
    /// returns the folder and whether it existed.
    pub fn mkdir_all(&self, path: &str, owner: (u32, u32)) -> Result<(OwnedFd, bool), CopyError> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let mut existed = true;
        for depth in 0..=parts.len() {
            let prefix = format!("/{}", parts[..depth].join("/"));
            match self.fs.resolve(&prefix, true) {
                Ok(r) => {
                    let st = fstat(&r.fd).map_err(|e| fail(format!("stat {prefix}"), e))?;
                    if !is_dir(&st) {
                        return Err(fail(format!("mkdir {path}"), Errno::ENOTDIR));
                    }
                }
                Err(Errno::ENOENT) => {
                    if depth == parts.len() {
                        existed = false;
                    }
                    let parent = self
                        .fs
                        .resolve_parent(&prefix, false)
                        .map_err(|e| fail(format!("mkdir {prefix}"), e))?;
                    mkdirat(
                        &parent.dir,
                        parent.name.as_str(),
                        Mode::from_bits_truncate(0o700),
                    )
                    .map_err(|e| fail(format!("mkdir {prefix}"), e))?;
                    let dir = open_dir(&parent.dir, &parent.name)
                        .map_err(|e| fail(format!("mkdir {prefix}"), e))?;
                    fchown(
                        &dir,
                        Some(Uid::from_raw(owner.0)),
                        Some(Gid::from_raw(owner.1)),
                    )
                    .and_then(|()| fchmod(&dir, Mode::from_bits_truncate(0o755)))
                    .map_err(|e| fail(format!("mkdir {prefix}"), e))?;
                }
                Err(e) => return Err(fail(format!("mkdir {path}"), e)),
            }
        }
        let dir = self
            .fs
            .resolve(path, true)
            .and_then(|r| openat(&r.fd, ".", dir_flags(), Mode::empty()))
            .map_err(|e| fail(format!("open {path}"), e))?;
        Ok((dir, existed))
    }

    /// Copies the content of the folder `source` into the resolved folder `dest`.
    pub fn copy_directory(&self, source: &Path, dest: &str) -> Result<(), CopyError> {
        let (dir, existed) = self
            .mkdir_all(dest, (0, 0))
            .map_err(|e| prefixed(e, "failed to copy directory: "))?;
        let mut links = HashMap::new();
        self.copy_children(source, &dir, dest, &mut links)?;
        if let (Some((uid, gid)), false) = (self.owner, existed) {
            fchown(&dir, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                .map_err(|e| fail(format!("lchown {dest}"), e))?;
        }
        Ok(())
    }

    /// Copies the file (or other non-folder) `source` to the resolved path `dest`.
    pub fn copy_file(&self, source: &Path, dest: &str) -> Result<(), CopyError> {
        let (parent, name) = dest.rsplit_once('/').unwrap_or(("", dest));
        let (dir, _) = self.mkdir_all(parent, self.owner.unwrap_or((0, 0)))?;
        self.copy_entry(source, &dir, name, dest, &mut HashMap::new())
    }

    fn copy_children(
        &self,
        source: &Path,
        dir: &OwnedFd,
        shown: &str,
        links: &mut HashMap<(u64, u64), String>,
    ) -> Result<(), CopyError> {
        let mut names: Vec<_> = std::fs::read_dir(source)
            .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect())
            .map_err(|e| fail(format!("reading {}", source.display()), e))?;
        names.sort();
        for name in names {
            let Some(name) = name.to_str() else {
                tracing::warn!(?name, "skipping a file name that is not UTF-8");
                continue;
            };
            let child_shown = format!("{}/{name}", shown.trim_end_matches('/'));
            self.copy_entry(&source.join(name), dir, name, &child_shown, links)?;
        }
        Ok(())
    }

    /// Writes `source` as `name` in `dir`, replacing what is there (folders merge).
    fn copy_entry(
        &self,
        source: &Path,
        dir: &OwnedFd,
        name: &str,
        shown: &str,
        links: &mut HashMap<(u64, u64), String>,
    ) -> Result<(), CopyError> {
        let meta =
            std::fs::symlink_metadata(source).map_err(|e| fail(format!("lstat {shown}"), e))?;
        let kind = meta.file_type();
        let existing = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).ok();
        let created = |e: Errno| fail(format!("creating {shown}"), e);
        if kind.is_dir() {
            if !existing.as_ref().is_some_and(is_dir) {
                remove_all_at(dir, name).map_err(created)?;
                mkdirat(dir, name, Mode::from_bits_truncate(0o700)).map_err(created)?;
            }
            let child = open_dir(dir, name).map_err(created)?;
            self.copy_children(source, &child, shown, links)?;
            return self.finish(&child, &meta, shown);
        }
        if existing.is_some() {
            remove_all_at(dir, name).map_err(created)?;
        }
        if meta.nlink() > 1 {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                let target = self
                    .fs
                    .resolve_parent(first, false)
                    .map_err(|e| fail(format!("link {shown}"), e))?;
                return linkat(
                    &target.dir,
                    target.name.as_str(),
                    dir,
                    name,
                    AtFlags::empty(),
                )
                .map_err(|e| fail(format!("link {shown}"), e));
            }
            links.insert((meta.dev(), meta.ino()), shown.to_string());
        }
        if kind.is_file() {
            let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
            let fd = openat(
                dir,
                name,
                flags | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )
            .map_err(created)?;
            let mut file = File::from(fd);
            let mut input =
                File::open(source).map_err(|e| fail(format!("open {}", source.display()), e))?;
            io::copy(&mut input, &mut file).map_err(|e| fail(format!("writing {shown}"), e))?;
            return self.finish(&file.into(), &meta, shown);
        }
        if kind.is_symlink() {
            let target =
                std::fs::read_link(source).map_err(|e| fail(format!("readlink {shown}"), e))?;
            symlinkat(target.as_os_str(), dir, name).map_err(created)?;
        } else if kind.is_fifo() || kind.is_char_device() || kind.is_block_device() {
            let flag = if kind.is_fifo() {
                SFlag::S_IFIFO
            } else if kind.is_char_device() {
                SFlag::S_IFCHR
            } else {
                SFlag::S_IFBLK
            };
            mknodat(
                dir,
                name,
                flag,
                Mode::from_bits_truncate(0o600),
                meta.rdev(),
            )
            .map_err(created)?;
        } else {
            return Ok(()); // sockets are not copied (tar leaves them out)
        }
        self.finish_by_name(dir, name, &meta, kind.is_symlink(), shown)
    }

    /// Owner, mode and time of something open (a file or a folder).
    fn finish(&self, fd: &OwnedFd, meta: &Metadata, shown: &str) -> Result<(), CopyError> {
        let result = match self.owner {
            // chown after chmod: the kernel then drops setuid/setgid as in dockerd.
            Some((uid, gid)) => fchmod(fd, Mode::from_bits_truncate(meta.mode() & 0o7777))
                .and_then(|()| fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))),
            None => fchown(
                fd,
                Some(Uid::from_raw(meta.uid())),
                Some(Gid::from_raw(meta.gid())),
            )
            .and_then(|()| fchmod(fd, Mode::from_bits_truncate(meta.mode() & 0o7777))),
        };
        result
            .and_then(|()| match self.chmod {
                Some(mode) => fchmod(fd, Mode::from_bits_truncate(mode)),
                None => Ok(()),
            })
            .and_then(|()| {
                let when = TimeSpec::new(meta.mtime(), 0);
                futimens(fd, &when, &when)
            })
            .map_err(|e| fail(format!("setting the metadata of {shown}"), e))
    }

    /// The same for a symlink or special file, by name and never followed.
    fn finish_by_name(
        &self,
        dir: &OwnedFd,
        name: &str,
        meta: &Metadata,
        symlink: bool,
        shown: &str,
    ) -> Result<(), CopyError> {
        let (uid, gid) = self.owner.unwrap_or((meta.uid(), meta.gid()));
        let mode = self.chmod.unwrap_or(meta.mode() & 0o7777);
        let when = TimeSpec::new(meta.mtime(), 0);
        fchownat(
            dir,
            name,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .and_then(|()| match symlink {
            true => Ok(()),
            // Just created here, not a symlink: following is harmless.
            false => fchmodat(
                dir,
                name,
                Mode::from_bits_truncate(mode),
                FchmodatFlags::FollowSymlink,
            ),
        })
        .and_then(|()| utimensat(dir, name, &when, &when, UtimensatFlags::NoFollowSymlink))
        .map_err(|e| fail(format!("setting the metadata of {shown}"), e))
    }
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

fn open_dir(dir: &impl AsFd, name: &str) -> nix::Result<OwnedFd> {
    openat(dir, name, dir_flags(), Mode::empty())
}

/// Puts `prefix` after dockerd's "failed to copy files: ".
fn prefixed(e: CopyError, prefix: &str) -> CopyError {
    match e {
        CopyError::Io { context, source } => CopyError::Io {
            context: context.replacen(
                "failed to copy files: ",
                &format!("failed to copy files: {prefix}"),
                1,
            ),
            source,
        },
        other => other,
    }
}
