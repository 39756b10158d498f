//! A container's changes as a layer tar (`docker commit`): its overlay upper folder,
//! with overlayfs's whiteouts written as the OCI/Docker ones —
//! a 0/0 character device NAME → an empty `.wh.NAME`;
//! a folder with `trusted.overlay.opaque=y` → the folder and `DIR/.wh..wh..opq`.
//! The mount points berthd and the runtime make (`/etc/hosts`, `/dev`, …) are left out,
//! and so are folders copied up only to hold them, as dockerd's init layer hides them.
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Paths (relative to the root) that are mount points, not the user's changes.
const MOUNT_POINTS: &[&str] = &[
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    "dev",
    "proc",
    "sys",
];

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
const WHITEOUT_PREFIX: &str = ".wh.";

/// One entry of the layer tar, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A file, folder, link or device copied as it is.
    Copy(PathBuf),
    /// `.wh.NAME` for a deleted NAME (the path is the whiteout's).
    Whiteout(PathBuf),
    /// `DIR/.wh..wh..opq` (the path is the marker's).
    Opaque(PathBuf),
}

fn is_opaque(path: &Path) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let Ok(name) = CString::new(OPAQUE_XATTR) else {
        return false;
    };
    let mut value = [0u8; 4];
    // SAFETY: both strings are NUL-terminated and the buffer's length is passed.
    let n = unsafe {
        libc::lgetxattr(
            c_path.as_ptr(),
            name.as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n == 1 && value[0] == b'y'
}

/// Whether a folder in the upper layer differs from what the image has at `rel`.
fn dir_changed(meta: &std::fs::Metadata, rel: &Path, lowers: &[PathBuf]) -> bool {
    let below = lowers
        .iter()
        .find_map(|l| std::fs::symlink_metadata(l.join(rel)).ok());
    match below {
        None => true,
        Some(b) => {
            !b.is_dir()
                || b.mode() & 0o7777 != meta.mode() & 0o7777
                || b.uid() != meta.uid()
                || b.gid() != meta.gid()
        }
    }
}

/// The entries of the layer for the upper folder `upper` over the image's `lowers`
/// (top first), parents before children, names sorted.
pub fn layer_items(upper: &Path, lowers: &[PathBuf]) -> std::io::Result<Vec<Item>> {
    let mut out = Vec::new();
    if !upper.exists() {
        // A container never started has no upper folder yet: nothing changed.
        return Ok(out);
    }
    collect(upper, Path::new(""), lowers, &mut out)?;
    Ok(out)
}

fn collect(
    upper: &Path,
    rel: &Path,
    lowers: &[PathBuf],
    out: &mut Vec<Item>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(upper.join(rel))?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let child = rel.join(&name);
        if MOUNT_POINTS.iter().any(|m| Path::new(m) == child) {
            continue;
        }
        let meta = std::fs::symlink_metadata(e.path())?;
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            let mut wh = std::ffi::OsString::from(WHITEOUT_PREFIX);
            wh.push(&name);
            out.push(Item::Whiteout(rel.join(wh)));
        } else if ft.is_dir() {
            let opaque = is_opaque(&e.path());
            let mut below = Vec::new();
            collect(upper, &child, lowers, &mut below)?;
            if opaque || !below.is_empty() || dir_changed(&meta, &child, lowers) {
                out.push(Item::Copy(child.clone()));
                if opaque {
                    out.push(Item::Opaque(child.join(OPAQUE_MARKER)));
                }
                out.extend(below);
            }
        } else if !ft.is_socket() {
            out.push(Item::Copy(child));
        }
    }
    Ok(())
}

/// Writes `items` (from [`layer_items`]) as a tar.
pub fn write_layer_tar(upper: &Path, items: &[Item], out: impl Write) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut links = super::tar_tree::HardLinks::default();
    for item in items {
        match item {
            Item::Copy(rel) => links.append(&mut builder, &upper.join(rel), rel)?,
            Item::Whiteout(rel) | Item::Opaque(rel) => {
                // Owner and times of what it stands for: the device, or the folder.
                let source = match item {
                    Item::Opaque(_) => rel.parent().map(Path::to_path_buf).unwrap_or_default(),
                    _ => {
                        let name = rel
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        let deleted = name.strip_prefix(WHITEOUT_PREFIX).unwrap_or(&name);
                        rel.with_file_name(deleted)
                    }
                };
                let meta = std::fs::symlink_metadata(upper.join(&source))?;
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(0);
                h.set_mode(match item {
                    Item::Opaque(_) => meta.mode() & 0o777,
                    _ => 0o600,
                });
                h.set_uid(meta.uid().into());
                h.set_gid(meta.gid().into());
                h.set_mtime(meta.mtime().max(0) as u64);
                builder.append_data(&mut h, rel, std::io::empty())?;
            }
        }
    }
    builder.finish()
}

#[cfg(test)]
#[path = "commit_tar_tests.rs"]
mod tests;
