//! Local image endpoints through bollard: list, inspect, tag, history, remove, prune.
//! Images are pulled with the stock CLI from the fixture registry (run through scripts/test.sh).
mod common;

use std::collections::HashMap;

use bollard::query_parameters::{
    ListImagesOptionsBuilder, PruneImagesOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder,
};
use common::{Daemon, Fixtures};

fn filters(pairs: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        map.entry(k.to_string()).or_default().push(v.to_string());
    }
    map
}

#[tokio::test]
async fn list_and_inspect_images() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = f.image("busybox");
    let reference = d.pull_fixture(&f, "busybox");
    let docker = d.bollard();

    let list = docker
        .list_images(None::<bollard::query_parameters::ListImagesOptions>)
        .await
        .expect("list_images");
    assert_eq!(list.len(), 1);
    let summary = &list[0];
    assert_eq!(summary.id, busybox.id);
    assert_eq!(summary.repo_tags, vec![reference.clone()]);
    assert_eq!(
        summary.repo_digests,
        vec![format!(
            "{}/{}@{}",
            f.registry, busybox.repository, busybox.digest
        )]
    );
    assert_eq!(summary.parent_id, "");
    assert_eq!((summary.shared_size, summary.containers), (-1, -1));
    assert!(summary.size > 0 && summary.created > 0);

    let opts = ListImagesOptionsBuilder::default()
        .all(true)
        .filters(&filters(&[("dangling", "true")]))
        .build();
    assert!(docker
        .list_images(Some(opts))
        .await
        .expect("dangling list")
        .is_empty());
    let opts = ListImagesOptionsBuilder::default()
        .filters(&filters(&[("reference", "*/berth/busybox")]))
        .build();
    assert_eq!(
        docker
            .list_images(Some(opts))
            .await
            .expect("reference list")
            .len(),
        1
    );
    let opts = ListImagesOptionsBuilder::default()
        .filters(&filters(&[("nope", "1")]))
        .build();
    let err = docker
        .list_images(Some(opts))
        .await
        .expect_err("unknown filter");
    assert!(err.to_string().contains("invalid filter 'nope'"), "{err}");

    let img = docker
        .inspect_image(&reference)
        .await
        .expect("inspect_image");
    assert_eq!(img.id.as_deref(), Some(busybox.id.as_str()));
    assert_eq!(img.repo_tags, Some(vec![reference.clone()]));
    assert_eq!(img.os.as_deref(), Some("linux"));
    let rootfs = img.root_fs.expect("RootFS");
    assert_eq!(rootfs.typ, "layers");
    assert_eq!(rootfs.layers.map(|l| l.len()), Some(busybox.layers));
    assert_eq!(
        img.graph_driver.map(|g| g.name),
        Some("overlay2".to_string())
    );
    assert_eq!(img.size, Some(summary.size));

    let by_id = docker
        .inspect_image(&busybox.id)
        .await
        .expect("inspect by ID");
    assert_eq!(by_id.id, img.id);
    let err = docker
        .inspect_image("nope")
        .await
        .expect_err("missing image");
    match err {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => {
            assert_eq!(status_code, 404);
            assert_eq!(message, "No such image: nope:latest");
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[tokio::test]
async fn tag_history_remove_and_prune() {
    let f = Fixtures::load();
    let d = Daemon::start();
    let busybox = f.image("busybox");
    let reference = d.pull_fixture(&f, "busybox");
    let docker = d.bollard();

    let opts = TagImageOptionsBuilder::default()
        .repo("mine/busybox")
        .tag("v9")
        .build();
    docker
        .tag_image(&reference, Some(opts))
        .await
        .expect("tag_image");
    let img = docker
        .inspect_image("mine/busybox:v9")
        .await
        .expect("inspect new tag");
    assert_eq!(img.id.as_deref(), Some(busybox.id.as_str()));
    let opts = TagImageOptionsBuilder::default()
        .repo("mine/busybox")
        .tag("-bad")
        .build();
    let err = docker
        .tag_image(&reference, Some(opts))
        .await
        .expect_err("bad tag");
    assert!(err.to_string().contains("invalid tag format"), "{err}");

    let history = docker
        .image_history(&reference)
        .await
        .expect("image_history");
    assert!(history.len() >= busybox.layers);
    assert_eq!(history[0].id, busybox.id);
    let mut tags = history[0].tags.clone();
    tags.sort();
    assert_eq!(tags, vec![reference.clone(), "mine/busybox:v9".to_string()]);
    assert!(history[1..].iter().all(|h| h.id == "<missing>"));
    let layer_sizes: i64 = history.iter().map(|h| h.size).sum();
    assert_eq!(layer_sizes, img.size.unwrap_or_default());

    let removed = docker
        .remove_image(
            "mine/busybox:v9",
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .expect("untag");
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].untagged.as_deref(), Some("mine/busybox:v9"));

    // Nothing dangling: an empty report with ImagesDeleted null.
    let report = docker
        .prune_images(None::<bollard::query_parameters::PruneImagesOptions>)
        .await
        .expect("prune");
    assert_eq!(report.images_deleted, None);
    assert_eq!(report.space_reclaimed, Some(0));

    let opts = PruneImagesOptionsBuilder::default()
        .filters(&filters(&[("dangling", "false")]))
        .build();
    let report = docker.prune_images(Some(opts)).await.expect("prune all");
    let deleted = report.images_deleted.expect("something deleted");
    assert!(
        deleted
            .iter()
            .any(|i| i.deleted.as_deref() == Some(busybox.id.as_str())),
        "{deleted:?}"
    );
    assert!(report.space_reclaimed.unwrap_or_default() > 0);
    let err = docker.inspect_image(&reference).await.expect_err("gone");
    assert!(err.to_string().contains("No such image"), "{err}");

    // Delete by ID, forced, after another pull.
    let reference = d.pull_fixture(&f, "busybox");
    let opts = RemoveImageOptionsBuilder::default().force(true).build();
    let removed = docker
        .remove_image(&busybox.id, Some(opts), None)
        .await
        .expect("remove by ID");
    assert_eq!(removed[0].untagged.as_deref(), Some(reference.as_str()));
    assert!(removed
        .iter()
        .any(|i| i.deleted.as_deref() == Some(busybox.id.as_str())));
    let list = docker
        .list_images(None::<bollard::query_parameters::ListImagesOptions>)
        .await
        .expect("list");
    assert!(list.is_empty(), "{list:?}");
}
