//! Paths inside a layer: normalising entry names, and walking to a directory of the
//! tree without ever following a symbolic link.
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};

use crate::store::{StoreError, StoreResult};

/// A path inside the layer, as its components ("a/b/c" → ["a", "b", "c"]); empty is the root.
pub(super) type Components = Vec<OsString>;

/// Normalises an entry name the way Docker does: as if it were rooted at "/" — leading
/// "/" and "./" dropped, "." ignored, ".." removes the previous component and stops at
/// the root. So "../../etc/passwd" is "etc/passwd" of the layer: it never leaves it.
pub(super) fn confine(raw: &[u8]) -> Components {
    let mut components: Components = Vec::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                components.pop();
            }
            name => components.push(OsStr::from_bytes(name).to_os_string()),
        }
    }
    components
}

/// Normalises a hard link's target. Absolute targets are relative to the layer's root
/// (as in Docker); a target that climbs above the root with ".." is refused.
pub(super) fn hard_link_target(raw: &[u8]) -> StoreResult<Components> {
    let mut components: Components = Vec::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if components.pop().is_none() {
                    return Err(StoreError::UnsafePath(format!(
                        "hard link to {:?} points outside the layer",
                        String::from_utf8_lossy(raw)
                    )));
                }
            }
            name => components.push(OsStr::from_bytes(name).to_os_string()),
        }
    }
    Ok(components)
}

/// For messages: "a/b/c".
pub(super) fn display(components: &[OsString]) -> String {
    let joined: PathBuf = components.iter().collect();
    if joined.as_os_str().is_empty() {
        "/".to_string()
    } else {
        joined.display().to_string()
    }
}

/// The destination directory of an extraction, open as a file descriptor; every
/// path is resolved from it one component at a time with `O_NOFOLLOW`.
pub(super) struct Tree {
    root: OwnedFd,
}

impl Tree {
    pub(super) fn open(dest: &Path) -> StoreResult<Self> {
        let root = nix::fcntl::open(dest, dir_flags(), Mode::empty())
            .map_err(|e| StoreError::io(format!("open {}", dest.display()), e.into()))?;
        Ok(Tree { root })
    }

    pub(super) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Opens the directory at `components`. Missing directories are created (mode 0755,
    /// fixed later by their own entries, if any) when `create` is set. A component that
    /// is a symbolic link is an `UnsafePath` error, never followed; one that is not a
    /// directory is `InvalidArchive`.
    pub(super) fn dir(&self, components: &[OsString], create: bool) -> StoreResult<OwnedFd> {
        let mut current = self
            .root
            .try_clone()
            .map_err(|e| StoreError::io("duplicate the layer directory descriptor", e))?;
        for (depth, name) in components.iter().enumerate() {
            current = open_child_dir(current.as_fd(), name, create, &components[..=depth])?;
        }
        Ok(current)
    }
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

fn open_child_dir(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    create: bool,
    shown: &[OsString],
) -> StoreResult<OwnedFd> {
    match openat(parent, name, dir_flags(), Mode::empty()) {
        Ok(fd) => Ok(fd),
        Err(Errno::ENOENT) if create => {
            match mkdirat(parent, name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => {
                    return Err(StoreError::io(
                        format!("create directory {}", display(shown)),
                        e.into(),
                    ))
                }
            }
            openat(parent, name, dir_flags(), Mode::empty())
                .map_err(|e| StoreError::io(format!("open directory {}", display(shown)), e.into()))
        }
        Err(Errno::ENOENT) => Err(StoreError::InvalidArchive(format!(
            "{} does not exist",
            display(shown)
        ))),
        Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => Err(not_a_directory(parent, name, shown)),
        Err(e) => Err(StoreError::io(
            format!("open directory {}", display(shown)),
            e.into(),
        )),
    }
}

/// Why `name` could not be opened as a directory: a symlink (refused) or something else.
fn not_a_directory(parent: BorrowedFd<'_>, name: &OsStr, shown: &[OsString]) -> StoreError {
    match fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(stat) if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK => {
            StoreError::UnsafePath(format!(
                "{} is a symbolic link; it is never followed",
                display(shown)
            ))
        }
        _ => StoreError::InvalidArchive(format!("{} is not a directory", display(shown))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(components: &[OsString]) -> Vec<&str> {
        components.iter().map(|c| c.to_str().unwrap()).collect()
    }

    #[test]
    fn entry_names_are_confined_to_the_root() {
        assert_eq!(names(&confine(b"./usr/bin/")), ["usr", "bin"]);
        assert_eq!(names(&confine(b"/etc//passwd")), ["etc", "passwd"]);
        assert_eq!(names(&confine(b"../../etc/passwd")), ["etc", "passwd"]);
        assert_eq!(names(&confine(b"a/../../b/./c/..")), ["b"]);
        assert!(confine(b"./").is_empty());
        assert!(confine(b"..").is_empty());
    }

    #[test]
    fn hard_link_targets_may_not_climb_out() {
        assert_eq!(
            names(&hard_link_target(b"/usr/bin/x").unwrap()),
            ["usr", "bin", "x"]
        );
        assert_eq!(names(&hard_link_target(b"a/../b").unwrap()), ["b"]);
        assert!(matches!(
            hard_link_target(b"../../outside"),
            Err(StoreError::UnsafePath(_))
        ));
        assert!(matches!(
            hard_link_target(b"a/../../x"),
            Err(StoreError::UnsafePath(_))
        ));
    }
}
