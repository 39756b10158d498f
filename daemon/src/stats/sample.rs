//! One stats sample of a running container: its cgroup, its init process's network
//! namespace, and the host's counters.
use super::cgroup::CgroupPaths;
use super::host::Host;
use super::model::StatsJson;
use super::{v1, v2, StatsError};

/// Reads one sample (without `preread` / `precpu_stats`, which the sampler fills in).
/// `pid` is the container's init process, for its interfaces.
pub fn sample(cgroup: &CgroupPaths, pid: i32, host: &Host) -> Result<StatsJson, StatsError> {
    let host_memory = host.memory_total()?;
    let mut stats = StatsJson {
        read: Some(chrono::Utc::now()),
        ..Default::default()
    };
    match cgroup {
        CgroupPaths::V1(paths) => {
            stats.cpu_stats = v1::cpu(paths, host)?;
            stats.memory_stats = v1::memory(paths, host_memory)?;
            stats.pids_stats = v1::pids(paths)?;
            stats.blkio_stats = v1::blkio(paths)?;
        }
        CgroupPaths::V2(dir) => {
            stats.cpu_stats = v2::cpu(dir)?;
            stats.memory_stats = v2::memory(dir, host_memory)?;
            stats.pids_stats = v2::pids(dir)?;
            stats.blkio_stats = v2::blkio(dir)?;
        }
    }
    stats.cpu_stats.system_cpu_usage = host.system_cpu_usage()?;
    stats.cpu_stats.online_cpus = host.online_cpus;
    stats.networks = host.networks(pid)?;
    Ok(stats)
}

#[cfg(test)]
#[path = "sample_tests.rs"]
mod tests;
