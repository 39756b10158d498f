//! `--cache-from`: images whose history stands in for the build's own, as dockerd's
//! `image/cache.ImageCache`. A local child of the current image counts only when it is
//! an ancestor of a source; otherwise a source whose history starts with the current
//! image's and whose next entry was made by the step (`created_by` equals the step's
//! command) gives the next image: the source itself at its last entry, else an image
//! restored from the source's history and layer (dockerd's `restoreCachedImage`).
use serde_json::{json, Value};

use super::run_config::RunConfig;
use super::BuildError;
use crate::state::Daemon;
use crate::store::images::ImageRecord;

/// The sources (image IDs) the `cachefrom` names resolve to; unknown ones are skipped.
pub fn sources(daemon: &Daemon, names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter_map(
            |name| match crate::images::lookup::resolve_image(daemon, name) {
                Ok(record) => Some(record.id),
                Err(e) => {
                    tracing::warn!(name, error = %e, "cache source skipped");
                    None
                }
            },
        )
        .collect()
}

fn config_of(daemon: &Daemon, id: &str) -> Option<Value> {
    serde_json::from_slice(&daemon.content.read(id).ok()?).ok()
}

fn history(config: &Value) -> Vec<Value> {
    config["history"].as_array().cloned().unwrap_or_default()
}

fn diff_ids(config: &Value) -> Vec<Value> {
    config["rootfs"]["diff_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Whether `ancestor` is on `id`'s parent chain.
fn is_parent(daemon: &Daemon, id: &str, ancestor: &str) -> bool {
    let mut current = daemon.images.get(id).map(|r| r.parent);
    let mut hops = 0;
    while let Some(parent) = current.filter(|p| !p.is_empty()) {
        if parent == ancestor {
            return true;
        }
        hops += 1;
        if hops > 1000 {
            return false;
        }
        current = daemon.images.get(&parent).map(|r| r.parent);
    }
    false
}

/// dockerd's `isValidParent`: `parent`'s history and layers start `target`'s.
fn is_valid_parent(target: &Value, parent: Option<&Value>) -> bool {
    let th = history(target);
    if th.is_empty() {
        return false;
    }
    let Some(parent) = parent else {
        return true;
    };
    let (ph, pd, td) = (history(parent), diff_ids(parent), diff_ids(target));
    if ph.is_empty() && pd.is_empty() {
        return true;
    }
    ph.len() < th.len() && pd.len() <= td.len() && th.starts_with(&ph) && td.starts_with(&pd)
}

/// The image standing in for `step` on top of `parent`, if a source has one. `sources`
/// narrows to the source used, as dockerd's.
pub fn get(
    daemon: &Daemon,
    sources: &mut Vec<String>,
    parent: &str,
    step: &RunConfig,
) -> Result<Option<String>, BuildError> {
    if let Some(local) = super::cache::find(daemon, parent, step) {
        if sources.iter().any(|s| is_parent(daemon, s, &local)) {
            return Ok(Some(local));
        }
    }
    let parent_config = match parent {
        "" => None,
        id => Some(
            config_of(daemon, id)
                .ok_or_else(|| BuildError::Internal(format!("unable to find image {id}")))?,
        ),
    };
    let len = parent_config
        .as_ref()
        .map(|c| history(c).len())
        .unwrap_or(0);
    let command = step.cmd.clone().unwrap_or_default().join(" ");
    for source in sources.clone() {
        let Some(target) = config_of(daemon, &source) else {
            continue;
        };
        let entry = history(&target).get(len).cloned();
        let made_by = entry
            .as_ref()
            .and_then(|h| h["created_by"].as_str())
            .unwrap_or("");
        if !is_valid_parent(&target, parent_config.as_ref()) || made_by != command {
            continue;
        }
        if history(&target).len() == len + 1 {
            if let (Some(mut record), false) = (daemon.images.get(&source), parent.is_empty()) {
                record.parent = parent.to_string();
                daemon.images.insert(record)?;
            }
            return Ok(Some(source));
        }
        let id = restore(
            daemon,
            parent,
            parent_config.as_ref(),
            &source,
            &target,
            len,
            step,
        )?;
        *sources = vec![source];
        return Ok(Some(id));
    }
    Ok(None)
}

/// dockerd's `restoreCachedImage`: the parent plus the source's entry `index` (and its
/// layer), with the step's config.
fn restore(
    daemon: &Daemon,
    parent: &str,
    parent_config: Option<&Value>,
    source: &str,
    target: &Value,
    index: usize,
    step: &RunConfig,
) -> Result<String, BuildError> {
    let gone = || BuildError::Internal(format!("the cache source {source} is gone"));
    let source_record = daemon.images.get(source).ok_or_else(gone)?;
    let target_history = history(target);
    let entry = target_history.get(index).cloned().ok_or_else(gone)?;
    let mut layers = match parent {
        "" => Vec::new(),
        id => daemon.images.get(id).ok_or_else(gone)?.layers,
    };
    let mut hist = parent_config.map(history).unwrap_or_default();
    let mut ids = parent_config.map(diff_ids).unwrap_or_default();
    if entry["empty_layer"].as_bool() != Some(true) {
        let layer_index = target_history[..index]
            .iter()
            .filter(|h| h["empty_layer"].as_bool() != Some(true))
            .count();
        let layer = source_record
            .layers
            .get(layer_index)
            .cloned()
            .ok_or_else(gone)?;
        ids.push(json!(layer.diff_id));
        layers.push(layer);
    }
    hist.push(entry.clone());
    let mut image = json!({
        "architecture": target["architecture"],
        "config": step.to_value(),
        "created": entry["created"],
        "docker_version": crate::api::version::ENGINE_VERSION,
        "history": hist,
        "os": target["os"],
        "rootfs": {"type": "layers", "diff_ids": ids},
    });
    for key in ["author", "os.features", "os.version"] {
        if !target[key].is_null() {
            image[key] = target[key].clone();
        }
    }
    let bytes = serde_json::to_vec(&image).map_err(|e| BuildError::Internal(e.to_string()))?;
    let id = daemon.content.write_bytes(&bytes)?;
    daemon
        .images
        .insert(ImageRecord::local(id.clone(), layers, parent.to_string()))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parent_must_start_the_target() {
        let target = json!({"history": [{"created_by": "a"}, {"created_by": "b"}],
                            "rootfs": {"diff_ids": ["sha256:1"]}});
        let parent =
            json!({"history": [{"created_by": "a"}], "rootfs": {"diff_ids": ["sha256:1"]}});
        assert!(is_valid_parent(&target, Some(&parent)));
        assert!(is_valid_parent(&target, None));
        let other = json!({"history": [{"created_by": "x"}], "rootfs": {"diff_ids": []}});
        assert!(!is_valid_parent(&target, Some(&other)));
        assert!(!is_valid_parent(&target, Some(&target)));
    }
}
