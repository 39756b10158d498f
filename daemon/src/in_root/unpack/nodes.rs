//! Creating each kind of entry inside its (already safely opened) parent directory.
//! Whatever is already at the name is replaced — never written through: regular files
//! are created with `O_CREAT | O_EXCL | O_NOFOLLOW` after the old entry is removed.
use std::ffi::OsStr;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fchmodat, fstatat, makedev, mkdirat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{linkat, symlinkat, unlinkat, UnlinkatFlags};

use super::meta::{
    apply_by_fd, apply_by_name, proc_path, set_times_by_name, set_times_fd, EntryMeta,
};
use crate::store::{StoreError, StoreResult};

/// What is at a name before an entry replaces it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Existing {
    Nothing,
    Directory,
    Other,
}

pub(super) fn existing(parent: BorrowedFd<'_>, name: &OsStr, shown: &str) -> StoreResult<Existing> {
    match fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(stat) if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR => {
            Ok(Existing::Directory)
        }
        Ok(_) => Ok(Existing::Other),
        Err(Errno::ENOENT) => Ok(Existing::Nothing),
        Err(e) => Err(StoreError::io(format!("stat {shown}"), e.into())),
    }
}

/// Removes whatever is at `name` (a whole tree for a directory), without following links.
pub(super) fn remove_existing(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    shown: &str,
) -> StoreResult<()> {
    match existing(parent, name, shown)? {
        Existing::Nothing => Ok(()),
        Existing::Other => unlinkat(parent, name, UnlinkatFlags::NoRemoveDir)
            .map_err(|e| StoreError::io(format!("remove {shown}"), e.into())),
        Existing::Directory => {
            // std's remove_dir_all never follows symlinks inside the tree; the /proc
            // magic link pins the parent we resolved safely.
            let path = PathBuf::from(OsStr::from_bytes(proc_path(parent, name)?.as_bytes()));
            std::fs::remove_dir_all(&path)
                .map_err(|e| StoreError::io(format!("remove directory {shown}"), e))
        }
    }
}

/// Writes a regular file (`size_hint`: its size in the archive); returns the bytes written.
pub(super) fn regular_file(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    content: &mut impl Read,
    size_hint: u64,
    meta: &EntryMeta,
    shown: &str,
) -> StoreResult<u64> {
    remove_existing(parent, name, shown)?;
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(parent, name, flags, Mode::from_bits_truncate(0o600))
        .map_err(|e| StoreError::io(format!("create {shown}"), e.into()))?;
    let mut file = File::from(fd);
    let written = copy_content(content, size_hint, &mut file, shown)?;
    apply_by_fd(file.as_fd(), meta, shown)?;
    set_times_fd(&file, &meta.mtime, shown)?;
    Ok(written)
}

/// Creates (or keeps, merging) a directory and applies its owner, mode and xattrs.
/// Its times are set by the caller once everything inside it is written.
pub(super) fn directory(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    meta: &EntryMeta,
    shown: &str,
) -> StoreResult<()> {
    if existing(parent, name, shown)? != Existing::Directory {
        remove_existing(parent, name, shown)?;
        mkdirat(parent, name, Mode::from_bits_truncate(0o700))
            .map_err(|e| StoreError::io(format!("create directory {shown}"), e.into()))?;
    }
    let fd = open_dir(parent, name, shown)?;
    apply_by_fd(fd.as_fd(), meta, shown)
}

pub(super) fn open_dir(parent: BorrowedFd<'_>, name: &OsStr, shown: &str) -> StoreResult<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    openat(parent, name, flags, Mode::empty())
        .map_err(|e| StoreError::io(format!("open directory {shown}"), e.into()))
}

/// Creates a symbolic link as-is: its target may point anywhere, nothing follows it here.
pub(super) fn symlink(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    target: &[u8],
    meta: &EntryMeta,
    shown: &str,
) -> StoreResult<()> {
    remove_existing(parent, name, shown)?;
    symlinkat(OsStr::from_bytes(target), parent, name)
        .map_err(|e| StoreError::io(format!("create symlink {shown}"), e.into()))?;
    apply_by_name(parent, name, meta, shown)?;
    set_times_by_name(parent, name, &meta.mtime, shown)
}

/// Hard-links `name` to `target_name` in `target_parent` (both resolved safely inside
/// the tree). The target must exist and not be a directory; links are not followed.
pub(super) fn hard_link(
    target_parent: BorrowedFd<'_>,
    target_name: &OsStr,
    parent: BorrowedFd<'_>,
    name: &OsStr,
    shown: &str,
) -> StoreResult<()> {
    match existing(target_parent, target_name, shown)? {
        Existing::Nothing => {
            return Err(StoreError::InvalidArchive(format!(
                "hard link {shown}: target does not exist"
            )));
        }
        Existing::Directory => {
            return Err(StoreError::InvalidArchive(format!(
                "hard link {shown}: target is a directory"
            )));
        }
        Existing::Other => {}
    }
    remove_existing(parent, name, shown)?;
    linkat(target_parent, target_name, parent, name, AtFlags::empty())
        .map_err(|e| StoreError::io(format!("create hard link {shown}"), e.into()))
}

/// The kinds of special files a layer may hold.
#[derive(Clone, Copy)]
pub(super) enum Special {
    Char { major: u64, minor: u64 },
    Block { major: u64, minor: u64 },
    Fifo,
}

/// Creates a device node or fifo. Without root, device nodes are skipped with a warning.
pub(super) fn special(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    kind: Special,
    meta: &EntryMeta,
    shown: &str,
) -> StoreResult<()> {
    remove_existing(parent, name, shown)?;
    let (flag, dev) = match kind {
        Special::Char { major, minor } => (SFlag::S_IFCHR, makedev(major, minor)),
        Special::Block { major, minor } => (SFlag::S_IFBLK, makedev(major, minor)),
        Special::Fifo => (SFlag::S_IFIFO, 0),
    };
    match mknodat(parent, name, flag, Mode::from_bits_truncate(0o600), dev) {
        Ok(()) => {}
        Err(Errno::EPERM) if !nix::unistd::geteuid().is_root() => {
            tracing::warn!(path = %shown, "cannot create device nodes without root; skipped");
            return Ok(());
        }
        Err(e) => {
            return Err(StoreError::io(
                format!("create special file {shown}"),
                e.into(),
            ))
        }
    }
    apply_by_name(parent, name, meta, shown)?;
    // Just created by us, so not a symlink: following is harmless (and NoFollow is
    // unsupported by fchmodat on Linux).
    fchmodat(
        parent,
        name,
        Mode::from_bits_truncate(meta.mode),
        FchmodatFlags::FollowSymlink,
    )
    .map_err(|e| StoreError::io(format!("chmod {shown}"), e.into()))?;
    set_times_by_name(parent, name, &meta.mtime, shown)
}

/// A 0/0 character device: overlayfs's whiteout.
pub(super) fn whiteout(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    uid: u32,
    gid: u32,
    shown: &str,
) -> StoreResult<()> {
    remove_existing(parent, name, shown)?;
    mknodat(parent, name, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
        .map_err(|e| StoreError::io(format!("create whiteout {shown}"), e.into()))?;
    let meta = EntryMeta {
        mode: 0,
        uid,
        gid,
        mtime: nix::sys::time::TimeSpec::UTIME_OMIT,
        xattrs: Vec::new(),
    };
    apply_by_name(parent, name, &meta, shown)
}

/// Copies an entry's content, telling read errors (a bad archive) from write errors.
fn copy_content(
    content: &mut impl Read,
    size_hint: u64,
    file: &mut File,
    shown: &str,
) -> StoreResult<u64> {
    let mut buf = vec![
        0u8;
        usize::try_from(size_hint)
            .unwrap_or(usize::MAX)
            .clamp(1, 128 * 1024)
    ];
    let mut total = 0u64;
    loop {
        let n = match content.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(StoreError::InvalidArchive(format!("reading {shown}: {e}"))),
        };
        file.write_all(&buf[..n])
            .map_err(|e| StoreError::io(format!("write {shown}"), e))?;
        total += n as u64;
    }
}
