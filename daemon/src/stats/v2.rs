//! cgroup v2: one directory with cpu.stat, memory.*, pids.*, io.stat, read as dockerd
//! reads them through containerd's cgroups v2 metrics. A missing file reads as zero.
use std::collections::BTreeMap;
use std::path::Path;

use super::model::{BlkioEntry, BlkioStats, CpuStats, MemoryStats, PidsStats, ThrottlingData};
use super::{flat_keyed, read_optional, read_u64, StatsError};

/// The memory.stat keys dockerd reports on cgroup v2 (missing ones as 0).
const MEMORY_KEYS: &[&str] = &[
    "anon",
    "file",
    "kernel_stack",
    "slab",
    "sock",
    "shmem",
    "file_mapped",
    "file_dirty",
    "file_writeback",
    "anon_thp",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "slab_reclaimable",
    "slab_unreclaimable",
    "pgfault",
    "pgmajfault",
    "workingset_refault",
    "workingset_activate",
    "workingset_nodereclaim",
    "pgrefill",
    "pgscan",
    "pgsteal",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pglazyfreed",
    "thp_fault_alloc",
    "thp_collapse_alloc",
];

fn keyed(dir: &Path, name: &str) -> Result<BTreeMap<String, u64>, StatsError> {
    Ok(read_optional(&dir.join(name))?
        .map(|text| {
            flat_keyed(&text)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect()
        })
        .unwrap_or_default())
}

pub fn cpu(dir: &Path) -> Result<CpuStats, StatsError> {
    let stat = keyed(dir, "cpu.stat")?;
    let micros = |key: &str| stat.get(key).copied().unwrap_or(0).saturating_mul(1000);
    let mut cpu = CpuStats::default();
    cpu.cpu_usage.total_usage = micros("usage_usec");
    cpu.cpu_usage.usage_in_usermode = micros("user_usec");
    cpu.cpu_usage.usage_in_kernelmode = micros("system_usec");
    cpu.throttling_data = ThrottlingData {
        periods: stat.get("nr_periods").copied().unwrap_or(0),
        throttled_periods: stat.get("nr_throttled").copied().unwrap_or(0),
        throttled_time: micros("throttled_usec"),
    };
    Ok(cpu)
}

/// Memory; `limit` is the host's memory when memory.max is "max" or above it, and
/// `failcnt` the OOM count of memory.events, as dockerd.
pub fn memory(dir: &Path, host_memory: u64) -> Result<MemoryStats, StatsError> {
    let raw = keyed(dir, "memory.stat")?;
    let mut mem = MemoryStats {
        usage: read_u64(&dir.join("memory.current"))?,
        limit: read_u64(&dir.join("memory.max"))?,
        failcnt: keyed(dir, "memory.events")?
            .get("oom")
            .copied()
            .unwrap_or(0),
        ..Default::default()
    };
    if mem.limit == 0 || (host_memory > 0 && mem.limit > host_memory) {
        mem.limit = host_memory;
    }
    if !raw.is_empty() {
        for key in MEMORY_KEYS {
            mem.stats
                .insert(key.to_string(), raw.get(*key).copied().unwrap_or(0));
        }
    }
    Ok(mem)
}

pub fn pids(dir: &Path) -> Result<PidsStats, StatsError> {
    Ok(PidsStats {
        current: read_u64(&dir.join("pids.current"))?,
        limit: read_u64(&dir.join("pids.max"))?,
    })
}

/// io.stat rows (`8:0 rbytes=… wbytes=… rios=… …`) as `read` / `write` byte counts;
/// the other lists do not exist on v2 and stay `null`.
pub fn blkio(dir: &Path) -> Result<BlkioStats, StatsError> {
    let path = dir.join("io.stat");
    let mut stats = BlkioStats::default();
    let Some(text) = read_optional(&path)? else {
        return Ok(stats);
    };
    let mut rows = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(device) = fields.next() else {
            continue;
        };
        let (major, minor) = device
            .split_once(':')
            .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
            .ok_or_else(|| StatsError::parse(&path, line))?;
        let counters: BTreeMap<&str, u64> = fields
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k, v.parse::<u64>().ok()?)))
            .collect();
        for (op, key) in [("read", "rbytes"), ("write", "wbytes")] {
            rows.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value: counters.get(key).copied().unwrap_or(0),
            });
        }
    }
    if !rows.is_empty() {
        stats.io_service_bytes_recursive = Some(rows);
    }
    Ok(stats)
}
