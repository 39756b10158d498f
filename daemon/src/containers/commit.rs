//! `POST /commit` (`docker commit`): a new image from a container, as dockerd's
//! `CreateImageFromContainer` and `CommitImage`: the container's changes become a new
//! top layer (stored as a pulled layer is: compressed blob, diff ID, chain ID), the
//! config is the container's with `--change` applied, the history gains an entry.
//! A container with no changes gives an image with no new layer (`empty_layer`).
use std::path::Path;

use serde_json::{json, Value};

use super::commit_config::{apply_changes, go_config, merge};
use super::commit_tar::{layer_items, write_layer_tar};
use super::record::{Container, Status};
use super::rootfs::lower_dirs;
use super::{lifecycle, ContainerError, Result};
use crate::reference::Reference;
use crate::state::{Daemon, SharedDaemon};
use crate::store::images::ImageRecord;

/// What `POST /commit` asked for.
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    pub container: String,
    /// The tag to give the image, already checked (`RepoTagReference`).
    pub reference: Option<Reference>,
    pub comment: String,
    pub author: String,
    pub pause: bool,
    pub changes: Vec<String>,
    /// The config sent in the body, if any (Go `container.Config` fields).
    pub config: Option<Value>,
}

/// Commits the container; returns the new image ID.
pub async fn commit(daemon: &SharedDaemon, req: CommitRequest) -> Result<String> {
    let c = daemon.containers.lookup(&req.container)?;
    match c.state.status {
        Status::Dead => {
            return Err(ContainerError::Conflict(format!(
                "You cannot commit container {} which is Dead",
                c.id
            )))
        }
        Status::Removing => {
            return Err(ContainerError::Conflict(format!(
                "You cannot commit container {} which is being removed",
                c.id
            )))
        }
        _ => {}
    }
    let container_config = go_config(&serde_json::to_value(&c.config).unwrap_or(Value::Null));
    let mut config = match &req.config {
        Some(given) => go_config(given),
        None => container_config.clone(),
    };
    apply_changes(&mut config, &req.changes)?;
    merge(&mut config, &container_config);

    // As dockerd's CreateImageFromContainer, the pause is best effort: a container that is
    // exiting (or exited since it was looked up) is committed as it is.
    let paused_here = req.pause
        && c.state.status == Status::Running
        && match lifecycle::pause(daemon, &c.id).await {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(id = %c.id, error = %e, "commit without pausing");
                false
            }
        };
    // The layer and blobs exist before the image record: keep collections away till then.
    let lease_holder = daemon.clone();
    let lease = lease_holder.gc_gate.writer().await;
    let result = {
        let daemon = daemon.clone();
        let c = c.clone();
        let req = req.clone();
        tokio::task::spawn_blocking(move || {
            store_image(&daemon, &c, &req, config, container_config)
        })
        .await
        .map_err(|e| ContainerError::Internal(format!("commit: {e}")))
        .and_then(|r| r)
    };
    drop(lease);
    if paused_here {
        if let Err(e) = lifecycle::unpause(daemon, &c.id).await {
            tracing::warn!(id = %c.id, error = %e, "unpausing after the commit");
        }
    }
    let id = result?;
    let image_ref = match &req.reference {
        Some(reference) => {
            daemon.images.set_ref(&reference.to_string(), &id)?;
            daemon.images.touch_tag_time(&id)?;
            crate::events::image::publish(daemon, "tag", &id, &reference.familiar());
            reference.familiar()
        }
        None => String::new(),
    };
    let mut attrs = c.event_attributes();
    attrs.insert("comment".into(), req.comment.clone());
    attrs.insert("imageID".into(), id.clone());
    attrs.insert("imageRef".into(), image_ref);
    daemon.events.publish("container", "commit", &c.id, attrs);
    tracing::info!(container = %c.id, image = %id, "committed");
    Ok(id)
}

/// The blocking part of a commit: layer, config blob, image record. Returns the image ID.
fn store_image(
    daemon: &SharedDaemon,
    c: &Container,
    req: &CommitRequest,
    config: Value,
    container_config: Value,
) -> Result<String> {
    let child = ChildImage {
        parent: Some(c.image_id.clone()),
        config,
        container_config,
        container: Some(c.id.clone()),
        author: req.author.clone(),
        comment: req.comment.clone(),
        created_by: c.config.cmd.clone().unwrap_or_default().join(" "),
    };
    store_child_image(daemon, &c.upper_dir(), &child)
}

/// A new image on top of another: what `docker commit` and each build step make.
#[derive(Debug, Clone, Default)]
pub struct ChildImage {
    /// The parent image's ID; `None` on top of nothing (`FROM scratch`).
    pub parent: Option<String>,
    /// The image's `config` and `container_config` (Go `container.Config` shapes).
    pub config: Value,
    pub container_config: Value,
    /// The container the changes come from, if any.
    pub container: Option<String>,
    pub author: String,
    pub comment: String,
    /// The history entry's `created_by`.
    pub created_by: String,
}

/// Stores `child`: the changes in `upper` (an overlay upper folder over the parent's
/// layers) become a new layer, none when there are no changes (an `empty_layer` history
/// entry). Blocking; returns the new image's ID.
pub fn store_child_image(daemon: &Daemon, upper: &Path, child: &ChildImage) -> Result<String> {
    let (parent_layers, parent_config) = match &child.parent {
        Some(id) => {
            let parent = daemon.images.get(id).ok_or_else(|| {
                ContainerError::Internal(format!("the parent image {id} is gone"))
            })?;
            let config: Value = serde_json::from_slice(&daemon.content.read(id)?)
                .map_err(|e| ContainerError::Internal(format!("config of {id}: {e}")))?;
            (parent.layers, config)
        }
        None => (Vec::new(), json!({})),
    };
    let chain_ids: Vec<String> = parent_layers.iter().map(|l| l.chain_id.clone()).collect();
    let layers_root = daemon.config.data_root.join("layers");
    let items = layer_items(upper, &lower_dirs(&layers_root, &chain_ids))
        .map_err(|e| ContainerError::io(format!("reading {}", upper.display()), e))?;
    let mut layers = parent_layers;
    let empty_layer = items.is_empty();
    if !empty_layer {
        let scratch = daemon.config.data_root.join("content").join("ingest");
        std::fs::create_dir_all(&scratch)
            .map_err(|e| ContainerError::io(format!("creating {}", scratch.display()), e))?;
        let tar = tempfile::Builder::new()
            .prefix("commit-")
            .tempfile_in(&scratch)
            .map_err(|e| ContainerError::io("creating the layer tar", e))?;
        let file = tar
            .reopen()
            .map_err(|e| ContainerError::io("opening the layer tar", e))?;
        write_layer_tar(upper, &items, std::io::BufWriter::new(file))
            .map_err(|e| ContainerError::io("writing the layer tar", e))?;
        let source = tar
            .reopen()
            .map_err(|e| ContainerError::io("reading the layer tar", e))?;
        let record = crate::store::local_layer::add_local_layer(
            &daemon.content,
            &daemon.layers,
            chain_ids.last().map(String::as_str),
            std::io::BufReader::new(source),
            &scratch,
        )?;
        layers.push(record);
    }
    let now = chrono::Utc::now();
    let created = crate::images::config::format_rfc3339_nano(&now);
    let mut history = parent_config["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut entry = json!({ "created": created });
    if !child.author.is_empty() {
        entry["author"] = json!(child.author);
    }
    if !child.created_by.is_empty() {
        entry["created_by"] = json!(child.created_by);
    }
    if !child.comment.is_empty() {
        entry["comment"] = json!(child.comment);
    }
    if empty_layer {
        entry["empty_layer"] = json!(true);
    }
    history.push(entry);
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.diff_id.as_str()).collect();
    let mut image = json!({
        "architecture": parent_config["architecture"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| crate::registry::platform::Platform::host().architecture),
        "config": child.config,
        "container_config": child.container_config,
        "created": created,
        "docker_version": crate::api::version::ENGINE_VERSION,
        "history": history,
        "os": parent_config["os"].as_str().unwrap_or("linux"),
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    if let Some(container) = &child.container {
        image["container"] = json!(container);
    }
    for key in ["variant", "os.version", "os.features"] {
        if !parent_config[key].is_null() {
            image[key] = parent_config[key].clone();
        }
    }
    if !child.author.is_empty() {
        image["author"] = json!(child.author);
    }
    if !child.comment.is_empty() {
        image["comment"] = json!(child.comment);
    }
    let bytes = serde_json::to_vec(&image).map_err(|e| ContainerError::Internal(e.to_string()))?;
    let id = daemon.content.write_bytes(&bytes)?;
    daemon.images.insert(ImageRecord::local(
        id.clone(),
        layers,
        child.parent.clone().unwrap_or_default(),
    ))?;
    Ok(id)
}
