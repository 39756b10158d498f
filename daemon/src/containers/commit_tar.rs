//! A container's changes as a layer tar (`docker commit`): its overlay upper folder,
//! with overlayfs's whiteouts written as the OCI/Docker ones —
//! a 0/0 character device NAME → an empty `.wh.NAME`;
//! a folder with `trusted.overlay.opaque=y` → the folder and `DIR/.wh..wh..opq`.
//! The mount points berthd and the runtime need live in the container's init layer
//! (`init_layer`), under the upper folder, so they are no change, as with dockerd.
//!
//! The upper folder is read by handle (`in_root`): listed through descriptors, each entry
//! opened without following it, and reopened for the tar with no symlink followed on the
//! way; a container swapping its folders while it is committed gets its symlinks
//! committed, never the host's files.
use std::ffi::CString;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::in_root::tar_out::TreeTar;
use crate::in_root::walk::{self, Entry};

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

/// Whether the folder behind `entry` is opaque.
fn is_opaque(entry: &Entry) -> bool {
    let Ok(c_path) = CString::new(
        crate::in_root::fd_path(&entry.fd)
            .into_os_string()
            .into_encoded_bytes(),
    ) else {
        return false;
    };
    let Ok(name) = CString::new(OPAQUE_XATTR) else {
        return false;
    };
    let mut value = [0u8; 4];
    // SAFETY: both strings are NUL-terminated and the buffer's length is passed. The
    // path is the descriptor's magic link: it reaches the folder itself.
    let n = unsafe {
        libc::getxattr(
            c_path.as_ptr(),
            name.as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n == 1 && value[0] == b'y'
}

/// The image's lower folders, open.
fn open_lowers(lowers: &[PathBuf]) -> Vec<OwnedFd> {
    lowers
        .iter()
        .filter_map(|l| {
            nix::fcntl::open(
                l,
                nix::fcntl::OFlag::O_PATH
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ok()
        })
        .collect()
}

/// What the image has at `rel` (top layer first), no symlink followed.
pub(crate) fn in_lowers(lowers: &[OwnedFd], rel: &Path) -> Option<Entry> {
    lowers.iter().find_map(|l| {
        walk::open_beneath(l.as_fd(), rel)
            .and_then(Entry::from_fd)
            .ok()
    })
}

/// Whether a folder in the upper layer differs from what the image has at `rel`.
fn dir_changed(meta: &std::fs::Metadata, rel: &Path, lowers: &[OwnedFd]) -> bool {
    match in_lowers(lowers, rel) {
        None => true,
        Some(b) => {
            !b.meta.is_dir()
                || b.meta.mode() & 0o7777 != meta.mode() & 0o7777
                || b.meta.uid() != meta.uid()
                || b.meta.gid() != meta.gid()
        }
    }
}

/// The upper folder's root, `None` when it does not exist (a container never started).
fn open_upper(upper: &Path) -> io::Result<Option<Entry>> {
    let dir = match std::fs::File::open(upper) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Entry::from_fd(walk::open_beneath(dir.as_fd(), Path::new(""))?).map(Some)
}

/// The entries of the layer for the upper folder `upper` over the image's `lowers`
/// (top first), parents before children, names sorted.
pub fn layer_items(upper: &Path, lowers: &[PathBuf]) -> io::Result<Vec<Item>> {
    let mut out = Vec::new();
    let Some(root) = open_upper(upper)? else {
        // A container never started has no upper folder yet: nothing changed.
        return Ok(out);
    };
    collect(&root, Path::new(""), &open_lowers(lowers), &mut out)?;
    Ok(out)
}

fn collect(dir: &Entry, rel: &Path, lowers: &[OwnedFd], out: &mut Vec<Item>) -> io::Result<()> {
    for name in walk::names(dir.fd.as_fd())? {
        let Some(child) = Entry::open(dir.fd.as_fd(), &name)? else {
            continue;
        };
        let path = rel.join(&name);
        let meta = &child.meta;
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            let mut wh = std::ffi::OsString::from(WHITEOUT_PREFIX);
            wh.push(&name);
            out.push(Item::Whiteout(rel.join(wh)));
        } else if ft.is_dir() {
            let opaque = is_opaque(&child);
            let mut below = Vec::new();
            collect(&child, &path, lowers, &mut below)?;
            if opaque || !below.is_empty() || dir_changed(meta, &path, lowers) {
                out.push(Item::Copy(path.clone()));
                if opaque {
                    out.push(Item::Opaque(path.join(OPAQUE_MARKER)));
                }
                out.extend(below);
            }
        } else if !ft.is_socket() {
            out.push(Item::Copy(path));
        }
    }
    Ok(())
}

/// The entry at `rel` below the upper folder, opened again with no symlink followed on
/// the way; `None` when it changed or went since it was listed.
fn reopen(upper: &Entry, rel: &Path) -> io::Result<Option<Entry>> {
    match walk::open_beneath(upper.fd.as_fd(), rel).and_then(Entry::from_fd) {
        Ok(entry) => Ok(Some(entry)),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT | libc::ELOOP | libc::ENOTDIR | libc::EXDEV)
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Writes `items` (from [`layer_items`]) as a tar.
pub fn write_layer_tar(upper: &Path, items: &[Item], out: impl Write) -> io::Result<()> {
    let mut tar = TreeTar::new(out);
    let Some(root) = open_upper(upper)? else {
        return tar.finish().map(drop);
    };
    for item in items {
        match item {
            Item::Copy(rel) => {
                if let Some(entry) = reopen(&root, rel)? {
                    tar.append_entry(&entry, rel)?;
                }
            }
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
                let Some(entry) = reopen(&root, &source)? else {
                    continue;
                };
                let meta = &entry.meta;
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
                tar.builder().append_data(&mut h, rel, io::empty())?;
            }
        }
    }
    tar.finish().map(drop)
}

#[cfg(test)]
#[path = "commit_tar_tests.rs"]
mod tests;
