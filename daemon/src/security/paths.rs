//! The /proc and /sys paths Docker masks or makes read-only in a container
//! that is not privileged (moby's daemon/pkg/oci/defaults.go).
//!
//! dockerd writes the defaults into HostConfig.MaskedPaths / ReadonlyPaths
//! when a container is created (so inspect shows them; `null` for a
//! privileged container), and a privileged container gets neither list in
//! its OCI spec whatever HostConfig says.

use std::path::Path;

/// Paths hidden from the container (an empty read-only bind over them),
/// in dockerd's order, with this host's per-CPU `thermal_throttle` folders.
pub fn masked_paths() -> Vec<String> {
    let mut paths: Vec<String> = [
        "/proc/acpi",
        "/proc/asound",
        "/proc/interrupts",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/sys/devices/virtual/powercap",
        "/sys/firmware",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let possible = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
    for cpu in parse_cpu_list(&possible) {
        let p = format!("/sys/devices/system/cpu/cpu{cpu}/thermal_throttle");
        if Path::new(&p).exists() {
            paths.push(p);
        }
    }
    paths
}

/// Paths the container may read but not write.
pub fn readonly_paths() -> Vec<String> {
    [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The masked and read-only lists of a container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemPaths {
    pub masked: Vec<String>,
    pub readonly: Vec<String>,
}

/// What dockerd stores in HostConfig.MaskedPaths and ReadonlyPaths at create
/// time when the client sent none (`None` = JSON null): the defaults, or
/// nothing for a privileged container. The docker CLI sends empty lists for
/// `--security-opt systempaths=unconfined`; those are kept.
pub fn host_config_defaults(
    masked: Option<&[String]>,
    readonly: Option<&[String]>,
    privileged: bool,
) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let fill = |given: Option<&[String]>, default: fn() -> Vec<String>| match given {
        Some(v) => Some(v.to_vec()),
        None if privileged => None,
        None => Some(default()),
    };
    (fill(masked, masked_paths), fill(readonly, readonly_paths))
}

/// The lists for the OCI spec (`linux.maskedPaths`, `linux.readonlyPaths`):
/// HostConfig's when set, else the defaults; none at all for a privileged
/// container or with `systempaths=unconfined`.
pub fn for_spec(
    masked: Option<&[String]>,
    readonly: Option<&[String]>,
    privileged: bool,
    unconfined_system_paths: bool,
) -> SystemPaths {
    if privileged || unconfined_system_paths {
        return SystemPaths::default();
    }
    SystemPaths {
        masked: masked.map(<[String]>::to_vec).unwrap_or_else(masked_paths),
        readonly: readonly
            .map(<[String]>::to_vec)
            .unwrap_or_else(readonly_paths),
    }
}

/// The CPUs of a kernel CPU list ("0-3,8,10-11").
fn parse_cpu_list(list: &str) -> Vec<u32> {
    let mut cpus = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    // A bound keeps a corrupt file from making a huge list.
                    cpus.extend(a..=b.min(a.saturating_add(65535)));
                }
            }
            None => cpus.extend(part.parse::<u32>().ok()),
        }
    }
    cpus
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_dockerd() {
        let m = masked_paths();
        assert_eq!(m[0], "/proc/acpi");
        assert!(m.contains(&"/proc/interrupts".to_string()));
        assert!(m.contains(&"/sys/devices/virtual/powercap".to_string()));
        assert!(m.iter().skip(12).all(|p| p.ends_with("/thermal_throttle")));
        assert_eq!(readonly_paths().len(), 5);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3\n"), vec![0, 1, 2, 3]);
        assert_eq!(parse_cpu_list("0,2-3,7"), vec![0, 2, 3, 7]);
        assert!(parse_cpu_list("").is_empty());
        assert!(parse_cpu_list("x-y").is_empty());
    }

    #[test]
    fn privileged_has_none() {
        let p = for_spec(None, None, true, false);
        assert!(p.masked.is_empty() && p.readonly.is_empty());
        let given = vec!["/proc/kcore".to_string()];
        let p = for_spec(Some(&given), Some(&given), true, false);
        assert!(p.masked.is_empty() && p.readonly.is_empty());
        assert_eq!(host_config_defaults(None, None, true), (None, None));
    }

    #[test]
    fn systempaths_unconfined_has_none() {
        let p = for_spec(None, None, false, true);
        assert_eq!(p, SystemPaths::default());
    }

    #[test]
    fn host_config_lists_win() {
        let given = vec!["/proc/kcore".to_string()];
        let empty: Vec<String> = Vec::new();
        let p = for_spec(Some(&given), Some(&empty), false, false);
        assert_eq!(p.masked, given);
        assert!(p.readonly.is_empty());
        let p = for_spec(None, None, false, false);
        assert_eq!(p.masked, masked_paths());
        assert_eq!(p.readonly, readonly_paths());
        let (m, r) = host_config_defaults(None, Some(&empty), false);
        assert_eq!(m, Some(masked_paths()));
        assert_eq!(r, Some(empty));
    }
}
