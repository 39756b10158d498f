//! Garbage collection: layers and blobs that no image record uses any more.
//!
//! Not safe to run while a pull or a build is between writing its blobs/layers and
//! inserting its record: such writers hold a `WriterLease` from the daemon's `GcGate`,
//! and a collection only runs when no writer is active (it is skipped otherwise; the
//! next delete, prune or start-up collects what it left).
use std::collections::HashSet;

use super::content::ContentStore;
use super::images::ImageStore;
use super::layers::LayerStore;
use super::StoreResult;

/// Keeps collections and writers (pulls, builds) apart.
#[derive(Debug, Default)]
pub struct GcGate {
    state: std::sync::Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    writers: usize,
    collecting: bool,
}

/// Held by a writer for as long as it has blobs or layers no record references yet.
pub struct WriterLease<'a> {
    gate: &'a GcGate,
}

impl GcGate {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for a running collection to finish, then registers a writer.
    pub async fn writer(&self) -> WriterLease<'_> {
        loop {
            {
                let mut state = self.lock();
                if !state.collecting {
                    state.writers += 1;
                    return WriterLease { gate: self };
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Runs `collection` unless a writer is active, in which case it returns `None`.
    pub fn collect_if_idle<R>(&self, collection: impl FnOnce() -> R) -> Option<R> {
        {
            let mut state = self.lock();
            if state.writers > 0 || state.collecting {
                return None;
            }
            state.collecting = true;
        }
        let result = collection();
        self.lock().collecting = false;
        Some(result)
    }
}

impl Drop for WriterLease<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        state.writers = state.writers.saturating_sub(1);
    }
}

/// What a collection removed.
#[derive(Debug, Default)]
pub struct Collected {
    pub layers: Vec<String>,
    pub blobs: Vec<String>,
    pub bytes: u64,
}

/// Removes every layer whose chain ID no image record and no container (`held`: the chain
/// IDs containers run on, whose image may have been deleted with `rmi -f`) references, and
/// every blob no image record references.
pub fn collect(
    content: &ContentStore,
    layers: &LayerStore,
    images: &ImageStore,
    held: HashSet<String>,
) -> StoreResult<Collected> {
    let records = images.list();
    let mut used_chains: HashSet<String> = held;
    let mut used_blobs: HashSet<String> = HashSet::new();
    for record in &records {
        used_blobs.insert(record.id.clone());
        used_blobs.extend(record.manifest_digest.iter().cloned());
        // Every layer's chain ID, as recorded and as recomputed from the diff IDs,
        // so that a record with a stale chain ID does not lose its layers.
        let diff_ids: Vec<String> = record.layers.iter().map(|l| l.diff_id.clone()).collect();
        used_chains.extend(LayerStore::chain_ids(&diff_ids));
        for layer in &record.layers {
            used_chains.insert(layer.chain_id.clone());
            used_blobs.extend(layer.blob_digest.iter().cloned());
        }
    }

    let mut collected = Collected::default();
    for layer in layers.list()? {
        if used_chains.contains(&layer.chain_id) {
            continue;
        }
        tracing::debug!(chain_id = %layer.chain_id, "removing unused layer");
        layers.remove(&layer.chain_id)?;
        collected.bytes += layer.size;
        collected.layers.push(layer.chain_id);
    }
    for digest in content.list()? {
        if used_blobs.contains(&digest) {
            continue;
        }
        let size = content.size(&digest).unwrap_or(0);
        tracing::debug!(%digest, "removing unused blob");
        content.delete(&digest)?;
        collected.bytes += size;
        collected.blobs.push(digest);
    }
    Ok(collected)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn collection_waits_for_no_writer_and_writers_wait_for_collection() {
        let gate = super::GcGate::default();
        let lease = gate.writer().await;
        assert!(
            gate.collect_if_idle(|| ()).is_none(),
            "a writer is active: no collection"
        );
        drop(lease);
        assert_eq!(gate.collect_if_idle(|| 7), Some(7));
        let (a, b) = (gate.writer().await, gate.writer().await);
        drop(a);
        assert!(
            gate.collect_if_idle(|| ()).is_none(),
            "one writer is still active"
        );
        drop(b);
        assert!(gate.collect_if_idle(|| ()).is_some());
    }

    use super::*;
    use crate::in_root::unpack::tests::LayerTar;
    use crate::store::digest::sha256_of;
    use crate::store::images::{ImageRecord, LayerRecord};

    struct Stores {
        _dir: tempfile::TempDir,
        content: ContentStore,
        layers: LayerStore,
        images: ImageStore,
    }

    fn stores() -> Stores {
        let dir = tempfile::tempdir().unwrap();
        Stores {
            content: ContentStore::open(&dir.path().join("content")).unwrap(),
            layers: LayerStore::open(&dir.path().join("layers")).unwrap(),
            images: ImageStore::open(&dir.path().join("images")).unwrap(),
            _dir: dir,
        }
    }

    /// Stores an image of the given layer contents (bottom first), as a pull would.
    fn add_image(s: &Stores, files: &[&str]) -> ImageRecord {
        let mut parent: Option<String> = None;
        let mut layers = Vec::new();
        for file in files {
            let tar = LayerTar::new().file(file, file.as_bytes()).bytes();
            let blob = s.content.write_bytes(&tar).unwrap();
            let info = s
                .layers
                .unpack(parent.as_deref(), &sha256_of(&tar), &tar[..])
                .unwrap();
            layers.push(LayerRecord {
                diff_id: info.diff_id.clone(),
                chain_id: info.chain_id.clone(),
                blob_digest: Some(blob),
                media_type: None,
                blob_size: tar.len() as u64,
                size: info.size,
            });
            parent = Some(info.chain_id);
        }
        let config = s
            .content
            .write_bytes(format!("config of {files:?}").as_bytes())
            .unwrap();
        let manifest = s
            .content
            .write_bytes(format!("manifest of {files:?}").as_bytes())
            .unwrap();
        let record = ImageRecord {
            id: config,
            manifest_digest: Some(manifest),
            manifest_media_type: None,
            layers,
            parent: String::new(),
            created_at: chrono::Utc::now(),
            last_tag_time: None,
        };
        s.images.insert(record.clone()).unwrap();
        record
    }

    #[test]
    fn nothing_is_collected_while_every_image_is_kept() {
        let s = stores();
        add_image(&s, &["a", "b", "c"]);
        let collected = collect(&s.content, &s.layers, &s.images, HashSet::new()).unwrap();
        assert!(
            collected.layers.is_empty() && collected.blobs.is_empty(),
            "{collected:?}"
        );
        assert_eq!(s.layers.list().unwrap().len(), 3);
    }

    #[test]
    fn an_image_removal_frees_what_only_it_used() {
        let s = stores();
        let shared = add_image(&s, &["a", "b"]);
        let removed = add_image(&s, &["a", "b", "c"]);
        let orphan = s.content.write_bytes(b"an index nobody records").unwrap();
        s.images.remove(&removed.id).unwrap();

        let collected = collect(&s.content, &s.layers, &s.images, HashSet::new()).unwrap();
        let top = removed.layers[2].clone();
        assert_eq!(collected.layers, vec![top.chain_id.clone()]);
        let mut expected_blobs = vec![
            removed.id.clone(),
            removed.manifest_digest.clone().unwrap(),
            top.blob_digest.clone().unwrap(),
            orphan,
        ];
        expected_blobs.sort();
        let mut blobs = collected.blobs.clone();
        blobs.sort();
        assert_eq!(blobs, expected_blobs);
        assert!(collected.bytes > 0);
        // What the remaining image uses is still there, intermediate layers included.
        for layer in &shared.layers {
            assert!(s.layers.get(&layer.chain_id).unwrap().is_some());
            assert!(s.content.exists(layer.blob_digest.as_ref().unwrap()));
        }
        assert!(s.content.exists(&shared.id));
        assert_eq!(
            s.layers
                .lower_dirs(&shared.layers[1].chain_id)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn layers_a_container_holds_stay_when_its_image_goes() {
        let s = stores();
        let record = add_image(&s, &["a", "b"]);
        s.images.remove(&record.id).unwrap();
        let held: HashSet<String> = record.layers.iter().map(|l| l.chain_id.clone()).collect();
        let collected = collect(&s.content, &s.layers, &s.images, held).unwrap();
        assert!(collected.layers.is_empty(), "{collected:?}");
        assert_eq!(s.layers.list().unwrap().len(), 2);
        assert_eq!(collected.blobs.len(), 4, "the image's blobs go");
    }

    #[test]
    fn everything_goes_when_no_image_is_left() {
        let s = stores();
        let record = add_image(&s, &["a", "b"]);
        s.images.remove(&record.id).unwrap();
        let collected = collect(&s.content, &s.layers, &s.images, HashSet::new()).unwrap();
        assert_eq!(collected.layers.len(), 2);
        assert_eq!(collected.blobs.len(), 4);
        assert!(s.layers.list().unwrap().is_empty());
        assert!(s.content.list().unwrap().is_empty());
    }
}
