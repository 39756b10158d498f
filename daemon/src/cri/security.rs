//! The host's security defaults for pods: Docker's (containerd's CRI uses the same
//! capability set, seccomp profile, masked and read-only paths and device rules).
use std::path::Path;

use berth_cri::backend::{BackendError, BackendResult, HostSecurity, ResolvedUser};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxSeccomp};

use crate::security::{
    capabilities, device_rules, devices, opts::SeccompChoice, paths, seccomp, users,
};

pub struct DockerSecurity;

fn failed(e: impl std::fmt::Display) -> BackendError {
    BackendError::Failed(e.to_string())
}

impl HostSecurity for DockerSecurity {
    fn default_capabilities(&self) -> Vec<String> {
        capabilities::DEFAULT
            .iter()
            .map(|c| c.to_string())
            .collect()
    }
    fn all_capabilities(&self) -> Vec<String> {
        capabilities::all_capabilities()
    }
    fn default_seccomp(&self, caps: &[String]) -> BackendResult<Option<LinuxSeccomp>> {
        seccomp::render(
            &SeccompChoice::Default,
            caps,
            false,
            &seccomp::Host::current(),
        )
        .map_err(failed)
    }
    fn seccomp_from_json(
        &self,
        json: &str,
        caps: &[String],
    ) -> BackendResult<Option<LinuxSeccomp>> {
        seccomp::render(
            &SeccompChoice::Profile(json.to_string()),
            caps,
            false,
            &seccomp::Host::current(),
        )
        .map_err(|e| BackendError::InvalidArgument(e.to_string()))
    }
    fn masked_paths(&self) -> Vec<String> {
        paths::masked_paths()
    }
    fn readonly_paths(&self) -> Vec<String> {
        paths::readonly_paths()
    }
    fn resolve_user(
        &self,
        rootfs: &Path,
        user: &str,
        groups: &[String],
    ) -> BackendResult<ResolvedUser> {
        let u = users::resolve(rootfs, user, groups)
            .map_err(|e| BackendError::InvalidArgument(e.to_string()))?;
        Ok(ResolvedUser {
            uid: u.uid,
            gid: u.gid,
            additional_gids: u.additional_gids,
            home: u.home.unwrap_or_else(|| "/".into()),
        })
    }
    fn host_devices(&self) -> BackendResult<Vec<LinuxDevice>> {
        devices::host_devices().map_err(failed)
    }
    fn default_device_rules(&self) -> Vec<LinuxDeviceCgroup> {
        let mut rules = device_rules::default_cgroup_rules();
        // Terminals of `kubectl exec -t`: /dev/ptmx and the pts devices, as containerd allows.
        for (major, minor) in [(5, Some(2)), (136, None)] {
            let mut r = LinuxDeviceCgroup::default();
            r.set_allow(true);
            r.set_typ(Some(LinuxDeviceType::C));
            r.set_major(Some(major));
            r.set_minor(minor);
            r.set_access(Some("rwm".into()));
            rules.push(r);
        }
        rules
    }
}
