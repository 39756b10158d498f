//! CRI `LinuxContainerResources` as OCI `linux.resources` (containerd's
//! `WithResources`): CPU period, quota, shares and sets, memory limit and swap, hugepages,
//! and the cgroup v2 `unified` map. Zero means "not set".
use serde_json::{json, Map, Value};

use crate::proto::LinuxContainerResources;

/// The resources object (without devices, which the caller adds).
pub fn oci(r: &LinuxContainerResources) -> Map<String, Value> {
    let mut out = Map::new();
    let mut cpu = Map::new();
    if r.cpu_period > 0 {
        cpu.insert("period".into(), json!(r.cpu_period));
    }
    if r.cpu_quota > 0 {
        cpu.insert("quota".into(), json!(r.cpu_quota));
    }
    if r.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(r.cpu_shares));
    }
    if !r.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(r.cpuset_cpus));
    }
    if !r.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(r.cpuset_mems));
    }
    if !cpu.is_empty() {
        out.insert("cpu".into(), Value::Object(cpu));
    }
    let mut memory = Map::new();
    if r.memory_limit_in_bytes > 0 {
        memory.insert("limit".into(), json!(r.memory_limit_in_bytes));
    }
    if r.memory_swap_limit_in_bytes > 0 {
        memory.insert("swap".into(), json!(r.memory_swap_limit_in_bytes));
    }
    if !memory.is_empty() {
        out.insert("memory".into(), Value::Object(memory));
    }
    let hugepages: Vec<Value> = r
        .hugepage_limits
        .iter()
        .map(|h| json!({"pageSize": h.page_size, "limit": h.limit}))
        .collect();
    if !hugepages.is_empty() {
        out.insert("hugepageLimits".into(), Value::Array(hugepages));
    }
    if !r.unified.is_empty() {
        out.insert("unified".into(), json!(r.unified));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_unset() {
        assert!(oci(&LinuxContainerResources::default()).is_empty());
        let r = LinuxContainerResources {
            cpu_quota: 20000,
            cpu_period: 100000,
            memory_limit_in_bytes: 1 << 26,
            ..Default::default()
        };
        let o = oci(&r);
        assert_eq!(o["cpu"], json!({"period": 100000, "quota": 20000}));
        assert_eq!(o["memory"], json!({"limit": 1 << 26}));
    }
}
