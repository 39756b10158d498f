//! Network namespaces kept alive as files: an empty file with the namespace's
//! `/proc/thread-self/ns/net` bind-mounted on it, as `ip netns add` and dockerd
//! do. The runtime joins one by path (`linux.namespaces[{type: network, path}]`).
//!
//! Work inside a namespace happens on one of the threads of `netns_workers`,
//! which `setns()`-es into it and back out afterwards (no thread is started per
//! job, and none is left in the wrong namespace).

use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::error::{Error, Result};

/// A network namespace file under a directory of the caller's (berthd's exec root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetnsPath(PathBuf);

impl NetnsPath {
    /// Names an existing namespace file (for example one created before a restart).
    pub fn existing(path: impl Into<PathBuf>) -> Self {
        NetnsPath(path.into())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Opens the namespace file (the fd given to netlink as IFLA_NET_NS_FD).
    pub fn open(&self) -> Result<File> {
        File::open(&self.0).map_err(|e| Error::io(format!("open {}", self.0.display()), e))
    }
}

/// Creates a new, empty network namespace kept alive at `dir/name`.
pub fn create(dir: &Path, name: &str) -> Result<NetnsPath> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let path = dir.join(name);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::io(format!("create {}", path.display()), e))?;
    let target = path.clone();
    let made = crate::netns_workers::run(move || -> Result<()> {
        let fail = |source| Error::Netns {
            path: target.clone(),
            source,
        };
        unshare(CloneFlags::CLONE_NEWNET).map_err(fail)?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(fail)
    });
    if let Err(e) = made {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    tracing::debug!(path = %path.display(), "created network namespace");
    Ok(NetnsPath(path))
}

/// Unmounts and removes a namespace file. The namespace itself (and any veth
/// end inside it) goes when its last user (the container) goes; the kernel
/// frees the pair asynchronously. A missing file is not an error.
pub fn remove(ns: &NetnsPath) -> Result<()> {
    match umount2(ns.path(), MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(source) => {
            return Err(Error::Netns {
                path: ns.0.clone(),
                source,
            })
        }
    }
    match std::fs::remove_file(ns.path()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("remove {}", ns.0.display()), e)),
    }
}

/// The namespace files under `dir` (berthd removes those of containers that
/// are gone when it starts). A missing directory has none.
pub fn list(dir: &Path) -> Result<Vec<NetnsPath>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("read {}", dir.display()), e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("read {}", dir.display()), e))?;
        out.push(NetnsPath(entry.path()));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Runs `work` on a thread that has entered the namespace, and returns its result.
pub fn run_in<T, F>(ns: &NetnsPath, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let file = ns.open()?;
    let path = ns.0.clone();
    crate::netns_workers::run(move || -> Result<T> {
        setns(file.as_fd(), CloneFlags::CLONE_NEWNET)
            .map_err(|source| Error::Netns { path, source })?;
        work()
    })
}

/// A netlink handle whose socket lives in the namespace `ns`, served on `rt`.
pub fn netlink_in(ns: &NetnsPath, rt: &tokio::runtime::Handle) -> Result<rtnetlink::Handle> {
    let rt = rt.clone();
    run_in(ns, move || {
        let _guard = rt.enter();
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| Error::io("netlink socket", e))?;
        rt.spawn(conn);
        Ok(handle)
    })
}

/// A netlink handle in the caller's (the host's) namespace.
pub fn netlink_here() -> Result<rtnetlink::Handle> {
    let (conn, handle, _) =
        rtnetlink::new_connection().map_err(|e| Error::io("netlink socket", e))?;
    tokio::spawn(conn);
    Ok(handle)
}
