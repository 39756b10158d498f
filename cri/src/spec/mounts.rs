//! Mounts of pods' processes, as containerd's CRI plugin sets them: the standard
//! filesystems (`/proc`, `/dev`, `/sys`, …), the pod's files (`/etc/hostname`,
//! `/etc/hosts`, `/etc/resolv.conf`, the pod's `/dev/shm`), then the kubelet's bind mounts
//! with their propagation (PRIVATE → rprivate, HOST_TO_CONTAINER → rslave,
//! BIDIRECTIONAL → rshared; the root's propagation follows the strongest one). A kubelet
//! mount replaces a standard one at the same place. Host paths that are symlinks are
//! resolved on the host, and missing host folders are created, as containerd does.
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{CriError, CriResult};
use crate::proto::{Mount as CriMount, MountPropagation};

/// The standard filesystems; `privileged` gets /sys and cgroups writable.
pub fn standard(privileged: bool) -> Vec<Value> {
    let ro = |privileged: bool| if privileged { "rw" } else { "ro" };
    vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", ro(privileged)]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", ro(privileged)]}),
    ]
}

/// A bind mount of a host file or folder.
pub fn bind(source: &Path, destination: &str, readonly: bool) -> Value {
    json!({
        "destination": destination,
        "type": "bind",
        "source": source.display().to_string(),
        "options": ["rbind", "rprivate", if readonly { "ro" } else { "rw" }],
    })
}

/// The kubelet's mounts as OCI mounts, and the root propagation they need ("" = default).
pub fn kubelet_mounts(mounts: &[CriMount]) -> CriResult<(Vec<Value>, &'static str)> {
    let mut out = Vec::with_capacity(mounts.len());
    let mut root_propagation = "";
    for m in mounts {
        if m.image.as_ref().is_some_and(|i| !i.image.is_empty()) {
            // Image volumes (KEP-4639): containerd 1.6 has none either.
            return Err(CriError::Unimplemented(
                "image volumes are not supported by this runtime".into(),
            ));
        }
        if m.container_path.is_empty() || m.host_path.is_empty() {
            return Err(CriError::InvalidArgument(format!(
                "mount needs both a host path and a container path: {:?} → {:?}",
                m.host_path, m.container_path
            )));
        }
        if m.recursive_read_only {
            return Err(CriError::InvalidArgument(
                "recursive read-only mounts are not supported by this runtime".into(),
            ));
        }
        let source = host_source(Path::new(&m.host_path))?;
        let propagation = match MountPropagation::try_from(m.propagation) {
            Ok(MountPropagation::PropagationHostToContainer) => {
                if root_propagation != "rshared" {
                    root_propagation = "rslave";
                }
                "rslave"
            }
            Ok(MountPropagation::PropagationBidirectional) => {
                root_propagation = "rshared";
                "rshared"
            }
            _ => "rprivate",
        };
        out.push(json!({
            "destination": m.container_path,
            "type": "bind",
            "source": source.display().to_string(),
            "options": ["rbind", propagation, if m.readonly { "ro" } else { "rw" }],
        }));
    }
    Ok((out, root_propagation))
}

/// The host side of a kubelet mount: symlinks resolved; a missing path becomes a folder.
fn host_source(path: &Path) -> CriResult<PathBuf> {
    match std::fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(path)
                .map_err(|e| CriError::io(format!("creating host path {}", path.display()), e))?;
            std::fs::canonicalize(path)
                .map_err(|e| CriError::io(format!("resolving host path {}", path.display()), e))
        }
        Err(e) => Err(CriError::io(
            format!("resolving host path {}", path.display()),
            e,
        )),
    }
}

/// Keeps the first mount of each destination among `later` and drops those of `base`
/// that `later` replaces; answers `base` then `later`.
pub fn merge(base: Vec<Value>, later: Vec<Value>) -> Vec<Value> {
    let dest = |m: &Value| {
        m["destination"]
            .as_str()
            .unwrap_or("")
            .trim_end_matches('/')
            .to_string()
    };
    let replaced: Vec<String> = later.iter().map(dest).collect();
    let mut out: Vec<Value> = base
        .into_iter()
        .filter(|m| !replaced.contains(&dest(m)))
        .collect();
    out.extend(later);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_and_root_propagation() {
        let d = tempfile::tempdir().unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(d.path(), &link).unwrap();
        let m = |path: &Path, prop: MountPropagation, ro: bool| CriMount {
            container_path: "/m".into(),
            host_path: path.display().to_string(),
            readonly: ro,
            propagation: prop as i32,
            ..Default::default()
        };
        let (mounts, root) = kubelet_mounts(&[
            m(&link, MountPropagation::PropagationPrivate, true),
            m(
                d.path(),
                MountPropagation::PropagationHostToContainer,
                false,
            ),
        ])
        .unwrap();
        assert_eq!(root, "rslave");
        let real = std::fs::canonicalize(d.path()).unwrap();
        assert_eq!(mounts[0]["source"], real.display().to_string());
        assert_eq!(mounts[0]["options"], json!(["rbind", "rprivate", "ro"]));
        assert_eq!(mounts[1]["options"], json!(["rbind", "rslave", "rw"]));
        let (_, root) = kubelet_mounts(&[
            m(d.path(), MountPropagation::PropagationBidirectional, false),
            m(
                d.path(),
                MountPropagation::PropagationHostToContainer,
                false,
            ),
        ])
        .unwrap();
        assert_eq!(root, "rshared");
        let missing = d.path().join("new/dir");
        kubelet_mounts(&[m(&missing, MountPropagation::PropagationPrivate, false)]).unwrap();
        assert!(missing.is_dir());
    }

    #[test]
    fn later_mounts_replace_standard_ones() {
        let merged = merge(
            standard(false),
            vec![bind(Path::new("/x"), "/dev/mqueue/", false)],
        );
        let mq: Vec<_> = merged
            .iter()
            .filter(|m| {
                m["destination"]
                    .as_str()
                    .unwrap()
                    .starts_with("/dev/mqueue")
            })
            .collect();
        assert_eq!(mq.len(), 1);
        assert_eq!(mq[0]["type"], "bind");
    }
}
