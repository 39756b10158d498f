//! Where a container's cgroup is: given by its creator, or found from a process's
//! /proc/<pid>/cgroup and the cgroup mounts of /proc/self/mountinfo.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::v1::V1Paths;
use super::StatsError;

/// The controllers stats read on cgroup v1.
const V1_CONTROLLERS: &[&str] = &["memory", "cpu", "cpuacct", "pids", "blkio"];

/// A container's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupPaths {
    /// v1: controller ("memory", "cpu", "cpuacct", "pids", "blkio") → its directory,
    /// e.g. "memory" → /sys/fs/cgroup/memory/berth/<id>.
    V1(V1Paths),
    /// v2 (unified): the one directory, e.g. /sys/fs/cgroup/berth/<id>.
    V2(PathBuf),
}

impl CgroupPaths {
    /// v1 from controller → directory pairs.
    pub fn v1<I, K, P>(dirs: I) -> CgroupPaths
    where
        I: IntoIterator<Item = (K, P)>,
        K: Into<String>,
        P: Into<PathBuf>,
    {
        CgroupPaths::V1(V1Paths(
            dirs.into_iter()
                .map(|(k, p)| (k.into(), p.into()))
                .collect(),
        ))
    }

    /// The cgroup process `pid` is in, from `<proc_root>/<pid>/cgroup` and
    /// `<proc_root>/self/mountinfo`.
    pub fn of_pid(proc_root: &Path, pid: i32) -> Result<CgroupPaths, StatsError> {
        let cgroup_file = proc_root.join(pid.to_string()).join("cgroup");
        let membership =
            std::fs::read_to_string(&cgroup_file).map_err(|e| StatsError::io(&cgroup_file, e))?;
        let mountinfo_file = proc_root.join("self").join("mountinfo");
        let mountinfo = std::fs::read_to_string(&mountinfo_file)
            .map_err(|e| StatsError::io(&mountinfo_file, e))?;
        resolve(&membership, &mountinfo).ok_or(StatsError::NoCgroup(pid))
    }
}

impl CgroupPaths {
    /// The processes in the cgroup (`cgroup.procs`), what `top` needs; empty when the
    /// cgroup is gone. On v1 the pids controller's list, else memory's, else any.
    pub fn pids(&self) -> Result<Vec<i32>, StatsError> {
        let file = match self {
            CgroupPaths::V2(dir) => Some(dir.join("cgroup.procs")),
            CgroupPaths::V1(paths) => ["pids", "memory", "cpu", "cpuacct", "blkio"]
                .iter()
                .find_map(|c| paths.0.get(*c))
                .or_else(|| paths.0.values().next())
                .map(|dir| dir.join("cgroup.procs")),
        };
        let Some(file) = file else {
            return Ok(Vec::new());
        };
        let Some(text) = super::read_optional(&file)? else {
            return Ok(Vec::new());
        };
        text.split_whitespace()
            .map(|p| p.parse::<i32>().map_err(|_| StatsError::parse(&file, p)))
            .collect()
    }
}

/// One cgroup mount: where, what part of the hierarchy it shows, which controllers.
struct Mount {
    root: String,
    point: PathBuf,
    v2: bool,
    controllers: Vec<String>,
}

fn mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split_whitespace().collect();
            let right: Vec<&str> = right.split_whitespace().collect();
            let fstype = *right.first()?;
            if fstype != "cgroup" && fstype != "cgroup2" {
                return None;
            }
            let controllers = right
                .get(2)
                .map(|opts| opts.split(',').map(str::to_string).collect())
                .unwrap_or_default();
            Some(Mount {
                root: unescape(left.get(3)?),
                point: PathBuf::from(unescape(left.get(4)?)),
                v2: fstype == "cgroup2",
                controllers,
            })
        })
        .collect()
}

/// mountinfo escapes spaces and the like as `\040`.
fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// `path` inside the hierarchy, seen through a mount of `root` at `point`.
fn under(mount: &Mount, path: &str) -> Option<PathBuf> {
    let rel = if mount.root == "/" {
        path
    } else {
        path.strip_prefix(mount.root.as_str())?
    };
    Some(mount.point.join(rel.trim_start_matches('/')))
}

/// Resolves /proc/<pid>/cgroup lines (`N:controllers:/path`) against the mounts: v1 when
/// any of the stats controllers is mounted as v1, else the unified hierarchy.
fn resolve(membership: &str, mountinfo: &str) -> Option<CgroupPaths> {
    let mounts = mounts(mountinfo);
    let mut v1 = BTreeMap::new();
    let mut unified = None;
    for line in membership.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if controllers.is_empty() {
            unified = mounts.iter().find(|m| m.v2).and_then(|m| under(m, path));
            continue;
        }
        for controller in controllers.split(',') {
            if !V1_CONTROLLERS.contains(&controller) {
                continue;
            }
            let dir = mounts
                .iter()
                .filter(|m| !m.v2 && m.controllers.iter().any(|c| c == controller))
                .find_map(|m| under(m, path));
            if let Some(dir) = dir {
                v1.insert(controller.to_string(), dir);
            }
        }
    }
    if !v1.is_empty() {
        return Some(CgroupPaths::V1(V1Paths(v1)));
    }
    unified.map(CgroupPaths::V2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS_V1: &str = "\
30 25 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
31 25 0:28 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
32 25 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 25 0:30 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
34 25 0:31 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
35 25 0:32 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
";

    #[test]
    fn finds_v1_directories() {
        let membership = "9:name=systemd:/\n8:pids:/berth/abc\n7:blkio:/berth/abc\n\
                          4:memory:/berth/abc\n2:cpuacct:/berth/abc\n1:cpu:/berth/abc\n0::/\n";
        let Some(CgroupPaths::V1(paths)) = resolve(membership, MOUNTS_V1) else {
            panic!("v1 expected");
        };
        assert_eq!(paths.0.len(), 5);
        assert_eq!(
            paths.0["memory"],
            PathBuf::from("/sys/fs/cgroup/memory/berth/abc")
        );
        assert_eq!(
            paths.0["cpuacct"],
            PathBuf::from("/sys/fs/cgroup/cpuacct/berth/abc")
        );
    }

    #[test]
    fn finds_combined_v1_controllers_and_mount_roots() {
        let mounts =
            "30 25 0:27 /outer /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let membership = "2:cpu,cpuacct:/outer/berth/abc\n";
        let Some(CgroupPaths::V1(paths)) = resolve(membership, mounts) else {
            panic!("v1 expected");
        };
        assert_eq!(
            paths.0["cpu"],
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/berth/abc")
        );
        assert_eq!(paths.0["cpu"], paths.0["cpuacct"]);
    }

    #[test]
    fn lists_the_processes() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("cgroup.procs"), "12\n34\n").expect("write");
        let v2 = CgroupPaths::V2(dir.path().to_path_buf());
        assert_eq!(v2.pids().expect("pids"), vec![12, 34]);
        let v1 = CgroupPaths::v1([("memory", dir.path()), ("pids", Path::new("/nonexistent"))]);
        assert_eq!(
            v1.pids().expect("pids"),
            Vec::<i32>::new(),
            "pids first, gone"
        );
        let v1 = CgroupPaths::v1([("memory", dir.path())]);
        assert_eq!(v1.pids().expect("pids"), vec![12, 34]);
    }

    #[test]
    fn finds_the_unified_directory() {
        let mounts = "25 20 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            resolve("0::/berth/abc\n", mounts),
            Some(CgroupPaths::V2(PathBuf::from("/sys/fs/cgroup/berth/abc")))
        );
        assert_eq!(resolve("0::/x\n", MOUNTS_V1), None);
    }
}
