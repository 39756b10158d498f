//! Test helpers: temporary content and image stores with images built by hand
//! (a config blob, a record, references), without any registry or layer store.
use crate::reference::Reference;
use crate::store::content::ContentStore;
use crate::store::digest::sha256_of;
use crate::store::images::{ImageRecord, ImageStore, LayerRecord};

pub struct TestStores {
    /// Keeps the temporary directory alive.
    #[allow(dead_code)]
    pub dir: tempfile::TempDir,
    pub content: ContentStore,
    pub images: ImageStore,
}

impl TestStores {
    pub fn new() -> TestStores {
        let dir = tempfile::tempdir().expect("tempdir");
        let content = ContentStore::open(&dir.path().join("content")).expect("content store");
        let images = ImageStore::open(&dir.path().join("images")).expect("image store");
        TestStores {
            dir,
            content,
            images,
        }
    }

    /// Adds an image built from `spec`, returning its record.
    pub fn add(&self, spec: ImageSpec) -> ImageRecord {
        let diff_ids: Vec<String> = spec
            .layers
            .iter()
            .map(|(name, _)| sha256_of(name.as_bytes()))
            .collect();
        let mut config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": spec.created,
            "config": spec.config,
            "history": spec.history,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        if let Some(comment) = &spec.comment {
            config["comment"] = serde_json::json!(comment);
        }
        let data = serde_json::to_vec(&config).expect("config json");
        let id = self.content.write_bytes(&data).expect("write config");
        let mut chain: Option<String> = None;
        let layers = spec
            .layers
            .iter()
            .zip(&diff_ids)
            .map(|((_, size), diff_id)| {
                let chain_id = match &chain {
                    None => diff_id.clone(),
                    Some(parent) => sha256_of(format!("{parent} {diff_id}").as_bytes()),
                };
                chain = Some(chain_id.clone());
                LayerRecord {
                    diff_id: diff_id.clone(),
                    chain_id,
                    blob_digest: None,
                    media_type: None,
                    blob_size: *size,
                    size: *size,
                }
            })
            .collect();
        let record = ImageRecord {
            id: id.clone(),
            manifest_digest: None,
            manifest_media_type: None,
            layers,
            parent: spec.parent.clone(),
            created_at: chrono::Utc::now(),
            last_tag_time: None,
        };
        self.images.insert(record).expect("insert record");
        for r in &spec.refs {
            let normalised = Reference::parse(r)
                .expect("valid test reference")
                .to_string();
            self.images.set_ref(&normalised, &id).expect("set ref");
        }
        self.images.get(&id).expect("record just inserted")
    }

    /// The image a stored reference points at.
    pub fn id_of(&self, reference: &str) -> Option<String> {
        self.images.lookup_ref(
            &Reference::parse_with_default_tag(reference)
                .ok()?
                .to_string(),
        )
    }
}

/// What a test image looks like.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub created: String,
    pub config: serde_json::Value,
    pub history: serde_json::Value,
    pub comment: Option<String>,
    /// (content name → diff ID seed, size)
    pub layers: Vec<(String, u64)>,
    pub parent: String,
    /// Familiar references to point at it.
    pub refs: Vec<String>,
}

impl ImageSpec {
    /// An image with one layer named `seed`, created at `created`.
    pub fn new(seed: &str, created: &str) -> ImageSpec {
        ImageSpec {
            created: created.to_string(),
            config: serde_json::json!({"Cmd": ["sh"], "Env": ["PATH=/bin"]}),
            history: serde_json::json!([{"created": created, "created_by": format!("ADD {seed} /")}]),
            comment: None,
            layers: vec![(seed.to_string(), 100)],
            parent: String::new(),
            refs: Vec::new(),
        }
    }
    pub fn refs(mut self, refs: &[&str]) -> ImageSpec {
        self.refs = refs.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn labels(mut self, labels: serde_json::Value) -> ImageSpec {
        self.config["Labels"] = labels;
        self
    }
    pub fn parent(mut self, parent: &str) -> ImageSpec {
        self.parent = parent.to_string();
        self
    }
    pub fn layers(mut self, layers: &[(&str, u64)]) -> ImageSpec {
        self.layers = layers.iter().map(|(n, s)| (n.to_string(), *s)).collect();
        self
    }
    pub fn history(mut self, history: serde_json::Value) -> ImageSpec {
        self.history = history;
        self
    }
}
