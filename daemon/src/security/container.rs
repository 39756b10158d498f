//! Everything this module decides for one container, from its HostConfig,
//! in one place, and how it goes into the OCI spec — the order of dockerd's
//! createSpec: capabilities, then the seccomp profile rendered for them,
//! masked and read-only paths, devices, and the user.

use bollard_stubs::models::HostConfig;
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, LinuxSeccomp, Spec};

use super::devices::{container_devices, DeviceSettings};
use super::opts::{parse_with_daemon_default, SecurityOptions};
use super::paths::{for_spec, SystemPaths};
use super::users::ResolvedUser;
use super::{capabilities, seccomp, SecurityError};

/// A container's security settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSecurity {
    pub privileged: bool,
    /// "CAP_…" names: bounding, effective and permitted sets.
    pub capabilities: Vec<String>,
    pub options: SecurityOptions,
    /// `None`: no filter.
    pub seccomp: Option<LinuxSeccomp>,
    pub paths: SystemPaths,
    pub devices: DeviceSettings,
    /// /sys is mounted read-write (privileged).
    pub writable_sysfs: bool,
    /// cgroup mounts are read-write (privileged, or `writable-cgroups`).
    pub writable_cgroups: bool,
}

/// What dockerd checks when the container is created: capability names and
/// `--security-opt`. Errors are dockerd's ("invalid CapAdd: …" is a 400,
/// "invalid --security-opt …" a 500).
pub fn validate_at_create(host: &HostConfig) -> Result<SecurityOptions, SecurityError> {
    capabilities::validate(
        host.cap_add.as_deref().unwrap_or(&[]),
        host.cap_drop.as_deref().unwrap_or(&[]),
    )?;
    parse_with_daemon_default(host.security_opt.as_deref().unwrap_or(&[]), false)
}

/// The settings of a container about to start.
pub fn for_container(host: &HostConfig) -> Result<ContainerSecurity, SecurityError> {
    let privileged = host.privileged.unwrap_or(false);
    let options = parse_with_daemon_default(host.security_opt.as_deref().unwrap_or(&[]), false)?;
    let caps = capabilities::effective(
        host.cap_add.as_deref().unwrap_or(&[]),
        host.cap_drop.as_deref().unwrap_or(&[]),
        privileged,
    )?;
    let seccomp = seccomp::container_profile(&options.seccomp, &caps, privileged)?;
    let paths = for_spec(
        host.masked_paths.as_deref(),
        host.readonly_paths.as_deref(),
        privileged,
        options.unconfined_system_paths,
    );
    let devices = container_devices(
        host.devices.as_deref().unwrap_or(&[]),
        host.device_cgroup_rules.as_deref().unwrap_or(&[]),
        privileged,
    )?;
    Ok(ContainerSecurity {
        privileged,
        capabilities: caps,
        seccomp,
        paths,
        devices,
        writable_sysfs: privileged,
        writable_cgroups: options.writable_cgroups.unwrap_or(privileged),
        options,
    })
}

fn capability_set(names: &[String]) -> Result<Capabilities, SecurityError> {
    names
        .iter()
        .map(|n| {
            serde_json::from_value::<Capability>(serde_json::Value::String(n.clone()))
                .map_err(|_| SecurityError::Invalid(format!("unknown capability: {n:?}")))
        })
        .collect()
}

/// Drops the "ro" option of a mount, as dockerd's clearReadOnly.
fn clear_read_only(m: &mut oci_spec::runtime::Mount) {
    if let Some(opts) = m.options().clone() {
        m.set_options(Some(opts.into_iter().filter(|o| o != "ro").collect()));
    }
}

impl ContainerSecurity {
    /// Writes these settings into `spec`: process.capabilities (inheritable
    /// and ambient empty, as Docker; oci-spec's defaults fill them),
    /// process.noNewPrivileges, linux.seccomp, linux.maskedPaths,
    /// linux.readonlyPaths, linux.devices, linux.resources.devices, and
    /// drops "ro" from /sys and cgroup mounts where Docker does. Nothing
    /// else is touched.
    pub fn apply_to_spec(&self, spec: &mut Spec) -> Result<(), SecurityError> {
        let set = capability_set(&self.capabilities)?;
        let mut caps = LinuxCapabilities::default();
        caps.set_bounding(Some(set.clone()));
        caps.set_effective(Some(set.clone()));
        caps.set_permitted(Some(set));
        caps.set_inheritable(None);
        caps.set_ambient(None);
        let mut process = spec.process().clone().unwrap_or_default();
        process.set_capabilities(Some(caps));
        process.set_no_new_privileges(Some(self.options.no_new_privileges));
        spec.set_process(Some(process));

        let mut linux = spec.linux().clone().unwrap_or_default();
        linux.set_seccomp(self.seccomp.clone());
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        linux.set_masked_paths(list(&self.paths.masked));
        linux.set_readonly_paths(list(&self.paths.readonly));
        let mut devices = linux.devices().clone().unwrap_or_default();
        devices.extend(self.devices.devices.iter().cloned());
        linux.set_devices((!devices.is_empty()).then_some(devices));
        let mut resources = linux.resources().clone().unwrap_or_default();
        resources.set_devices(Some(self.devices.cgroup_rules.clone()));
        linux.set_resources(Some(resources));
        spec.set_linux(Some(linux));

        if let Some(mounts) = spec.mounts_mut() {
            for m in mounts.iter_mut() {
                let is_sys = m.destination().as_os_str() == "/sys";
                let is_cgroup = m.typ().as_deref() == Some("cgroup");
                if (is_sys && self.writable_sysfs) || (is_cgroup && self.writable_cgroups) {
                    clear_read_only(m);
                }
            }
        }
        Ok(())
    }
}

/// The capabilities of an exec process: the container's, or every available
/// one for `docker exec --privileged` (the container's seccomp filter still
/// applies, as with dockerd + runc). Its user, when `docker exec -u` gives
/// one, comes from [`super::users::resolve`] with the container's GroupAdd.
pub fn exec_capabilities(exec_privileged: bool, container_caps: &[String]) -> Vec<String> {
    if exec_privileged {
        capabilities::all_capabilities()
    } else {
        container_caps.to_vec()
    }
}

/// Writes a resolved user into `spec`: process.user (uid, gid,
/// additionalGids) and HOME when the environment has none (what runc would
/// do; doing it here makes it the same under every runtime).
pub fn apply_user_to_spec(spec: &mut Spec, user: &ResolvedUser) {
    let mut process = spec.process().clone().unwrap_or_default();
    let mut u = process.user().clone();
    u.set_uid(user.uid);
    u.set_gid(user.gid);
    u.set_additional_gids(Some(user.additional_gids.clone()));
    process.set_user(u);
    let mut env = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home.as_deref().unwrap_or("/")));
    }
    process.set_env(Some(env));
    spec.set_process(Some(process));
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_stubs::models::DeviceMapping;

    fn spec() -> Spec {
        // A Docker-like base: /sys and the cgroup mount read-only.
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/",
                        "env": ["PATH=/bin"]},
            "mounts": [
                {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                 "options": ["nosuid", "noexec", "nodev", "ro"]},
                {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                 "options": ["ro", "nosuid", "noexec", "nodev"]}
            ],
            "linux": {}
        }))
        .expect("spec")
    }

    fn ro(spec: &Spec, dest: &str) -> bool {
        spec.mounts().as_deref().unwrap_or(&[]).iter().any(|m| {
            m.destination().as_os_str() == dest
                && m.options()
                    .as_deref()
                    .unwrap_or(&[])
                    .iter()
                    .any(|o| o == "ro")
        })
    }

    #[test]
    fn a_default_container() {
        let host = HostConfig::default();
        let sec = for_container(&host).expect("security");
        assert_eq!(sec.capabilities, capabilities::DEFAULT.to_vec());
        assert!(sec.seccomp.is_some());
        let mut s = spec();
        sec.apply_to_spec(&mut s).expect("apply");
        let p = s.process().as_ref().expect("process");
        let caps = p.capabilities().as_ref().expect("caps");
        assert_eq!(caps.bounding().as_ref().map(|c| c.len()), Some(14));
        assert!(caps.inheritable().is_none() && caps.ambient().is_none());
        assert_eq!(p.no_new_privileges(), Some(false));
        let linux = s.linux().as_ref().expect("linux");
        assert!(linux.seccomp().is_some());
        assert!(linux.masked_paths().as_ref().is_some_and(|m| m.len() >= 12));
        let rules = linux.resources().as_ref().and_then(|r| r.devices().clone());
        assert_eq!(rules.map(|r| r.len()), Some(8));
        assert!(ro(&s, "/sys") && ro(&s, "/sys/fs/cgroup"));
    }

    #[test]
    fn a_privileged_container() {
        let host = HostConfig {
            privileged: Some(true),
            security_opt: Some(vec!["no-new-privileges".into()]),
            ..Default::default()
        };
        let sec = for_container(&host).expect("security");
        assert!(sec.seccomp.is_none());
        let mut s = spec();
        sec.apply_to_spec(&mut s).expect("apply");
        let linux = s.linux().as_ref().expect("linux");
        assert!(linux.seccomp().is_none());
        assert!(linux.masked_paths().is_none() && linux.readonly_paths().is_none());
        assert!(linux.devices().as_ref().is_some_and(|d| !d.is_empty()));
        assert!(!ro(&s, "/sys") && !ro(&s, "/sys/fs/cgroup"));
        let p = s.process().as_ref().expect("process");
        assert_eq!(p.no_new_privileges(), Some(true));
        let bounding = p.capabilities().as_ref().and_then(|c| c.bounding().clone());
        assert_eq!(
            bounding.map(|b| b.len()),
            Some(capabilities::all_capabilities().len())
        );
    }

    #[test]
    fn errors_surface() {
        let host = HostConfig {
            devices: Some(vec![DeviceMapping {
                path_on_host: Some("/dev/nope".into()),
                path_in_container: Some("/dev/nope".into()),
                cgroup_permissions: Some("rwm".into()),
            }]),
            ..Default::default()
        };
        assert!(for_container(&host).is_err());
        let host = HostConfig {
            cap_add: Some(vec!["foo".into()]),
            ..Default::default()
        };
        let e = validate_at_create(&host).expect_err("cap");
        assert_eq!(
            e.to_string(),
            "invalid CapAdd: unknown capability: \"CAP_FOO\""
        );
        let host = HostConfig {
            security_opt: Some(vec!["foo".into()]),
            ..Default::default()
        };
        assert!(validate_at_create(&host).is_err());
    }

    #[test]
    fn exec_privileged_gets_every_capability() {
        let caps = vec!["CAP_CHOWN".to_string()];
        assert_eq!(exec_capabilities(false, &caps), caps);
        assert_eq!(
            exec_capabilities(true, &caps),
            capabilities::all_capabilities()
        );
    }

    #[test]
    fn user_and_home() {
        let mut s = spec();
        let user = ResolvedUser {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![1000, 10],
            home: Some("/home/alice".into()),
        };
        apply_user_to_spec(&mut s, &user);
        let p = s.process().as_ref().expect("process");
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1000));
        assert_eq!(p.user().additional_gids().as_deref(), Some(&[1000, 10][..]));
        assert!(p
            .env()
            .as_ref()
            .is_some_and(|e| e.contains(&"HOME=/home/alice".to_string())));
        // HOME given by the image or the user wins.
        let mut s = spec();
        if let Some(p) = s.process_mut() {
            p.set_env(Some(vec!["HOME=/data".into()]));
        }
        apply_user_to_spec(&mut s, &user);
        let env = s
            .process()
            .as_ref()
            .and_then(|p| p.env().clone())
            .unwrap_or_default();
        assert_eq!(env, vec!["HOME=/data"]);
    }
}
