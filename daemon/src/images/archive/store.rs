//! Storing the checked images of a load: each layer as `docker commit` stores its own (a
//! gzip blob in the content store, unpacked under its chain ID) unless the layer is
//! already here; the config blob (its digest is the image ID); the record; the tags.
//! What a failed load created and no image uses is removed again ([`StoreSession::undo`]).
use std::path::Path;

use super::load::{CheckedImage, LoadEvent, Output, ProgressReader};
use super::spool::Spool;
use super::{ArchiveError, ArchiveResult};
use crate::state::Daemon;
use crate::store::images::{ImageRecord, LayerRecord};
use crate::store::layers::LayerStore;

/// One load's storing, with what it created.
pub struct StoreSession<'a> {
    daemon: &'a Daemon,
    spool: &'a Spool,
    progress: Option<Output>,
    /// Where `add_local_layer` keeps its temporary file.
    scratch: std::path::PathBuf,
    created_layers: Vec<String>,
    created_blobs: Vec<String>,
}

impl<'a> StoreSession<'a> {
    pub fn new(
        daemon: &'a Daemon,
        spool: &'a Spool,
        progress: Option<Output>,
        scratch: &Path,
    ) -> Self {
        StoreSession {
            daemon,
            spool,
            progress,
            scratch: scratch.join("layers"),
            created_layers: Vec::new(),
            created_blobs: Vec::new(),
        }
    }

    /// Stores the layer at `path` of the archive on top of `parent`.
    fn add_layer(
        &mut self,
        parent: Option<&str>,
        diff_id: &str,
        path: &str,
    ) -> ArchiveResult<LayerRecord> {
        let chain_id = LayerStore::chain_id(parent, diff_id);
        if let Some(known) = known_layer(self.daemon, &chain_id) {
            return Ok(known);
        }
        let existed = self.daemon.layers.get(&chain_id)?.is_some();
        let (file, size) = self.spool.open(path)?;
        let raw: Box<dyn std::io::Read + Send> = match &self.progress {
            Some(out) => Box::new(ProgressReader::new(
                file,
                out.clone(),
                crate::images::short_id(diff_id),
                size,
            )),
            None => Box::new(file),
        };
        let tar = crate::store::decompress::decompress(std::io::BufReader::new(raw))
            .map_err(|e| ArchiveError::Invalid(format!("layer {path}: {e}")))?;
        let record = crate::store::local_layer::add_local_layer(
            &self.daemon.content,
            &self.daemon.layers,
            parent,
            tar,
            &self.scratch,
        )?;
        if let Some(blob) = &record.blob_digest {
            self.created_blobs.push(blob.clone());
        }
        if !existed {
            self.created_layers.push(record.chain_id.clone());
        }
        if record.diff_id != diff_id {
            return Err(ArchiveError::Invalid(format!(
                "invalid diffID for layer {path}: expected {diff_id:?}, got {:?}",
                record.diff_id
            )));
        }
        Ok(record)
    }

    /// Removes the layers and blobs this session created that no image uses.
    pub fn undo(&mut self) {
        let records = self.daemon.images.list();
        let used = |f: &dyn Fn(&LayerRecord) -> bool| records.iter().flat_map(|r| &r.layers).any(f);
        for chain_id in self.created_layers.drain(..).rev() {
            if !used(&|l| l.chain_id == chain_id) {
                if let Err(e) = self.daemon.layers.remove(&chain_id) {
                    tracing::warn!(%chain_id, error = %e, "removing a layer of a failed load");
                }
            }
        }
        for blob in self.created_blobs.drain(..) {
            if !used(&|l| l.blob_digest.as_deref() == Some(blob.as_str())) {
                if let Err(e) = self.daemon.content.delete(&blob) {
                    tracing::warn!(%blob, error = %e, "removing a blob of a failed load");
                }
            }
        }
    }

    /// Sets each image's `Parent` from the archive when the parent was loaded with it
    /// (moby's `validatedParentLinks`).
    pub fn link_parents(&self, images: &[CheckedImage], ids: &[String]) {
        for (image, id) in images.iter().zip(ids) {
            let Some(parent) = &image.parent else {
                continue;
            };
            if parent == id || !ids.contains(parent) {
                continue;
            }
            if let Some(mut record) = self.daemon.images.get(id) {
                if record.parent != *parent {
                    record.parent = parent.clone();
                    if let Err(e) = self.daemon.images.insert(record) {
                        tracing::warn!(%id, error = %e, "setting the parent of a loaded image");
                    }
                }
            }
        }
    }
}

/// The record of a layer another image already has (unpacked, with its blob): a load
/// reuses it without reading the archive's copy, as dockerd does.
pub fn known_layer(daemon: &Daemon, chain_id: &str) -> Option<LayerRecord> {
    let record = daemon
        .images
        .list()
        .into_iter()
        .flat_map(|r| r.layers)
        .find(|l| l.chain_id == chain_id && l.blob_digest.is_some())?;
    matches!(daemon.layers.get(chain_id), Ok(Some(_))).then_some(record)
}

/// Stores one checked image: layers, config, record, tags. Returns its ID.
pub fn store_image(
    session: &mut StoreSession<'_>,
    image: &CheckedImage,
    out: &Output,
) -> ArchiveResult<String> {
    let daemon = session.daemon;
    let mut layers: Vec<LayerRecord> = Vec::new();
    for (diff_id, path) in image.diff_ids.iter().zip(&image.layer_paths) {
        let parent = layers.last().map(|l| l.chain_id.clone());
        layers.push(session.add_layer(parent.as_deref(), diff_id, path)?);
    }
    let id = daemon.content.write_bytes(&image.config)?;
    if daemon.images.get(&id).is_none() {
        daemon
            .images
            .insert(ImageRecord::local(id.clone(), layers, String::new()))?;
    }
    for tag in &image.tags {
        let previous = daemon.images.set_ref(&tag.to_string(), &id)?;
        if let Some(previous) = previous.filter(|p| *p != id) {
            out(LoadEvent::Stream(format!(
                "The image {} already exists, renaming the old one with ID {previous} to empty string\n",
                tag.familiar()
            )));
        }
        out(LoadEvent::Stream(format!(
            "Loaded image: {}\n",
            tag.familiar()
        )));
    }
    Ok(id)
}
