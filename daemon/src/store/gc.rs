//! Garbage collection: layers and blobs that no image record uses any more.
use super::content::ContentStore;
use super::images::ImageStore;
use super::layers::LayerStore;
use super::StoreResult;

/// What a collection removed.
#[derive(Debug, Default)]
pub struct Collected {
    pub layers: Vec<String>,
    pub blobs: Vec<String>,
    pub bytes: u64,
}

/// Removes every layer whose chain ID and every blob whose digest no image record references.
pub fn collect(content: &ContentStore, layers: &LayerStore, images: &ImageStore) -> StoreResult<Collected> {
    let _ = (content, layers, images);
    todo!("store::gc::collect")
}
