//! `POST /images/prune` (moby `daemon/images/image_prune.go`): by default only dangling
//! (untagged) images; `dangling=false` every image no container uses; `until` and
//! `label`/`label!` narrow it. `ImagesDeleted` is `null` when nothing was deleted.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::store::content::ContentStore;
use crate::store::images::ImageStore;

use super::config::ImageConfigFile;
use super::delete::{delete_with, DeleteContext, DeleteItem};
use super::filters::{parse_timestamp, Filters};
use super::refs::ImageRefs;
use super::{children, ImageError, RequestError};

/// The filters `POST /images/prune` accepts.
pub const ACCEPTED_FILTERS: &[&str] = &["dangling", "label", "label!", "until"];

/// Only one prune at a time, as dockerd.
static PRUNE_RUNNING: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PruneReport {
    #[serde(rename = "ImagesDeleted")]
    pub images_deleted: Option<Vec<DeleteItem>>,
    #[serde(rename = "SpaceReclaimed")]
    pub space_reclaimed: u64,
}

/// Prunes images as dockerd.
pub fn prune_images(
    images: &ImageStore,
    content: &ContentStore,
    ctx: &dyn DeleteContext,
    filters: &Filters,
) -> Result<PruneReport, RequestError> {
    if PRUNE_RUNNING.swap(true, Ordering::SeqCst) {
        return Err(ImageError::Conflict("a prune operation is already running".into()).into());
    }
    let result = prune_locked(images, content, ctx, filters);
    PRUNE_RUNNING.store(false, Ordering::SeqCst);
    result
}

fn prune_locked(
    images: &ImageStore,
    content: &ContentStore,
    ctx: &dyn DeleteContext,
    filters: &Filters,
) -> Result<PruneReport, RequestError> {
    filters.validate(ACCEPTED_FILTERS)?;
    let dangling_only = filters.get_bool_or_default("dangling", true)?;
    let until = match filters.get("until").as_slice() {
        [] => None,
        [one] => Some(parse_timestamp(one, chrono::Utc::now())?),
        _ => {
            return Err(RequestError::InvalidParameter(
                "more than one until filter specified".into(),
            ))
        }
    };

    let records = images.list();
    // Sizes of every layer before anything goes, to count what was reclaimed.
    let layer_sizes: HashMap<String, u64> = records
        .iter()
        .flat_map(|r| r.layers.iter().map(|l| (l.chain_id.clone(), l.size)))
        .collect();

    let mut candidates = Vec::new();
    for record in &records {
        let has_children = !children(images, &record.id).is_empty();
        if dangling_only && has_children {
            continue;
        }
        let refs = ImageRefs::of(images, &record.id);
        if refs.is_empty() && has_children {
            continue;
        }
        let config = match ImageConfigFile::load(content, &record.id) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(id = %record.id, error = %e, "prune: skipping image whose config cannot be read");
                continue;
            }
        };
        if let Some(until) = until {
            let created = config.created_time().map(|t| t.with_timezone(&chrono::Utc));
            if created.is_none_or(|c| c > until) {
                continue;
            }
        }
        let labels = config.label_pairs();
        if !filters.match_kv_list("label", &labels) {
            continue;
        }
        if filters.contains("label!") && filters.match_kv_list("label!", &labels) {
            continue;
        }
        candidates.push((record.id.clone(), refs));
    }

    let mut deleted: Vec<DeleteItem> = Vec::new();
    for (id, refs) in candidates {
        if !refs.is_empty() {
            if dangling_only && refs.has_tag() {
                continue;
            }
            for r in &refs.all {
                match delete_with(images, ctx, &r.to_string(), false, true) {
                    Ok(items) => deleted.extend(items),
                    Err(e) => log_failure(&r.to_string(), &e),
                }
            }
        } else {
            let hex = id.trim_start_matches("sha256:");
            match delete_with(images, ctx, hex, false, true) {
                Ok(items) => deleted.extend(items),
                Err(e) => log_failure(hex, &e),
            }
        }
    }

    let space_reclaimed = deleted
        .iter()
        .filter_map(|d| match d {
            DeleteItem::Deleted(id) => layer_sizes.get(id).copied(),
            DeleteItem::Untagged(_) => None,
        })
        .sum();
    Ok(PruneReport {
        images_deleted: (!deleted.is_empty()).then_some(deleted),
        space_reclaimed,
    })
}

fn log_failure(name: &str, e: &ImageError) {
    match e {
        ImageError::Conflict(_) => tracing::debug!(name, error = %e, "prune: image kept"),
        _ => tracing::warn!(name, error = %e, "failed to prune image"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::testutil::{ImageSpec, TestStores};
    use crate::images::usage::ImageUser;
    use crate::store::images::ImageRecord;

    struct NoContainers;
    impl DeleteContext for NoContainers {
        fn containers_using(&self, _: &str) -> Vec<ImageUser> {
            Vec::new()
        }
        fn after_remove(&self, record: &ImageRecord) -> Result<Vec<(String, u64)>, ImageError> {
            Ok(record
                .layers
                .iter()
                .rev()
                .map(|l| (l.chain_id.clone(), l.size))
                .collect())
        }
    }

    fn prune(s: &TestStores, filters: &str) -> PruneReport {
        prune_images(
            &s.images,
            &s.content,
            &NoContainers,
            &Filters::from_json(filters).unwrap(),
        )
        .unwrap()
    }

    // One test: prunes share the process-wide "already running" flag.
    #[test]
    fn prunes_dangling_then_all_unused() {
        let s = TestStores::new();
        let tagged = s.add(ImageSpec::new("a", "2024-01-01T00:00:00Z").refs(&["busybox:latest"]));
        let dangling = s.add(ImageSpec::new("b", "2024-01-02T00:00:00Z").layers(&[("b", 42)]));
        let labelled = s.add(
            ImageSpec::new("c", "2024-01-03T00:00:00Z")
                .refs(&["app:1"])
                .labels(serde_json::json!({"keep": "yes"})),
        );

        let nothing = prune(&s, r#"{"until":["2023-01-01T00:00:00Z"]}"#);
        assert_eq!(
            nothing,
            PruneReport {
                images_deleted: None,
                space_reclaimed: 0
            }
        );
        assert_eq!(
            serde_json::to_value(&nothing).unwrap(),
            serde_json::json!({"ImagesDeleted": null, "SpaceReclaimed": 0})
        );

        let report = prune(&s, "");
        assert_eq!(report.space_reclaimed, 42);
        let items = report.images_deleted.unwrap();
        assert_eq!(items[0], DeleteItem::Deleted(dangling.id.clone()));
        assert!(s.images.get(&tagged.id).is_some());

        let report = prune(&s, r#"{"dangling":["false"],"label!":["keep"]}"#);
        assert_eq!(
            report.images_deleted.unwrap()[..2],
            [
                DeleteItem::Untagged("busybox:latest".into()),
                DeleteItem::Deleted(tagged.id.clone())
            ]
        );
        assert!(s.images.get(&labelled.id).is_some());

        let err = prune_images(
            &s.images,
            &s.content,
            &NoContainers,
            &Filters::from_json(r#"{"reference":["x"]}"#).unwrap(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "invalid filter 'reference'");
    }
}
