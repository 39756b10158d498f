//! The image storage as a pull and a daemon restart use it: blobs streamed into the
//! content store, layers unpacked from them, a record and a tag; then every store is
//! reopened (a restart) and the image is still whole; then removed and collected.
use std::io::Write;
use std::path::Path;

use berthd::store::content::ContentStore;
use berthd::store::digest::sha256_of;
use berthd::store::gc::collect;
use berthd::store::images::{ImageRecord, ImageStore, LayerRecord};
use berthd::store::layers::LayerStore;

struct Stores {
    content: ContentStore,
    layers: LayerStore,
    images: ImageStore,
}

fn open(root: &Path) -> Stores {
    Stores {
        content: ContentStore::open(&root.join("content")).unwrap(),
        layers: LayerStore::open(&root.join("layers")).unwrap(),
        images: ImageStore::open(&root.join("images")).unwrap(),
    }
}

fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_path(path).unwrap();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// What the registry code does for one image: download, unpack, record, tag.
fn pull(stores: &Stores, layers: &[Vec<u8>], tag: &str) -> ImageRecord {
    let mut parent: Option<String> = None;
    let mut records = Vec::new();
    for tar in layers {
        let blob = gzip(tar);
        let blob_digest = sha256_of(&blob);
        let mut writer = stores.content.writer(&blob_digest).unwrap();
        for chunk in blob.chunks(1000) {
            writer.write(chunk).unwrap();
        }
        writer.commit().unwrap();
        let file = stores.content.open_blob(&blob_digest).unwrap();
        let info = stores
            .layers
            .unpack(parent.as_deref(), &sha256_of(tar), file)
            .unwrap();
        records.push(LayerRecord {
            diff_id: info.diff_id.clone(),
            chain_id: info.chain_id.clone(),
            blob_digest: Some(blob_digest),
            media_type: Some("application/vnd.oci.image.layer.v1.tar+gzip".into()),
            blob_size: blob.len() as u64,
            size: info.size,
        });
        parent = Some(info.chain_id);
    }
    let id = stores
        .content
        .write_bytes(format!("{{\"tag\":\"{tag}\"}}").as_bytes())
        .unwrap();
    let record = ImageRecord {
        id: id.clone(),
        manifest_digest: Some(stores.content.write_bytes(tag.as_bytes()).unwrap()),
        manifest_media_type: Some("application/vnd.oci.image.manifest.v1+json".into()),
        layers: records,
        parent: String::new(),
        created_at: chrono::Utc::now(),
        last_tag_time: None,
    };
    stores.images.insert(record).unwrap();
    stores.images.set_ref(tag, &id).unwrap();
    stores.images.get(&id).unwrap()
}

#[test]
fn an_image_survives_a_restart_and_is_collected_once_removed() {
    let root = tempfile::tempdir().unwrap();
    let base = layer(&[("etc/os-release", b"berth")]);
    let app = layer(&[("app/run", b"#!/bin/sh")]);
    let (kept, removed) = {
        let stores = open(root.path());
        let kept = pull(
            &stores,
            std::slice::from_ref(&base),
            "docker.io/library/base:latest",
        );
        let removed = pull(&stores, &[base, app], "docker.io/library/app:latest");
        (kept, removed)
    };

    let stores = open(root.path());
    assert_eq!(
        stores.images.lookup_ref("docker.io/library/app:latest"),
        Some(removed.id.clone())
    );
    let top = &removed.layers[1].chain_id;
    let lowers = stores.layers.lower_dirs(top).unwrap();
    assert_eq!(
        std::fs::read(lowers[0].join("app/run")).unwrap(),
        b"#!/bin/sh"
    );
    assert_eq!(
        std::fs::read(lowers[1].join("etc/os-release")).unwrap(),
        b"berth"
    );
    assert_eq!(
        stores.content.read(&removed.id).unwrap(),
        b"{\"tag\":\"docker.io/library/app:latest\"}"
    );

    stores.images.remove(&removed.id).unwrap();
    let collected = collect(
        &stores.content,
        &stores.layers,
        &stores.images,
        Default::default(),
    )
    .unwrap();
    assert_eq!(collected.layers, vec![top.clone()]);
    assert_eq!(
        collected.blobs.len(),
        3,
        "config, manifest and the app layer blob"
    );
    assert!(stores
        .layers
        .get(&kept.layers[0].chain_id)
        .unwrap()
        .is_some());
    assert!(stores
        .content
        .exists(kept.layers[0].blob_digest.as_deref().unwrap()));
}
