//! `GET /images/json`: the image summaries, filtered and sorted newest first
//! (moby `daemon/images/image_list.go`, graph-driver store, and the version rules of
//! its API router).
use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::store::content::ContentStore;
use crate::store::images::{ImageRecord, ImageStore};

use super::config::ImageConfigFile;
use super::filters::{glob_match, parse_timestamp, Filters};
use super::lookup::resolve_in;
use super::refs::ImageRefs;
use super::{children, image_size, RequestError};

/// The filters `GET /images/json` accepts.
pub const ACCEPTED_FILTERS: &[&str] =
    &["dangling", "label", "before", "since", "reference", "until"];

/// One entry of the list, with dockerd's field names and order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImageSummary {
    #[serde(rename = "Containers")]
    pub containers: i64,
    #[serde(rename = "Created")]
    pub created: i64,
    #[serde(rename = "Id")]
    pub id: String,
    /// The config's labels; `null` when the config has none (as dockerd's graph-driver store).
    #[serde(rename = "Labels")]
    pub labels: Option<Map<String, Value>>,
    #[serde(rename = "ParentId")]
    pub parent_id: String,
    /// `null` only for API < 1.43 when the image has other references.
    #[serde(rename = "RepoDigests")]
    pub repo_digests: Option<Vec<String>>,
    #[serde(rename = "RepoTags")]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "SharedSize")]
    pub shared_size: i64,
    #[serde(rename = "Size")]
    pub size: i64,
    /// Only for API < 1.44.
    #[serde(rename = "VirtualSize", skip_serializing_if = "Option::is_none")]
    pub virtual_size: Option<i64>,
}

/// The query of `GET /images/json`.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// `all`: also intermediate (untagged parent) images.
    pub all: bool,
    pub filters: Filters,
    /// `shared-size` (API ≥ 1.42).
    pub shared_size: bool,
    /// The request's API version, minor part (1.NN).
    pub api_version: u32,
}

/// Lists the images as dockerd does.
pub fn list_images(
    images: &ImageStore,
    content: &ContentStore,
    opts: &ListOptions,
) -> Result<Vec<ImageSummary>, RequestError> {
    let filters = &opts.filters;
    filters.validate(ACCEPTED_FILTERS)?;
    let dangling_only = filters.get_bool_or_default("dangling", false)?;
    let (before, since) = time_bounds(images, content, filters)?;

    let records = images.list();
    let mut child_count: HashMap<&str, usize> = HashMap::new();
    for r in &records {
        if !r.parent.is_empty() {
            *child_count.entry(r.parent.as_str()).or_default() += 1;
        }
    }
    let has_children = |id: &str| child_count.get(id).copied().unwrap_or(0) > 0;

    let mut out = Vec::new();
    for record in &records {
        if dangling_only && has_children(&record.id) {
            continue;
        }
        let config = match ImageConfigFile::load(content, &record.id) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(id = %record.id, error = %e, "skipping image whose config cannot be read");
                continue;
            }
        };
        let created = config.created_time().map(|t| t.with_timezone(&chrono::Utc));
        if let Some(b) = before {
            if created.is_none_or(|c| c >= b) {
                continue;
            }
        }
        if let Some(s) = since {
            if created.is_none_or(|c| c <= s) {
                continue;
            }
        }
        if filters.contains("label") && !filters.match_kv_list("label", &config.label_pairs()) {
            continue;
        }

        let refs = ImageRefs::of(images, &record.id);
        let mut tags = Vec::new();
        let mut digests = Vec::new();
        for r in &refs.all {
            if filters.contains("reference") && !reference_matches(filters, r)? {
                continue;
            }
            if r.digest.is_some() {
                digests.push(r.familiar());
            }
            if super::refs::is_tagged(r) {
                tags.push(r.familiar());
            }
        }
        if tags.is_empty() && digests.is_empty() {
            if opts.all || !has_children(&record.id) {
                if filters.contains("dangling") && !dangling_only {
                    continue;
                }
                if filters.contains("reference") {
                    continue;
                }
            } else {
                continue;
            }
        } else if dangling_only && !tags.is_empty() {
            continue;
        }
        out.push((
            created,
            summary(record, &config, tags, digests, opts.api_version),
        ));
    }

    if opts.shared_size && opts.api_version >= 42 {
        fill_shared_sizes(&records, &mut out);
    }
    // Newest first; equal times by ID so the order is stable.
    out.sort_by(|(ca, a), (cb, b)| {
        b.created
            .cmp(&a.created)
            .then(cb.cmp(ca))
            .then(a.id.cmp(&b.id))
    });
    Ok(out.into_iter().map(|(_, s)| s).collect())
}

fn summary(
    record: &ImageRecord,
    config: &ImageConfigFile,
    tags: Vec<String>,
    digests: Vec<String>,
    api_version: u32,
) -> ImageSummary {
    let size = image_size(record) as i64;
    let (repo_tags, repo_digests) = if api_version < 43 {
        if tags.is_empty() && digests.is_empty() {
            (
                Some(vec!["<none>:<none>".to_string()]),
                Some(vec!["<none>@<none>".to_string()]),
            )
        } else {
            (
                Some(tags).filter(|t| !t.is_empty()),
                Some(digests).filter(|d| !d.is_empty()),
            )
        }
    } else {
        (Some(tags), Some(digests))
    };
    ImageSummary {
        containers: -1,
        created: config.created_unix(),
        id: record.id.clone(),
        labels: config.labels().cloned(),
        parent_id: record.parent.clone(),
        repo_digests,
        repo_tags,
        shared_size: -1,
        size,
        virtual_size: (api_version < 44).then_some(size),
    }
}

/// `before`/`since` name images (the oldest `before`, the newest `since` win);
/// `until` is a time or duration and tightens `before`.
type TimeBounds = (
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
);

fn time_bounds(
    images: &ImageStore,
    content: &ContentStore,
    filters: &Filters,
) -> Result<TimeBounds, RequestError> {
    let created_of = |name: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, RequestError> {
        let record = resolve_in(images, name)?;
        let config = ImageConfigFile::load(content, &record.id)?;
        Ok(config.created_time().map(|t| t.with_timezone(&chrono::Utc)))
    };
    let mut before: Option<chrono::DateTime<chrono::Utc>> = None;
    for name in filters.get("before") {
        if let Some(c) = created_of(name)? {
            if before.is_none_or(|b| b > c) {
                before = Some(c);
            }
        }
    }
    let now = chrono::Utc::now();
    for value in filters.get("until") {
        let t = parse_timestamp(value, now)?;
        if before.is_none_or(|b| b > t) {
            before = Some(t);
        }
    }
    let mut since: Option<chrono::DateTime<chrono::Utc>> = None;
    for name in filters.get("since") {
        if let Some(c) = created_of(name)? {
            if since.is_none_or(|s| s < c) {
                since = Some(c);
            }
        }
    }
    Ok((before, since))
}

/// dockerd's `reference.FamiliarMatch` against each `reference` pattern: the familiar
/// string ("busybox:latest"), else the familiar name ("busybox").
fn reference_matches(
    filters: &Filters,
    r: &crate::reference::Reference,
) -> Result<bool, RequestError> {
    for pattern in filters.get("reference") {
        if glob_match(pattern, &r.familiar())? || glob_match(pattern, &r.familiar_name())? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// SharedSize: the sizes of this image's layers that other images use too.
fn fill_shared_sizes(
    records: &[ImageRecord],
    out: &mut [(Option<chrono::DateTime<chrono::Utc>>, ImageSummary)],
) {
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for r in records {
        for l in &r.layers {
            *uses.entry(l.chain_id.as_str()).or_default() += 1;
        }
    }
    for (_, s) in out.iter_mut() {
        let Some(record) = records.iter().find(|r| r.id == s.id) else {
            continue;
        };
        s.shared_size = record
            .layers
            .iter()
            .filter(|l| uses.get(l.chain_id.as_str()).copied().unwrap_or(0) > 1)
            .map(|l| l.size as i64)
            .sum();
    }
}

/// Whether an image is dangling: no references and no children.
pub fn is_dangling(images: &ImageStore, id: &str) -> bool {
    images.refs_of(id).is_empty() && children(images, id).is_empty()
}

#[cfg(test)]
#[path = "list_tests.rs"]
mod tests;
