//! The `Warnings` of a create answer: what dockerd accepts but tells the client about
//! (`verifyContainerSettings`, `handleVolumeDriverBC`, create's legacy-links notice), and
//! the block I/O settings the host cannot apply, dropped as dockerd drops them.
use bollard_stubs::models::{HostConfig, MountType};

use super::block_io;

/// The warnings for `hc`, in dockerd's order; unsupported block I/O settings are removed
/// from `hc`. `api_version` is the request's minor version (None: the newest).
pub fn collect(hc: &mut HostConfig, api_version: Option<u32>) -> Vec<String> {
    let mut warnings = Vec::new();
    if volume_driver_ignored(hc, api_version) {
        warnings.push(
            "WARNING: the container-wide volume-driver configuration is ignored for volumes specified via 'mount'. Use '--mount type=volume,volume-driver=...' instead"
                .to_string(),
        );
    }
    if hc.oom_kill_disable == Some(true) && hc.memory.unwrap_or(0) == 0 {
        warnings.push(
            "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources."
                .to_string(),
        );
    }
    warnings.extend(block_io::discard_unsupported(
        hc,
        block_io::Support::of_host(),
    ));
    let mode = hc.network_mode.as_deref().unwrap_or("");
    if mode == "host" && hc.port_bindings.as_ref().is_some_and(|p| !p.is_empty()) {
        warnings.push("Published ports are discarded when using host network mode".to_string());
    }
    let default_bridge = matches!(mode, "" | "default" | "bridge");
    if default_bridge && hc.links.as_ref().is_some_and(|l| !l.is_empty()) {
        warnings.push(
            "Links on the default bridge network are deprecated and will be removed in a future release. Use a custom network instead."
                .to_string(),
        );
    }
    warnings
}

/// dockerd's `handleVolumeDriverBC` (API 1.48+): a container-wide VolumeDriver does not
/// reach `--mount` volumes that name no driver of their own.
fn volume_driver_ignored(hc: &HostConfig, api_version: Option<u32>) -> bool {
    if hc.volume_driver.as_deref().unwrap_or("").is_empty() || api_version.is_some_and(|v| v < 48) {
        return false;
    }
    hc.mounts.iter().flatten().any(|m| {
        m.typ == Some(MountType::VOLUME)
            && m.volume_options
                .as_ref()
                .and_then(|o| o.driver_config.as_ref())
                .and_then(|d| d.name.as_deref())
                .is_none_or(str::is_empty)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_stubs::models::{Mount, PortBinding};
    use std::collections::HashMap;

    #[test]
    fn dockerds_notices_for_what_it_accepts() {
        let mut hc = HostConfig {
            network_mode: Some("host".into()),
            port_bindings: Some(HashMap::from([(
                "80/tcp".to_string(),
                Some(vec![PortBinding::default()]),
            )])),
            oom_kill_disable: Some(true),
            ..Default::default()
        };
        assert_eq!(
            collect(&mut hc, None),
            [
                "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.",
                "Published ports are discarded when using host network mode",
            ]
        );
        let mut linked = HostConfig {
            links: Some(vec!["/db:/web/db".into()]),
            memory: Some(64 << 20),
            oom_kill_disable: Some(true),
            ..Default::default()
        };
        let w = collect(&mut linked, None);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("Links on the default bridge network are deprecated"));
        linked.network_mode = Some("mynet".into());
        assert!(collect(&mut linked, None).is_empty());
    }

    #[test]
    fn a_container_wide_volume_driver_is_flagged_for_driverless_mounts_from_1_48() {
        let mut hc = HostConfig {
            volume_driver: Some("local".into()),
            mounts: Some(vec![Mount {
                typ: Some(MountType::VOLUME),
                target: Some("/data".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        assert!(collect(&mut hc, Some(48))[0].contains("volume-driver configuration is ignored"));
        assert!(collect(&mut hc, Some(47)).is_empty());
        hc.mounts = Some(vec![]);
        assert!(collect(&mut hc, None).is_empty());
    }
}
