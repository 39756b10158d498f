//! cgroup v1: one directory per controller (memory, cpu, cpuacct, pids, blkio), read as
//! runc's libcontainer and dockerd 20.10 read them. A missing controller or file reads
//! as zero.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::host::Host;
use super::model::{BlkioEntry, BlkioStats, CpuStats, MemoryStats, PidsStats, ThrottlingData};
use super::{flat_keyed, read_optional, read_u64, StatsError};

/// The memory.stat keys dockerd reports on cgroup v1 (missing ones as 0).
const MEMORY_KEYS: &[&str] = &[
    "cache",
    "rss",
    "rss_huge",
    "mapped_file",
    "dirty",
    "writeback",
    "pgpgin",
    "pgpgout",
    "pgfault",
    "pgmajfault",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "hierarchical_memory_limit",
    "hierarchical_memsw_limit",
];

/// A container's v1 cgroup: controller name → directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct V1Paths(pub BTreeMap<String, PathBuf>);

impl V1Paths {
    fn file(&self, controller: &str, name: &str) -> Option<PathBuf> {
        self.0.get(controller).map(|dir| dir.join(name))
    }

    fn read(&self, controller: &str, name: &str) -> Result<Option<String>, StatsError> {
        match self.file(controller, name) {
            Some(path) => read_optional(&path),
            None => Ok(None),
        }
    }

    fn number(&self, controller: &str, name: &str) -> Result<u64, StatsError> {
        match self.file(controller, name) {
            Some(path) => read_u64(&path),
            None => Ok(0),
        }
    }
}

pub fn cpu(paths: &V1Paths, host: &Host) -> Result<CpuStats, StatsError> {
    let mut cpu = CpuStats::default();
    cpu.cpu_usage.total_usage = paths.number("cpuacct", "cpuacct.usage")?;
    if let Some(text) = paths.read("cpuacct", "cpuacct.usage_percpu")? {
        cpu.cpu_usage.percpu_usage = text
            .split_whitespace()
            .map(|v| v.parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| StatsError::parse(Path::new("cpuacct.usage_percpu"), &text))?;
    }
    if let Some(text) = paths.read("cpuacct", "cpuacct.stat")? {
        let stat = flat_keyed(&text);
        cpu.cpu_usage.usage_in_usermode =
            host.ticks_to_nanos(stat.get("user").copied().unwrap_or(0));
        cpu.cpu_usage.usage_in_kernelmode =
            host.ticks_to_nanos(stat.get("system").copied().unwrap_or(0));
    }
    if let Some(text) = paths.read("cpu", "cpu.stat")? {
        let stat = flat_keyed(&text);
        cpu.throttling_data = ThrottlingData {
            periods: stat.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: stat.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: stat.get("throttled_time").copied().unwrap_or(0),
        };
    }
    Ok(cpu)
}

/// Memory; `limit` is capped at the host's memory, as dockerd shows unlimited containers.
pub fn memory(paths: &V1Paths, host_memory: u64) -> Result<MemoryStats, StatsError> {
    let mut mem = MemoryStats {
        usage: paths.number("memory", "memory.usage_in_bytes")?,
        max_usage: paths.number("memory", "memory.max_usage_in_bytes")?,
        failcnt: paths.number("memory", "memory.failcnt")?,
        limit: paths.number("memory", "memory.limit_in_bytes")?,
        stats: BTreeMap::new(),
    };
    if host_memory > 0 && mem.limit > host_memory {
        mem.limit = host_memory;
    }
    if let Some(text) = paths.read("memory", "memory.stat")? {
        let raw = flat_keyed(&text);
        for key in MEMORY_KEYS {
            mem.stats
                .insert(key.to_string(), raw.get(*key).copied().unwrap_or(0));
            if !key.starts_with("hierarchical_") {
                let total = format!("total_{key}");
                let value = raw.get(total.as_str()).copied().unwrap_or(0);
                mem.stats.insert(total, value);
            }
        }
    }
    Ok(mem)
}

pub fn pids(paths: &V1Paths) -> Result<PidsStats, StatsError> {
    Ok(PidsStats {
        current: paths.number("pids", "pids.current")?,
        limit: paths.number("pids", "pids.max")?,
    })
}

/// Which block I/O files to read, as runc: the first group whose first file has rows
/// (BFQ with debug counters, BFQ, CFQ, throttling recursive, throttling) fills the lists.
const BLKIO_GROUPS: &[&[(&str, BlkioField)]] = &[
    &[
        ("blkio.bfq.sectors_recursive", BlkioField::Sectors),
        (
            "blkio.bfq.io_service_time_recursive",
            BlkioField::ServiceTime,
        ),
        ("blkio.bfq.io_wait_time_recursive", BlkioField::WaitTime),
        ("blkio.bfq.io_merged_recursive", BlkioField::Merged),
        ("blkio.bfq.io_queued_recursive", BlkioField::Queued),
        ("blkio.bfq.time_recursive", BlkioField::Time),
        ("blkio.bfq.io_serviced_recursive", BlkioField::Serviced),
        (
            "blkio.bfq.io_service_bytes_recursive",
            BlkioField::ServiceBytes,
        ),
    ],
    &[
        ("blkio.bfq.io_serviced_recursive", BlkioField::Serviced),
        (
            "blkio.bfq.io_service_bytes_recursive",
            BlkioField::ServiceBytes,
        ),
    ],
    &[
        ("blkio.sectors_recursive", BlkioField::Sectors),
        ("blkio.io_service_time_recursive", BlkioField::ServiceTime),
        ("blkio.io_wait_time_recursive", BlkioField::WaitTime),
        ("blkio.io_merged_recursive", BlkioField::Merged),
        ("blkio.io_queued_recursive", BlkioField::Queued),
        ("blkio.time_recursive", BlkioField::Time),
        ("blkio.io_serviced_recursive", BlkioField::Serviced),
        ("blkio.io_service_bytes_recursive", BlkioField::ServiceBytes),
    ],
    &[
        ("blkio.throttle.io_serviced_recursive", BlkioField::Serviced),
        (
            "blkio.throttle.io_service_bytes_recursive",
            BlkioField::ServiceBytes,
        ),
    ],
    &[
        ("blkio.throttle.io_serviced", BlkioField::Serviced),
        ("blkio.throttle.io_service_bytes", BlkioField::ServiceBytes),
    ],
];

#[derive(Debug, Clone, Copy)]
enum BlkioField {
    ServiceBytes,
    Serviced,
    Queued,
    ServiceTime,
    WaitTime,
    Merged,
    Time,
    Sectors,
}

/// Block I/O; every list is `[]` (never `null`) on v1, as dockerd 20.10 shows it.
pub fn blkio(paths: &V1Paths) -> Result<BlkioStats, StatsError> {
    let empty = Some(Vec::new());
    let mut stats = BlkioStats {
        io_service_bytes_recursive: empty.clone(),
        io_serviced_recursive: empty.clone(),
        io_queue_recursive: empty.clone(),
        io_service_time_recursive: empty.clone(),
        io_wait_time_recursive: empty.clone(),
        io_merged_recursive: empty.clone(),
        io_time_recursive: empty.clone(),
        sectors_recursive: empty,
    };
    let Some(dir) = paths.0.get("blkio") else {
        return Ok(stats);
    };
    for group in BLKIO_GROUPS {
        let mut rows = Vec::with_capacity(group.len());
        for (file, field) in group.iter() {
            let path = dir.join(file);
            let entries = match read_optional(&path)? {
                Some(text) => parse_blkio(&path, &text)?,
                None => Vec::new(),
            };
            rows.push((*field, entries));
        }
        if rows.first().is_none_or(|(_, first)| first.is_empty()) {
            continue;
        }
        for (field, entries) in rows {
            let slot = match field {
                BlkioField::ServiceBytes => &mut stats.io_service_bytes_recursive,
                BlkioField::Serviced => &mut stats.io_serviced_recursive,
                BlkioField::Queued => &mut stats.io_queue_recursive,
                BlkioField::ServiceTime => &mut stats.io_service_time_recursive,
                BlkioField::WaitTime => &mut stats.io_wait_time_recursive,
                BlkioField::Merged => &mut stats.io_merged_recursive,
                BlkioField::Time => &mut stats.io_time_recursive,
                BlkioField::Sectors => &mut stats.sectors_recursive,
            };
            *slot = Some(entries);
        }
        break;
    }
    Ok(stats)
}

/// `8:0 Read 4096` (or `8:0 4096` for counters without an operation); `Total` rows skipped.
fn parse_blkio(path: &Path, text: &str) -> Result<Vec<BlkioEntry>, StatsError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split([' ', ':']).filter(|f| !f.is_empty()).collect();
        if fields.len() < 3 {
            if fields.len() == 2 && fields[0] == "Total" || fields.is_empty() {
                continue;
            }
            return Err(StatsError::parse(path, line));
        }
        let number = |s: &str| s.parse::<u64>().map_err(|_| StatsError::parse(path, line));
        let (op, value) = if fields.len() == 4 {
            (fields[2].to_string(), number(fields[3])?)
        } else {
            (String::new(), number(fields[2])?)
        };
        out.push(BlkioEntry {
            major: number(fields[0])?,
            minor: number(fields[1])?,
            op,
            value,
        });
    }
    Ok(out)
}
