//! `GET /containers/{id}/changes`: what the container changed in its root, read from its
//! overlay upper folder (whiteouts are deletions; a path the image has is a change).
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::record::Container;
use super::rootfs::lower_dirs;

/// Files berthd binds in or the runtime creates as mount points: not the user's changes.
const MOUNT_POINTS: &[&str] = &[
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/dev",
    "/proc",
    "/sys",
];

/// Kind: 0 changed, 1 added, 2 deleted (dockerd's `ChangeType`).
pub fn changes(c: &Container, layers_root: &Path) -> Value {
    let lowers = lower_dirs(layers_root, &c.layers);
    let upper = c.upper_dir();
    let mut out: Vec<(String, u8, bool)> = Vec::new();
    let mut stack: Vec<PathBuf> = vec![upper.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(rel) = path.strip_prefix(&upper) else {
                continue;
            };
            let name = format!("/{}", rel.display());
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let in_image = lowers
                .iter()
                .any(|l| std::fs::symlink_metadata(l.join(rel)).is_ok());
            let kind = if meta.file_type().is_char_device() && meta.rdev() == 0 {
                2
            } else if in_image {
                0
            } else {
                1
            };
            let is_dir = meta.is_dir();
            if is_dir && kind != 2 {
                stack.push(path.clone());
            }
            out.push((name, kind, is_dir));
        }
    }
    out.retain(|(p, _, _)| !MOUNT_POINTS.iter().any(|m| p == m));
    // A folder the image has, copied up only for mount points, is not a change.
    let snapshot = out.clone();
    out.retain(|(p, kind, is_dir)| {
        !(*is_dir && *kind == 0)
            || snapshot
                .iter()
                .any(|(q, _, _)| q.starts_with(&format!("{p}/")))
    });
    if out.is_empty() {
        return Value::Null;
    }
    out.sort();
    Value::Array(
        out.into_iter()
            .map(|(p, k, _)| json!({ "Path": p, "Kind": k }))
            .collect(),
    )
}
