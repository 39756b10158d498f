//! The archive `write` produces, read back entry by entry.
use std::collections::BTreeMap;
use std::io::Read;

use super::*;
use crate::reference::Reference;
use crate::store::content::ContentStore;

fn gzip_blob(content: &ContentStore, tar: &[u8]) -> LayerRecord {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, tar).expect("gzip");
    let blob = content
        .write_bytes(&gz.finish().expect("gzip"))
        .expect("blob");
    let diff_id = sha256_of(tar);
    LayerRecord {
        chain_id: diff_id.clone(),
        diff_id,
        blob_digest: Some(blob),
        media_type: None,
        blob_size: 0,
        size: 0,
    }
}

fn image(content: &ContentStore, layers: &[&[u8]], tags: &[&str]) -> PlannedImage {
    let layers: Vec<(LayerRecord, u64)> = layers
        .iter()
        .map(|tar| (gzip_blob(content, tar), tar.len() as u64))
        .collect();
    let diff_ids: Vec<&str> = layers.iter().map(|(l, _)| l.diff_id.as_str()).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "created": "2024-01-01T00:00:00Z",
        "os": "linux",
        "architecture": "amd64",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .expect("config");
    let id = content.write_bytes(&config).expect("config blob");
    PlannedImage {
        selected: Selected {
            id: id.clone(),
            tags: tags
                .iter()
                .map(|t| Reference::parse(t).expect("tag"))
                .collect(),
        },
        id,
        config,
        mtime: 1_704_067_200,
        layers,
        parent: None,
    }
}

fn entries(data: &[u8]) -> Vec<(String, u64, Vec<u8>)> {
    let mut archive = tar::Archive::new(data);
    let mut out = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let mtime = entry.header().mtime().expect("mtime");
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("content");
        out.push((path, mtime, content));
    }
    out
}

#[test]
fn the_archive_is_an_oci_layout_with_a_legacy_manifest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content = ContentStore::open(dir.path()).expect("content");
    let shared = vec![1u8; 2048];
    let tagged = image(
        &content,
        &[&shared, &[2u8; 1024]],
        &["busybox:latest", "busybox:v1"],
    );
    let untagged = image(&content, &[&shared], &[]);
    let plan = SavePlan {
        images: vec![tagged, untagged],
    };
    let mut out = Vec::new();
    write(&plan, &content, &mut out).expect("write");
    let entries = entries(&out);
    let names: Vec<&str> = entries.iter().map(|(p, _, _)| p.as_str()).collect();
    // The shared layer once; metadata last, as dockerd's directory walk orders it.
    assert_eq!(names.len(), 2 + 2 + 2 + 1 + 1 + 4, "{names:?}");
    assert_eq!(&names[..2], &["blobs/", "blobs/sha256/"]);
    assert_eq!(
        &names[names.len() - 4..],
        &["index.json", "manifest.json", "oci-layout", "repositories"]
    );
    let files: BTreeMap<&str, &Vec<u8>> = entries.iter().map(|(p, _, c)| (p.as_str(), c)).collect();
    for (path, mtime, data) in &entries {
        if let Some(hex) = path.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
            assert_eq!(sha256_of(data), format!("sha256:{hex}"), "{path}");
        }
        if !path.starts_with("blobs/") {
            assert_eq!(*mtime, 0, "{path}");
        }
    }

    let manifest: serde_json::Value =
        serde_json::from_slice(files["manifest.json"]).expect("manifest.json");
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!(["busybox:latest", "busybox:v1"])
    );
    assert_eq!(manifest[1]["RepoTags"], serde_json::Value::Null);
    assert_eq!(manifest[0]["Layers"][0], manifest[1]["Layers"][0]);

    let index: Index = serde_json::from_slice(files["index.json"]).expect("index.json");
    assert_eq!(
        index.manifests.len(),
        3,
        "one per tag, one for the untagged image"
    );
    let names: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|m| m.annotations.as_ref())
        .map(|a| {
            format!(
                "{} {}",
                a[format::ANNOTATION_IMAGE_NAME],
                a[format::ANNOTATION_REF_NAME]
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            "docker.io/library/busybox:latest latest",
            "docker.io/library/busybox:v1 v1"
        ]
    );
    let blob = format::blob_path(&index.manifests[0].digest);
    let oci: Manifest = serde_json::from_slice(files[blob.as_str()]).expect("manifest");
    assert_eq!(oci.config.digest, plan.images[0].id);
    assert_eq!(oci.layers[1].size, 1024);
    assert_eq!(oci.layers[1].media_type, format::MEDIA_TYPE_LAYER);

    let repositories: Repositories =
        serde_json::from_slice(files["repositories"]).expect("repositories");
    let top = plan.images[0].layers[1]
        .0
        .diff_id
        .trim_start_matches("sha256:");
    assert_eq!(repositories["busybox"]["v1"], top);
}
