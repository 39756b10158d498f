//! Capabilities: Docker's default set, `--cap-add` / `--cap-drop`, `--privileged`.
//!
//! Follows moby's `daemon/pkg/oci/caps`: names are upper-cased and get a
//! `CAP_` prefix, "ALL" is accepted in both lists, drops apply before adds
//! (TweakCapabilities), and "all capabilities" means those the daemon itself
//! holds (its effective set), limited to what the kernel knows.

use super::{go_quote, SecurityError};

/// The capabilities a Docker container gets by default.
pub const DEFAULT: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability name Docker knows, indexed by capability number.
pub const KNOWN: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

const ALL: &str = "ALL";

/// The capabilities available to containers on this host: the known names
/// up to /proc/sys/kernel/cap_last_cap, limited to the daemon's own
/// effective set (from /proc/self/status) as dockerd does, so that a
/// privileged container never asks for a capability the daemon lacks.
/// Read once per process: neither the kernel's last capability nor the daemon's
/// effective set changes while it runs (every create and start asks).
pub fn all_capabilities() -> Vec<String> {
    static HOST: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok());
        let effective = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| effective_mask(&s));
        available(last, effective)
    })
    .clone()
}

/// The names allowed by the kernel's last capability number and the
/// effective-set bitmap (either unknown: no limit from it).
fn available(cap_last_cap: Option<usize>, effective: Option<u64>) -> Vec<String> {
    KNOWN
        .iter()
        .enumerate()
        .filter(|(i, _)| cap_last_cap.is_none_or(|last| *i <= last))
        .filter(|(i, _)| effective.is_none_or(|mask| mask & (1u64 << i) != 0))
        .map(|(_, name)| name.to_string())
        .collect()
}

/// The `CapEff:` bitmap of a /proc/<pid>/status file.
fn effective_mask(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// Normalises CapAdd / CapDrop as dockerd's NormalizeLegacyCapabilities:
/// upper case, a `CAP_` prefix, "ALL" kept; unknown names are an error.
pub fn normalize(caps: &[String]) -> Result<Vec<String>, SecurityError> {
    normalize_with(caps, &all_capabilities())
}

fn normalize_with(caps: &[String], available: &[String]) -> Result<Vec<String>, SecurityError> {
    let mut out = Vec::with_capacity(caps.len());
    for cap in caps {
        let mut name = cap.to_uppercase();
        if name == ALL {
            out.push(name);
            continue;
        }
        if !name.starts_with("CAP_") {
            name = format!("CAP_{name}");
        }
        if !KNOWN.contains(&name.as_str()) {
            return Err(SecurityError::Invalid(format!(
                "unknown capability: {}",
                go_quote(&name)
            )));
        }
        if !available.contains(&name) {
            return Err(SecurityError::Invalid(format!(
                "capability not supported by your kernel or not available in the current environment: {}",
                go_quote(&name)
            )));
        }
        out.push(name);
    }
    Ok(out)
}

/// What dockerd checks when a container is created: the error names the
/// field ("invalid CapAdd: unknown capability: \"CAP_FOO\"", a 400).
pub fn validate(cap_add: &[String], cap_drop: &[String]) -> Result<(), SecurityError> {
    for (field, list) in [("CapAdd", cap_add), ("CapDrop", cap_drop)] {
        normalize(list).map_err(|e| SecurityError::Invalid(format!("invalid {field}: {e}")))?;
    }
    Ok(())
}

/// The capability set of a container ("CAP_…" names), from HostConfig's
/// CapAdd, CapDrop and Privileged. Put it in the bounding, effective and
/// permitted sets of the OCI spec (Docker leaves inheritable and ambient
/// empty).
pub fn effective(
    cap_add: &[String],
    cap_drop: &[String],
    privileged: bool,
) -> Result<Vec<String>, SecurityError> {
    tweak(cap_add, cap_drop, privileged, &all_capabilities())
}

/// TweakCapabilities against a given list of available capabilities.
fn tweak(
    cap_add: &[String],
    cap_drop: &[String],
    privileged: bool,
    available: &[String],
) -> Result<Vec<String>, SecurityError> {
    if privileged {
        return Ok(available.to_vec());
    }
    let basics = || DEFAULT.iter().map(|c| c.to_string());
    if cap_add.is_empty() && cap_drop.is_empty() {
        return Ok(basics().collect());
    }
    let drop = normalize_with(cap_drop, available)?;
    let add = normalize_with(cap_add, available)?;
    let mut caps: Vec<String> = if add.iter().any(|c| c == ALL) {
        available
            .iter()
            .filter(|c| !drop.contains(c))
            .cloned()
            .collect()
    } else if drop.iter().any(|c| c == ALL) {
        add
    } else {
        basics().filter(|c| !drop.contains(c)).chain(add).collect()
    };
    // dockerd may repeat a name (added and already present); the set is the same.
    let mut seen = std::collections::HashSet::new();
    caps.retain(|c| seen.insert(c.clone()));
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn all() -> Vec<String> {
        available(Some(40), None)
    }

    #[test]
    fn default_set_when_nothing_asked() {
        let caps = tweak(&[], &[], false, &all()).expect("caps");
        assert_eq!(caps, s(DEFAULT));
    }

    #[test]
    fn names_are_normalised() {
        let caps = tweak(
            &s(&["net_admin", "Cap_Sys_Time"]),
            &s(&["chown"]),
            false,
            &all(),
        )
        .expect("caps");
        assert!(caps.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(caps.contains(&"CAP_SYS_TIME".to_string()));
        assert!(!caps.contains(&"CAP_CHOWN".to_string()));
    }

    #[test]
    fn drop_all_then_add() {
        let caps = tweak(&s(&["NET_BIND_SERVICE"]), &s(&["all"]), false, &all()).expect("caps");
        assert_eq!(caps, s(&["CAP_NET_BIND_SERVICE"]));
    }

    #[test]
    fn add_all_minus_drop() {
        let caps = tweak(&s(&["ALL"]), &s(&["SYS_ADMIN"]), false, &all()).expect("caps");
        assert_eq!(caps.len(), 40);
        assert!(!caps.contains(&"CAP_SYS_ADMIN".to_string()));
    }

    #[test]
    fn adding_a_default_does_not_repeat_it() {
        let caps = tweak(&s(&["CHOWN"]), &[], false, &all()).expect("caps");
        assert_eq!(caps, s(DEFAULT));
    }

    #[test]
    fn unknown_capability_is_dockers_error() {
        let e = tweak(&s(&["foo"]), &[], false, &all()).expect_err("unknown");
        assert_eq!(e.to_string(), "unknown capability: \"CAP_FOO\"");
        assert_eq!(e.http_status(), 400);
        let e = tweak(&[], &s(&["cap_bar"]), false, &all()).expect_err("unknown");
        assert_eq!(e.to_string(), "unknown capability: \"CAP_BAR\"");
    }

    #[test]
    fn capability_the_daemon_lacks_is_refused() {
        let without_sys_resource = available(Some(40), Some(0x1fffeffffff));
        assert_eq!(without_sys_resource.len(), 40);
        let e =
            tweak(&s(&["SYS_RESOURCE"]), &[], false, &without_sys_resource).expect_err("missing");
        assert!(e.to_string().starts_with("capability not supported"));
        let privileged = tweak(&[], &[], true, &without_sys_resource).expect("caps");
        assert!(!privileged.contains(&"CAP_SYS_RESOURCE".to_string()));
    }

    #[test]
    fn kernel_limit_applies() {
        let old_kernel = available(Some(37), None);
        assert_eq!(
            old_kernel.last().map(String::as_str),
            Some("CAP_AUDIT_READ")
        );
    }

    #[test]
    fn privileged_gets_every_available_capability() {
        let caps = tweak(&[], &s(&["ALL"]), true, &all()).expect("caps");
        assert_eq!(caps, all());
        assert_eq!(caps.len(), 41);
    }

    #[test]
    fn reads_the_effective_mask() {
        let status = "Name:\tx\nCapPrm:\t00000000000000ff\nCapEff:\t0000000000000003\n";
        assert_eq!(effective_mask(status), Some(3));
        assert_eq!(
            available(None, Some(3)),
            s(&["CAP_CHOWN", "CAP_DAC_OVERRIDE"])
        );
    }

    #[test]
    fn validate_names_the_field() {
        let e = validate(&s(&["foo"]), &[]).expect_err("invalid");
        assert_eq!(
            e.to_string(),
            "invalid CapAdd: unknown capability: \"CAP_FOO\""
        );
        let e = validate(&[], &s(&["nope"])).expect_err("invalid");
        assert_eq!(
            e.to_string(),
            "invalid CapDrop: unknown capability: \"CAP_NOPE\""
        );
        assert!(validate(&s(&["all"]), &s(&["chown"])).is_ok());
    }

    #[test]
    fn host_capabilities_include_the_defaults() {
        let caps = all_capabilities();
        for c in DEFAULT {
            assert!(caps.contains(&c.to_string()), "{c}");
        }
    }
}
