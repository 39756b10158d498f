//! Processes a container left behind when nobody reaped it: its shim died, so its init
//! and children were reparented to the host's init, out of reach of berth-containerd and
//! the runtime's state. They are found by the container's cgroup (`/berth/<id>`, see
//! `spec::cgroups_path`), thawed if frozen, killed, and the empty cgroups removed, as
//! runc's `delete --force` does. Only the cgroups of this daemon's own containers are
//! ever looked at (other engines on the host use the same `/berth` parent).
use std::path::{Path, PathBuf};

use super::record::Container;

const ROOT: &str = "/sys/fs/cgroup";

/// The container's cgroup folders: one per v1 controller, or the v2 one.
fn folders(cgroup_root: &Path, cgroups_path: &str) -> Vec<PathBuf> {
    let rel = cgroups_path.trim_start_matches('/');
    if rel.is_empty() || rel.split('/').any(|p| p == "..") {
        return Vec::new();
    }
    let unified = cgroup_root.join(rel);
    if cgroup_root.join("cgroup.controllers").exists() {
        return vec![unified];
    }
    let Ok(entries) = std::fs::read_dir(cgroup_root) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path().join(rel))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

fn pids_in(folder: &Path) -> Vec<i32> {
    std::fs::read_to_string(folder.join("cgroup.procs"))
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Kills whatever still runs in `c`'s cgroup and removes the cgroup's folders that are
/// empty; the number of processes killed. Cheap when there is nothing (the runtime
/// removed the cgroup at its delete).
pub fn kill(c: &Container) -> usize {
    kill_in(Path::new(ROOT), &super::spec::cgroups_path(c))
}

fn kill_in(cgroup_root: &Path, cgroups_path: &str) -> usize {
    let folders = folders(cgroup_root, cgroups_path);
    let mut pids: Vec<i32> = folders.iter().flat_map(|f| pids_in(f)).collect();
    pids.sort_unstable();
    pids.dedup();
    if !pids.is_empty() {
        // A frozen process takes its SIGKILL only once thawed.
        for f in &folders {
            let _ = std::fs::write(f.join("freezer.state"), "THAWED");
            let _ = std::fs::write(f.join("cgroup.freeze"), "0");
        }
        for pid in &pids {
            if *pid > 1 {
                tracing::warn!(
                    pid,
                    cgroup = cgroups_path,
                    "killing a process a container left behind"
                );
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
    // Empty now, or once the killed processes are gone (the next clean-up then).
    for f in &folders {
        let _ = std::fs::remove_dir(f);
    }
    pids.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_folders_of_v1_and_v2_and_nothing_outside() {
        let v1 = tempfile::tempdir().unwrap();
        for ctl in ["memory", "pids", "cpu"] {
            std::fs::create_dir_all(v1.path().join(ctl).join("berth/abc")).unwrap();
        }
        std::fs::create_dir_all(v1.path().join("freezer")).unwrap();
        let f = folders(v1.path(), "/berth/abc");
        assert_eq!(f.len(), 3);
        assert!(folders(v1.path(), "/berth/../etc").is_empty());
        assert!(folders(v1.path(), "/").is_empty());
        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("cgroup.controllers"), "memory pids").unwrap();
        assert_eq!(
            folders(v2.path(), "/berth/abc"),
            vec![v2.path().join("berth/abc")]
        );
    }

    #[test]
    fn nothing_to_kill_in_an_empty_cgroup() {
        let v1 = tempfile::tempdir().unwrap();
        let dir = v1.path().join("pids/berth/abc");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cgroup.procs"), "").unwrap();
        assert_eq!(kill_in(v1.path(), "/berth/abc"), 0);
    }
}
