//! A container's filesystem as the container sees it, for `docker cp` both ways.
//!
//! A running container's view is `/proc/<pid>/root` (its root and every mount it has).
//! A stopped one's is its overlay root (mounted for the operation) plus its bind and
//! volume mounts, mapped by destination (the longest match wins).
//!
//! Paths are walked one component at a time with `*at` calls on directory descriptors,
//! symlinks read and resolved as the container would (an absolute target restarts at
//! the container's root, `..` never climbs above it), so no path, symlink or race inside
//! the container reaches a file outside it.
use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{fstatat, mkdirat, FileStat, Mode, SFlag};

use super::record::{Container, MountKind, MountPoint};
use super::{rootfs, ContainerError, Result};

/// How many symlinks one path may go through (Linux's limit).
const MAX_LINKS: usize = 40;

/// One mount of a stopped container: where it appears and what backs it.
#[derive(Debug, Clone)]
struct MountMap {
    destination: Vec<String>,
    source: PathBuf,
}

/// An opened view of a container's filesystem.
pub struct ContainerFs {
    root: OwnedFd,
    mounts: Vec<MountMap>,
    /// The container whose overlay this view mounted (unmounted on drop).
    mounted: Option<Container>,
}

/// A path resolved inside the container.
pub struct Resolved {
    /// `O_PATH` descriptor of the object itself.
    pub fd: OwnedFd,
    /// The resolved path as the container sees it ("/" joined components).
    pub path: String,
}

/// A path whose parent was resolved; the last component itself is not followed.
pub struct ResolvedParent {
    /// `O_PATH` descriptor of the parent directory.
    pub dir: OwnedFd,
    /// The last component ("" for the root itself).
    pub name: String,
    /// The resolved path of the entry as the container sees it.
    pub path: String,
}

fn errno_io(e: Errno) -> std::io::Error {
    std::io::Error::from(e)
}

fn open_path(dir: impl AsFd, name: &str, follow: bool) -> nix::Result<OwnedFd> {
    let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    if !follow {
        flags |= OFlag::O_NOFOLLOW;
    }
    openat(dir, name, flags, Mode::empty())
}

/// Splits a container path into its components ("" and "." dropped, ".." kept).
pub fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

impl ContainerFs {
    /// The container's view: `/proc/<pid>/root` when it runs, else its overlay (mounted
    /// here when needed) and its bind/volume mounts.
    pub fn open(c: &Container, layers_root: &Path) -> Result<ContainerFs> {
        if c.state.status.is_running() && c.state.pid > 0 {
            let proc_root = format!("/proc/{}/root", c.state.pid);
            let root = nix::fcntl::open(
                proc_root.as_str(),
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| ContainerError::io(format!("opening {proc_root}"), errno_io(e)))?;
            return Ok(ContainerFs {
                root,
                mounts: Vec::new(),
                mounted: None,
            });
        }
        let merged = rootfs::mount_rootfs(c, layers_root)?;
        let mounted = Some(c.clone());
        let root = match nix::fcntl::open(
            &merged,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) => {
                rootfs::unmount_rootfs(c);
                return Err(ContainerError::io(
                    format!("opening {}", merged.display()),
                    errno_io(e),
                ));
            }
        };
        Ok(ContainerFs {
            root,
            mounts: stopped_mounts(c),
            mounted,
        })
    }

    /// A view of a plain directory as a container root (tests, and anything else
    /// that needs in-root resolution), with `mounts` as (destination, source).
    pub fn from_dir(root: &Path, mounts: &[(&str, &Path)]) -> Result<ContainerFs> {
        let fd = nix::fcntl::open(
            root,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ContainerError::io(format!("opening {}", root.display()), errno_io(e)))?;
        Ok(ContainerFs {
            root: fd,
            mounts: mounts
                .iter()
                .map(|(d, s)| MountMap {
                    destination: components(d),
                    source: s.to_path_buf(),
                })
                .collect(),
            mounted: None,
        })
    }

    /// Resolves `path`; the last component is followed when it is a symlink only if
    /// `follow_last`. `Errno::ENOENT` when something on the way is missing.
    pub fn resolve(&self, path: &str, follow_last: bool) -> nix::Result<Resolved> {
        let (fds, names) = self.walk(components(path), follow_last, false)?;
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
            let fd = open_path(dir, part.as_str(), false)?;
            fds.push(fd);
        }
        Ok((fds, names))
    }

    /// The source of a stopped container's mount whose destination is exactly `names`.
    fn mount_source(&self, names: &[String]) -> Option<&Path> {
        self.mounts
            .iter()
            .filter(|m| m.destination == names)
            .map(|m| m.source.as_path())
            .next()
    }
}

impl Drop for ContainerFs {
    fn drop(&mut self) {
        if let Some(c) = self.mounted.take() {
            rootfs::unmount_rootfs(&c);
        }
    }
}

/// The bind and volume mounts of a stopped container (tmpfs holds nothing then).
fn stopped_mounts(c: &Container) -> Vec<MountMap> {
    let mut mounts: Vec<MountMap> = c
        .mount_points
        .iter()
        .filter(|m| m.kind != MountKind::Tmpfs && !m.source.as_os_str().is_empty())
        .map(|m| MountMap {
            destination: components(&m.destination),
            source: m.source.clone(),
        })
        .collect();
    // Shorter destinations first: the walk meets a parent mount before a nested one.
    mounts.sort_by_key(|m| m.destination.len());
    mounts
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

/// The mount of `c` that holds the container path `path` (longest destination wins).
pub fn mount_holding(c: &Container, path: &str) -> Option<MountPoint> {
    let parts = components(path);
    c.mount_points
        .iter()
        .filter(|m| {
            let dest = components(&m.destination);
            parts.len() >= dest.len() && parts[..dest.len()] == dest[..]
        })
        .max_by_key(|m| components(&m.destination).len())
        .cloned()
}

/// `/proc/self/fd/N`: a path naming exactly the object behind an `O_PATH` descriptor.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
#[path = "archive_fs_tests.rs"]
mod tests;
