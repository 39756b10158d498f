//! Security settings of pods' processes, as containerd's CRI plugin sets them:
//! capabilities (Docker's default set, "ALL" in adds or drops, names with or without
//! `CAP_`), seccomp (`RuntimeDefault` is the runtime's default profile, `Unconfined` and a
//! missing profile mean none, `Localhost` reads the node's file; nothing for privileged
//! processes), masked and read-only paths (the kubelet's lists, else the defaults; none
//! when privileged), and the user (`run_as_user`, `run_as_username`, `run_as_group`,
//! supplemental groups) resolved inside the image.
use std::path::Path;

use serde_json::{json, Value};

use crate::backend::{HostSecurity, ResolvedUser};
use crate::error::{CriError, CriResult};
use crate::proto::{security_profile::ProfileType, Capability, SecurityProfile};

/// "sys_admin", "CAP_SYS_ADMIN" → "CAP_SYS_ADMIN".
fn cap_name(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

/// The capability set (bounding = effective = permitted).
pub fn capabilities(
    host: &dyn HostSecurity,
    caps: Option<&Capability>,
    privileged: bool,
) -> Vec<String> {
    if privileged {
        return host.all_capabilities();
    }
    let mut set = host.default_capabilities();
    let Some(caps) = caps else {
        return set;
    };
    let is_all = |c: &String| c.eq_ignore_ascii_case("ALL");
    if caps.add_capabilities.iter().any(is_all) {
        set = host.all_capabilities();
    }
    if caps.drop_capabilities.iter().any(is_all) {
        set.clear();
    }
    for add in caps.add_capabilities.iter().filter(|c| !is_all(c)) {
        let name = cap_name(add);
        if !set.contains(&name) {
            set.push(name);
        }
    }
    for drop in caps.drop_capabilities.iter().filter(|c| !is_all(c)) {
        let name = cap_name(drop);
        set.retain(|c| *c != name);
    }
    set
}

/// The OCI `process.capabilities` object.
pub fn capabilities_json(caps: &[String]) -> Value {
    json!({"bounding": caps, "effective": caps, "permitted": caps})
}

/// The seccomp filter to install, `None` for none.
pub fn seccomp(
    host: &dyn HostSecurity,
    profile: Option<&SecurityProfile>,
    profile_path: &str,
    privileged: bool,
    caps: &[String],
) -> CriResult<Option<Value>> {
    if privileged {
        return Ok(None);
    }
    let localhost = |path: &str| -> CriResult<Option<oci_spec::runtime::LinuxSeccomp>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CriError::InvalidArgument(format!("failed to load seccomp profile {path:?}: {e}"))
        })?;
        host.seccomp_from_json(&text, caps)
            .map_err(|e| CriError::InvalidArgument(format!("seccomp profile {path:?}: {e}")))
    };
    let chosen = match profile {
        Some(p) => match ProfileType::try_from(p.profile_type) {
            Ok(ProfileType::RuntimeDefault) => host
                .default_seccomp(caps)
                .map_err(|e| CriError::backend("the default seccomp profile", e))?,
            Ok(ProfileType::Unconfined) => None,
            Ok(ProfileType::Localhost) => localhost(&p.localhost_ref)?,
            Err(_) => {
                return Err(CriError::InvalidArgument(format!(
                    "unknown seccomp profile type {}",
                    p.profile_type
                )))
            }
        },
        None => match profile_path {
            "" | "unconfined" => None,
            "runtime/default" | "docker/default" => host
                .default_seccomp(caps)
                .map_err(|e| CriError::backend("the default seccomp profile", e))?,
            p => match p.strip_prefix("localhost/") {
                Some(path) => localhost(path)?,
                None => {
                    return Err(CriError::InvalidArgument(format!(
                        "unsupported seccomp profile {p:?}"
                    )))
                }
            },
        },
    };
    chosen
        .map(|s| serde_json::to_value(s).map_err(|e| CriError::Failed(e.to_string())))
        .transpose()
}

/// Masked and read-only paths: none when privileged, else the kubelet's lists, else the
/// defaults.
pub fn paths(
    host: &dyn HostSecurity,
    masked: &[String],
    readonly: &[String],
    privileged: bool,
) -> (Vec<String>, Vec<String>) {
    if privileged {
        return (Vec::new(), Vec::new());
    }
    let masked = if masked.is_empty() {
        host.masked_paths()
    } else {
        masked.to_vec()
    };
    let readonly = if readonly.is_empty() {
        host.readonly_paths()
    } else {
        readonly.to_vec()
    };
    (masked, readonly)
}

/// Who the process runs as.
#[derive(Debug, Clone, Default)]
pub struct UserRequest<'a> {
    pub run_as_user: Option<i64>,
    pub run_as_username: &'a str,
    pub run_as_group: Option<i64>,
    pub supplemental_groups: &'a [i64],
    /// The image config's `User`.
    pub image_user: &'a str,
}

/// Resolves the user inside `rootfs`. A group without a user is refused, as containerd.
pub fn user(
    host: &dyn HostSecurity,
    rootfs: &Path,
    req: &UserRequest<'_>,
) -> CriResult<ResolvedUser> {
    let base = match (req.run_as_user, req.run_as_username) {
        (Some(uid), _) => uid.to_string(),
        (None, name) if !name.is_empty() => name.to_string(),
        (None, _) => {
            if req.run_as_group.is_some() {
                return Err(CriError::InvalidArgument(
                    "user group is specified without user".into(),
                ));
            }
            req.image_user.to_string()
        }
    };
    let spec = match req.run_as_group {
        Some(gid) => format!("{}:{gid}", base.split(':').next().unwrap_or("")),
        None => base,
    };
    let groups: Vec<String> = req
        .supplemental_groups
        .iter()
        .map(|g| g.to_string())
        .collect();
    host.resolve_user(rootfs, &spec, &groups)
        .map_err(|e| CriError::backend(format!("resolving user {spec:?}"), e))
}

#[cfg(test)]
pub mod fake {
    //! A recording stand-in for the host's security defaults.
    use super::*;
    use crate::backend::BackendResult;

    pub struct FakeHost;

    impl HostSecurity for FakeHost {
        fn default_capabilities(&self) -> Vec<String> {
            vec!["CAP_CHOWN".into(), "CAP_KILL".into()]
        }
        fn all_capabilities(&self) -> Vec<String> {
            vec![
                "CAP_CHOWN".into(),
                "CAP_KILL".into(),
                "CAP_SYS_ADMIN".into(),
            ]
        }
        fn default_seccomp(
            &self,
            _: &[String],
        ) -> BackendResult<Option<oci_spec::runtime::LinuxSeccomp>> {
            Ok(Some(Default::default()))
        }
        fn seccomp_from_json(
            &self,
            _: &str,
            _: &[String],
        ) -> BackendResult<Option<oci_spec::runtime::LinuxSeccomp>> {
            Ok(Some(Default::default()))
        }
        fn masked_paths(&self) -> Vec<String> {
            vec!["/proc/kcore".into()]
        }
        fn readonly_paths(&self) -> Vec<String> {
            vec!["/proc/sys".into()]
        }
        fn resolve_user(
            &self,
            _: &Path,
            user: &str,
            groups: &[String],
        ) -> BackendResult<ResolvedUser> {
            let mut parts = user.split(':');
            let uid = parts.next().and_then(|u| u.parse().ok()).unwrap_or(0);
            let gid = parts.next().and_then(|g| g.parse().ok()).unwrap_or(uid);
            let mut additional_gids = vec![gid];
            additional_gids.extend(groups.iter().filter_map(|g| g.parse::<u32>().ok()));
            Ok(ResolvedUser {
                uid,
                gid,
                additional_gids,
                home: "/".into(),
            })
        }
        fn host_devices(&self) -> BackendResult<Vec<oci_spec::runtime::LinuxDevice>> {
            Ok(vec![])
        }
        fn default_device_rules(&self) -> Vec<oci_spec::runtime::LinuxDeviceCgroup> {
            vec![Default::default()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeHost;
    use super::*;

    #[test]
    fn capability_adds_and_drops() {
        let h = FakeHost;
        let c = |add: &[&str], drop: &[&str]| Capability {
            add_capabilities: add.iter().map(|s| s.to_string()).collect(),
            drop_capabilities: drop.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert_eq!(capabilities(&h, None, true).len(), 3);
        assert_eq!(
            capabilities(&h, Some(&c(&["sys_admin"], &["KILL"])), false),
            vec!["CAP_CHOWN", "CAP_SYS_ADMIN"]
        );
        assert!(capabilities(&h, Some(&c(&[], &["ALL"])), false).is_empty());
        assert_eq!(capabilities(&h, Some(&c(&["ALL"], &[])), false).len(), 3);
        assert_eq!(
            capabilities(&h, Some(&c(&["CAP_KILL"], &["ALL"])), false),
            vec!["CAP_KILL"]
        );
    }

    #[test]
    fn seccomp_choices() {
        let h = FakeHost;
        let p = |t: ProfileType| SecurityProfile {
            profile_type: t as i32,
            ..Default::default()
        };
        assert!(seccomp(&h, None, "", false, &[]).unwrap().is_none());
        assert!(
            seccomp(&h, Some(&p(ProfileType::RuntimeDefault)), "", false, &[])
                .unwrap()
                .is_some()
        );
        assert!(
            seccomp(&h, Some(&p(ProfileType::Unconfined)), "", false, &[])
                .unwrap()
                .is_none()
        );
        assert!(
            seccomp(&h, Some(&p(ProfileType::RuntimeDefault)), "", true, &[])
                .unwrap()
                .is_none()
        );
        assert!(seccomp(&h, None, "runtime/default", false, &[])
            .unwrap()
            .is_some());
        assert!(seccomp(&h, Some(&p(ProfileType::Localhost)), "", false, &[]).is_err());
    }

    #[test]
    fn group_without_user_is_refused() {
        let h = FakeHost;
        let req = UserRequest {
            run_as_group: Some(5),
            ..Default::default()
        };
        assert!(matches!(
            user(&h, Path::new("/"), &req),
            Err(CriError::InvalidArgument(_))
        ));
        let req = UserRequest {
            run_as_user: Some(1000),
            run_as_group: Some(5),
            supplemental_groups: &[7],
            ..Default::default()
        };
        let u = user(&h, Path::new("/"), &req).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.additional_gids.clone()),
            (1000, 5, vec![5, 7])
        );
    }
}
