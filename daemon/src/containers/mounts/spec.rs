//! How a container's mounts are shown: to the runtime (the OCI `mounts` entries, as
//! dockerd's `setMounts` builds them) and to clients (`Mounts` in inspect and in
//! `GET /containers/json`, and the `volume=` filter of `docker ps`).
use serde_json::{json, Value};

use crate::containers::record::{Container, MountKind};

const TMPFS_DEFAULTS: &[&str] = &["nosuid", "nodev", "noexec"];

fn depth(destination: &str) -> usize {
    destination.split('/').filter(|s| !s.is_empty()).count()
}

fn tmpfs(destination: &str, extra: impl Iterator<Item = String>) -> Value {
    let mut options: Vec<String> = TMPFS_DEFAULTS.iter().map(|s| s.to_string()).collect();
    for o in extra {
        // A later size= or mode= replaces an earlier one (MergeTmpfsOptions).
        if let Some((key, _)) = o.split_once('=') {
            options.retain(|x| x.split_once('=').map(|(k, _)| k) != Some(key));
        }
        if !options.contains(&o) {
            options.push(o);
        }
    }
    json!({"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": options})
}

/// The container's own mounts (binds, volumes, tmpfs of `--mount` and `--tmpfs`), parents
/// before what is mounted inside them; read-only binds recursively so where the kernel
/// can.
pub fn oci_mounts(c: &Container) -> Vec<Value> {
    oci_mounts_with(c, super::recursion::kernel_supports_rro().is_ok())
}

fn oci_mounts_with(c: &Container, rro_supported: bool) -> Vec<Value> {
    let mut entries: Vec<(String, Value)> = Vec::new();
    for m in &c.mount_points {
        let entry = match m.kind {
            MountKind::Tmpfs => tmpfs(&m.destination, m.options.iter().cloned()),
            MountKind::Bind | MountKind::Volume | MountKind::Image => {
                let propagation = if m.propagation.is_empty() {
                    "rprivate"
                } else {
                    m.propagation.as_str()
                };
                let mut options = super::recursion::bind_options(m, rro_supported);
                options.push(propagation);
                json!({
                    "destination": m.destination,
                    "type": "bind",
                    "source": m.source.display().to_string(),
                    "options": options,
                })
            }
        };
        entries.push((m.destination.clone(), entry));
    }
    for (dst, opts) in c.host_config.tmpfs.iter().flatten() {
        let extra = opts
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        entries.push((dst.clone(), tmpfs(dst, extra)));
    }
    entries.sort_by_key(|(d, _)| depth(d));
    entries.into_iter().map(|(_, v)| v).collect()
}

/// Where the container's own mounts go: dockerd's defaults (/dev/shm, /etc/hosts, …) at
/// the same places give way to them.
pub fn destinations(c: &Container) -> Vec<String> {
    let mut out: Vec<String> = c
        .mount_points
        .iter()
        .map(|m| m.destination.clone())
        .collect();
    out.extend(c.host_config.tmpfs.iter().flatten().map(|(d, _)| d.clone()));
    out
}

/// `linux.rootfsPropagation` when a bind asks for shared or slave propagation (the root
/// must propagate too for it to work), as dockerd sets it.
pub fn root_propagation(c: &Container) -> Option<&'static str> {
    let props: Vec<&str> = c
        .mount_points
        .iter()
        .map(|m| m.propagation.as_str())
        .collect();
    if props.iter().any(|p| matches!(*p, "shared" | "rshared")) {
        Some("rshared")
    } else if props.iter().any(|p| matches!(*p, "slave" | "rslave")) {
        Some("rslave")
    } else {
        None
    }
}

/// `Mounts` as dockerd shows it: binds, volumes and `--mount type=tmpfs` (not `--tmpfs`).
pub fn mounts_json(c: &Container) -> Value {
    let shown: Vec<Value> = c
        .mount_points
        .iter()
        .map(|m| {
            let kind = match m.kind {
                MountKind::Bind => "bind",
                MountKind::Volume => "volume",
                MountKind::Tmpfs => "tmpfs",
                MountKind::Image => "image",
            };
            let mut v = json!({
                "Type": kind,
                "Source": m.source.display().to_string(),
                "Destination": m.destination,
                "Mode": m.mode,
                "RW": m.rw,
                "Propagation": m.propagation,
            });
            if m.kind == MountKind::Volume {
                v["Name"] = json!(m.name.clone().unwrap_or_default());
                v["Driver"] = json!(m.driver.clone().unwrap_or_default());
            }
            if m.kind == MountKind::Image {
                v["Name"] = json!(m.name.clone().unwrap_or_default());
            }
            v
        })
        .collect();
    Value::Array(shown)
}

/// `docker ps --filter volume=X`: a mount whose volume name or destination is X.
pub fn uses_volume(c: &Container, value: &str) -> bool {
    c.mount_points
        .iter()
        .any(|m| m.name.as_deref() == Some(value) || m.destination == value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::record::MountPoint;

    fn mp(kind: MountKind, dst: &str, rw: bool) -> MountPoint {
        MountPoint {
            kind,
            name: (kind == MountKind::Volume).then(|| "vol".to_string()),
            source: if kind == MountKind::Tmpfs {
                "".into()
            } else {
                "/src".into()
            },
            destination: dst.into(),
            rw,
            mode: String::new(),
            propagation: if kind == MountKind::Bind {
                "rprivate".into()
            } else {
                String::new()
            },
            driver: (kind == MountKind::Volume).then(|| "local".to_string()),
            options: if kind == MountKind::Tmpfs {
                vec!["size=1m".into()]
            } else {
                vec![]
            },
            anonymous: false,
            copy_data: false,
            create_source: false,
            subpath: None,
            recursion: Default::default(),
            image: None,
        }
    }

    fn container(mounts: Vec<MountPoint>) -> Container {
        Container {
            id: "a".repeat(64),
            name: "/x".into(),
            created: chrono::Utc::now(),
            path: "sh".into(),
            args: vec![],
            config: Default::default(),
            host_config: bollard_stubs::models::HostConfig {
                tmpfs: Some([("/run".to_string(), "size=2m".to_string())].into()),
                ..Default::default()
            },
            image_id: String::new(),
            layers: vec![],
            state: Default::default(),
            restart_count: 0,
            mount_points: mounts,
            health: None,
            dir: "/tmp/c".into(),
        }
    }

    #[test]
    fn oci_entries_parents_first() {
        let c = container(vec![
            mp(MountKind::Bind, "/a/b", false),
            mp(MountKind::Volume, "/a", true),
            mp(MountKind::Tmpfs, "/t", true),
        ]);
        let m = oci_mounts_with(&c, true);
        let dsts: Vec<&str> = m
            .iter()
            .map(|v| v["destination"].as_str().unwrap())
            .collect();
        assert_eq!(dsts, vec!["/a", "/t", "/run", "/a/b"]);
        assert_eq!(m[3]["options"], json!(["rbind", "rro", "rprivate"]));
        assert_eq!(m[0]["options"], json!(["rbind", "rprivate"]));
        let m = oci_mounts_with(&c, false);
        assert_eq!(m[3]["options"], json!(["rbind", "ro", "rprivate"]));
        assert_eq!(
            m[1]["options"],
            json!(["nosuid", "nodev", "noexec", "size=1m"])
        );
        assert_eq!(m[2]["type"], "tmpfs");
        assert_eq!(root_propagation(&c), None);
    }

    #[test]
    fn inspect_shape() {
        let c = container(vec![
            mp(MountKind::Volume, "/data", true),
            mp(MountKind::Bind, "/b", false),
        ]);
        let shown = mounts_json(&c);
        assert_eq!(shown[0]["Type"], "volume");
        assert_eq!(shown[0]["Name"], "vol");
        assert_eq!(shown[0]["Driver"], "local");
        assert_eq!(shown[1].get("Name"), None);
        assert_eq!(shown[1]["RW"], false);
        assert!(uses_volume(&c, "vol"));
        assert!(uses_volume(&c, "/b"));
        assert!(!uses_volume(&c, "other"));
    }
}
