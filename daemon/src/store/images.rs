//! Image records and the reference table.
//!
//! An image's ID is the digest of its config blob ("sha256:<hex>"); its config,
//! manifest and compressed layers are blobs in the content store. References are
//! stored fully normalised ("docker.io/library/busybox:latest",
//! "127.0.0.1:5000/x@sha256:<hex>"); the API layer normalises user input first
//! (see `crate::reference`). Records: `<root>/<id-hex>.json`; references:
//! `<root>/references.json`; each written whole.
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};

use super::atomic::{remove_temp_files, sync_dir, write_json};
use super::digest::{hex_part, is_sha256_hex, SHA256_PREFIX};
use super::{StoreError, StoreResult};

/// Name of the reference table inside the store's root.
const REFERENCES_FILE: &str = "references.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerRecord {
    /// "sha256:<hex>" of the uncompressed tar.
    pub diff_id: String,
    /// Chain ID in the layer store.
    pub chain_id: String,
    /// The compressed blob in the content store, when the image came from a registry.
    pub blob_digest: Option<String>,
    /// Media type of that blob as the manifest gave it.
    pub media_type: Option<String>,
    /// Size of that blob in bytes.
    pub blob_size: u64,
    /// Unpacked size in bytes.
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageRecord {
    /// "sha256:<hex>" of the config blob.
    pub id: String,
    /// Digest and media type of the (platform) manifest it was pulled with, if any.
    pub manifest_digest: Option<String>,
    pub manifest_media_type: Option<String>,
    /// Bottom layer first.
    pub layers: Vec<LayerRecord>,
    /// Parent image ID (local builds and commits), "" otherwise.
    pub parent: String,
    /// When this record was created locally.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last time a tag was set on it (inspect's Metadata.LastTagTime).
    pub last_tag_time: Option<chrono::DateTime<chrono::Utc>>,
}

impl ImageRecord {
    /// The record of an image made on this host (commit, build, import, load): no
    /// manifest until it is pushed, created now.
    pub fn local(id: String, layers: Vec<LayerRecord>, parent: String) -> ImageRecord {
        ImageRecord {
            id,
            manifest_digest: None,
            manifest_media_type: None,
            layers,
            parent,
            created_at: chrono::Utc::now(),
            last_tag_time: None,
        }
    }
}

pub struct ImageStore {
    root: PathBuf,
    state: RwLock<State>,
}

/// What is on disk, mirrored in memory.
#[derive(Default)]
struct State {
    /// Image ID ("sha256:<hex>") → record.
    records: HashMap<String, ImageRecord>,
    /// Normalised reference → image ID.
    references: BTreeMap<String, String>,
}

impl ImageStore {
    /// Opens (creates) the store, loading records and references; references to
    /// missing records are dropped.
    pub fn open(root: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(root)
            .map_err(|e| StoreError::io(format!("create {}", root.display()), e))?;
        remove_temp_files(root)?;
        let records = load_records(root)?;
        let mut references = load_references(root)?;
        let before = references.len();
        references.retain(|reference, id| {
            let known = records.contains_key(id);
            if !known {
                tracing::warn!(%reference, %id, "dropping reference to a missing image record");
            }
            known
        });
        let store = ImageStore {
            root: root.to_path_buf(),
            state: RwLock::new(State {
                records,
                references,
            }),
        };
        if store.read_state().references.len() != before {
            let state = store.write_state();
            store.save_references(&state)?;
        }
        Ok(store)
    }

    /// Adds or replaces a record (written whole).
    pub fn insert(&self, record: ImageRecord) -> StoreResult<()> {
        let mut state = self.write_state();
        self.save_record(&record)?;
        state.records.insert(record.id.clone(), record);
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<ImageRecord> {
        self.read_state().records.get(id).cloned()
    }

    /// Whether a record with this ID exists (without copying it).
    pub fn contains(&self, id: &str) -> bool {
        self.read_state().records.contains_key(id)
    }

    /// Every record, sorted by ID.
    pub fn list(&self) -> Vec<ImageRecord> {
        let mut records: Vec<ImageRecord> = self.read_state().records.values().cloned().collect();
        records.sort_by(|a, b| a.id.cmp(&b.id));
        records
    }

    /// Full ID for an unambiguous prefix of the hex part (with or without "sha256:").
    /// Ambiguous prefixes are an error; unknown ones `None`.
    pub fn resolve_id_prefix(&self, prefix: &str) -> StoreResult<Option<String>> {
        let hex = prefix.strip_prefix(SHA256_PREFIX).unwrap_or(prefix);
        let is_hex = hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if hex.is_empty() || hex.len() > 64 || !is_hex {
            return Ok(None);
        }
        let state = self.read_state();
        let mut matches = state.records.keys().filter(|id| {
            id.strip_prefix(SHA256_PREFIX)
                .is_some_and(|h| h.starts_with(hex))
        });
        match (matches.next(), matches.next()) {
            (None, _) => Ok(None),
            (Some(id), None) => Ok(Some(id.clone())),
            (Some(_), Some(_)) => Err(StoreError::Conflict(format!(
                "multiple IDs found with provided prefix: {prefix}"
            ))),
        }
    }

    /// Image ID a normalised reference points at.
    pub fn lookup_ref(&self, reference: &str) -> Option<String> {
        self.read_state().references.get(reference).cloned()
    }

    /// Points `reference` at `id`, returning the ID it pointed at before.
    /// Does not touch `last_tag_time`: as in dockerd, only an explicit tag does
    /// (`touch_tag_time`), not a pull.
    pub fn set_ref(&self, reference: &str, id: &str) -> StoreResult<Option<String>> {
        let mut state = self.write_state();
        if !state.records.contains_key(id) {
            return Err(StoreError::ImageNotFound(id.to_string()));
        }
        let previous = state
            .references
            .insert(reference.to_string(), id.to_string());
        if let Err(e) = self.save_references(&state) {
            restore_reference(&mut state, reference, previous);
            return Err(e);
        }
        Ok(previous)
    }

    /// Records that `id` was just tagged (inspect's `Metadata.LastTagTime`).
    pub fn touch_tag_time(&self, id: &str) -> StoreResult<()> {
        let mut state = self.write_state();
        let mut record = state
            .records
            .get(id)
            .cloned()
            .ok_or_else(|| StoreError::ImageNotFound(id.to_string()))?;
        record.last_tag_time = Some(chrono::Utc::now());
        self.save_record(&record)?;
        state.records.insert(id.to_string(), record);
        Ok(())
    }

    /// Removes a reference, returning the ID it pointed at.
    pub fn remove_ref(&self, reference: &str) -> StoreResult<Option<String>> {
        let mut state = self.write_state();
        let Some(previous) = state.references.remove(reference) else {
            return Ok(None);
        };
        if let Err(e) = self.save_references(&state) {
            state.references.insert(reference.to_string(), previous);
            return Err(e);
        }
        Ok(Some(previous))
    }

    /// Every normalised reference pointing at `id`, sorted.
    pub fn refs_of(&self, id: &str) -> Vec<String> {
        // The table is a BTreeMap: iteration is already sorted.
        self.read_state()
            .references
            .iter()
            .filter(|(_, target)| *target == id)
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// Every reference and the ID it points at, sorted by reference.
    pub fn references(&self) -> Vec<(String, String)> {
        self.read_state()
            .references
            .iter()
            .map(|(r, id)| (r.clone(), id.clone()))
            .collect()
    }

    /// Removes a record and every reference to it.
    pub fn remove(&self, id: &str) -> StoreResult<Option<ImageRecord>> {
        let hex = hex_part(id)?;
        let mut state = self.write_state();
        if !state.records.contains_key(id) {
            return Ok(None);
        }
        // References first: a crash in between leaves an untagged record, never a
        // reference to nothing.
        let before = state.references.clone();
        state.references.retain(|_, target| target != id);
        if state.references.len() != before.len() {
            if let Err(e) = self.save_references(&state) {
                state.references = before;
                return Err(e);
            }
        }
        let path = self.root.join(format!("{hex}.json"));
        match std::fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.root)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(format!("remove {}", path.display()), e)),
        }
        Ok(state.records.remove(id))
    }

    fn save_record(&self, record: &ImageRecord) -> StoreResult<()> {
        let hex = hex_part(&record.id)?;
        write_json(&self.root.join(format!("{hex}.json")), record)
    }

    fn save_references(&self, state: &State) -> StoreResult<()> {
        write_json(&self.root.join(REFERENCES_FILE), &state.references)
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn restore_reference(state: &mut State, reference: &str, previous: Option<String>) {
    match previous {
        Some(id) => state.references.insert(reference.to_string(), id),
        None => state.references.remove(reference),
    };
}

/// Loads every `<hex>.json` record, skipping (with a warning) those that cannot be read.
fn load_records(root: &Path) -> StoreResult<HashMap<String, ImageRecord>> {
    let entries = std::fs::read_dir(root)
        .map_err(|e| StoreError::io(format!("read {}", root.display()), e))?;
    let mut records = HashMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(format!("read {}", root.display()), e))?;
        let name = entry.file_name();
        let Some(hex) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .filter(|h| is_sha256_hex(h))
        else {
            continue;
        };
        let path = entry.path();
        let parsed = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|data| {
                serde_json::from_slice::<ImageRecord>(&data).map_err(|e| e.to_string())
            })
            .and_then(|record| {
                if record.id == format!("{SHA256_PREFIX}{hex}") {
                    Ok(record)
                } else {
                    Err(format!(
                        "record id {} does not match its file name",
                        record.id
                    ))
                }
            });
        match parsed {
            Ok(record) => {
                records.insert(record.id.clone(), record);
            }
            Err(reason) => {
                let error = StoreError::Corrupt {
                    path: path.display().to_string(),
                    reason,
                };
                tracing::warn!(%error, "skipping image record");
            }
        }
    }
    Ok(records)
}

/// Loads the reference table. A corrupt table is set aside (renamed) with a warning.
fn load_references(root: &Path) -> StoreResult<BTreeMap<String, String>> {
    let path = root.join(REFERENCES_FILE);
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(StoreError::io(format!("read {}", path.display()), e)),
    };
    match serde_json::from_slice(&data) {
        Ok(references) => Ok(references),
        Err(e) => {
            let aside = root.join(format!(
                "{REFERENCES_FILE}.corrupt-{}",
                chrono::Utc::now().timestamp()
            ));
            let error = StoreError::Corrupt {
                path: path.display().to_string(),
                reason: e.to_string(),
            };
            tracing::warn!(%error, aside = %aside.display(), "reference table unreadable; starting with no references");
            std::fs::rename(&path, &aside).map_err(|e| {
                StoreError::io(
                    format!("rename {} to {}", path.display(), aside.display()),
                    e,
                )
            })?;
            Ok(BTreeMap::new())
        }
    }
}

#[cfg(test)]
#[path = "images_tests.rs"]
mod tests;
