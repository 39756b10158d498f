//! `GET /containers/{id}/changes`: what the container changed in its root, read from its
//! overlay upper folder (whiteouts are deletions; a path the image or the init layer has
//! is a change). The mount points berthd and the runtime need are in the init layer
//! (`init_layer`), below the upper folder, so a container that changed nothing has no
//! changes (`null`), as with dockerd. The folder is read by handle (`in_root::walk`): a
//! container swapping its folders for symlinks never gets a host folder listed.
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::commit_tar::in_lowers;
use super::record::Container;
use super::rootfs::container_lowers;
use crate::in_root::walk::{self, Entry};

/// How deep the listing goes (one descriptor per level).
const MAX_DEPTH: usize = 1024;

/// Kind: 0 changed, 1 added, 2 deleted (dockerd's `ChangeType`).
pub fn changes(c: &Container, layers_root: &Path) -> Value {
    let lowers: Vec<_> = container_lowers(c, layers_root)
        .iter()
        .filter_map(|l| std::fs::File::open(l).ok().map(std::os::fd::OwnedFd::from))
        .collect();
    let Ok(upper) = std::fs::File::open(c.upper_dir()) else {
        return Value::Null;
    };
    let Ok(root) = walk::open_beneath(upper.as_fd(), Path::new("")).and_then(Entry::from_fd) else {
        return Value::Null;
    };
    let mut out: Vec<(String, u8, bool)> = Vec::new();
    list(&root, Path::new(""), &lowers, &mut out, 0);
    // A folder the image has, copied up for nothing that is left, is not a change.
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

fn list(
    dir: &Entry,
    rel: &Path,
    lowers: &[std::os::fd::OwnedFd],
    out: &mut Vec<(String, u8, bool)>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(names) = walk::names(dir.fd.as_fd()) else {
        return;
    };
    for name in names {
        let Ok(Some(child)) = Entry::open(dir.fd.as_fd(), &name) else {
            continue;
        };
        let path: PathBuf = rel.join(&name);
        let meta = &child.meta;
        let kind = if meta.file_type().is_char_device() && meta.rdev() == 0 {
            2
        } else if in_lowers(lowers, &path).is_some() {
            0
        } else {
            1
        };
        let is_dir = meta.is_dir();
        out.push((format!("/{}", path.display()), kind, is_dir));
        if is_dir && kind != 2 {
            list(&child, &path, lowers, out, depth + 1);
        }
    }
}
