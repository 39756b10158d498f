//! Devices of a container: HostConfig.Devices (`--device`),
//! HostConfig.DeviceCgroupRules (`--device-cgroup-rule`) and `--privileged`,
//! as dockerd's WithDevices (moby daemon/oci_linux.go, daemon/pkg/oci) and
//! containerd's HostDevices compute them.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use bollard_stubs::models::DeviceMapping;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

use super::device_rules::rule;
pub use super::device_rules::{allow_all_rule, default_cgroup_rules, parse_cgroup_rule};
use super::{go_errno_text, SecurityError};

/// What goes in the OCI spec: `linux.devices` and `linux.resources.devices`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceSettings {
    pub devices: Vec<LinuxDevice>,
    /// The whole device cgroup list, Docker's defaults included.
    pub cgroup_rules: Vec<LinuxDeviceCgroup>,
}

/// The device at `path` (not following a final symlink); `Ok(None)` when it
/// exists but is not a device node.
fn device_from_path(path: &Path) -> std::io::Result<Option<LinuxDevice>> {
    let meta = std::fs::symlink_metadata(path)?;
    let ft = meta.file_type();
    let typ = if ft.is_block_device() {
        LinuxDeviceType::B
    } else if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_fifo() {
        LinuxDeviceType::P
    } else {
        return Ok(None);
    };
    let rdev = meta.rdev();
    let mut d = LinuxDevice::default();
    d.set_path(path.to_path_buf());
    d.set_typ(typ);
    d.set_major(libc::major(rdev) as i64);
    d.set_minor(libc::minor(rdev) as i64);
    d.set_file_mode(Some(meta.mode() & !libc::S_IFMT));
    d.set_uid(Some(meta.uid()));
    d.set_gid(Some(meta.gid()));
    Ok(Some(d))
}

fn cgroup_rule_for(d: &LinuxDevice, permissions: &str) -> LinuxDeviceCgroup {
    let mut r = rule(true, Some(d.typ()), Some(d.major()), Some(d.minor()));
    r.set_access(Some(permissions.to_string()));
    r
}

/// One `--device`: the device at `path_on_host` (a symlink is followed), or
/// every device under it when it is a folder, as dockerd's DevicesFromPath.
pub fn devices_from_path(
    path_on_host: &str,
    path_in_container: &str,
    permissions: &str,
) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>), SecurityError> {
    let host = Path::new(path_on_host);
    let resolved = match std::fs::symlink_metadata(host) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(host).unwrap_or_else(|_| host.to_path_buf())
        }
        _ => host.to_path_buf(),
    };
    let fail = |why: String| {
        SecurityError::Failed(format!(
            "error gathering device information while adding custom device \"{path_on_host}\": {why}"
        ))
    };
    let first = match device_from_path(&resolved) {
        Ok(Some(mut d)) => {
            d.set_path(path_in_container.into());
            let r = cgroup_rule_for(&d, permissions);
            return Ok((vec![d], vec![r]));
        }
        Ok(None) => "not a device node".to_string(),
        Err(e) => return Err(fail(go_errno_text(&e))),
    };
    let mut devices = Vec::new();
    if resolved.is_dir() {
        walk(&resolved, &mut |p, d| {
            let inside =
                p.to_string_lossy()
                    .replacen(&*resolved.to_string_lossy(), path_in_container, 1);
            let mut d = d;
            d.set_path(inside.into());
            devices.push(d);
        });
    }
    if devices.is_empty() {
        return Err(fail(first));
    }
    let rules = devices
        .iter()
        .map(|d| cgroup_rule_for(d, permissions))
        .collect();
    Ok((devices, rules))
}

/// Every device under `dir` in lexical order, not following symlinks;
/// unreadable entries are skipped (as filepath.WalkDir with an ignoring
/// callback).
fn walk(dir: &Path, found: &mut dyn FnMut(&Path, LinuxDevice)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&p, found),
            Ok(_) => {
                if let Ok(Some(d)) = device_from_path(&p) {
                    found(&p, d);
                }
            }
            Err(_) => {}
        }
    }
}

/// Every device under /dev, for a privileged container (containerd's
/// HostDevices): pts, shm, fd, mqueue and a few tool folders are skipped,
/// and so are /dev/console and fifos. /dev/ptmx is kept; runtimes replace it
/// with a link to pts/ptmx.
pub fn host_devices() -> Result<Vec<LinuxDevice>, SecurityError> {
    let mut out = Vec::new();
    host_devices_under(Path::new("/dev"), &mut out)?;
    Ok(out)
}

fn host_devices_under(dir: &Path, out: &mut Vec<LinuxDevice>) -> Result<(), SecurityError> {
    let io = |e: std::io::Error| SecurityError::Io(format!("read {}", dir.display()), e);
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(io)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let path = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            let skip = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];
            if !skip.iter().any(|s| name == *s) {
                host_devices_under(&path, out)?;
            }
            continue;
        }
        if name == "console" {
            continue;
        }
        match device_from_path(&path) {
            Ok(Some(d)) if d.typ() != LinuxDeviceType::P => out.push(d),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SecurityError::Io(format!("stat {}", path.display()), e)),
        }
    }
    Ok(())
}

/// The devices and device cgroup rules of a container, from HostConfig.
/// Privileged: every host device, the `Devices` mapped elsewhere than their
/// host path, and one allow-all rule (DeviceCgroupRules are not used, as in
/// dockerd). Otherwise Docker's default rules, then each device's rule,
/// then DeviceCgroupRules. An empty PathInContainer means the host path,
/// and empty CgroupPermissions mean "rwm".
pub fn container_devices(
    mappings: &[DeviceMapping],
    cgroup_rules: &[String],
    privileged: bool,
) -> Result<DeviceSettings, SecurityError> {
    let mut out = DeviceSettings::default();
    if privileged {
        out.devices = host_devices()?;
        out.cgroup_rules = vec![allow_all_rule()];
    } else {
        out.cgroup_rules = default_cgroup_rules();
    }
    for m in mappings {
        let host = m.path_on_host.as_deref().unwrap_or("");
        let inside = match m.path_in_container.as_deref() {
            Some(p) if !p.is_empty() => p,
            _ => host,
        };
        let permissions = match m.cgroup_permissions.as_deref() {
            Some(p) if !p.is_empty() => p,
            _ => "rwm",
        };
        if privileged {
            // Already there through /dev; custom permissions do not apply.
            if host == inside {
                continue;
            }
            let (devices, _) = devices_from_path(host, inside, "rwm")?;
            out.devices.extend(devices);
        } else {
            let (devices, rules) = devices_from_path(host, inside, permissions)?;
            out.devices.extend(devices);
            out.cgroup_rules.extend(rules);
        }
    }
    if !privileged {
        for text in cgroup_rules {
            out.cgroup_rules.push(parse_cgroup_rule(text)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(host: &str, inside: &str, perms: &str) -> DeviceMapping {
        DeviceMapping {
            path_on_host: Some(host.into()),
            path_in_container: Some(inside.into()),
            cgroup_permissions: Some(perms.into()),
        }
    }

    #[test]
    fn a_device_node() {
        let (d, r) = devices_from_path("/dev/null", "/dev/mynull", "rw").expect("null");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path(), Path::new("/dev/mynull"));
        assert_eq!(
            (d[0].typ(), d[0].major(), d[0].minor()),
            (LinuxDeviceType::C, 1, 3)
        );
        assert_eq!(r[0].access().as_deref(), Some("rw"));
        assert_eq!((r[0].major(), r[0].minor()), (Some(1), Some(3)));
    }

    #[test]
    fn a_missing_device_is_dockers_error() {
        let e = devices_from_path("/dev/nope", "/dev/nope", "rwm").expect_err("nope");
        assert_eq!(
            e.to_string(),
            "error gathering device information while adding custom device \"/dev/nope\": no such file or directory"
        );
        assert_eq!(e.http_status(), 500);
    }

    #[test]
    fn a_folder_gives_the_devices_under_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        std::os::unix::fs::symlink("/dev/null", sub.join("null")).expect("ln");
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).expect("ln");
        std::fs::write(dir.path().join("file"), "x").expect("w");
        // Only symlinks and files: not devices, so Docker's error.
        let host = dir.path().to_string_lossy().to_string();
        let e = devices_from_path(&host, "/x", "rwm").expect_err("no devices");
        assert!(e.to_string().ends_with(": not a device node"), "{e}");
        // A folder with a real node (a fifo, which Docker also maps).
        nix::unistd::mkfifo(
            &sub.join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .expect("mkfifo");
        let (d, r) = devices_from_path(&host, "/dev/in", "r").expect("dir");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path(), Path::new("/dev/in/sub/fifo"));
        assert_eq!(r[0].typ(), Some(LinuxDeviceType::P));
    }

    #[test]
    fn a_symlink_to_a_device_is_followed() {
        let dir = tempfile::tempdir().expect("tmp");
        let link = dir.path().join("n");
        std::os::unix::fs::symlink("/dev/zero", &link).expect("ln");
        let (d, _) = devices_from_path(&link.to_string_lossy(), "/dev/z", "rwm").expect("zero");
        assert_eq!((d[0].major(), d[0].minor()), (1, 5));
    }

    #[test]
    fn unprivileged_container() {
        let s = container_devices(
            &[mapping("/dev/null", "/dev/n2", "rw")],
            &["b 8:* r".into()],
            false,
        )
        .expect("devices");
        assert_eq!(s.devices.len(), 1);
        assert_eq!(s.cgroup_rules.len(), 8 + 2);
        assert!(!s.cgroup_rules[0].allow());
        assert_eq!(s.cgroup_rules[8].access().as_deref(), Some("rw"));
        assert_eq!(s.cgroup_rules[9].typ(), Some(LinuxDeviceType::B));
        let none = container_devices(&[], &[], false).expect("none");
        assert_eq!(none.cgroup_rules, default_cgroup_rules());
        assert!(none.devices.is_empty());
    }

    #[test]
    fn privileged_container() {
        let s = container_devices(
            &[
                mapping("/dev/null", "/dev/null", "r"),
                mapping("/dev/zero", "/dev/z", "r"),
            ],
            &["garbage".into()],
            true,
        )
        .expect("privileged");
        assert_eq!(s.cgroup_rules, vec![allow_all_rule()]);
        let paths: Vec<_> = s.devices.iter().map(|d| d.path().clone()).collect();
        assert!(paths.contains(&"/dev/null".into()));
        assert!(paths.contains(&"/dev/z".into()));
        assert_eq!(
            paths
                .iter()
                .filter(|p| p.as_path() == Path::new("/dev/null"))
                .count(),
            1
        );
        assert!(paths
            .iter()
            .all(|p| !p.starts_with("/dev/pts") && p != Path::new("/dev/console")));
    }
}
