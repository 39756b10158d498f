use std::cell::RefCell;

use super::*;
use crate::images::testutil::{ImageSpec, TestStores};

const T: &str = "2024-01-01T00:00:00Z";
const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A context with chosen container users; removed layers are reported as all of the image's.
#[derive(Default)]
struct FakeContext {
    users: Vec<(String, ImageUser)>,
    removed: RefCell<Vec<String>>,
}

impl DeleteContext for FakeContext {
    fn containers_using(&self, image_id: &str) -> Vec<ImageUser> {
        self.users
            .iter()
            .filter(|(id, _)| id == image_id)
            .map(|(_, u)| u.clone())
            .collect()
    }
    fn after_remove(&self, record: &ImageRecord) -> Result<Vec<(String, u64)>, ImageError> {
        self.removed.borrow_mut().push(record.id.clone());
        Ok(record
            .layers
            .iter()
            .rev()
            .map(|l| (l.chain_id.clone(), l.size))
            .collect())
    }
}

fn untagged(s: &str) -> DeleteItem {
    DeleteItem::Untagged(s.to_string())
}
fn deleted(s: &str) -> DeleteItem {
    DeleteItem::Deleted(s.to_string())
}

#[test]
fn last_tag_deletes_image_digests_and_layers() {
    let s = TestStores::new();
    let img = s.add(
        ImageSpec::new("a", T)
            .layers(&[("l1", 1), ("l2", 2)])
            .refs(&["busybox:latest", &format!("busybox@{D}")]),
    );
    let ctx = FakeContext::default();
    let items = delete_with(&s.images, &ctx, "busybox", false, true).unwrap();
    let top = img.layers[1].chain_id.clone();
    let bottom = img.layers[0].chain_id.clone();
    assert_eq!(
        items,
        vec![
            untagged("busybox:latest"),
            untagged(&format!("busybox@{D}")),
            deleted(&img.id),
            deleted(&top),
            deleted(&bottom)
        ]
    );
    assert!(s.images.get(&img.id).is_none());
    let json = serde_json::to_value(&items).unwrap();
    assert_eq!(json[0], serde_json::json!({"Untagged": "busybox:latest"}));
    assert_eq!(json[2], serde_json::json!({"Deleted": img.id}));
}

#[test]
fn a_name_with_other_tags_only_untags() {
    let s = TestStores::new();
    let img = s.add(ImageSpec::new("a", T).refs(&["busybox:latest", "busybox:1", "mine:x"]));
    let ctx = FakeContext::default();
    assert_eq!(
        delete_with(&s.images, &ctx, "busybox:1", false, true).unwrap(),
        vec![untagged("busybox:1")]
    );
    assert!(s.images.get(&img.id).is_some());
    assert!(ctx.removed.borrow().is_empty());
}

#[test]
fn by_id_with_several_repositories_needs_force() {
    let s = TestStores::new();
    let img = s.add(ImageSpec::new("a", T).refs(&["busybox:latest", "mine:x"]));
    let ctx = FakeContext::default();
    let short = &img.id[7..19];
    let err = delete_with(&s.images, &ctx, short, false, true).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories")
    );
    let items = delete_with(&s.images, &ctx, &img.id, true, true).unwrap();
    assert_eq!(
        items[..3],
        [
            untagged("busybox:latest"),
            untagged("mine:x"),
            deleted(&img.id)
        ]
    );
}

#[test]
fn by_id_with_a_single_tag_removes_it() {
    let s = TestStores::new();
    let img = s.add(ImageSpec::new("a", T).refs(&["busybox:latest"]));
    let ctx = FakeContext::default();
    let items = delete_with(&s.images, &ctx, &img.id[7..], false, true).unwrap();
    assert_eq!(items[..2], [untagged("busybox:latest"), deleted(&img.id)]);
}

#[test]
fn parents_with_children_are_hard_conflicts() {
    let s = TestStores::new();
    let parent = s.add(ImageSpec::new("p", T));
    let _child = s.add(ImageSpec::new("c", T).parent(&parent.id).refs(&["app:1"]));
    let ctx = FakeContext::default();
    let err = delete_with(&s.images, &ctx, &parent.id, true, true).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
            &parent.id[7..19]
        )
    );
}

#[test]
fn deleting_a_child_prunes_untagged_parents_unless_noprune() {
    let s = TestStores::new();
    let parent = s.add(ImageSpec::new("p", T));
    let child = s.add(ImageSpec::new("c", T).parent(&parent.id).refs(&["app:1"]));
    let ctx = FakeContext::default();
    let items = delete_with(&s.images, &ctx, "app:1", false, true).unwrap();
    assert!(items.contains(&deleted(&child.id)) && items.contains(&deleted(&parent.id)));

    let s = TestStores::new();
    let parent = s.add(ImageSpec::new("p", T));
    s.add(ImageSpec::new("c", T).parent(&parent.id).refs(&["app:1"]));
    delete_with(&s.images, &ctx, "app:1", false, false).unwrap();
    assert!(s.images.get(&parent.id).is_some());
}

#[test]
fn containers_block_deletion() {
    let s = TestStores::new();
    let img = s.add(ImageSpec::new("a", T).refs(&["busybox:latest"]));
    let running = ImageUser {
        container_id: "c0ffee0123456789".into(),
        running: true,
    };
    let ctx = FakeContext {
        users: vec![(img.id.clone(), running)],
        ..Default::default()
    };
    let err = delete_with(&s.images, &ctx, "busybox", false, true).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("conflict: unable to remove repository reference \"busybox\" (must force) - container c0ffee012345 is using its referenced image {}", &img.id[7..19])
    );
    // Forced: the tag goes, the running container keeps the image.
    assert_eq!(
        delete_with(&s.images, &ctx, "busybox", true, true).unwrap(),
        vec![untagged("busybox:latest")]
    );
    assert!(s.images.get(&img.id).is_some());
    let err = delete_with(&s.images, &ctx, &img.id, true, true).unwrap_err();
    assert!(err
        .to_string()
        .contains("(cannot be forced) - image is being used by running container c0ffee012345"));
}

#[test]
fn unknown_names_are_not_found() {
    let s = TestStores::new();
    let ctx = FakeContext::default();
    let err = delete_with(&s.images, &ctx, "nope", false, true).unwrap_err();
    assert_eq!(err.to_string(), "No such image: nope:latest");
}
