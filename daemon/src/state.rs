//! The daemon's shared state, handed to every API handler.
use std::sync::Arc;

use crate::config::Config;
use crate::store::{content::ContentStore, images::ImageStore, layers::LayerStore, StoreError};

/// Everything a handler may need. Cheap to clone through `Arc`.
pub struct Daemon {
    pub config: Config,
    pub content: ContentStore,
    pub layers: LayerStore,
    pub images: ImageStore,
    /// When this daemon started (for /info's SystemTime etc.).
    pub started_at: chrono::DateTime<chrono::Utc>,
}

pub type SharedDaemon = Arc<Daemon>;

impl Daemon {
    /// Opens (creating where missing) the stores under `config.data_root`
    /// and cleans whatever an interrupted run left behind.
    pub fn open(config: Config) -> Result<SharedDaemon, StoreError> {
        let root = config.data_root.clone();
        let content = ContentStore::open(&root.join("content"))?;
        let layers = LayerStore::open(&root.join("layers"))?;
        let images = ImageStore::open(&root.join("images"))?;
        Ok(Arc::new(Daemon {
            config,
            content,
            layers,
            images,
            started_at: chrono::Utc::now(),
        }))
    }
}
