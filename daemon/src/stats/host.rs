//! What stats need from the host: its CPU time (/proc/stat), memory (/proc/meminfo),
//! online CPUs, clock ticks, and a container's interfaces (/proc/<pid>/net/dev, which
//! shows the network namespace that process is in).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::NetworkStats;
use super::{read_optional, StatsError};

/// Where /proc is, and the host's constants; `Host::real()` outside tests.
#[derive(Debug, Clone)]
pub struct Host {
    pub proc_root: PathBuf,
    /// `sysconf(_SC_CLK_TCK)`, the unit of /proc/stat and cpuacct.stat.
    pub clock_ticks: u64,
    /// `sysconf(_SC_NPROCESSORS_ONLN)`.
    pub online_cpus: u32,
}

impl Host {
    pub fn real() -> Host {
        // SAFETY: sysconf only reads configuration values.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        // SAFETY: as above.
        let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        Host {
            proc_root: PathBuf::from("/proc"),
            clock_ticks: u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100),
            online_cpus: u32::try_from(cpus).unwrap_or(0),
        }
    }

    /// The host's CPU time in nanoseconds, as dockerd: the first seven fields of the
    /// `cpu` line of /proc/stat (user … softirq), in clock ticks, converted.
    pub fn system_cpu_usage(&self) -> Result<u64, StatsError> {
        let path = self.proc_root.join("stat");
        let text = std::fs::read_to_string(&path).map_err(|e| StatsError::io(&path, e))?;
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some("cpu"))
            .ok_or_else(|| StatsError::parse(&path, "no cpu line"))?;
        let fields: Vec<&str> = line.split_whitespace().skip(1).take(7).collect();
        if fields.len() < 7 {
            return Err(StatsError::parse(&path, "invalid number of cpu fields"));
        }
        let mut ticks: u64 = 0;
        for f in fields {
            ticks += f
                .parse::<u64>()
                .map_err(|_| StatsError::parse(&path, line))?;
        }
        Ok(ticks.saturating_mul(1_000_000_000) / self.clock_ticks.max(1))
    }

    /// The host's memory in bytes (MemTotal), the limit shown for unlimited containers.
    pub fn memory_total(&self) -> Result<u64, StatsError> {
        let path = self.proc_root.join("meminfo");
        let text = std::fs::read_to_string(&path).map_err(|e| StatsError::io(&path, e))?;
        text.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| StatsError::parse(&path, "no MemTotal"))
    }

    /// Clock ticks to nanoseconds.
    pub fn ticks_to_nanos(&self, ticks: u64) -> u64 {
        ticks.saturating_mul(1_000_000_000) / self.clock_ticks.max(1)
    }

    /// The interfaces of `pid`'s network namespace but `lo`; none if it is gone.
    pub fn networks(&self, pid: i32) -> Result<BTreeMap<String, NetworkStats>, StatsError> {
        let path = self.proc_root.join(pid.to_string()).join("net").join("dev");
        match read_optional(&path)? {
            Some(text) => parse_net_dev(&path, &text),
            None => Ok(BTreeMap::new()),
        }
    }
}

/// /proc/net/dev: two header lines, then `name: rx_bytes rx_packets rx_errs rx_drop fifo
/// frame compressed multicast tx_bytes tx_packets tx_errs tx_drop …`.
pub fn parse_net_dev(
    path: &Path,
    text: &str,
) -> Result<BTreeMap<String, NetworkStats>, StatsError> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" || name.is_empty() {
            continue;
        }
        let v: Vec<u64> = rest
            .split_whitespace()
            .map(|f| f.parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| StatsError::parse(path, line))?;
        if v.len() < 12 {
            return Err(StatsError::parse(path, line));
        }
        out.insert(
            name.to_string(),
            NetworkStats {
                rx_bytes: v[0],
                rx_packets: v[1],
                rx_errors: v[2],
                rx_dropped: v[3],
                tx_bytes: v[8],
                tx_packets: v[9],
                tx_errors: v[10],
                tx_dropped: v[11],
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn fake_proc(dir: &Path) -> Host {
        std::fs::write(
            dir.join("stat"),
            "cpu  1003653 0 213442 946651 8899 0 1940 594 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n",
        )
        .expect("stat");
        std::fs::write(
            dir.join("meminfo"),
            "MemTotal:       24684084 kB\nMemFree:  1 kB\n",
        )
        .expect("meminfo");
        Host {
            proc_root: dir.to_path_buf(),
            clock_ticks: 100,
            online_cpus: 2,
        }
    }

    #[test]
    fn system_usage_and_memory_as_dockerd() {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = fake_proc(dir.path());
        // (1003653+0+213442+946651+8899+0+1940) ticks of 10ms.
        assert_eq!(host.system_cpu_usage().expect("cpu"), 21_745_850_000_000);
        assert_eq!(host.memory_total().expect("mem"), 25_276_502_016);
        assert_eq!(host.ticks_to_nanos(172), 1_720_000_000);
    }

    #[test]
    fn net_dev_without_lo() {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = fake_proc(dir.path());
        let net = dir.path().join("42").join("net");
        std::fs::create_dir_all(&net).expect("mkdir");
        std::fs::write(
            net.join("dev"),
            "Inter-|   Receive                                                |  Transmit\n \
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
             lo: 6220 29 0 0 0 0 0 0 6220 29 0 0 0 0 0 0\n  \
             eth0: 1877 73 1 2 0 0 0 0 455 42 3 4 0 0 0 0\n",
        )
        .expect("dev");
        let nets = host.networks(42).expect("networks");
        assert_eq!(nets.len(), 1);
        assert_eq!(
            nets["eth0"],
            NetworkStats {
                rx_bytes: 1877,
                rx_packets: 73,
                rx_errors: 1,
                rx_dropped: 2,
                tx_bytes: 455,
                tx_packets: 42,
                tx_errors: 3,
                tx_dropped: 4,
            }
        );
        assert!(host.networks(43).expect("gone").is_empty());
    }
}
