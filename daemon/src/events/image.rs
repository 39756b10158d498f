//! Image events with dockerd's attributes (`LogImageEvent`): the image's labels, when
//! the image still exists, then `name`.
use std::collections::{BTreeMap, HashSet};

use crate::images::config::ImageConfigFile;
use crate::images::delete::DeleteItem;
use crate::images::lookup::resolve_image;
use crate::images::prune::PruneReport;
use crate::state::Daemon;

/// Publishes image event `action` for `actor_id` (an image ID, or the reference a pull or
/// push named) with attribute `name`.
pub fn publish(daemon: &Daemon, action: &str, actor_id: &str, name: &str) {
    let mut attributes = labels(daemon, actor_id);
    if !name.is_empty() {
        attributes.insert("name".to_string(), name.to_string());
    }
    daemon.events.publish("image", action, actor_id, attributes);
}

/// The labels of the image `name` refers to; none when it is gone.
fn labels(daemon: &Daemon, name: &str) -> BTreeMap<String, String> {
    resolve_image(daemon, name)
        .ok()
        .and_then(|record| ImageConfigFile::load(&daemon.content, &record.id).ok())
        .map(|config| config.label_pairs())
        .unwrap_or_default()
}

/// What removal events need from before the removal: every image's ID (to tell deleted
/// images from deleted layers) and the labels of the image being removed.
#[derive(Debug, Default)]
pub struct Snapshot {
    ids: HashSet<String>,
    image_id: String,
    labels: BTreeMap<String, String>,
}

impl Snapshot {
    /// Before `DELETE /images/{name}` (or a prune, with `name` empty).
    pub fn take(daemon: &Daemon, name: &str) -> Snapshot {
        let image_id = if name.is_empty() {
            String::new()
        } else {
            resolve_image(daemon, name)
                .map(|r| r.id)
                .unwrap_or_default()
        };
        Snapshot {
            ids: daemon.images.list().into_iter().map(|r| r.id).collect(),
            labels: labels(daemon, &image_id),
            image_id,
        }
    }

    /// The events of an image removal, as dockerd: `untag` for each removed reference
    /// (with the image's labels) and `delete` for each removed image, actor and `name`
    /// both the image ID.
    pub fn publish_removal(&self, daemon: &Daemon, items: &[DeleteItem]) {
        for item in items {
            match item {
                DeleteItem::Untagged(_) => {
                    let mut attributes = self.labels.clone();
                    attributes.insert("name".into(), self.image_id.clone());
                    daemon
                        .events
                        .publish("image", "untag", &self.image_id, attributes);
                }
                DeleteItem::Deleted(id) if self.ids.contains(id) => {
                    publish(daemon, "delete", id, id)
                }
                DeleteItem::Deleted(_) => {}
            }
        }
    }
}

/// The events of `POST /images/prune`: `delete` for each removed image, then dockerd's
/// `prune` event with the bytes reclaimed.
pub fn publish_prune(daemon: &Daemon, before: &Snapshot, report: &PruneReport) {
    for item in report.images_deleted.iter().flatten() {
        if let DeleteItem::Deleted(id) = item {
            if before.ids.contains(id) {
                publish(daemon, "delete", id, id);
            }
        }
    }
    let reclaimed = BTreeMap::from([("reclaimed".to_string(), report.space_reclaimed.to_string())]);
    daemon.events.publish("image", "prune", "", reclaimed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_events_skip_layers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = crate::config::Config {
            data_root: dir.path().to_path_buf(),
            ..Default::default()
        };
        let daemon = Daemon::open(config).expect("daemon");
        let before = Snapshot {
            ids: ["sha256:img".to_string()].into_iter().collect(),
            image_id: "sha256:img".into(),
            labels: BTreeMap::from([("a".to_string(), "b".to_string())]),
        };
        let items = vec![
            DeleteItem::Untagged("bb:latest".into()),
            DeleteItem::Deleted("sha256:img".into()),
            DeleteItem::Deleted("sha256:layer".into()),
        ];
        before.publish_removal(&daemon, &items);
        let events = daemon.events.recent();
        let actions: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.action.as_str(), e.actor_id.as_str()))
            .collect();
        assert_eq!(
            actions,
            vec![("untag", "sha256:img"), ("delete", "sha256:img")]
        );
        assert_eq!(
            events[0].attributes.get("name").map(String::as_str),
            Some("sha256:img")
        );
        assert_eq!(events[0].attributes.get("a").map(String::as_str), Some("b"));
        assert!(
            !events[1].attributes.contains_key("a"),
            "gone with the image"
        );
    }
}
