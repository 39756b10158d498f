//! Container and pod stats from the cgroups (v1 and v2): CPU usage (cumulative, and a
//! rate from the previous sample), memory usage, working set (usage less inactive file
//! pages, as cAdvisor and containerd count it), RSS and page faults, and the writable
//! layer's size. A container that does not run has zero usage at the current time.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::Cri;
use crate::error::CriResult;
use crate::proto;
use crate::store::container::{Container, ContainerState};
use crate::store::now_nanos;

/// The previous CPU sample of each cgroup: (time ns, usage ns).
#[derive(Default)]
pub struct CpuSamples(Mutex<HashMap<String, (i64, u64)>>);

/// A process's cgroup folder for one v1 controller (or the v2 one).
fn cgroup_dir(pid: u32, controller: &str) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if controllers.split(',').any(|c| c == controller) {
            let mount = Path::new("/sys/fs/cgroup").join(controllers);
            let base = if mount.exists() {
                mount
            } else {
                Path::new("/sys/fs/cgroup").join(controller)
            };
            return Some(base.join(path.trim_start_matches('/')));
        }
    }
    // cgroup v2: "0::/path".
    let path = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    dir.join("cgroup.controllers").exists().then_some(dir)
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn stat_map(path: &Path) -> HashMap<String, u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// CPU usage in ns, memory numbers, read from the cgroups of `pid`.
struct Usage {
    cpu_ns: u64,
    memory: proto::MemoryUsage,
}

fn usage(pid: u32, now: i64) -> Option<Usage> {
    let u = |v: u64| Some(proto::UInt64Value { value: v });
    if let Some(cpu) = cgroup_dir(pid, "cpuacct") {
        let mem_dir = cgroup_dir(pid, "memory")?;
        let cpu_ns = read_u64(&cpu.join("cpuacct.usage")).unwrap_or(0);
        let usage = read_u64(&mem_dir.join("memory.usage_in_bytes")).unwrap_or(0);
        let stat = stat_map(&mem_dir.join("memory.stat"));
        let inactive = stat.get("total_inactive_file").copied().unwrap_or(0);
        return Some(Usage {
            cpu_ns,
            memory: proto::MemoryUsage {
                timestamp: now,
                working_set_bytes: u(usage.saturating_sub(inactive)),
                usage_bytes: u(usage),
                rss_bytes: u(stat.get("total_rss").copied().unwrap_or(0)),
                page_faults: u(stat.get("total_pgfault").copied().unwrap_or(0)),
                major_page_faults: u(stat.get("total_pgmajfault").copied().unwrap_or(0)),
                available_bytes: None,
                psi: None,
            },
        });
    }
    let dir = cgroup_dir(pid, "")?;
    let cpu = stat_map(&dir.join("cpu.stat"));
    let usage = read_u64(&dir.join("memory.current")).unwrap_or(0);
    let stat = stat_map(&dir.join("memory.stat"));
    let inactive = stat.get("inactive_file").copied().unwrap_or(0);
    Some(Usage {
        cpu_ns: cpu.get("usage_usec").copied().unwrap_or(0) * 1000,
        memory: proto::MemoryUsage {
            timestamp: now,
            working_set_bytes: u(usage.saturating_sub(inactive)),
            usage_bytes: u(usage),
            rss_bytes: u(stat.get("anon").copied().unwrap_or(0)),
            page_faults: u(stat.get("pgfault").copied().unwrap_or(0)),
            major_page_faults: u(stat.get("pgmajfault").copied().unwrap_or(0)),
            available_bytes: None,
            psi: None,
        },
    })
}

/// Bytes and inodes under `dir` (not following links, not crossing mounts).
fn disk_usage(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let Ok(root) = std::fs::symlink_metadata(dir) else {
        return (0, 0);
    };
    let dev = root.dev();
    let (mut bytes, mut inodes) = (0u64, 0u64);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.dev() != dev {
                continue;
            }
            inodes += 1;
            bytes += m.blocks() * 512;
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    (bytes, inodes)
}

impl Cri {
    fn cpu_usage(&self, key: &str, now: i64, usage_ns: u64) -> proto::CpuUsage {
        let mut samples = self.cpu_samples.0.lock().unwrap_or_else(|p| p.into_inner());
        let rate = match samples.get(key) {
            Some((t, u)) if now > *t && usage_ns >= *u => {
                Some(((usage_ns - u) as f64 / (now - t) as f64 * 1e9) as u64)
            }
            _ => None,
        };
        samples.insert(key.to_string(), (now, usage_ns));
        proto::CpuUsage {
            timestamp: now,
            usage_core_nano_seconds: Some(proto::UInt64Value { value: usage_ns }),
            usage_nano_cores: rate.map(|value| proto::UInt64Value { value }),
            psi: None,
        }
    }

    pub(crate) fn container_stats_of(&self, c: &Container) -> proto::ContainerStats {
        let now = now_nanos();
        let usage = (c.state == ContainerState::Running && c.pid > 0)
            .then(|| usage(c.pid, now))
            .flatten();
        let (cpu, memory) = match usage {
            Some(u) => (self.cpu_usage(&c.id, now, u.cpu_ns), u.memory),
            None => (
                proto::CpuUsage {
                    timestamp: now,
                    usage_core_nano_seconds: Some(proto::UInt64Value { value: 0 }),
                    usage_nano_cores: Some(proto::UInt64Value { value: 0 }),
                    psi: None,
                },
                proto::MemoryUsage {
                    timestamp: now,
                    working_set_bytes: Some(proto::UInt64Value { value: 0 }),
                    ..Default::default()
                },
            ),
        };
        let upper = self.container_dir(&c.id).join("upper");
        let (used, inodes) = disk_usage(&upper);
        proto::ContainerStats {
            attributes: Some(proto::ContainerAttributes {
                id: c.id.clone(),
                metadata: c.config.metadata.clone(),
                labels: c.config.labels.clone(),
                annotations: c.config.annotations.clone(),
            }),
            cpu: Some(cpu),
            memory: Some(memory),
            writable_layer: Some(proto::FilesystemUsage {
                timestamp: now,
                fs_id: Some(proto::FilesystemIdentifier {
                    mountpoint: self.opts.root.display().to_string(),
                }),
                used_bytes: Some(proto::UInt64Value { value: used }),
                inodes_used: Some(proto::UInt64Value { value: inodes }),
            }),
            swap: None,
            io: None,
        }
    }

    pub fn container_stats(&self, id: &str) -> CriResult<proto::ContainerStats> {
        let c = self.containers.lookup(id)?;
        Ok(self.container_stats_of(&c))
    }

    pub fn list_container_stats(
        &self,
        filter: Option<proto::ContainerStatsFilter>,
    ) -> Vec<proto::ContainerStats> {
        let f = filter.unwrap_or_default();
        self.containers
            .list()
            .into_iter()
            .filter(|c| f.id.is_empty() || c.id.starts_with(&f.id))
            .filter(|c| f.pod_sandbox_id.is_empty() || c.sandbox_id.starts_with(&f.pod_sandbox_id))
            .filter(|c| super::sandboxes::labels_match(&f.label_selector, &c.config.labels))
            .map(|c| self.container_stats_of(&c))
            .collect()
    }

    pub fn pod_sandbox_stats(&self, id: &str) -> CriResult<proto::PodSandboxStats> {
        let s = self.sandboxes.lookup(id)?;
        Ok(self.pod_stats_of(&s))
    }

    pub(crate) fn pod_stats_of(
        &self,
        s: &crate::store::sandbox::Sandbox,
    ) -> proto::PodSandboxStats {
        let now = now_nanos();
        let containers: Vec<proto::ContainerStats> = self
            .containers
            .list()
            .into_iter()
            .filter(|c| c.sandbox_id == s.id)
            .map(|c| self.container_stats_of(&c))
            .collect();
        let usage = (s.pid > 0).then(|| usage(s.pid, now)).flatten();
        let (cpu, memory) = match usage {
            Some(u) => (Some(self.cpu_usage(&s.id, now, u.cpu_ns)), Some(u.memory)),
            None => (None, None),
        };
        proto::PodSandboxStats {
            attributes: Some(proto::PodSandboxAttributes {
                id: s.id.clone(),
                metadata: s.config.metadata.clone(),
                labels: s.config.labels.clone(),
                annotations: s.config.annotations.clone(),
            }),
            linux: Some(proto::LinuxPodSandboxStats {
                cpu,
                memory,
                network: None,
                process: None,
                containers,
                io: None,
            }),
            windows: None,
        }
    }

    pub fn list_pod_sandbox_stats(
        &self,
        filter: Option<proto::PodSandboxStatsFilter>,
    ) -> Vec<proto::PodSandboxStats> {
        let f = filter.unwrap_or_default();
        self.sandboxes
            .list()
            .into_iter()
            .filter(|s| f.id.is_empty() || s.id.starts_with(&f.id))
            .filter(|s| super::sandboxes::labels_match(&f.label_selector, &s.config.labels))
            .map(|s| self.pod_stats_of(&s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_cgroup_has_usage() {
        let u = usage(std::process::id(), 1).expect("this process's cgroups");
        assert!(u.memory.usage_bytes.is_some());
    }

    #[test]
    fn disk_usage_counts_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), vec![1u8; 10000]).unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        let (bytes, inodes) = disk_usage(d.path());
        assert_eq!(inodes, 2);
        assert!(bytes >= 10000);
    }
}
