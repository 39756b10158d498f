//! `GET /images/{name}/history` (moby `daemon/images/image_history.go`): the config's
//! history, newest first. The top entry carries the image ID and its tags; older entries
//! are "<missing>" unless a local parent image holds them.
use serde::Serialize;

use crate::store::content::ContentStore;
use crate::store::images::ImageStore;

use super::config::{parse_time, ImageConfigFile};
use super::lookup::resolve_in;
use super::refs::ImageRefs;
use super::RequestError;

/// One history entry, with dockerd's field names and order.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HistoryItem {
    #[serde(rename = "Comment")]
    pub comment: String,
    #[serde(rename = "Created")]
    pub created: i64,
    #[serde(rename = "CreatedBy")]
    pub created_by: String,
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Size")]
    pub size: i64,
    /// `null` when the image has no tag.
    #[serde(rename = "Tags")]
    pub tags: Option<Vec<String>>,
}

/// The history of the image `name` refers to.
pub fn image_history(
    images: &ImageStore,
    content: &ContentStore,
    name: &str,
) -> Result<Vec<HistoryItem>, RequestError> {
    let record = resolve_in(images, name)?;
    let config = ImageConfigFile::load(content, &record.id)?;

    let mut items = Vec::with_capacity(config.history.len());
    let mut layer_index = 0;
    for entry in &config.history {
        let mut size = 0;
        if !entry.empty_layer {
            let layer = record.layers.get(layer_index).ok_or_else(|| {
                RequestError::Internal("too many non-empty layers in History section".into())
            })?;
            size = layer.size as i64;
            layer_index += 1;
        }
        items.push(HistoryItem {
            comment: entry.comment.clone().unwrap_or_default(),
            created: entry
                .created
                .as_deref()
                .and_then(parse_time)
                .map(|t| t.timestamp())
                .unwrap_or(0),
            created_by: entry.created_by.clone().unwrap_or_default(),
            id: "<missing>".to_string(),
            size,
            tags: None,
        });
    }
    items.reverse();

    // Walk the local parent chain: each image claims the next entry from the top.
    let mut current = Some(record);
    for item in items.iter_mut() {
        let Some(image) = current.take() else { break };
        item.id = image.id.clone();
        let tags = ImageRefs::of(images, &image.id).tags();
        item.tags = (!tags.is_empty()).then_some(tags);
        if !image.parent.is_empty() {
            current = images.get(&image.parent);
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::testutil::{ImageSpec, TestStores};

    #[test]
    fn newest_first_with_id_on_top_and_sizes_for_layers() {
        let s = TestStores::new();
        let history = serde_json::json!([
            {"created": "2024-01-01T00:00:00Z", "created_by": "ADD file:1 /"},
            {"created": "2024-01-01T00:00:01Z", "created_by": "CMD [\"sh\"]", "empty_layer": true},
            {"created": "2024-01-01T00:00:02Z", "created_by": "RUN x", "comment": "buildkit"}
        ]);
        let img = s.add(
            ImageSpec::new("a", "2024-01-01T00:00:02Z")
                .layers(&[("l1", 10), ("l2", 20)])
                .history(history)
                .refs(&["busybox:latest"]),
        );
        let h = image_history(&s.images, &s.content, "busybox").unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h[0].id, img.id);
        assert_eq!(h[0].tags, Some(vec!["busybox:latest".to_string()]));
        assert_eq!(
            (h[0].size, h[0].created, h[0].comment.as_str()),
            (20, 1704067202, "buildkit")
        );
        assert_eq!(
            (h[1].id.as_str(), h[1].size, h[1].tags.clone()),
            ("<missing>", 0, None)
        );
        assert_eq!((h[2].created_by.as_str(), h[2].size), ("ADD file:1 /", 10));
        let json = serde_json::to_value(&h[1]).unwrap();
        assert_eq!(json["Tags"], serde_json::Value::Null);
    }

    #[test]
    fn too_many_non_empty_entries_is_an_error() {
        let s = TestStores::new();
        let history = serde_json::json!([{"created_by": "a"}, {"created_by": "b"}]);
        let img = s.add(ImageSpec::new("a", "2024-01-01T00:00:00Z").history(history));
        let err = image_history(&s.images, &s.content, &img.id).unwrap_err();
        assert_eq!(
            err.to_string(),
            "too many non-empty layers in History section"
        );
    }
}
