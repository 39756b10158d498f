//! Facts about the host for /info and /version: kernel, OS, CPUs, memory, cgroups.
//! Every probe degrades to an empty/false value rather than failing the request.
use std::path::Path;

/// `uname -r`.
pub fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `uname -m` (x86_64, aarch64, ...), what /info calls `Architecture`.
pub fn machine() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.machine().to_string_lossy().into_owned())
        .unwrap_or_else(|_| std::env::consts::ARCH.to_string())
}

/// The architecture in Go's naming (amd64, arm64, ...), what /version calls `Arch`.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "arm" => "arm",
        other => other,
    }
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `PRETTY_NAME` and `VERSION_ID` of /etc/os-release (or /usr/lib/os-release).
pub fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
            .unwrap_or_default()
    };
    let pretty = field("PRETTY_NAME");
    (
        if pretty.is_empty() {
            "Linux".into()
        } else {
            pretty
        },
        field("VERSION_ID"),
    )
}

/// CPUs this process may run on (Go's runtime.NumCPU).
pub fn ncpu() -> usize {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => {
            let n = (0..nix::sched::CpuSet::count())
                .filter(|&i| set.is_set(i).unwrap_or(false))
                .count();
            n.max(1)
        }
        Err(_) => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    }
}

/// Total memory in bytes (/proc/meminfo MemTotal).
pub fn mem_total() -> i64 {
    proc_field("/proc/meminfo", "MemTotal:")
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Threads of this process (what /info's `NGoroutines` becomes for a Rust daemon).
pub fn threads() -> usize {
    proc_field("/proc/self/status", "Threads:")
        .map(|n| n as usize)
        .unwrap_or(0)
}

fn proc_field(path: &str, key: &str) -> Option<i64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

pub fn ipv4_forwarding() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
        .map(|s| s.trim() == "1")
        .unwrap_or(false)
}

/// Whether the kernel supports seccomp filters.
pub fn seccomp_supported() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Seccomp:")))
        .unwrap_or(false)
}

/// "2" when /sys/fs/cgroup is a pure cgroup v2 (unified) hierarchy, else "1".
pub fn cgroup_version() -> &'static str {
    match nix::sys::statfs::statfs("/sys/fs/cgroup") {
        Ok(st) if st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => "2",
        _ => "1",
    }
}

/// Which resource limits the cgroup hierarchy supports (the /info booleans).
#[derive(Debug, Clone, Copy, Default)]
pub struct CgroupSupport {
    pub memory_limit: bool,
    pub swap_limit: bool,
    pub oom_kill_disable: bool,
    pub cpu_cfs_period: bool,
    pub cpu_cfs_quota: bool,
    pub cpu_shares: bool,
    pub cpuset: bool,
    pub pids_limit: bool,
}

pub fn cgroup_support(version: &str) -> CgroupSupport {
    let root = Path::new("/sys/fs/cgroup");
    if version == "2" {
        let controllers =
            std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
        return CgroupSupport {
            memory_limit: has("memory"),
            swap_limit: has("memory"),
            oom_kill_disable: false,
            cpu_cfs_period: has("cpu"),
            cpu_cfs_quota: has("cpu"),
            cpu_shares: has("cpu"),
            cpuset: has("cpuset"),
            pids_limit: has("pids"),
        };
    }
    let exists = |p: &str| root.join(p).exists();
    CgroupSupport {
        memory_limit: exists("memory/memory.limit_in_bytes"),
        swap_limit: exists("memory/memory.memsw.limit_in_bytes"),
        oom_kill_disable: exists("memory/memory.oom_control"),
        cpu_cfs_period: exists("cpu/cpu.cfs_period_us"),
        cpu_cfs_quota: exists("cpu/cpu.cfs_quota_us"),
        cpu_shares: exists("cpu/cpu.shares"),
        cpuset: exists("cpuset/cpuset.cpus"),
        pids_limit: exists("pids/pids.max") || exists("pids"),
    }
}

impl CgroupSupport {
    /// dockerd's warnings for missing support.
    pub fn warnings(&self, version: &str) -> Vec<String> {
        let mut w = Vec::new();
        let mut add = |ok: bool, what: &str| {
            if !ok {
                w.push(format!("WARNING: No {what} support"));
            }
        };
        add(self.memory_limit, "memory limit");
        add(self.swap_limit, "swap limit");
        if version == "1" {
            add(self.oom_kill_disable, "oom kill disable");
        }
        add(self.cpu_cfs_quota, "cpu cfs quota");
        add(self.cpu_cfs_period, "cpu cfs period");
        add(self.cpu_shares, "cpu shares");
        add(self.cpuset, "cpuset");
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_answer_on_linux() {
        assert!(!kernel_version().is_empty());
        assert!(ncpu() >= 1);
        assert!(mem_total() > 0);
        assert!(threads() >= 1);
        assert!(open_fds() >= 1);
        assert!(matches!(cgroup_version(), "1" | "2"));
        assert!(!os_release().0.is_empty());
    }

    #[test]
    fn go_arch_names() {
        if cfg!(target_arch = "x86_64") {
            assert_eq!(go_arch(), "amd64");
        }
    }
}
