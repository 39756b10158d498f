//! `docker save`: the archive Docker 25+ writes (moby `tarexport/save.go`), an OCI image
//! layout — `blobs/sha256/` with the uncompressed layer tars, the configs and one OCI
//! manifest per image, `index.json` naming each tag, `oci-layout` — plus the legacy
//! `manifest.json` (pointing into `blobs/`) and `repositories`.
//!
//! [`plan`] does everything that can fail on a bad request or a broken store — names,
//! configs, layer sizes and digests — before the HTTP answer starts; [`write`] then
//! streams the tar, layers decompressed on the way, never whole in memory.
use std::collections::{BTreeMap, HashSet};
use std::io::Write;

use super::format::{self, Descriptor, Index, LayerSource, Manifest, ManifestItem, Repositories};
use super::layer_tar;
use super::select::{select, Selected};
use super::{ArchiveError, ArchiveResult};
use crate::registry::platform::Platform;
use crate::state::Daemon;
use crate::store::digest::sha256_of;
use crate::store::images::LayerRecord;

/// One image of the archive, checked and measured.
#[derive(Debug)]
pub struct PlannedImage {
    pub id: String,
    pub selected: Selected,
    config: Vec<u8>,
    /// The image's `created` (Unix seconds): the mtime of its blobs, as dockerd sets it.
    mtime: u64,
    /// Each layer with the size of its uncompressed tar.
    layers: Vec<(LayerRecord, u64)>,
    /// The parent's ID, when the parent is saved too.
    parent: Option<String>,
}

/// What an archive will hold.
#[derive(Debug)]
pub struct SavePlan {
    pub images: Vec<PlannedImage>,
}

/// Resolves `names` and checks every image and layer; `platform`, when given, must be
/// each image's platform.
pub fn plan(
    daemon: &Daemon,
    names: &[String],
    platform: Option<&Platform>,
) -> ArchiveResult<SavePlan> {
    let selected = select(&daemon.images, names)?;
    let ids: HashSet<String> = selected.iter().map(|s| s.id.clone()).collect();
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    let mut images = Vec::new();
    for selected in selected {
        let record = daemon
            .images
            .get(&selected.id)
            .ok_or_else(|| ArchiveError::NotFound(format!("No such image: {}", selected.id)))?;
        let config = daemon.content.read(&record.id)?;
        let summary = format::ConfigSummary::parse(&config).map_err(ArchiveError::Internal)?;
        if !summary.os.is_empty() && summary.os != "linux" {
            return Err(ArchiveError::Internal(format!(
                "os {:?} is not supported",
                summary.os
            )));
        }
        if let Some(wanted) = platform {
            if !wanted.matches(&summary.platform()) {
                return Err(ArchiveError::NotFound(format!(
                    "no suitable export target found for platform {}",
                    wanted.display()
                )));
            }
        }
        if record.layers.is_empty() {
            return Err(ArchiveError::Internal(
                "empty export - not implemented".into(),
            ));
        }
        let mut layers = Vec::new();
        for layer in &record.layers {
            let size = match sizes.get(&layer.diff_id) {
                Some(size) => *size,
                None => {
                    let size = layer_tar::measure(&daemon.content, layer)?;
                    sizes.insert(layer.diff_id.clone(), size);
                    size
                }
            };
            layers.push((layer.clone(), size));
        }
        let created: Option<String> = serde_json::from_slice::<serde_json::Value>(&config)
            .ok()
            .and_then(|v| v["created"].as_str().map(str::to_string));
        let mtime = created
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(&c).ok())
            .map(|t| t.timestamp().max(0) as u64)
            .unwrap_or(0);
        let parent = Some(record.parent.clone()).filter(|p| !p.is_empty() && ids.contains(p));
        images.push(PlannedImage {
            id: record.id,
            selected,
            config,
            mtime,
            layers,
            parent,
        });
    }
    Ok(SavePlan { images })
}

/// Writes the archive of `plan` to `out`. Blocking.
pub fn write(
    plan: &SavePlan,
    content: &crate::store::content::ContentStore,
    out: impl Write,
) -> ArchiveResult<()> {
    let io = |e: std::io::Error| ArchiveError::io("writing the archive", e);
    let mut tar = tar::Builder::new(out);
    let dir_time = plan.images.first().map(|i| i.mtime).unwrap_or(0);
    for dir in ["blobs/", "blobs/sha256/"] {
        let header = header(dir, 0, dir_time, tar::EntryType::Directory);
        tar.append(&header, std::io::empty()).map_err(io)?;
    }
    let mut written: HashSet<String> = HashSet::new();
    let mut index = Vec::new();
    let mut items = Vec::new();
    let mut repositories = Repositories::new();
    for image in &plan.images {
        let mut sources = BTreeMap::new();
        let mut layer_descriptors = Vec::new();
        for (layer, size) in &image.layers {
            if written.insert(layer.diff_id.clone()) {
                let path = format::blob_path(&layer.diff_id);
                let header = header(&path, *size, image.mtime, tar::EntryType::Regular);
                let reader = layer_tar::verified(content, layer, *size)?;
                tar.append(&header, reader).map_err(io)?;
            }
            let source = LayerSource {
                media_type: format::MEDIA_TYPE_LAYER.to_string(),
                size: *size,
                digest: layer.diff_id.clone(),
            };
            sources.insert(layer.diff_id.clone(), source);
            layer_descriptors.push(descriptor(format::MEDIA_TYPE_LAYER, &layer.diff_id, *size));
        }
        if written.insert(image.id.clone()) {
            append_bytes(
                &mut tar,
                &format::blob_path(&image.id),
                &image.config,
                image.mtime,
            )?;
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: format::MEDIA_TYPE_MANIFEST.to_string(),
            config: descriptor(
                format::MEDIA_TYPE_CONFIG,
                &image.id,
                image.config.len() as u64,
            ),
            layers: layer_descriptors,
        };
        let manifest = serde_json::to_vec(&manifest)
            .map_err(|e| ArchiveError::Internal(format!("error marshaling manifest: {e}")))?;
        let manifest_digest = sha256_of(&manifest);
        if written.insert(manifest_digest.clone()) {
            append_bytes(&mut tar, &format::blob_path(&manifest_digest), &manifest, 0)?;
        }
        let untagged = descriptor(
            format::MEDIA_TYPE_MANIFEST,
            &manifest_digest,
            manifest.len() as u64,
        );
        let top = image
            .layers
            .last()
            .map(|(l, _)| l.diff_id.as_str())
            .unwrap_or("");
        let mut repo_tags = Vec::new();
        for tag in &image.selected.tags {
            let name = tag.tag.clone().unwrap_or_default();
            repositories.entry(tag.familiar_name()).or_default().insert(
                name.clone(),
                top.strip_prefix("sha256:").unwrap_or(top).to_string(),
            );
            repo_tags.push(tag.familiar());
            let mut tagged = untagged.clone();
            tagged.annotations = Some(BTreeMap::from([
                (format::ANNOTATION_IMAGE_NAME.to_string(), tag.to_string()),
                (format::ANNOTATION_REF_NAME.to_string(), name),
            ]));
            index.push(tagged);
        }
        if image.selected.tags.is_empty() {
            index.push(untagged);
        }
        items.push(ManifestItem {
            config: format::blob_path(&image.id),
            repo_tags: (!repo_tags.is_empty()).then_some(repo_tags),
            layers: image
                .layers
                .iter()
                .map(|(l, _)| format::blob_path(&l.diff_id))
                .collect(),
            parent: image.parent.clone(),
            layer_sources: Some(sources),
        });
    }
    let index = Index {
        schema_version: 2,
        media_type: format::MEDIA_TYPE_INDEX.to_string(),
        manifests: index,
    };
    let index = serde_json::to_vec(&index)
        .map_err(|e| ArchiveError::Internal(format!("error marshaling oci index: {e}")))?;
    append_bytes(&mut tar, format::INDEX_FILE, &index, 0)?;
    append_bytes(
        &mut tar,
        format::MANIFEST_FILE,
        &format::encoded_line(&items),
        0,
    )?;
    append_bytes(
        &mut tar,
        format::LAYOUT_FILE,
        format::LAYOUT_CONTENT.as_bytes(),
        0,
    )?;
    if !repositories.is_empty() {
        let data = format::encoded_line(&repositories);
        append_bytes(&mut tar, format::REPOSITORIES_FILE, &data, 0)?;
    }
    let mut out = tar.into_inner().map_err(io)?;
    out.flush().map_err(io)
}

fn descriptor(media_type: &str, digest: &str, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest: digest.to_string(),
        size,
        annotations: None,
    }
}

fn header(path: &str, size: u64, mtime: u64, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    // Paths here are short ASCII ("blobs/sha256/<64 hex>"), always valid in a ustar header.
    let _ = header.set_path(path);
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    header.set_uid(0);
    header.set_gid(0);
    // As Go's tar.FileInfoHeader names the owner of dockerd's temporary files.
    let _ = header.set_username("root");
    let _ = header.set_groupname("root");
    header.set_mtime(mtime);
    header.set_cksum();
    header
}

fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    data: &[u8],
    mtime: u64,
) -> ArchiveResult<()> {
    let header = header(path, data.len() as u64, mtime, tar::EntryType::Regular);
    tar.append(&header, data)
        .map_err(|e| ArchiveError::io("writing the archive", e))
}

#[cfg(test)]
#[path = "save_tests.rs"]
mod tests;
