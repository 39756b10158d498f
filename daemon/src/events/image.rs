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

/// The IDs of every image, to tell deleted images from deleted layers afterwards.
pub fn image_ids(daemon: &Daemon) -> HashSet<String> {
    daemon.images.list().into_iter().map(|r| r.id).collect()
}

/// The events of an image removal, as dockerd: `untag` for each removed reference and
/// `delete` for each removed image, actor and `name` both the image ID. `image_id` is
/// the image `DELETE /images/{name}` resolved to, `before` the image IDs before.
pub fn publish_removal(
    daemon: &Daemon,
    image_id: &str,
    before: &HashSet<String>,
    items: &[DeleteItem],
) {
    for item in items {
        match item {
            DeleteItem::Untagged(_) => publish(daemon, "untag", image_id, image_id),
            DeleteItem::Deleted(id) if before.contains(id) => publish(daemon, "delete", id, id),
            DeleteItem::Deleted(_) => {}
        }
    }
}

/// The events of `POST /images/prune`: `delete` for each removed image, then dockerd's
/// `prune` event with the bytes reclaimed.
pub fn publish_prune(daemon: &Daemon, before: &HashSet<String>, report: &PruneReport) {
    for item in report.images_deleted.iter().flatten() {
        if let DeleteItem::Deleted(id) = item {
            if before.contains(id) {
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
        let before: HashSet<String> = ["sha256:img".to_string()].into_iter().collect();
        let items = vec![
            DeleteItem::Untagged("bb:latest".into()),
            DeleteItem::Deleted("sha256:img".into()),
            DeleteItem::Deleted("sha256:layer".into()),
        ];
        publish_removal(&daemon, "sha256:img", &before, &items);
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
    }
}
