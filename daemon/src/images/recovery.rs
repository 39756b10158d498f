//! The start-up consistency check, called once from `Daemon::open` after the stores are
//! open: image records whose config blob or any layer is missing are removed (with
//! their references) and logged, then unused layers and blobs are collected.
use crate::state::Daemon;
use crate::store::content::ContentStore;
use crate::store::images::{ImageRecord, ImageStore};
use crate::store::StoreResult;

/// What the check removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// IDs of the image records removed.
    pub removed_images: Vec<String>,
    pub collected_layers: usize,
    pub collected_blobs: usize,
}

/// Checks the daemon's stores; see the module documentation.
pub fn check_store(daemon: &Daemon) -> StoreResult<CheckReport> {
    let mut report = remove_broken_images(&daemon.images, &daemon.content, |chain_id| {
        daemon.layers.get(chain_id).map(|l| l.is_some())
    })?;
    let collected = daemon.collect_garbage()?;
    report.collected_layers = collected.layers.len();
    report.collected_blobs = collected.blobs.len();
    if !report.removed_images.is_empty() || collected.bytes > 0 {
        tracing::info!(
            removed_images = report.removed_images.len(),
            layers = report.collected_layers,
            blobs = report.collected_blobs,
            bytes = collected.bytes,
            "image store check done"
        );
    }
    Ok(report)
}

/// Removes every record whose config blob or a layer is missing. `layer_present` says
/// whether a chain ID is unpacked (an error counts as present: nothing is removed on doubt).
pub fn remove_broken_images(
    images: &ImageStore,
    content: &ContentStore,
    layer_present: impl Fn(&str) -> StoreResult<bool>,
) -> StoreResult<CheckReport> {
    let mut report = CheckReport::default();
    for record in images.list() {
        let Some(reason) = what_is_missing(&record, content, &layer_present) else {
            continue;
        };
        let refs = images.refs_of(&record.id);
        tracing::warn!(id = %record.id, references = ?refs, %reason, "removing broken image record");
        images.remove(&record.id)?;
        report.removed_images.push(record.id);
    }
    Ok(report)
}

fn what_is_missing(
    record: &ImageRecord,
    content: &ContentStore,
    layer_present: &impl Fn(&str) -> StoreResult<bool>,
) -> Option<String> {
    if !content.exists(&record.id) {
        return Some(format!("config blob {} is missing", record.id));
    }
    for layer in &record.layers {
        match layer_present(&layer.chain_id) {
            Ok(true) => {}
            Ok(false) => return Some(format!("layer {} is missing", layer.chain_id)),
            Err(e) => {
                tracing::warn!(id = %record.id, layer = %layer.chain_id, error = %e, "cannot check layer; keeping image")
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::testutil::{ImageSpec, TestStores};

    #[test]
    fn removes_records_with_missing_config_or_layers() {
        let s = TestStores::new();
        let good = s.add(ImageSpec::new("good", "2024-01-01T00:00:00Z").refs(&["good:1"]));
        let no_layer =
            s.add(ImageSpec::new("nolayer", "2024-01-01T00:00:00Z").refs(&["nolayer:1"]));
        let no_config =
            s.add(ImageSpec::new("noconfig", "2024-01-01T00:00:00Z").refs(&["noconfig:1"]));
        s.content.delete(&no_config.id).unwrap();
        let missing_chain = no_layer.layers[0].chain_id.clone();
        let report =
            remove_broken_images(&s.images, &s.content, |c| Ok(c != missing_chain)).unwrap();
        let mut expected = vec![no_layer.id.clone(), no_config.id.clone()];
        expected.sort();
        assert_eq!(report.removed_images, expected);
        assert!(s.images.get(&good.id).is_some());
        assert_eq!(s.id_of("nolayer:1"), None);
        assert_eq!(s.id_of("noconfig:1"), None);
        assert_eq!(s.id_of("good:1"), Some(good.id));
    }
}
