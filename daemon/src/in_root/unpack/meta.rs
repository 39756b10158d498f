//! Metadata of an extracted entry: owner, permissions, extended attributes, times.
//! Applied by file descriptor where there is one, else relative to the parent's
//! descriptor without following symbolic links.
use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{fchmod, futimens, utimensat, Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, Gid, Uid};

use crate::store::{StoreError, StoreResult};

/// Extended attribute names a layer may not set: overlayfs's own (opaque, redirect,
/// origin…) are produced by the whiteout conversion only.
const RESERVED_XATTR_PREFIX: &str = "trusted.overlay.";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";

/// What a tar header says about an entry besides its name and content.
pub(super) struct EntryMeta {
    /// Permission bits, including setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: TimeSpec,
    pub xattrs: Vec<(CString, Vec<u8>)>,
}

impl EntryMeta {
    /// Reads the header and the PAX records (mtime with nanoseconds, SCHILY.xattr.*).
    pub(super) fn from_entry<R: std::io::Read>(entry: &mut tar::Entry<'_, R>) -> StoreResult<Self> {
        let header = entry.header();
        let field = |what: &str, e: std::io::Error| {
            StoreError::InvalidArchive(format!("bad {what} in tar header: {e}"))
        };
        let raw = header.as_old();
        let mode = go_number(header.mode().map(u64::from), &raw.mode)
            .map_err(|e| field("mode", e))? as u32
            & 0o7777;
        let uid = go_number(header.uid(), &raw.uid).map_err(|e| field("uid", e))?;
        let gid = go_number(header.gid(), &raw.gid).map_err(|e| field("gid", e))?;
        let seconds = go_number(header.mtime(), &raw.mtime).map_err(|e| field("mtime", e))?;
        let mut mtime = TimeSpec::new(i64::try_from(seconds).unwrap_or(i64::MAX), 0);
        let mut xattrs = Vec::new();
        if let Some(extensions) = entry
            .pax_extensions()
            .map_err(|e| field("PAX records", e))?
        {
            for extension in extensions {
                let extension = extension.map_err(|e| field("PAX record", e))?;
                let key = extension.key_bytes();
                if key == b"mtime" {
                    if let Some(precise) = parse_pax_time(extension.value_bytes()) {
                        mtime = precise;
                    }
                } else if let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX.as_bytes()) {
                    if name.starts_with(RESERVED_XATTR_PREFIX.as_bytes()) {
                        tracing::warn!(name = %String::from_utf8_lossy(name), "ignoring reserved xattr in layer");
                        continue;
                    }
                    if let Ok(name) = CString::new(name) {
                        xattrs.push((name, extension.value_bytes().to_vec()));
                    }
                }
            }
        }
        let id = |v: u64, what: &str| {
            u32::try_from(v)
                .map_err(|_| StoreError::InvalidArchive(format!("{what} {v} too large")))
        };
        Ok(EntryMeta {
            mode,
            uid: id(uid, "uid")?,
            gid: id(gid, "gid")?,
            mtime,
            xattrs,
        })
    }
}

/// A numeric header field as Go's archive/tar reads it: one left empty (all NULs or
/// spaces, as `tar::Header::new_gnu()` leaves the mode unless it is set) is 0, where
/// tar-rs refuses it. dockerd takes such archives (bollard's tests send one).
fn go_number(value: std::io::Result<u64>, raw: &[u8]) -> std::io::Result<u64> {
    match value {
        Err(_) if raw.iter().all(|b| *b == 0 || *b == b' ') => Ok(0),
        other => other,
    }
}

/// "1700000000.123456789" → a TimeSpec.
fn parse_pax_time(value: &[u8]) -> Option<TimeSpec> {
    let text = std::str::from_utf8(value).ok()?;
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    let seconds: i64 = seconds.parse().ok()?;
    let digits: String = fraction.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || seconds < 0 {
        return None;
    }
    let nanos: i64 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some(TimeSpec::new(seconds, nanos))
}

/// Owner, then mode (chown clears setuid bits, so mode comes second), then xattrs, of
/// something open as `fd` (a regular file or a directory).
pub(super) fn apply_by_fd(fd: BorrowedFd<'_>, meta: &EntryMeta, shown: &str) -> StoreResult<()> {
    tolerate_unprivileged(fchown(
        fd,
        Some(Uid::from_raw(meta.uid)),
        Some(Gid::from_raw(meta.gid)),
    ))
    .map_err(|e| StoreError::io(format!("chown {shown}"), e.into()))?;
    fchmod(fd, Mode::from_bits_truncate(meta.mode))
        .map_err(|e| StoreError::io(format!("chmod {shown}"), e.into()))?;
    for (name, value) in &meta.xattrs {
        // SAFETY: valid descriptor, NUL-terminated name, value buffer with its length.
        let rc = unsafe {
            libc::fsetxattr(
                fd.as_raw_fd(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        xattr_result(rc, name, shown)?;
    }
    Ok(())
}

/// Owner and xattrs of `name` in `parent`, not following it if it is a symbolic link
/// (symlinks, device nodes, fifos: things that are not opened).
pub(super) fn apply_by_name(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    meta: &EntryMeta,
    shown: &str,
) -> StoreResult<()> {
    let owner = fchownat(
        parent,
        name,
        Some(Uid::from_raw(meta.uid)),
        Some(Gid::from_raw(meta.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    );
    tolerate_unprivileged(owner).map_err(|e| StoreError::io(format!("chown {shown}"), e.into()))?;
    if meta.xattrs.is_empty() {
        return Ok(());
    }
    // The /proc magic link names the parent directory itself; the last component is
    // not followed by lsetxattr.
    let path = proc_path(parent, name)?;
    for (attr, value) in &meta.xattrs {
        // SAFETY: NUL-terminated path and name, value buffer with its length.
        let rc = unsafe {
            libc::lsetxattr(
                path.as_ptr(),
                attr.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        xattr_result(rc, attr, shown)?;
    }
    Ok(())
}

/// Sets an extended attribute on an open directory (the opaque marker).
pub(super) fn set_xattr_fd(
    fd: BorrowedFd<'_>,
    name: &str,
    value: &[u8],
    shown: &str,
) -> StoreResult<()> {
    let attr = CString::new(name)
        .map_err(|_| StoreError::InvalidArchive(format!("bad xattr name {name}")))?;
    // SAFETY: valid descriptor, NUL-terminated name, value buffer with its length.
    let rc = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            attr.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(rc)
        .map(drop)
        .map_err(|e| StoreError::io(format!("set {name} on {shown}"), e.into()))
}

pub(super) fn set_times_fd(fd: impl AsFd, mtime: &TimeSpec, shown: &str) -> StoreResult<()> {
    futimens(fd, mtime, mtime)
        .map_err(|e| StoreError::io(format!("set times of {shown}"), e.into()))
}

pub(super) fn set_times_by_name(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    mtime: &TimeSpec,
    shown: &str,
) -> StoreResult<()> {
    utimensat(parent, name, mtime, mtime, UtimensatFlags::NoFollowSymlink)
        .map_err(|e| StoreError::io(format!("set times of {shown}"), e.into()))
}

/// "/proc/self/fd/<parent>/<name>", for the calls that have no *at() form.
pub(super) fn proc_path(parent: BorrowedFd<'_>, name: &OsStr) -> StoreResult<CString> {
    let mut bytes = format!("/proc/self/fd/{}/", parent.as_raw_fd()).into_bytes();
    bytes.extend_from_slice(name.as_bytes());
    CString::new(bytes).map_err(|_| StoreError::InvalidArchive("NUL byte in a path".into()))
}

/// Unsupported or forbidden xattrs are skipped with a warning, as dockerd does.
fn xattr_result(rc: libc::c_int, name: &CString, shown: &str) -> StoreResult<()> {
    match Errno::result(rc) {
        Ok(_) => Ok(()),
        Err(Errno::ENOTSUP) | Err(Errno::EPERM) => {
            tracing::warn!(path = %shown, xattr = ?name, "extended attribute not supported here; skipped");
            Ok(())
        }
        Err(e) => Err(StoreError::io(
            format!("set xattr {name:?} on {shown}"),
            e.into(),
        )),
    }
}

/// Without root, ownership cannot be set: keep our own, as rootless tools do.
fn tolerate_unprivileged(result: nix::Result<()>) -> nix::Result<()> {
    match result {
        Err(Errno::EPERM) | Err(Errno::EINVAL) if !nix::unistd::geteuid().is_root() => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times_parse() {
        assert_eq!(
            parse_pax_time(b"1700000000.5"),
            Some(TimeSpec::new(1_700_000_000, 500_000_000))
        );
        assert_eq!(parse_pax_time(b"12"), Some(TimeSpec::new(12, 0)));
        assert_eq!(
            parse_pax_time(b"12.1234567891"),
            Some(TimeSpec::new(12, 123_456_789))
        );
        assert_eq!(parse_pax_time(b"-1.5"), None);
        assert_eq!(parse_pax_time(b"x"), None);
    }
}
