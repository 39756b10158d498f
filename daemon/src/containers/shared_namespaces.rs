//! The PID and IPC namespaces a run shares, and its /dev/shm, as dockerd's `withPID`,
//! `withIPC` and `setupIPCDirs`:
//! - `--pid host` (no namespace of its own), `--pid container:X` (X's, by its init's
//!   `/proc/PID/ns/pid`);
//! - `--ipc private` (the default: its own namespace and a /dev/shm tmpfs made by the
//!   runtime), `shareable` (its own namespace and a /dev/shm tmpfs mounted on the host, in
//!   the container's folder, that others can join), `container:X` (X's namespace and
//!   /dev/shm; X must be shareable), `host` (the host's namespace and /dev/shm), `none`
//!   (its own namespace, no /dev/shm).
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::record::Container;
use super::{ContainerError, Result};
use crate::state::Daemon;

/// Where a run's /dev/shm comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Shm {
    /// A tmpfs of its own, made by the runtime in the container's mount namespace.
    #[default]
    Private,
    /// No /dev/shm (`--ipc none`).
    None,
    /// A host folder bound in: the host's /dev/shm, or a shareable container's tmpfs.
    Bind(PathBuf),
}

/// What a run joins instead of making its own.
#[derive(Debug, Clone, Default)]
pub struct Joined {
    /// Another container's PID namespace.
    pub pid: Option<PathBuf>,
    /// Another container's IPC namespace.
    pub ipc: Option<PathBuf>,
    pub shm: Shm,
}

/// The container of a `container:X` mode.
fn donor(mode: &str) -> Option<&str> {
    mode.strip_prefix("container:")
}

/// dockerd's create-time checks: the modes are ones it knows, and the containers they
/// name exist (a 400, not a 404, which would make the CLI pull the image).
pub fn check_at_create(daemon: &Daemon, ipc: Option<&str>, pid: Option<&str>) -> Result<()> {
    let ipc = ipc.unwrap_or("");
    if !matches!(ipc, "" | "none" | "private" | "shareable" | "host")
        && donor(ipc).is_none_or(str::is_empty)
    {
        return Err(ContainerError::Invalid(format!("invalid IPC mode: {ipc}")));
    }
    let pid = pid.unwrap_or("");
    if !matches!(pid, "" | "host") && donor(pid).is_none_or(str::is_empty) {
        return Err(ContainerError::Invalid(format!("invalid PID mode: {pid}")));
    }
    for id in [donor(ipc), donor(pid)].into_iter().flatten() {
        daemon
            .containers
            .lookup(id)
            .map_err(ContainerError::not_found_as_invalid)?;
    }
    Ok(())
}

/// The running container a run joins, as dockerd's `getPIDContainer`/`getIPCContainer`.
fn running_donor(daemon: &Daemon, id: &str) -> Result<Container> {
    let other = daemon
        .containers
        .lookup(id)
        .map_err(ContainerError::not_found_as_invalid)?;
    if other.state.status == super::record::Status::Restarting {
        return Err(ContainerError::Conflict(format!(
            "Container {id} is restarting, wait until the container is running"
        )));
    }
    if !other.state.status.is_running() || other.state.pid == 0 {
        return Err(ContainerError::Conflict(format!(
            "container {id} is not running"
        )));
    }
    Ok(other)
}

/// Where a shareable container's /dev/shm is mounted on the host.
pub fn shm_dir(c: &Container) -> PathBuf {
    c.dir.join("shm")
}

/// What the run of `c` joins; mounts its shareable /dev/shm (released by
/// [`release`]). Blocking (a mount).
pub fn prepare(daemon: &Daemon, c: &Container) -> Result<Joined> {
    let hc = &c.host_config;
    let mut joined = Joined::default();
    if let Some(id) = hc.pid_mode.as_deref().and_then(donor) {
        let other = running_donor(daemon, id)?;
        joined.pid = Some(ns_path(other.state.pid, "pid"));
    }
    match hc.ipc_mode.as_deref().unwrap_or("") {
        "none" => joined.shm = Shm::None,
        "host" => joined.shm = Shm::Bind(PathBuf::from("/dev/shm")),
        "shareable" => {
            mount_shm(&shm_dir(c), shm_size(c))?;
            joined.shm = Shm::Bind(shm_dir(c));
        }
        mode => {
            if let Some(id) = donor(mode) {
                let other = running_donor(daemon, id)?;
                let theirs = shm_dir(&other);
                if other.host_config.ipc_mode.as_deref() != Some("shareable")
                    || !super::rootfs::is_mounted(&theirs)
                {
                    return Err(ContainerError::Invalid(format!(
                        "container {id}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
                    )));
                }
                joined.ipc = Some(ns_path(other.state.pid, "ipc"));
                joined.shm = Shm::Bind(theirs);
            }
        }
    }
    Ok(joined)
}

/// Unmounts a shareable container's /dev/shm, if mounted. Safe to call again.
pub fn release(c: &Container) {
    if c.host_config.ipc_mode.as_deref() != Some("shareable") {
        return;
    }
    let dir = shm_dir(c);
    match umount2(&dir, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => tracing::warn!(id = %c.id, error = %e, "unmounting /dev/shm"),
    }
}

/// /dev/shm's size: HostConfig.ShmSize, else 64 MiB.
pub fn shm_size(c: &Container) -> i64 {
    c.host_config
        .shm_size
        .filter(|s| *s > 0)
        .unwrap_or(super::spec::DEFAULT_SHM_SIZE)
}

fn ns_path(pid: u32, kind: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/{kind}"))
}

fn mount_shm(dir: &Path, size: i64) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| ContainerError::io(format!("creating {}", dir.display()), e))?;
    if super::rootfs::is_mounted(dir) {
        return Ok(());
    }
    let data = format!("mode=1777,size={size}");
    mount(
        Some("shm"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(data.as_str()),
    )
    .map_err(|e| ContainerError::io(format!("mounting /dev/shm at {}", dir.display()), e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_container_mode_names_a_donor() {
        assert_eq!(donor("container:abc"), Some("abc"));
        assert_eq!(donor("container:"), Some(""));
        assert_eq!(donor("host"), None);
    }
}
