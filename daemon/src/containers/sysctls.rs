//! The container's `linux.sysctl`: dockerd's defaults for a network namespace of its own,
//! then the user's `--sysctl`s over them (dockerd's `WithCommonOptions` and
//! `WithSysctls`). The defaults let processes that are not root bind ports below 1024
//! and open ICMP echo sockets, as they can in dockerd's containers since 20.10.
use std::collections::BTreeMap;
use std::path::Path;

use bollard_stubs::models::HostConfig;

const UNPRIVILEGED_PORT_START: &str = "net.ipv4.ip_unprivileged_port_start";
const PING_GROUP_RANGE: &str = "net.ipv4.ping_group_range";

/// The sysctls of a container with host config `hc`; empty when there are none.
pub fn for_spec(hc: &HostConfig) -> BTreeMap<String, String> {
    for_spec_with(hc, &|key| sysctl_exists(key), running_in_user_namespace())
}

fn for_spec_with(
    hc: &HostConfig,
    exists: &dyn Fn(&str) -> bool,
    in_user_namespace: bool,
) -> BTreeMap<String, String> {
    let mut sysctls = BTreeMap::new();
    // Only for a network namespace the container makes (not the host's, not another
    // container's): `none` and networks.
    let mode = hc.network_mode.as_deref().unwrap_or("default");
    let private = mode != "host" && !mode.starts_with("container:");
    if private {
        if !in_user_namespace && exists(PING_GROUP_RANGE) {
            sysctls.insert(PING_GROUP_RANGE.to_string(), "0 2147483647".to_string());
        }
        if exists(UNPRIVILEGED_PORT_START) {
            sysctls.insert(UNPRIVILEGED_PORT_START.to_string(), "0".to_string());
        }
    }
    for (key, value) in hc.sysctls.iter().flatten() {
        sysctls.insert(key.clone(), value.clone());
    }
    sysctls
}

/// Whether the host has one of the two default keys (asked once per process: the kernel's
/// sysctls do not come and go while berthd runs, and every start asks).
fn sysctl_exists(key: &str) -> bool {
    static HOST: std::sync::OnceLock<[bool; 2]> = std::sync::OnceLock::new();
    let found = HOST.get_or_init(|| {
        [PING_GROUP_RANGE, UNPRIVILEGED_PORT_START]
            .map(|k| Path::new("/proc/sys").join(k.replace('.', "/")).exists())
    });
    match key {
        PING_GROUP_RANGE => found[0],
        UNPRIVILEGED_PORT_START => found[1],
        _ => Path::new("/proc/sys").join(key.replace('.', "/")).exists(),
    }
}

/// Whether berthd itself runs in a user namespace (its uid map is not the whole range),
/// where ICMP echo sockets cannot be granted (libcontainer's `RunningInUserNS`).
fn running_in_user_namespace() -> bool {
    static IN_USERNS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IN_USERNS.get_or_init(|| {
        std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|map| {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn hc(mode: &str, user: &[(&str, &str)]) -> HostConfig {
        HostConfig {
            network_mode: Some(mode.into()),
            sysctls: Some(
                user.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<HashMap<_, _>>(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn a_namespace_of_its_own_gets_dockerds_defaults_under_the_users() {
        let all = |_: &str| true;
        for mode in ["default", "bridge", "none", "mynet"] {
            let s = for_spec_with(&hc(mode, &[]), &all, false);
            assert_eq!(
                s.get(UNPRIVILEGED_PORT_START).map(String::as_str),
                Some("0"),
                "{mode}"
            );
            assert_eq!(
                s.get(PING_GROUP_RANGE).map(String::as_str),
                Some("0 2147483647"),
                "{mode}"
            );
        }
        let user = for_spec_with(
            &hc(
                "bridge",
                &[
                    (UNPRIVILEGED_PORT_START, "1024"),
                    ("net.core.somaxconn", "9"),
                ],
            ),
            &all,
            false,
        );
        assert_eq!(user[UNPRIVILEGED_PORT_START], "1024");
        assert_eq!(user["net.core.somaxconn"], "9");
    }

    #[test]
    fn the_hosts_or_another_containers_namespace_gets_only_the_users() {
        let all = |_: &str| true;
        assert!(for_spec_with(&hc("host", &[]), &all, false).is_empty());
        assert!(for_spec_with(&hc("container:web", &[]), &all, false).is_empty());
        let in_userns = for_spec_with(&hc("bridge", &[]), &all, true);
        assert!(!in_userns.contains_key(PING_GROUP_RANGE));
        let old_kernel = for_spec_with(&hc("bridge", &[]), &|_: &str| false, false);
        assert!(old_kernel.is_empty());
    }
}
