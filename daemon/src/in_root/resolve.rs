//! Resolving a path inside a root as a process chrooted there would see it, by handle:
//! one component at a time with `*at` calls on directory descriptors (`O_PATH |
//! O_NOFOLLOW`), symlinks read and resolved as the container would (an absolute target
//! restarts at the root, `..` never climbs above it), so no path, symlink or race inside
//! the root reaches a file outside it. This is moby's `FollowSymlinkInScope` done with
//! handles rather than strings.
//!
//! A root may carry mounts (a container's volumes and binds, and its hosts, hostname and
//! resolv.conf files, as dockerd mounts them for `docker cp`): a path reaching a mount's
//! destination continues in its source. Folders that are missing can be created on the
//! way (`resolve_parent(…, true)`, [`InRoot::mkdir_all`]), as dockerd's `MkdirAll` on the
//! scoped path: through a dangling symlink, its target is created inside the root.
use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{fstatat, mkdirat, FileStat, Mode, SFlag};

/// How many symlinks one path may go through (Linux's limit).
const MAX_LINKS: usize = 40;

/// One mount of the root: where it appears and what backs it.
#[derive(Debug, Clone)]
struct MountMap {
    destination: Vec<String>,
    source: PathBuf,
}

/// A root opened for resolution.
#[derive(Debug)]
pub struct InRoot {
    root: OwnedFd,
    mounts: Vec<MountMap>,
}

/// A path resolved inside the root.
#[derive(Debug)]
pub struct Resolved {
    /// `O_PATH` descriptor of the object itself.
    pub fd: OwnedFd,
    /// The resolved path as the container sees it ("/" joined components).
    pub path: String,
}

/// A path whose parent was resolved; the last component itself is not followed.
#[derive(Debug)]
pub struct ResolvedParent {
    /// `O_PATH` descriptor of the parent directory.
    pub dir: OwnedFd,
    /// The last component ("" for the root itself).
    pub name: String,
    /// The resolved path of the entry as the container sees it.
    pub path: String,
}

fn open_path(dir: impl AsFd, name: &str) -> nix::Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Splits a container path into its components ("" and "." dropped, ".." kept).
pub fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

impl InRoot {
    /// The folder `root` as a root, with `mounts` as (destination, source).
    pub fn from_dir(root: &Path, mounts: &[(&str, &Path)]) -> std::io::Result<InRoot> {
        let fd = nix::fcntl::open(
            root,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            std::io::Error::new(
                std::io::Error::from(e).kind(),
                format!("opening {}: {e}", root.display()),
            )
        })?;
        Ok(InRoot::from_fd(
            fd,
            mounts
                .iter()
                .map(|(d, s)| (d.to_string(), s.to_path_buf()))
                .collect(),
        ))
    }

    /// A root already open, with `mounts` as (destination, source).
    pub fn from_fd(root: OwnedFd, mounts: Vec<(String, PathBuf)>) -> InRoot {
        let mut mounts: Vec<MountMap> = mounts
            .into_iter()
            .map(|(d, source)| MountMap {
                destination: components(&d),
                source,
            })
            .collect();
        // Shorter destinations first: the walk meets a parent mount before a nested one.
        mounts.sort_by_key(|m| m.destination.len());
        InRoot { root, mounts }
    }

    /// The root's descriptor, giving up the view.
    pub fn into_fd(self) -> OwnedFd {
        self.root
    }

    /// The root's own descriptor.
    pub fn root_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Resolves `path`; the last component is followed when it is a symlink only if
    /// `follow_last`. `Errno::ENOENT` when something on the way is missing.
    pub fn resolve(&self, path: &str, follow_last: bool) -> nix::Result<Resolved> {
        let (fds, names) = self.walk(components(path), follow_last, false)?;
        last(fds, names)
    }

    /// Creates `path` and the folders above it (mode 0755) where they are missing,
    /// every symlink followed inside the root: dockerd's `MkdirAll` of
    /// `FollowSymlinkInScope(path)`, as for a container's working directory.
    pub fn mkdir_all(&self, path: &str) -> nix::Result<Resolved> {
        let (fds, names) = self.walk(components(path), true, true)?;
        let made = last(fds, names)?;
        let stat = nix::sys::stat::fstat(&made.fd)?;
        if !is_dir(&stat) {
            return Err(Errno::ENOTDIR);
        }
        Ok(made)
    }

    /// Resolves the parent of `path` (every symlink followed, missing folders created
    /// with mode 0755 when `create`), leaving the last component as is.
    pub fn resolve_parent(&self, path: &str, create: bool) -> nix::Result<ResolvedParent> {
        let mut parts = components(path);
        // ".." at the end is resolved like any folder: the entry is that folder's parent.
        while parts.last().is_some_and(|p| p == "..") {
            let (_, names) = self.walk(parts.clone(), true, create)?;
            parts = names;
        }
        let Some(name) = parts.pop() else {
            let dir = self.root.try_clone().map_err(|_| Errno::EMFILE)?;
            return Ok(ResolvedParent {
                dir,
                name: String::new(),
                path: "/".into(),
            });
        };
        let (fds, mut names) = self.walk(parts, true, create)?;
        let dir = fds
            .last()
            .ok_or(Errno::EINVAL)?
            .try_clone()
            .map_err(|_| Errno::EMFILE)?;
        names.push(name.clone());
        Ok(ResolvedParent {
            dir,
            name,
            path: join(&names),
        })
    }

    /// Walks `pending` from the root: the descriptors of every folder on the way (the
    /// root first) and the resolved components.
    fn walk(
        &self,
        mut pending: Vec<String>,
        follow_last: bool,
        create: bool,
    ) -> nix::Result<(Vec<OwnedFd>, Vec<String>)> {
        pending.reverse();
        let mut fds = vec![self.root.try_clone().map_err(|_| Errno::EMFILE)?];
        let mut names: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(part) = pending.pop() {
            if part == ".." {
                if !names.is_empty() {
                    names.pop();
                    fds.pop();
                }
                continue;
            }
            let is_last = pending.is_empty();
            names.push(part.clone());
            if let Some(source) = self.mount_source(&names) {
                let fd = nix::fcntl::open(source, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())?;
                fds.push(fd);
                continue;
            }
            let dir = fds.last().ok_or(Errno::EINVAL)?;
            let stat = match fstatat(dir, part.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(s) => s,
                Err(Errno::ENOENT) if create => {
                    match mkdirat(dir, part.as_str(), Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(e),
                    }
                    fstatat(dir, part.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW)?
                }
                Err(e) => return Err(e),
            };
            if is_symlink(&stat) && (!is_last || follow_last) {
                links += 1;
                if links > MAX_LINKS {
                    return Err(Errno::ELOOP);
                }
                let target: OsString = readlinkat(dir, part.as_str())?;
                names.pop();
                let bytes = target.as_bytes();
                if bytes.starts_with(b"/") {
                    names.clear();
                    fds.truncate(1);
                }
                let text = String::from_utf8_lossy(bytes).into_owned();
                let mut parts = components(&text);
                parts.reverse();
                pending.extend(parts);
                continue;
            }
            // Opened without following: had it become a symlink since the stat, the next
            // component would fail under it (ENOTDIR) rather than leave the root.
            let fd = open_path(dir, part.as_str())?;
            fds.push(fd);
        }
        Ok((fds, names))
    }

    /// The source of a mount whose destination is exactly `names`.
    pub fn mount_source(&self, names: &[String]) -> Option<&Path> {
        self.mounts
            .iter()
            .filter(|m| m.destination == names)
            .map(|m| m.source.as_path())
            .next()
    }
}

fn last(fds: Vec<OwnedFd>, names: Vec<String>) -> nix::Result<Resolved> {
    let fd = fds
        .last()
        .ok_or(Errno::EINVAL)?
        .try_clone()
        .map_err(|_| Errno::EMFILE)?;
    Ok(Resolved {
        fd,
        path: join(&names),
    })
}

pub fn is_symlink(stat: &FileStat) -> bool {
    SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK
}

pub fn is_dir(stat: &FileStat) -> bool {
    SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

fn join(names: &[String]) -> String {
    format!("/{}", names.join("/"))
}

/// `/proc/self/fd/N`: a path naming exactly the object behind a descriptor (for the
/// calls that take no descriptor; the object is pinned, no name inside the root is
/// resolved again).
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
