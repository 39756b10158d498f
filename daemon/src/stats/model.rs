//! The JSON of `GET /containers/{id}/stats` (dockerd's `types.StatsJSON`), with Go's
//! `omitempty` and `null` rules so the bytes match what dockerd sends.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

/// One stats sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatsJson {
    #[serde(serialize_with = "go_time")]
    pub read: Option<DateTime<Utc>>,
    #[serde(serialize_with = "go_time")]
    pub preread: Option<DateTime<Utc>>,
    pub pids_stats: PidsStats,
    pub blkio_stats: BlkioStats,
    pub num_procs: u32,
    pub storage_stats: StorageStats,
    pub cpu_stats: CpuStats,
    pub precpu_stats: CpuStats,
    pub memory_stats: MemoryStats,
    /// "/name", as dockerd.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// API 1.52 and later: "linux".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// Per interface inside the container (no `lo`); omitted when it has none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, NetworkStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PidsStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// One `major:minor op value` row. `None` lists are `null`, as in dockerd's zeroed form
/// and for the lists cgroup v2 lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BlkioStats {
    pub io_service_bytes_recursive: Option<Vec<BlkioEntry>>,
    pub io_serviced_recursive: Option<Vec<BlkioEntry>>,
    pub io_queue_recursive: Option<Vec<BlkioEntry>>,
    pub io_service_time_recursive: Option<Vec<BlkioEntry>>,
    pub io_wait_time_recursive: Option<Vec<BlkioEntry>>,
    pub io_merged_recursive: Option<Vec<BlkioEntry>>,
    pub io_time_recursive: Option<Vec<BlkioEntry>>,
    pub sectors_recursive: Option<Vec<BlkioEntry>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

/// Windows-only counters: `{}` on Linux.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StorageStats {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CpuStats {
    pub cpu_usage: CpuUsage,
    /// The host's CPU time in nanoseconds (/proc/stat).
    #[serde(skip_serializing_if = "is_zero")]
    pub system_cpu_usage: u64,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub online_cpus: u32,
    pub throttling_data: ThrottlingData,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CpuUsage {
    /// Nanoseconds.
    pub total_usage: u64,
    /// cgroup v1 only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_usage: Vec<u64>,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ThrottlingData {
    pub periods: u64,
    pub throttled_periods: u64,
    /// Nanoseconds.
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemoryStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// cgroup v1 only.
    #[serde(skip_serializing_if = "is_zero")]
    pub max_usage: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stats: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub failcnt: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// `GET /containers/{id}/top`: `{"Processes": [[…], …], "Titles": […]}` (dockerd's order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TopResult {
    #[serde(rename = "Processes")]
    pub processes: Vec<Vec<String>>,
    #[serde(rename = "Titles")]
    pub titles: Vec<String>,
}

impl StatsJson {
    /// dockerd's sample for a container that is not running: only name and ID.
    pub fn zeroed(id: &str, name: &str) -> StatsJson {
        StatsJson {
            name: name.to_string(),
            id: id.to_string(),
            ..Default::default()
        }
    }
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// Go's `time.Time` in JSON: RFC 3339 with nanoseconds, the zero time when unset.
fn go_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&crate::images::config::format_rfc3339_nano(t)),
        None => s.serialize_str("0001-01-01T00:00:00Z"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_sample_is_dockerds() {
        let text = serde_json::to_string(&StatsJson::zeroed("abc", "/s2")).expect("json");
        assert_eq!(
            text,
            concat!(
                r#"{"read":"0001-01-01T00:00:00Z","preread":"0001-01-01T00:00:00Z","pids_stats":{},"#,
                r#""blkio_stats":{"io_service_bytes_recursive":null,"io_serviced_recursive":null,"#,
                r#""io_queue_recursive":null,"io_service_time_recursive":null,"io_wait_time_recursive":null,"#,
                r#""io_merged_recursive":null,"io_time_recursive":null,"sectors_recursive":null},"#,
                r#""num_procs":0,"storage_stats":{},"#,
                r#""cpu_stats":{"cpu_usage":{"total_usage":0,"usage_in_kernelmode":0,"usage_in_usermode":0},"#,
                r#""throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},"#,
                r#""precpu_stats":{"cpu_usage":{"total_usage":0,"usage_in_kernelmode":0,"usage_in_usermode":0},"#,
                r#""throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},"#,
                r#""memory_stats":{},"name":"/s2","id":"abc"}"#
            )
        );
    }
}
