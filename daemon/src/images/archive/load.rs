//! `docker load` (moby `tarexport/load.go`): an archive that `docker save` wrote — the
//! OCI layout of Docker 25+ or the `<id>/layer.tar` layout of older versions, both read
//! through `manifest.json` — becomes images: layers, config blob, record, tags.
//!
//! Unlike dockerd, everything is checked before anything is stored: every config, every
//! tag, every layer's digest against its diff ID. A bad archive stores nothing.
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use super::format::{self, ConfigSummary, ManifestItem};
use super::spool::Spool;
use super::store::{known_layer, store_image, StoreSession};
use super::{ArchiveError, ArchiveResult};
use crate::reference::Reference;
use crate::registry::platform::Platform;
use crate::state::Daemon;
use crate::store::digest::HashingReader;
use crate::store::layers::LayerStore;

/// What a load reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadEvent {
    /// "Loading layer" progress: bytes of the layer's file read so far, of `total`.
    Progress {
        id: String,
        current: u64,
        total: u64,
    },
    /// A line of text for the client (`{"stream": …}`).
    Stream(String),
}

/// Where the events go (shared with the readers that report progress).
pub type Output = Arc<dyn Fn(LoadEvent) + Send + Sync>;

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// No "Loading layer" progress.
    pub quiet: bool,
    /// Only images of this platform are loaded; others are skipped.
    pub platform: Option<Platform>,
}

/// One image of the archive, checked.
#[derive(Debug)]
pub struct CheckedImage {
    pub config: Vec<u8>,
    pub diff_ids: Vec<String>,
    /// The archive path of each layer's file.
    pub layer_paths: Vec<String>,
    pub tags: Vec<Reference>,
    pub parent: Option<String>,
}

/// Loads the archive at `archive` (a file, plain or compressed), using `scratch` (an
/// empty folder) to unpack it. Blocking; the caller holds a GC writer lease.
pub fn load(
    daemon: &Daemon,
    archive: &Path,
    scratch: &Path,
    options: &LoadOptions,
    out: Output,
) -> ArchiveResult<Vec<String>> {
    let file = std::fs::File::open(archive)
        .map_err(|e| ArchiveError::io(format!("open {}", archive.display()), e))?;
    let input =
        crate::store::decompress::decompress(std::io::BufReader::new(file)).map_err(|e| {
            ArchiveError::Invalid(format!("Error processing tar file(exit status 1): {e}"))
        })?;
    let spool = Spool::unpack(input, scratch)?;
    // Unpacked: the upload itself is no longer needed (half the scratch space).
    if let Err(e) = std::fs::remove_file(archive) {
        tracing::debug!(path = %archive.display(), error = %e, "removing an unpacked upload");
    }
    let images = check(daemon, &spool, options)?;
    let progress = (!options.quiet).then(|| out.clone());
    let mut session = StoreSession::new(daemon, &spool, progress, scratch);
    let mut ids = Vec::new();
    let mut untagged = String::new();
    let mut last_had_tags = false;
    for image in &images {
        let id = match store_image(&mut session, image, &out) {
            Ok(id) => id,
            Err(e) => {
                session.undo();
                return Err(e);
            }
        };
        untagged.push_str(&format!("Loaded image ID: {id}\n"));
        last_had_tags = !image.tags.is_empty();
        crate::events::image::publish(daemon, "load", &id, &id);
        ids.push(id);
    }
    session.link_parents(&images, &ids);
    // dockerd prints the IDs only when the last image had no tag.
    if !last_had_tags && !ids.is_empty() {
        out(LoadEvent::Stream(untagged));
    }
    Ok(ids)
}

/// Reads and checks `manifest.json`, each config, tag and layer.
fn check(
    daemon: &Daemon,
    spool: &Spool,
    options: &LoadOptions,
) -> ArchiveResult<Vec<CheckedImage>> {
    let manifest = match spool.read(format::MANIFEST_FILE) {
        Ok(data) => data,
        Err(_) if !spool.has_file(format::MANIFEST_FILE) => {
            return Err(ArchiveError::Invalid(format!(
                "invalid archive: does not contain a {}",
                format::MANIFEST_FILE
            )))
        }
        Err(e) => {
            return Err(ArchiveError::Invalid(format!(
                "invalid archive: failed to load {}: {e}",
                format::MANIFEST_FILE
            )))
        }
    };
    let items = format::parse_manifest(&manifest).map_err(ArchiveError::Invalid)?;
    let mut verified: HashMap<String, String> = HashMap::new();
    let mut images = Vec::new();
    for item in &items {
        let config = spool.read(&item.config)?;
        let summary = ConfigSummary::parse(&config).map_err(ArchiveError::Invalid)?;
        if !summary.os.is_empty() && summary.os != "linux" {
            return Err(ArchiveError::Invalid(format!(
                "cannot load {} image on linux",
                summary.os
            )));
        }
        if let Some(wanted) = &options.platform {
            if !wanted.matches(&summary.platform()) {
                continue;
            }
        }
        let diff_ids = summary.diff_ids().to_vec();
        if item.layers.len() != diff_ids.len() {
            return Err(ArchiveError::Invalid(format!(
                "invalid manifest, layers length mismatch: expected {}, got {}",
                item.layers.len(),
                diff_ids.len()
            )));
        }
        let chains = LayerStore::chain_ids(&diff_ids);
        for (i, (diff_id, path)) in diff_ids.iter().zip(&item.layers).enumerate() {
            if known_layer(daemon, &chains[i]).is_some() {
                continue;
            }
            let actual = match verified.get(path) {
                Some(actual) => actual.clone(),
                None => {
                    let actual = layer_digest(spool, path)?;
                    verified.insert(path.clone(), actual.clone());
                    actual
                }
            };
            if &actual != diff_id {
                return Err(ArchiveError::Invalid(format!(
                    "invalid diffID for layer {i}: expected {diff_id:?}, got {actual:?}"
                )));
            }
        }
        images.push(CheckedImage {
            config,
            diff_ids,
            layer_paths: item.layers.clone(),
            tags: tags_of(item)?,
            parent: item.parent.clone().filter(|p| !p.is_empty()),
        });
    }
    Ok(images)
}

/// The digest of a layer file's uncompressed tar.
fn layer_digest(spool: &Spool, path: &str) -> ArchiveResult<String> {
    let (file, _) = spool.open(path)?;
    let tar = crate::store::decompress::decompress(std::io::BufReader::new(file))
        .map_err(|e| ArchiveError::Invalid(format!("layer {path}: {e}")))?;
    let mut hashing = HashingReader::new(tar);
    std::io::copy(&mut hashing, &mut std::io::sink())
        .map_err(|e| ArchiveError::Invalid(format!("layer {path}: {e}")))?;
    Ok(hashing.digest())
}

/// `RepoTags`, each a name with a tag (dockerd: "invalid tag" otherwise).
fn tags_of(item: &ManifestItem) -> ArchiveResult<Vec<Reference>> {
    let mut tags = Vec::new();
    for repo_tag in item.repo_tags.iter().flatten() {
        let reference =
            Reference::parse(repo_tag).map_err(|e| ArchiveError::Invalid(e.to_string()))?;
        if reference.tag.is_none() || reference.digest.is_some() {
            return Err(ArchiveError::Invalid(format!("invalid tag {repo_tag:?}")));
        }
        tags.push(reference);
    }
    Ok(tags)
}

/// Reports "Loading layer" progress of the bytes read through it.
pub struct ProgressReader<R> {
    inner: R,
    out: Output,
    id: String,
    current: u64,
    total: u64,
}

impl<R> ProgressReader<R> {
    pub fn new(inner: R, out: Output, id: String, total: u64) -> Self {
        ProgressReader {
            inner,
            out,
            id,
            current: 0,
            total,
        }
    }
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.current += n as u64;
        if n > 0 || self.current >= self.total {
            (self.out)(LoadEvent::Progress {
                id: self.id.clone(),
                current: self.current,
                total: self.total,
            });
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn repo_tags_must_be_names_with_tags() {
        let item = |tags: &[&str]| ManifestItem {
            repo_tags: Some(tags.iter().map(|t| t.to_string()).collect()),
            ..Default::default()
        };
        let tags = tags_of(&item(&["busybox:latest", "127.0.0.1:5000/a/b:v1"])).expect("tags");
        assert_eq!(tags[0].to_string(), "docker.io/library/busybox:latest");
        assert_eq!(tags[1].familiar(), "127.0.0.1:5000/a/b:v1");
        assert!(tags_of(&ManifestItem::default()).expect("none").is_empty());
        let err = tags_of(&item(&["busybox"])).expect_err("no tag");
        assert_eq!(err.to_string(), "invalid tag \"busybox\"");
        assert!(tags_of(&item(&["Bad:1"])).is_err());
    }

    #[test]
    fn progress_is_reported_up_to_the_total() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let out: Output = Arc::new(move |e| sink.lock().expect("lock").push(e));
        let data = vec![1u8; 10_000];
        let mut reader = ProgressReader::new(&data[..], out, "abc".into(), 10_000);
        std::io::copy(&mut reader, &mut std::io::sink()).expect("copy");
        let seen = seen.lock().expect("lock");
        assert_eq!(
            seen.last(),
            Some(&LoadEvent::Progress {
                id: "abc".into(),
                current: 10_000,
                total: 10_000
            })
        );
    }
}
