//! Safe extraction of a layer tar into a directory.
//!
//! Nothing is ever written outside `dest`: entries with `..` or absolute paths are
//! confined or refused, symlinks inside the tree are never followed while writing,
//! hard links must point inside the tree. Whiteouts (`.wh.NAME`, `.wh..wh..opq`) are
//! converted to overlayfs's format.
//!
//! How: `dest` is opened once; every entry's parent directory is reached from it one
//! component at a time with `O_NOFOLLOW` (`paths`), and the entry is created relative
//! to that descriptor (`nodes`). Names are confined like Docker's (`../../etc/passwd`
//! is the layer's `etc/passwd`); a parent that is a symbolic link is refused
//! (`UnsafePath`) rather than followed; a hard link whose target climbs out with `..`
//! or goes through a symbolic link is refused.
mod meta;
mod nodes;
mod paths;
mod whiteout;

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;

use nix::sys::time::TimeSpec;
use tar::EntryType;

use self::meta::{set_times_by_name, set_times_fd, set_xattr_fd, EntryMeta};
use self::nodes::Special;
use self::paths::{confine, display, hard_link_target, Components, Tree};
use self::whiteout::{classify, Whiteout, OPAQUE_XATTR};
use crate::store::{StoreError, StoreResult};

/// Extracts the uncompressed tar `archive` into `dest` (which exists and is empty).
/// Returns the layer's size as dockerd counts it: regular files (hard links once) and
/// symlinks (the length of their target).
pub fn unpack_layer(archive: impl Read, dest: &Path) -> StoreResult<u64> {
    let tree = Tree::open(dest)?;
    let mut archive = tar::Archive::new(archive);
    let entries = archive.entries().map_err(bad_archive)?;
    let mut total = 0u64;
    // Directory times are set last: writing inside a directory changes its mtime.
    let mut directory_times: Vec<(Components, TimeSpec)> = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(bad_archive)?;
        total += extract_entry(&tree, &mut entry, &mut directory_times)?;
    }
    set_directory_times(&tree, &directory_times)?;
    Ok(total)
}

fn bad_archive(e: std::io::Error) -> StoreError {
    StoreError::InvalidArchive(e.to_string())
}

/// Extracts one entry; returns the bytes of regular file content written.
fn extract_entry<R: Read>(
    tree: &Tree,
    entry: &mut tar::Entry<'_, R>,
    directory_times: &mut Vec<(Components, TimeSpec)>,
) -> StoreResult<u64> {
    let kind = entry.header().entry_type();
    if matches!(
        kind,
        EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink
    ) {
        return Ok(0);
    }
    let mut components = confine(&entry.path_bytes());
    let meta = EntryMeta::from_entry(entry)?;
    let shown = display(&components);
    let Some(name) = components.pop() else {
        // The layer's root itself ("./"): only a directory entry makes sense.
        if kind == EntryType::Directory {
            meta::apply_by_fd(tree.root(), &meta, "/")?;
            directory_times.push((Vec::new(), meta.mtime));
        } else {
            tracing::warn!(?kind, "ignoring a non-directory entry for the layer's root");
        }
        return Ok(0);
    };
    let parent = tree.dir(&components, true)?;
    match classify(&name) {
        Whiteout::None => {}
        Whiteout::Ignored => return Ok(0),
        Whiteout::Opaque => {
            set_xattr_fd(parent.as_fd(), OPAQUE_XATTR, b"y", &display(&components))?;
            return Ok(0);
        }
        Whiteout::Deleted(deleted) => {
            nodes::whiteout(parent.as_fd(), deleted, meta.uid, meta.gid, &shown)?;
            return Ok(0);
        }
    }
    let header = entry.header();
    match kind {
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
            let size = entry.size();
            return nodes::regular_file(parent.as_fd(), &name, entry, size, &meta, &shown);
        }
        EntryType::Directory => {
            nodes::directory(parent.as_fd(), &name, &meta, &shown)?;
            components.push(name);
            directory_times.push((components, meta.mtime));
        }
        EntryType::Symlink => {
            let target = entry.link_name_bytes().ok_or_else(|| {
                StoreError::InvalidArchive(format!("symlink {shown} has no target"))
            })?;
            nodes::symlink(parent.as_fd(), &name, &target, &meta, &shown)?;
            // dockerd counts a symlink's own size (its target's length) in a layer's size.
            return Ok(target.len() as u64);
        }
        EntryType::Link => {
            let raw_target = entry.link_name_bytes().ok_or_else(|| {
                StoreError::InvalidArchive(format!("hard link {shown} has no target"))
            })?;
            let mut target = hard_link_target(&raw_target)?;
            if target == [components.as_slice(), std::slice::from_ref(&name)].concat() {
                return Ok(0); // A link to itself: already there.
            }
            let target_name = target.pop().ok_or_else(|| {
                StoreError::InvalidArchive(format!("hard link {shown} points at the root"))
            })?;
            let target_parent = tree.dir(&target, false).map_err(|e| match e {
                StoreError::UnsafePath(why) => {
                    StoreError::UnsafePath(format!("hard link {shown}: {why}"))
                }
                other => other,
            })?;
            nodes::hard_link(
                target_parent.as_fd(),
                &target_name,
                parent.as_fd(),
                &name,
                &shown,
            )?;
        }
        EntryType::Char | EntryType::Block => {
            let number = |n: std::io::Result<Option<u32>>| {
                n.map(|n| u64::from(n.unwrap_or(0))).map_err(bad_archive)
            };
            let (major, minor) = (
                number(header.device_major())?,
                number(header.device_minor())?,
            );
            let special = if kind == EntryType::Char {
                Special::Char { major, minor }
            } else {
                Special::Block { major, minor }
            };
            nodes::special(parent.as_fd(), &name, special, &meta, &shown)?;
        }
        EntryType::Fifo => nodes::special(parent.as_fd(), &name, Special::Fifo, &meta, &shown)?,
        other => {
            tracing::warn!(path = %shown, kind = ?other, "ignoring unsupported tar entry type")
        }
    }
    Ok(0)
}

/// Sets each directory's times, the last entry for a directory winning. Directories
/// that a later entry removed or replaced are skipped.
fn set_directory_times(tree: &Tree, directory_times: &[(Components, TimeSpec)]) -> StoreResult<()> {
    let mut done: HashSet<&[OsString]> = HashSet::new();
    for (components, mtime) in directory_times.iter().rev() {
        if !done.insert(components.as_slice()) {
            continue;
        }
        let shown = display(components);
        let Some((name, parent_components)) = components.split_last() else {
            set_times_fd(tree.root(), mtime, "/")?;
            continue;
        };
        let parent = match tree.dir(parent_components, false) {
            Ok(parent) => parent,
            Err(StoreError::UnsafePath(_) | StoreError::InvalidArchive(_)) => continue,
            Err(e) => return Err(e),
        };
        if nodes::existing(parent.as_fd(), name, &shown)? == nodes::Existing::Directory {
            set_times_by_name(parent.as_fd(), name, mtime, &shown)?;
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_escape;
#[cfg(test)]
mod tests_overlay;
