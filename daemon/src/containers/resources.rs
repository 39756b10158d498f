//! HostConfig resources: dockerd's validation (same messages, 400s) and the OCI
//! `linux.resources` they become.
use bollard_stubs::models::HostConfig;
use serde_json::{json, Map, Value};

use super::ContainerError;

/// dockerd's smallest memory limit and reservation: 6 MiB.
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// The CFS period dockerd uses for `--cpus`.
const NANO_CPU_PERIOD: i64 = 100_000;

fn invalid(m: &str) -> ContainerError {
    ContainerError::Invalid(m.to_string())
}

/// The CPUs and memory nodes the host's cpuset offers (dockerd's `sysInfo.Cpus`, `Mems`).
#[derive(Debug, Clone, Default)]
pub struct HostCpusets {
    pub cpus: String,
    pub mems: String,
}

impl HostCpusets {
    /// Read from the root cpuset cgroup (v1) or the root's effective sets (v2).
    pub fn of_host() -> HostCpusets {
        let read = |paths: &[&str]| {
            paths
                .iter()
                .find_map(|p| std::fs::read_to_string(p).ok())
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        HostCpusets {
            cpus: read(&[
                "/sys/fs/cgroup/cpuset/cpuset.cpus",
                "/sys/fs/cgroup/cpuset.cpus.effective",
            ]),
            mems: read(&[
                "/sys/fs/cgroup/cpuset/cpuset.mems",
                "/sys/fs/cgroup/cpuset.mems.effective",
            ]),
        }
    }
}

/// Checks the resources of `hc` as dockerd's `verifyPlatformContainerResources` does.
/// The host's cpusets are read only when a cpuset is asked for.
pub fn validate(hc: &HostConfig, ncpu: usize) -> Result<(), ContainerError> {
    let asked = |set: &Option<String>| set.as_deref().is_some_and(|s| !s.is_empty());
    let host = if asked(&hc.cpuset_cpus) || asked(&hc.cpuset_mems) {
        HostCpusets::of_host()
    } else {
        HostCpusets::default()
    };
    validate_with(hc, ncpu, &host)
}

/// [`validate`] against the given host cpusets.
pub fn validate_with(
    hc: &HostConfig,
    ncpu: usize,
    host: &HostCpusets,
) -> Result<(), ContainerError> {
    let memory = hc.memory.unwrap_or(0);
    let swap = hc.memory_swap.unwrap_or(0);
    let reservation = hc.memory_reservation.unwrap_or(0);
    if memory != 0 && memory < MIN_MEMORY {
        return Err(invalid("Minimum memory limit allowed is 6MB"));
    }
    if memory > 0 && swap > 0 && swap < memory {
        return Err(invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if memory == 0 && swap > 0 {
        return Err(invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if let Some(s) = hc.memory_swappiness {
        if s != -1 && !(0..=100).contains(&s) {
            return Err(ContainerError::Invalid(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            )));
        }
    }
    if reservation != 0 && reservation < MIN_MEMORY {
        return Err(invalid("Minimum memory reservation allowed is 6MB"));
    }
    if memory > 0 && reservation > 0 && memory < reservation {
        return Err(invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    let nano = hc.nano_cpus.unwrap_or(0);
    if nano > 0 && hc.cpu_period.unwrap_or(0) > 0 {
        return Err(invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if nano > 0 && hc.cpu_quota.unwrap_or(0) > 0 {
        return Err(invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    if nano < 0 || nano > (ncpu as i64) * 1_000_000_000 {
        return Err(ContainerError::Invalid(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    let period = hc.cpu_period.unwrap_or(0);
    if period != 0 && !(1000..=1_000_000).contains(&period) {
        return Err(invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    let quota = hc.cpu_quota.unwrap_or(0);
    if quota > 0 && quota < 1000 {
        return Err(invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    if let Some(shares) = hc.cpu_shares.filter(|s| *s < 0) {
        return Err(ContainerError::Invalid(format!(
            "invalid CPU shares ({shares}): value must be a positive integer"
        )));
    }
    check_cpuset(hc.cpuset_cpus.as_deref(), &host.cpus, "cpus", "CPUs")?;
    check_cpuset(
        hc.cpuset_mems.as_deref(),
        &host.mems,
        "mems",
        "memory nodes",
    )?;
    if let Some(w) = hc.blkio_weight.filter(|w| *w > 0) {
        if !(10..=1000).contains(&w) {
            return Err(invalid("Range of blkio weight is from 10 to 1000"));
        }
    }
    if hc.shm_size.is_some_and(|s| s < 0) {
        return Err(invalid("SHM size can not be less than 0"));
    }
    if let Some(adj) = hc.oom_score_adj.filter(|a| !(-1000..=1000).contains(a)) {
        return Err(ContainerError::Invalid(format!(
            "Invalid value {adj}, range for oom score adj is [-1000, 1000]"
        )));
    }
    if let Some(ulimits) = &hc.ulimits {
        for u in ulimits {
            if u.soft.unwrap_or(0) > u.hard.unwrap_or(0) {
                return Err(ContainerError::Invalid(format!(
                    "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                    u.soft.unwrap_or(0),
                    u.hard.unwrap_or(0)
                )));
            }
        }
    }
    Ok(())
}

/// A requested cpuset (`kind` "cpus" or "mems") must parse and be offered by the host,
/// with dockerd's messages (`IsCpusetCpusAvailable`, `IsCpusetMemsAvailable`).
fn check_cpuset(
    requested: Option<&str>,
    available: &str,
    kind: &str,
    what: &str,
) -> Result<(), ContainerError> {
    let Some(requested) = requested.filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let Some(wanted) = parse_cpuset(requested) else {
        return Err(ContainerError::Invalid(format!(
            "Invalid value {requested} for cpuset {kind}: invalid format: {requested}"
        )));
    };
    // A host whose cpuset cannot be read is not second-guessed.
    let Some(offered) = parse_cpuset(available).filter(|_| !available.is_empty()) else {
        return Ok(());
    };
    if !wanted.is_subset(&offered) {
        return Err(ContainerError::Invalid(format!(
            "Requested {what} are not available - requested {requested}, available: {available}"
        )));
    }
    Ok(())
}

/// "0-2,4": ranges and single numbers (Go's `parsers.ParseUintList`); `None` when
/// malformed.
fn parse_cpuset(s: &str) -> Option<std::collections::BTreeSet<u32>> {
    let mut out = std::collections::BTreeSet::new();
    for part in s.split(',') {
        match part.split_once('-') {
            None => {
                out.insert(part.parse::<u32>().ok()?);
            }
            Some((a, b)) => {
                let (a, b) = (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
        }
    }
    Some(out)
}

/// The OCI `linux.resources` of a container.
pub fn oci_resources(hc: &HostConfig) -> Value {
    let mut memory = Map::new();
    if let Some(m) = hc.memory.filter(|m| *m > 0) {
        memory.insert("limit".into(), json!(m));
        match hc.memory_swap {
            Some(s) if s != 0 => {
                memory.insert("swap".into(), json!(s));
            }
            // dockerd: swap defaults to twice the memory limit.
            _ => {
                memory.insert("swap".into(), json!(m * 2));
            }
        }
    }
    if let Some(r) = hc.memory_reservation.filter(|r| *r > 0) {
        memory.insert("reservation".into(), json!(r));
    }
    if let Some(s) = hc.memory_swappiness.filter(|s| *s >= 0) {
        memory.insert("swappiness".into(), json!(s));
    }
    if hc.oom_kill_disable == Some(true) {
        memory.insert("disableOOMKiller".into(), json!(true));
    }
    let mut cpu = Map::new();
    if let Some(s) = hc.cpu_shares.filter(|s| *s > 0) {
        cpu.insert("shares".into(), json!(s));
    }
    if let Some(n) = hc.nano_cpus.filter(|n| *n > 0) {
        cpu.insert("period".into(), json!(NANO_CPU_PERIOD));
        cpu.insert("quota".into(), json!(n * NANO_CPU_PERIOD / 1_000_000_000));
    }
    if let Some(q) = hc.cpu_quota.filter(|q| *q != 0) {
        cpu.insert("quota".into(), json!(q));
    }
    if let Some(p) = hc.cpu_period.filter(|p| *p != 0) {
        cpu.insert("period".into(), json!(p));
    }
    // Checked against the kernel at create (`cpu_rt`).
    if let Some(p) = hc.cpu_realtime_period.filter(|p| *p != 0) {
        cpu.insert("realtimePeriod".into(), json!(p));
    }
    if let Some(r) = hc.cpu_realtime_runtime.filter(|r| *r != 0) {
        cpu.insert("realtimeRuntime".into(), json!(r));
    }
    if let Some(c) = hc.cpuset_cpus.as_deref().filter(|c| !c.is_empty()) {
        cpu.insert("cpus".into(), json!(c));
    }
    if let Some(m) = hc.cpuset_mems.as_deref().filter(|c| !c.is_empty()) {
        cpu.insert("mems".into(), json!(m));
    }
    // Device rules come from the security module.
    let mut out = Map::new();
    if !memory.is_empty() {
        out.insert("memory".into(), Value::Object(memory));
    }
    if !cpu.is_empty() {
        out.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = hc.pids_limit.filter(|p| *p != 0) {
        out.insert(
            "pids".into(),
            json!({ "limit": if p < 0 { -1 } else { p } }),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_settings_are_refused_with_dockerds_texts() {
        let host = HostCpusets {
            cpus: "0-1".into(),
            mems: "0".into(),
        };
        let refused = |hc: HostConfig| validate_with(&hc, 2, &host).unwrap_err().to_string();
        assert_eq!(
            refused(HostConfig {
                cpu_shares: Some(-1),
                ..Default::default()
            }),
            "invalid CPU shares (-1): value must be a positive integer"
        );
        assert_eq!(
            refused(HostConfig {
                blkio_weight: Some(5),
                ..Default::default()
            }),
            "Range of blkio weight is from 10 to 1000"
        );
        assert_eq!(
            refused(HostConfig {
                blkio_weight: Some(1001),
                ..Default::default()
            }),
            "Range of blkio weight is from 10 to 1000"
        );
        assert_eq!(
            refused(HostConfig {
                oom_score_adj: Some(-1001),
                ..Default::default()
            }),
            "Invalid value -1001, range for oom score adj is [-1000, 1000]"
        );
        assert_eq!(
            refused(HostConfig {
                shm_size: Some(-1),
                ..Default::default()
            }),
            "SHM size can not be less than 0"
        );
        assert_eq!(
            refused(HostConfig {
                cpuset_cpus: Some("0-63".into()),
                ..Default::default()
            }),
            "Requested CPUs are not available - requested 0-63, available: 0-1"
        );
        assert_eq!(
            refused(HostConfig {
                cpuset_mems: Some("5".into()),
                ..Default::default()
            }),
            "Requested memory nodes are not available - requested 5, available: 0"
        );
        assert_eq!(
            refused(HostConfig {
                cpuset_cpus: Some("a".into()),
                ..Default::default()
            }),
            "Invalid value a for cpuset cpus: invalid format: a"
        );
        let fine = HostConfig {
            cpu_shares: Some(512),
            blkio_weight: Some(10),
            oom_score_adj: Some(1000),
            cpuset_cpus: Some("0,1".into()),
            cpuset_mems: Some("0".into()),
            ..Default::default()
        };
        assert!(validate_with(&fine, 2, &host).is_ok());
    }

    #[test]
    fn small_memory_is_refused() {
        let hc = HostConfig {
            memory: Some(1024),
            ..Default::default()
        };
        assert_eq!(
            validate(&hc, 2).unwrap_err().to_string(),
            "Minimum memory limit allowed is 6MB"
        );
    }

    #[test]
    fn too_many_cpus_are_refused() {
        let hc = HostConfig {
            nano_cpus: Some(3_000_000_000),
            ..Default::default()
        };
        assert_eq!(
            validate(&hc, 2).unwrap_err().to_string(),
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
    }

    #[test]
    fn nano_cpus_become_quota_and_period() {
        let hc = HostConfig {
            nano_cpus: Some(1_500_000_000),
            memory: Some(64 << 20),
            ..Default::default()
        };
        let r = oci_resources(&hc);
        assert_eq!(r["cpu"]["quota"], json!(150_000));
        assert_eq!(r["cpu"]["period"], json!(100_000));
        assert_eq!(r["memory"]["limit"], json!(64 << 20));
        assert_eq!(r["memory"]["swap"], json!(128 << 20));
    }
}
