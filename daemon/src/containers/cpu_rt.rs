//! Real-time CPU time for containers (`--cpu-rt-runtime`, `--cpu-rt-period`), as dockerd.
//!
//! The kernel's RT group scheduling shows as `cpu.rt_runtime_us` in the cgroup v1 `cpu`
//! controller; cgroup v2 has no such thing. Where it is missing, a container asking for
//! real-time time is refused at create (and update) with dockerd's 400 "Your kernel does
//! not support CPU real-time scheduler" (runconfig's `validateResources`), never accepted
//! and ignored; a runtime above the period is refused as well. Where it is there, the values
//! go into the OCI spec and the runtime writes them into the container's cgroup.
//!
//! A cgroup gets no more real-time time than its parent, and a new cgroup has none. So, as
//! dockerd's `initCPURtController`, when the daemon has `--cpu-rt-period` /
//! `--cpu-rt-runtime` (daemon.json `cpu-rt-period`, `cpu-rt-runtime`), every ancestor of a
//! container's cgroup is given them before the container starts. Without them (the
//! default) a container that asks for real-time time fails to start with the kernel's
//! "invalid argument", as under dockerd.
use std::path::{Path, PathBuf};

use bollard_stubs::models::HostConfig;

use super::{ContainerError, Result};
use crate::config::Config;

/// The mount point of the cgroup v1 hierarchy that has the `cpu` controller.
fn cpu_hierarchy() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    cpu_mount_in(&mountinfo)
}

fn cpu_mount_in(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut right = right.split(' ');
        let (fstype, _source, options) = (right.next()?, right.next()?, right.next()?);
        let cpu = fstype == "cgroup" && options.split(',').any(|o| o == "cpu");
        cpu.then(|| left.split(' ').nth(4).map(PathBuf::from))
            .flatten()
    })
}

/// Whether the kernel has RT group scheduling (dockerd's `sysinfo.CPURealtime`).
pub fn kernel_supports() -> bool {
    cpu_hierarchy().is_some_and(|m| m.join("cpu.rt_runtime_us").exists())
}

/// dockerd's checks of `CpuRealtimePeriod` and `CpuRealtimeRuntime`. `supported` (a
/// read of the mount table) is asked only when a real-time setting is given.
pub fn validate(hc: &HostConfig, supported: impl FnOnce() -> bool) -> Result<()> {
    let period = hc.cpu_realtime_period.unwrap_or(0);
    let runtime = hc.cpu_realtime_runtime.unwrap_or(0);
    if (period != 0 || runtime != 0) && !supported() {
        return Err(ContainerError::Invalid(
            "Your kernel does not support CPU real-time scheduler".into(),
        ));
    }
    if period != 0 && runtime != 0 && runtime > period {
        return Err(ContainerError::Invalid(
            "cpu real-time runtime cannot be higher than cpu real-time period".into(),
        ));
    }
    Ok(())
}

/// Gives every ancestor of `cgroups_path` (the container's `linux.cgroupsPath`) the
/// daemon's real-time period and runtime, from the top down.
pub fn prepare_parents(config: &Config, cgroups_path: &str) -> Result<()> {
    if config.cpu_rt_period == 0 && config.cpu_rt_runtime == 0 {
        return Ok(());
    }
    let hierarchy = cpu_hierarchy()
        .filter(|m| m.join("cpu.rt_runtime_us").exists())
        .ok_or_else(|| {
            ContainerError::Internal(
                "daemon-scoped cpu-rt-period and cpu-rt-runtime are not supported by the kernel"
                    .into(),
            )
        })?;
    for dir in ancestors(&hierarchy, cgroups_path) {
        std::fs::create_dir_all(&dir)
            .map_err(|e| ContainerError::io(format!("creating {}", dir.display()), e))?;
        for (file, value) in [
            ("cpu.rt_period_us", config.cpu_rt_period),
            ("cpu.rt_runtime_us", config.cpu_rt_runtime),
        ] {
            if value != 0 {
                let path = dir.join(file);
                std::fs::write(&path, value.to_string()).map_err(|e| {
                    ContainerError::io(
                        format!("unable to init CPU RT controller: {}", path.display()),
                        e,
                    )
                })?;
            }
        }
    }
    Ok(())
}

/// The folders of the ancestors of `cgroups_path` in `hierarchy`, outermost first (the
/// hierarchy's root and the container's own cgroup excluded).
fn ancestors(hierarchy: &Path, cgroups_path: &str) -> Vec<PathBuf> {
    let parent = Path::new(cgroups_path.trim_start_matches('/'))
        .parent()
        .unwrap_or(Path::new(""));
    let mut dir = hierarchy.to_path_buf();
    parent
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(name) => {
                dir.push(name);
                Some(dir.clone())
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_time_values_are_checked_as_dockerd() {
        let hc = |period, runtime| HostConfig {
            cpu_realtime_period: Some(period),
            cpu_realtime_runtime: Some(runtime),
            ..Default::default()
        };
        assert!(validate(&hc(0, 0), || false).is_ok());
        assert_eq!(
            validate(&hc(0, 1000), || false).unwrap_err().to_string(),
            "Your kernel does not support CPU real-time scheduler"
        );
        assert!(validate(&hc(1_000_000, 95_000), || true).is_ok());
        assert_eq!(
            validate(&hc(1000, 2000), || true).unwrap_err().to_string(),
            "cpu real-time runtime cannot be higher than cpu real-time period"
        );
    }

    #[test]
    fn the_cpu_hierarchy_is_found_in_mountinfo() {
        let mountinfo = "\
30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
32 25 0:28 / /sys/fs/cgroup/cpuset rw,relatime shared:11 - cgroup cgroup rw,cpuset";
        assert_eq!(
            cpu_mount_in(mountinfo),
            Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"))
        );
        assert_eq!(
            cpu_mount_in("40 25 0:29 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw"),
            None
        );
    }

    #[test]
    fn ancestors_run_from_the_top_down() {
        let root = Path::new("/sys/fs/cgroup/cpu");
        assert_eq!(
            ancestors(root, "/berth/abc"),
            vec![PathBuf::from("/sys/fs/cgroup/cpu/berth")]
        );
        assert_eq!(
            ancestors(root, "/a/b/abc"),
            vec![
                PathBuf::from("/sys/fs/cgroup/cpu/a"),
                PathBuf::from("/sys/fs/cgroup/cpu/a/b")
            ]
        );
        assert!(ancestors(root, "/abc").is_empty());
    }
}
