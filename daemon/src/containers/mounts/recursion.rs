//! How a bind covers the mounts below its source, as dockerd 25+ decides it
//! (`oci_linux.go` `WithMounts`, `volumes_unix.go` `setupMounts`): an `rbind` unless
//! `NonRecursive`; a read-only one is read-only all the way down (`rro`, applied by the
//! runtime with `mount_setattr(2)` and `AT_RECURSIVE`) where the kernel has
//! `mount_setattr` (Linux 5.12), else only at its top (`ro`) — unless
//! `ReadOnlyNonRecursive` asks for the top only, or `ReadOnlyForceRecursive` makes the
//! start fail without it. Conflicting options fail the start with dockerd's words.
use std::sync::OnceLock;

use crate::containers::record::{MountKind, MountPoint};
use crate::containers::{ContainerError, Result};

/// Whether this kernel has `mount_setattr(2)` (dockerd probes it once, too); the reason
/// when it has not.
pub fn kernel_supports_rro() -> std::result::Result<(), String> {
    static PROBED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    PROBED
        .get_or_init(|| {
            // SAFETY: a size of 0 makes the kernel refuse the call (EINVAL) before it
            // reads either pointer; a kernel without the call answers ENOSYS.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_mount_setattr,
                    -1,
                    std::ptr::null::<libc::c_char>(),
                    0,
                    std::ptr::null::<libc::mount_attr>(),
                    0usize,
                )
            };
            let errno = nix::errno::Errno::last();
            if r < 0 && errno == nix::errno::Errno::ENOSYS {
                Err(format!(
                    "rro is not supported: failed to call mount_setattr: {} (kernel is older than 5.12?)",
                    std::io::Error::from(errno)
                ))
            } else {
                Ok(())
            }
        })
        .clone()
}

/// dockerd's checks of a bind's options at start, and `ReadOnlyForceRecursive` where
/// the kernel cannot (`rro` is the probe's answer).
pub fn check(m: &MountPoint, rro: std::result::Result<(), String>) -> Result<()> {
    if m.kind != MountKind::Bind {
        return Ok(());
    }
    let r = m.recursion;
    let conflict = if m.rw && r.read_only_non_recursive {
        Some("!ReadOnly && BindOptions.ReadOnlyNonRecursive")
    } else if m.rw && r.read_only_force_recursive {
        Some("!ReadOnly && BindOptions.ReadOnlyForceRecursive")
    } else if r.read_only_non_recursive && r.read_only_force_recursive {
        Some("ReadOnlyNonRecursive && BindOptions.ReadOnlyForceRecursive")
    } else {
        None
    };
    if let Some(c) = conflict {
        return Err(ContainerError::Internal(format!(
            "mount options conflict: {c}"
        )));
    }
    if !m.rw && r.read_only_force_recursive {
        rro.map_err(ContainerError::Internal)?;
    }
    Ok(())
}

/// The bind's own OCI options, before its propagation: `rbind` or `bind`, then `rro` or
/// `ro` when it is read-only.
pub fn bind_options(m: &MountPoint, rro_supported: bool) -> Vec<&'static str> {
    let r = m.recursion;
    let mut options = vec![if r.non_recursive { "bind" } else { "rbind" }];
    if !m.rw {
        let recursive = !r.read_only_non_recursive && rro_supported;
        options.push(if recursive { "rro" } else { "ro" });
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::record::BindRecursion;

    fn bind(rw: bool, recursion: BindRecursion) -> MountPoint {
        MountPoint {
            kind: MountKind::Bind,
            name: None,
            source: "/src".into(),
            destination: "/dst".into(),
            rw,
            mode: String::new(),
            propagation: "rprivate".into(),
            driver: None,
            options: vec![],
            anonymous: false,
            copy_data: false,
            create_source: false,
            subpath: None,
            recursion,
            image: None,
        }
    }

    #[test]
    fn options_follow_dockerd() {
        let plain = BindRecursion::default();
        let writable = BindRecursion {
            read_only_non_recursive: true,
            ..plain
        };
        let disabled = BindRecursion {
            non_recursive: true,
            ..plain
        };
        assert_eq!(bind_options(&bind(true, plain), true), ["rbind"]);
        assert_eq!(bind_options(&bind(false, plain), true), ["rbind", "rro"]);
        // Without mount_setattr a read-only bind is read-only at its top only.
        assert_eq!(bind_options(&bind(false, plain), false), ["rbind", "ro"]);
        assert_eq!(bind_options(&bind(false, writable), true), ["rbind", "ro"]);
        assert_eq!(bind_options(&bind(false, disabled), true), ["bind", "rro"]);
        assert_eq!(bind_options(&bind(true, disabled), true), ["bind"]);
    }

    #[test]
    fn conflicts_and_forced_recursion_fail_the_start() {
        let forced = BindRecursion {
            read_only_force_recursive: true,
            ..Default::default()
        };
        let writable = BindRecursion {
            read_only_non_recursive: true,
            ..Default::default()
        };
        let both = BindRecursion {
            read_only_non_recursive: true,
            read_only_force_recursive: true,
            ..Default::default()
        };
        let message = |m: &MountPoint, rro: std::result::Result<(), String>| {
            check(m, rro).err().map(|e| e.to_string())
        };
        assert_eq!(message(&bind(false, forced), Ok(())), None);
        assert_eq!(message(&bind(false, writable), Ok(())), None);
        assert_eq!(
            message(&bind(true, writable), Ok(())).as_deref(),
            Some("mount options conflict: !ReadOnly && BindOptions.ReadOnlyNonRecursive")
        );
        assert_eq!(
            message(&bind(true, forced), Ok(())).as_deref(),
            Some("mount options conflict: !ReadOnly && BindOptions.ReadOnlyForceRecursive")
        );
        assert_eq!(
            message(&bind(false, both), Ok(())).as_deref(),
            Some("mount options conflict: ReadOnlyNonRecursive && BindOptions.ReadOnlyForceRecursive")
        );
        let old_kernel = Err("rro is not supported: old kernel".to_string());
        assert_eq!(
            message(&bind(false, forced), old_kernel.clone()).as_deref(),
            Some("rro is not supported: old kernel")
        );
        assert_eq!(
            message(&bind(false, BindRecursion::default()), old_kernel),
            None
        );
    }
}
