//! A path below a folder that must stay below it — a volume's `volume-subpath`, an
//! image mount's subpath — opened by handle as dockerd's `safepath.Join` does: symlinks
//! are followed while they stay below the folder, and a path that would leave it is an
//! error rather than clamped at the folder (as [`super::resolve`] does for a container's
//! view). One component at a time with `openat(O_PATH | O_NOFOLLOW)` relative to
//! descriptors this walk holds; `..` goes back to a descriptor it already holds, never
//! through the kernel's `..`, so a folder renamed meanwhile cannot lead out.
//!
//! Absolute symlink targets are refused as leaving the folder: dockerd resolves them on
//! the host first and accepts those that happen to point back into the volume's own
//! host path, which a handle cannot tell.
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode};

use super::resolve::is_symlink;

/// How many symlinks one path may go through (Linux's limit).
const MAX_LINKS: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum BeneathError {
    /// Something on the way is missing; the part of the path resolved up to and
    /// including the missing component ("a/b"), as dockerd's `lstat` message names it.
    #[error("{missing} is missing")]
    Missing { missing: String },
    /// The path, or a symlink on it, leads out of the folder.
    #[error("the path leaves its folder")]
    Escapes,
    #[error(transparent)]
    Sys(#[from] Errno),
}

/// Opens `sub` (relative, `..` allowed while it stays below) below `base` as an `O_PATH`
/// descriptor, following every symlink, the last one included.
pub fn open(base: BorrowedFd<'_>, sub: &str) -> Result<OwnedFd, BeneathError> {
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut fds: Vec<OwnedFd> = vec![openat(
        base,
        ".",
        flags | OFlag::O_DIRECTORY,
        Mode::empty(),
    )?];
    let mut names: Vec<String> = Vec::new();
    if sub.starts_with('/') {
        return Err(BeneathError::Escapes);
    }
    let mut pending: Vec<String> = components(sub);
    pending.reverse();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            if names.pop().is_none() {
                return Err(BeneathError::Escapes);
            }
            fds.pop();
            continue;
        }
        let dir = fds.last().ok_or(Errno::EINVAL)?;
        let stat = match fstatat(dir, part.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(s) => s,
            Err(Errno::ENOENT) => {
                names.push(part);
                return Err(BeneathError::Missing {
                    missing: names.join("/"),
                });
            }
            Err(e) => return Err(e.into()),
        };
        if is_symlink(&stat) {
            links += 1;
            if links > MAX_LINKS {
                return Err(Errno::ELOOP.into());
            }
            let target = readlinkat(dir, part.as_str())?;
            let bytes = target.as_bytes();
            if bytes.starts_with(b"/") {
                return Err(BeneathError::Escapes);
            }
            let mut parts = components(&String::from_utf8_lossy(bytes));
            parts.reverse();
            pending.extend(parts);
            continue;
        }
        // Opened without following: had it become a symlink since the stat, the next
        // component fails under it (ENOTDIR) rather than leave the folder.
        let fd = openat(dir, part.as_str(), flags, Mode::empty())?;
        fds.push(fd);
        names.push(part);
    }
    fds.pop().ok_or(BeneathError::Sys(Errno::EINVAL))
}

/// A relative path's components ("" and "." dropped, ".." kept).
fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::fs::symlink;

    fn target(fd: &OwnedFd) -> std::path::PathBuf {
        std::fs::read_link(super::super::fd_path(fd)).expect("readlink")
    }

    #[test]
    fn symlinks_inside_are_followed_and_ways_out_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let base = dir.path().join("vol");
        std::fs::create_dir_all(base.join("a/b")).expect("mkdir");
        std::fs::write(base.join("a/b/f"), "x").expect("write");
        symlink("a/b", base.join("inside")).expect("ln");
        symlink("../..", base.join("a/up")).expect("ln");
        symlink("../outside", base.join("out")).expect("ln");
        symlink("/etc", base.join("abs")).expect("ln");
        symlink("l2", base.join("l1")).expect("ln");
        symlink("l1", base.join("l2")).expect("ln");
        std::fs::create_dir_all(dir.path().join("outside")).expect("mkdir");
        let root = std::fs::File::open(&base).expect("open");
        let fd = root.as_fd();

        let base = std::fs::canonicalize(&base).expect("canon");
        assert_eq!(target(&open(fd, "a/b").expect("a/b")), base.join("a/b"));
        assert_eq!(
            target(&open(fd, "inside/f").expect("f")),
            base.join("a/b/f")
        );
        assert_eq!(
            target(&open(fd, "a/../a/./b").expect("dots")),
            base.join("a/b")
        );
        assert_eq!(target(&open(fd, ".").expect(".")), base);
        for bad in ["..", "a/../..", "a/up", "a/up/x", "out", "abs", "/a"] {
            assert!(
                matches!(open(fd, bad), Err(BeneathError::Escapes)),
                "{bad} must be refused"
            );
        }
        match open(fd, "inside/missing/deeper") {
            Err(BeneathError::Missing { missing }) => assert_eq!(missing, "a/b/missing"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            open(fd, "l1"),
            Err(BeneathError::Sys(Errno::ELOOP))
        ));
        assert!(matches!(
            open(fd, "a/b/f/x"),
            Err(BeneathError::Sys(Errno::ENOTDIR))
        ));
    }
}
