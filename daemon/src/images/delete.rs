//! `DELETE /images/{name}` (moby `daemon/images/image_delete.go`, graph-driver store).
//!
//! A reference (tag or digest) is untagged first; the image itself is deleted only when
//! that was its last reference, quietly (a conflict then leaves it in place). An ID (or
//! ID prefix) deletes the image: with a single tag (plus digests of the same repository)
//! its references go with it; with several, only `force` deletes it ("image is referenced
//! in multiple repositories"). Child images (local parents) and running containers are
//! hard conflicts; stopped containers and references are soft ones (`force` overrides).
//! After each deleted image, the layers and blobs nothing uses any more are collected.
//!
//! `noprune`: dockerd also deletes untagged parent images unless `noprune`; pulled images
//! have no parent, so it only matters for locally built/committed ones.
use serde::Serialize;

use crate::reference::Reference;
use crate::state::Daemon;
use crate::store::images::{ImageRecord, ImageStore};

use super::lookup::resolve_in;
use super::refs::{is_single_reference, is_tagged, ImageRefs};
use super::usage::ImageUser;
use super::{children, short_id, ImageError};

/// One line of the answer: `{"Untagged": "busybox:latest"}` or `{"Deleted": "sha256:…"}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub enum DeleteItem {
    Untagged(String),
    Deleted(String),
}

/// What deleting needs from the rest of the daemon: who uses an image, and what to do
/// once a record is gone (collect its layers; report their chain IDs and sizes).
pub trait DeleteContext {
    fn containers_using(&self, image_id: &str) -> Vec<ImageUser>;
    /// Called after `record` was removed; returns the layers removed (chain ID, size), top first.
    fn after_remove(&self, record: &ImageRecord) -> Result<Vec<(String, u64)>, ImageError>;
}

/// The daemon's context: containers from `usage`, layers collected by `store::gc`.
pub struct DaemonDeleteContext<'a>(pub &'a Daemon);

impl DeleteContext for DaemonDeleteContext<'_> {
    fn containers_using(&self, image_id: &str) -> Vec<ImageUser> {
        super::usage::containers_using(self.0, image_id)
    }

    fn after_remove(&self, record: &ImageRecord) -> Result<Vec<(String, u64)>, ImageError> {
        let d = self.0;
        // The record is already gone: a failed collection is logged, not reported as a
        // failed delete (the next delete, prune or start-up check collects again).
        let collected = match d.collect_garbage() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(image = %record.id, error = %e, "collecting unused layers and blobs failed");
                return Ok(Vec::new());
            }
        };
        tracing::debug!(
            layers = collected.layers.len(),
            blobs = collected.blobs.len(),
            bytes = collected.bytes,
            "collected unused image data"
        );
        Ok(record
            .layers
            .iter()
            .rev()
            .filter(|l| collected.layers.contains(&l.chain_id))
            .map(|l| (l.chain_id.clone(), l.size))
            .collect())
    }
}

/// Deletes (or untags) what `name` refers to, as dockerd.
pub fn delete_image(
    daemon: &Daemon,
    name: &str,
    force: bool,
    prune: bool,
) -> Result<Vec<DeleteItem>, ImageError> {
    delete_with(
        &daemon.images,
        &DaemonDeleteContext(daemon),
        name,
        force,
        prune,
    )
}

/// `delete_image` on an image store with an explicit context (what tests use).
pub fn delete_with(
    images: &ImageStore,
    ctx: &dyn DeleteContext,
    name: &str,
    force: bool,
    prune: bool,
) -> Result<Vec<DeleteItem>, ImageError> {
    let record = resolve_in(images, name)?;
    let id = record.id.clone();
    let mut items = Vec::new();
    let mut repo_refs = ImageRefs::of(images, &id).all;

    let removed_repository_ref = if !is_id_prefix(&id, name) {
        if !force && is_single_reference(&repo_refs) {
            if let Some(user) = ctx.containers_using(&id).first() {
                return Err(ImageError::Conflict(format!(
                    "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                    short_id(&user.container_id),
                    short_id(&id)
                )));
            }
        }
        let mut parsed = Reference::parse(name)?;
        if parsed.tag.is_none() && parsed.digest.is_none() {
            parsed = parsed.with_tag(crate::reference::DEFAULT_TAG);
        }
        images.remove_ref(&parsed.to_string())?;
        items.push(DeleteItem::Untagged(parsed.familiar()));
        repo_refs = ImageRefs::of(images, &id).all;

        // Untagging the last tag of a repository also drops that repository's digests.
        if parsed.digest.is_none() {
            let tag_left = repo_refs
                .iter()
                .any(|r| r.digest.is_none() && r.name() == parsed.name());
            if !tag_left {
                let mut remaining = Vec::new();
                for r in repo_refs {
                    if r.digest.is_some() && r.name() == parsed.name() {
                        images.remove_ref(&r.to_string())?;
                        items.push(DeleteItem::Untagged(r.familiar()));
                    } else {
                        remaining.push(r);
                    }
                }
                repo_refs = remaining;
            }
        }
        if !repo_refs.is_empty() {
            return Ok(items);
        }
        true
    } else {
        if is_single_reference(&repo_refs) {
            let mask = if force {
                Conflicts::HARD
            } else {
                Conflicts::HARD | Conflicts::STOPPED_CONTAINER
            };
            if let Some(conflict) = check_conflict(images, ctx, &id, mask) {
                return Err(conflict.into_error(&id));
            }
            for r in &repo_refs {
                images.remove_ref(&r.to_string())?;
                items.push(DeleteItem::Untagged(r.familiar()));
            }
        }
        false
    };

    delete_helper(
        images,
        ctx,
        &id,
        &mut items,
        force,
        prune,
        removed_repository_ref,
    )?;
    Ok(items)
}

/// dockerd's `isImageIDPrefix`: whether what the user typed is a prefix of the ID.
fn is_id_prefix(id: &str, typed: &str) -> bool {
    id.starts_with(typed)
        || id
            .split_once(':')
            .is_some_and(|(_, hex)| hex.starts_with(typed))
}

/// Kinds of delete conflicts, as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Conflicts(u8);

impl Conflicts {
    const DEPENDENT_CHILD: Conflicts = Conflicts(1);
    const RUNNING_CONTAINER: Conflicts = Conflicts(2);
    const ACTIVE_REFERENCE: Conflicts = Conflicts(4);
    const STOPPED_CONTAINER: Conflicts = Conflicts(8);
    const HARD: Conflicts = Conflicts(1 | 2);
    const SOFT: Conflicts = Conflicts(4 | 8);

    fn has(self, other: Conflicts) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for Conflicts {
    type Output = Conflicts;
    fn bitor(self, rhs: Conflicts) -> Conflicts {
        Conflicts(self.0 | rhs.0)
    }
}

/// A reason not to delete an image.
#[derive(Debug)]
struct Conflict {
    hard: bool,
    /// A container uses the image.
    used: bool,
    message: String,
}

impl Conflict {
    fn into_error(self, id: &str) -> ImageError {
        let force = if self.hard {
            "cannot be forced"
        } else {
            "must be forced"
        };
        ImageError::Conflict(format!(
            "conflict: unable to delete {} ({force}) - {}",
            short_id(id),
            self.message
        ))
    }
}

fn check_conflict(
    images: &ImageStore,
    ctx: &dyn DeleteContext,
    id: &str,
    mask: Conflicts,
) -> Option<Conflict> {
    if mask.has(Conflicts::DEPENDENT_CHILD) && !children(images, id).is_empty() {
        return Some(Conflict {
            hard: true,
            used: false,
            message: "image has dependent child images".into(),
        });
    }
    let users = if mask.has(Conflicts::RUNNING_CONTAINER) || mask.has(Conflicts::STOPPED_CONTAINER)
    {
        ctx.containers_using(id)
    } else {
        Vec::new()
    };
    if mask.has(Conflicts::RUNNING_CONTAINER) {
        if let Some(u) = users.iter().find(|u| u.running) {
            let message = format!(
                "image is being used by running container {}",
                short_id(&u.container_id)
            );
            return Some(Conflict {
                hard: true,
                used: true,
                message,
            });
        }
    }
    if mask.has(Conflicts::ACTIVE_REFERENCE) && !images.refs_of(id).is_empty() {
        return Some(Conflict {
            hard: false,
            used: false,
            message: "image is referenced in multiple repositories".into(),
        });
    }
    if mask.has(Conflicts::STOPPED_CONTAINER) {
        if let Some(u) = users.iter().find(|u| !u.running) {
            let message = format!(
                "image is being used by stopped container {}",
                short_id(&u.container_id)
            );
            return Some(Conflict {
                hard: false,
                used: true,
                message,
            });
        }
    }
    None
}

/// Deletes the image `id` unless a conflict stops it; `quiet` ignores conflicts for images
/// that are still referenced or used. Then, with `prune`, its untagged parents the same way.
fn delete_helper(
    images: &ImageStore,
    ctx: &dyn DeleteContext,
    id: &str,
    items: &mut Vec<DeleteItem>,
    force: bool,
    prune: bool,
    quiet: bool,
) -> Result<(), ImageError> {
    let mask = if force {
        Conflicts::HARD
    } else {
        Conflicts::HARD | Conflicts::SOFT
    };
    if let Some(conflict) = check_conflict(images, ctx, id, mask) {
        let dangling = images.refs_of(id).is_empty() && children(images, id).is_empty();
        if quiet && (!dangling || conflict.used) {
            return Ok(());
        }
        return Err(conflict.into_error(id));
    }
    let parent = images.get(id).map(|r| r.parent).unwrap_or_default();
    for r in ImageRefs::of(images, id).all {
        images.remove_ref(&r.to_string())?;
        items.push(DeleteItem::Untagged(r.familiar()));
    }
    let Some(removed) = images.remove(id)? else {
        return Err(ImageError::NotFound(id.to_string()));
    };
    tracing::info!(id, "image deleted");
    items.push(DeleteItem::Deleted(id.to_string()));
    for (chain_id, _) in ctx.after_remove(&removed)? {
        items.push(DeleteItem::Deleted(chain_id));
    }
    if !prune || parent.is_empty() || images.get(&parent).is_none() {
        return Ok(());
    }
    delete_helper(images, ctx, &parent, items, false, true, true)
}

/// Whether any of `refs` is a tag (used by prune).
pub fn has_tag(refs: &[Reference]) -> bool {
    refs.iter().any(is_tagged)
}

#[cfg(test)]
#[path = "delete_tests.rs"]
mod tests;
