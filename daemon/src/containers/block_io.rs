//! Block I/O limits (`--blkio-weight`, `--blkio-weight-device`, `--device-read-bps` and the
//! other throttles): what the kernel's cgroups offer, dockerd's warnings for what they do
//! not (the setting is discarded, as dockerd does), and the OCI `linux.resources.blockIO`
//! with each device path turned into its major:minor numbers.
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use bollard_stubs::models::{HostConfig, ThrottleDevice};
use serde_json::{json, Map, Value};

use super::ContainerError;

/// Which block I/O settings the host's cgroups can apply (dockerd's `sysInfo.Blkio*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Support {
    pub weight: bool,
    pub weight_device: bool,
    pub read_bps: bool,
    pub write_bps: bool,
    pub read_iops: bool,
    pub write_iops: bool,
}

impl Support {
    /// The host's support, read once (the cgroup layout does not change while berthd runs,
    /// as dockerd's `sysInfo` is read once).
    pub fn of_host() -> Support {
        static HOST: std::sync::OnceLock<Support> = std::sync::OnceLock::new();
        *HOST.get_or_init(Support::detect)
    }

    /// v1: the blkio controller's files; v2: the io controller, which has them all.
    fn detect() -> Support {
        let v1 = Path::new("/sys/fs/cgroup/blkio");
        if v1.is_dir() {
            let has = |names: &[&str]| names.iter().any(|n| v1.join(n).exists());
            return Support {
                weight: has(&["blkio.weight", "blkio.bfq.weight"]),
                weight_device: has(&["blkio.weight_device", "blkio.bfq.weight_device"]),
                read_bps: has(&["blkio.throttle.read_bps_device"]),
                write_bps: has(&["blkio.throttle.write_bps_device"]),
                read_iops: has(&["blkio.throttle.read_iops_device"]),
                write_iops: has(&["blkio.throttle.write_iops_device"]),
            };
        }
        let controllers =
            std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default();
        let io = controllers.split_whitespace().any(|c| c == "io");
        Support {
            weight: io,
            weight_device: io,
            read_bps: io,
            write_bps: io,
            read_iops: io,
            write_iops: io,
        }
    }
}

/// Drops the settings the host cannot apply, with dockerd's warning for each
/// (`verifyPlatformContainerResources`); the record then shows them unset, as dockerd's.
pub fn discard_unsupported(hc: &mut HostConfig, s: Support) -> Vec<String> {
    let mut warnings = Vec::new();
    if hc.blkio_weight.unwrap_or(0) > 0 && !s.weight {
        warnings.push(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
                .to_string(),
        );
        hc.blkio_weight = Some(0);
    }
    if hc
        .blkio_weight_device
        .as_ref()
        .is_some_and(|d| !d.is_empty())
        && !s.weight_device
    {
        warnings.push(
            "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded."
                .to_string(),
        );
        hc.blkio_weight_device = Some(Vec::new());
    }
    let throttles = [
        (
            &mut hc.blkio_device_read_bps,
            s.read_bps,
            "BPS Block I/O read limit",
            "Block I/O BPS read limit",
        ),
        (
            &mut hc.blkio_device_write_bps,
            s.write_bps,
            "BPS Block I/O write limit",
            "Block I/O BPS write limit",
        ),
        (
            &mut hc.blkio_device_read_iops,
            s.read_iops,
            "IOPS Block read limit",
            "Block I/O IOPS read limit",
        ),
        (
            &mut hc.blkio_device_write_iops,
            s.write_iops,
            "IOPS Block write limit",
            "Block I/O IOPS write limit",
        ),
    ];
    for (devices, supported, what, discarded) in throttles {
        if devices.as_ref().is_some_and(|d| !d.is_empty()) && !supported {
            warnings.push(format!(
                "Your kernel does not support {what} or the cgroup is not mounted. {discarded} discarded."
            ));
            *devices = Some(Vec::new());
        }
    }
    warnings
}

/// A device's major and minor numbers, with Go's `stat` error text when it is missing.
fn device_numbers(path: &str) -> Result<(u64, u64), ContainerError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let text = match e.raw_os_error() {
            Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
            None => e.to_string(),
        };
        let mut chars = text.chars();
        let go_style: String = match chars.next() {
            Some(first) => first.to_lowercase().chain(chars).collect(),
            None => text,
        };
        ContainerError::Internal(format!("stat {path}: {go_style}"))
    })?;
    let rdev = if meta.file_type().is_block_device() || meta.file_type().is_char_device() {
        meta.rdev()
    } else {
        meta.dev()
    };
    Ok((nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev)))
}

fn throttle_list(devices: Option<&Vec<ThrottleDevice>>) -> Result<Vec<Value>, ContainerError> {
    devices
        .into_iter()
        .flatten()
        .map(|d| {
            let (major, minor) = device_numbers(d.path.as_deref().unwrap_or(""))?;
            Ok(json!({"major": major, "minor": minor, "rate": d.rate.unwrap_or(0)}))
        })
        .collect()
}

/// The OCI `blockIO` of `hc`, or none when it sets nothing. Device paths are resolved now,
/// at each start, as dockerd's `getBlkioThrottleDevices` does.
pub fn oci_block_io(hc: &HostConfig) -> Result<Option<Value>, ContainerError> {
    let mut out = Map::new();
    if let Some(w) = hc.blkio_weight.filter(|w| *w > 0) {
        out.insert("weight".into(), json!(w));
    }
    let weights: Vec<Value> = hc
        .blkio_weight_device
        .iter()
        .flatten()
        .map(|d| {
            let (major, minor) = device_numbers(d.path.as_deref().unwrap_or(""))?;
            Ok(json!({"major": major, "minor": minor, "weight": d.weight.unwrap_or(0)}))
        })
        .collect::<Result<_, ContainerError>>()?;
    if !weights.is_empty() {
        out.insert("weightDevice".into(), Value::Array(weights));
    }
    for (key, devices) in [
        ("throttleReadBpsDevice", hc.blkio_device_read_bps.as_ref()),
        ("throttleWriteBpsDevice", hc.blkio_device_write_bps.as_ref()),
        ("throttleReadIOPSDevice", hc.blkio_device_read_iops.as_ref()),
        (
            "throttleWriteIOPSDevice",
            hc.blkio_device_write_iops.as_ref(),
        ),
    ] {
        let list = throttle_list(devices)?;
        if !list.is_empty() {
            out.insert(key.into(), Value::Array(list));
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_stubs::models::ResourcesBlkioWeightDevice;

    fn throttle(path: &str, rate: i64) -> Option<Vec<ThrottleDevice>> {
        Some(vec![ThrottleDevice {
            path: Some(path.into()),
            rate: Some(rate),
        }])
    }

    #[test]
    fn what_the_host_cannot_apply_is_discarded_with_dockerds_warning() {
        let mut hc = HostConfig {
            blkio_weight: Some(300),
            blkio_weight_device: Some(vec![ResourcesBlkioWeightDevice {
                path: Some("/dev/null".into()),
                weight: Some(200),
            }]),
            blkio_device_read_bps: throttle("/dev/null", 1 << 20),
            blkio_device_write_iops: throttle("/dev/null", 100),
            ..Default::default()
        };
        let only_throttles = Support {
            read_bps: true,
            write_bps: true,
            read_iops: true,
            write_iops: true,
            ..Default::default()
        };
        let warnings = discard_unsupported(&mut hc, only_throttles);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("Block I/O weight or the cgroup is not mounted"));
        assert!(warnings[1].ends_with("Weight-device discarded."));
        assert_eq!(hc.blkio_weight, Some(0));
        assert_eq!(hc.blkio_weight_device, Some(vec![]));
        assert!(hc
            .blkio_device_read_bps
            .as_ref()
            .is_some_and(|d| d.len() == 1));
        let warnings = discard_unsupported(&mut hc, Support::default());
        assert_eq!(
            warnings,
            vec![
                "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.",
                "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.",
            ]
        );
    }

    #[test]
    fn devices_become_their_numbers_and_a_missing_one_gets_gos_stat_error() {
        let hc = HostConfig {
            blkio_weight: Some(500),
            blkio_device_read_bps: throttle("/dev/null", 1 << 20),
            ..Default::default()
        };
        let io = oci_block_io(&hc).expect("block io").expect("something set");
        assert_eq!(io["weight"], 500);
        assert_eq!(
            io["throttleReadBpsDevice"],
            json!([{"major": 1, "minor": 3, "rate": 1 << 20}])
        );
        assert!(io.get("throttleWriteBpsDevice").is_none());
        assert_eq!(oci_block_io(&HostConfig::default()).expect("empty"), None);
        let missing = HostConfig {
            blkio_device_write_bps: throttle("/dev/berth-no-such-device", 1),
            ..Default::default()
        };
        let err = oci_block_io(&missing).expect_err("missing device");
        assert_eq!(
            err.to_string(),
            "stat /dev/berth-no-such-device: no such file or directory"
        );
    }
}
