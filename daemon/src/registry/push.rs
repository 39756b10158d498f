//! `POST /images/{name}/push`: pushing an image's stored manifest and blobs as they
//! are (the manifest bytes unchanged, so its digest is what the pull recorded).
//!
//! Per layer (shown under its diff ID, as dockerd): "Preparing", "Waiting" beyond 5 at
//! once, then "Layer already exists" when the registry has the blob (HEAD), else
//! "Pushing" with progress and "Pushed". Then the config blob, the manifest under the
//! tag, "TAG: digest: DIGEST size: N" and the aux result; the repo digest reference
//! `name@digest` is recorded.
use std::sync::Arc;

use futures::StreamExt;
use reqwest::header::HeaderValue;
use tokio::sync::Semaphore;
use tokio_util::io::ReaderStream;

use super::challenge::{explain, Access};
use super::client::{oci_reference, RegistryClient};
use super::credentials::AuthConfig;
use super::manifest::{self, Descriptor, ManifestDocument};
use super::pull::read_blob;
use super::{RegistryError, RegistryResult};
use crate::progress::{short_id, Aux, JsonMessage, ProgressSink};
use crate::reference::Reference;
use crate::state::SharedDaemon;
use crate::store::images::ImageRecord;

/// Uploads at once, as dockerd's default `max-concurrent-uploads`.
pub const MAX_CONCURRENT_UPLOADS: usize = 5;

#[derive(Debug, Clone)]
pub struct PushRequest {
    /// Normalised name; with a tag to push only that tag, without to push every tag.
    pub reference: Reference,
    pub credentials: AuthConfig,
}

/// The tags to push and their images, checked before anything is streamed, so that a
/// missing image is a plain 404 as with dockerd.
pub fn tags_to_push(
    daemon: &SharedDaemon,
    reference: &Reference,
) -> RegistryResult<Vec<(String, ImageRecord)>> {
    let name = reference.name_only();
    let mut tags = Vec::new();
    match &reference.tag {
        Some(tag) => {
            let record = daemon
                .images
                .lookup_ref(&name.with_tag(tag).to_string())
                .and_then(|id| daemon.images.get(&id))
                .ok_or_else(|| RegistryError::NoSuchLocalImage(name.with_tag(tag).familiar()))?;
            tags.push((tag.clone(), record));
        }
        None => {
            let prefix = format!("{}:", name);
            for record in daemon.images.list() {
                for r in daemon.images.refs_of(&record.id) {
                    if let Some(tag) = r
                        .strip_prefix(&prefix)
                        .filter(|t| !t.contains('@') && !t.contains('/'))
                    {
                        tags.push((tag.to_string(), record.clone()));
                    }
                }
            }
            tags.sort_by(|a, b| a.0.cmp(&b.0));
            if tags.is_empty() {
                return Err(RegistryError::NoSuchLocalImage(name.familiar()));
            }
        }
    }
    Ok(tags)
}

/// Pushes `tags` (from [`tags_to_push`]) to the repository of `request.reference`.
pub async fn push(
    daemon: SharedDaemon,
    request: PushRequest,
    tags: Vec<(String, ImageRecord)>,
    sink: ProgressSink,
) -> RegistryResult<()> {
    let name = request.reference.name_only();
    let client = RegistryClient::connect(&daemon.config, &name.domain, &request.credentials).await;
    sink.status(
        None,
        format!("The push refers to repository [{}]", name.name()),
    )
    .await;
    for (tag, record) in tags {
        if let Err(e) = push_tag(&daemon, &client, &name, &tag, &record, &sink).await {
            return Err(explain(&client, e, &name.with_tag(&tag), Access::Push).await);
        }
    }
    crate::events::image::publish(
        &daemon,
        "push",
        &request.reference.familiar(),
        &name.familiar_name(),
    );
    Ok(())
}

/// Brings back a compressed blob that is not in the content store: a layer that was
/// already unpacked when the image was pulled ("Already exists") was not downloaded. It
/// is fetched from a repository the image was pulled from (its repo digests), with the
/// push's credentials when that is the same registry. Failures are only logged: the
/// caller reports the missing blob.
async fn recover_blob(
    daemon: &SharedDaemon,
    push_client: &RegistryClient,
    origin: &BlobOrigin<'_>,
    descriptor: &Descriptor,
) {
    let sources: Vec<Reference> = daemon
        .images
        .refs_of(&origin.record.id)
        .iter()
        .filter(|r| r.contains('@'))
        .filter_map(|r| Reference::parse(r).ok())
        .collect();
    for source in &sources {
        let client = if source.domain == origin.push_domain {
            push_client.clone()
        } else {
            RegistryClient::connect(
                &daemon.config,
                &source.domain,
                &super::AuthConfig::default(),
            )
            .await
        };
        let image = oci_reference(source);
        match super::download::fetch_blob(daemon, &client, &image, descriptor, None).await {
            Ok(_) => {
                tracing::info!(blob = %descriptor.digest, source = %source, "fetched a blob again for a push");
                return;
            }
            Err(e) => {
                tracing::debug!(blob = %descriptor.digest, source = %source, error = %e, "blob not recovered from this source")
            }
        }
    }
}

async fn push_tag(
    daemon: &SharedDaemon,
    client: &RegistryClient,
    name: &Reference,
    tag: &str,
    record: &ImageRecord,
    sink: &ProgressSink,
) -> RegistryResult<()> {
    let (manifest_bytes, media_type) = stored_manifest(daemon, record).await?;
    let document = match manifest::parse(&manifest_bytes, &name.with_tag(tag).familiar())? {
        ManifestDocument::Image(m) => m,
        ManifestDocument::Index(_) => {
            return Err(RegistryError::Internal(format!(
                "image {} records an index as its manifest",
                record.id
            )))
        }
    };
    let target = oci_reference(&name.with_tag(tag));
    client
        .oci
        .store_auth_if_needed(target.resolve_registry(), &client.auth)
        .await;
    let origin = BlobOrigin {
        record,
        push_domain: &name.domain,
    };

    // Layers, shown under their diff IDs.
    let shown: Vec<String> = document
        .layers
        .iter()
        .enumerate()
        .map(|(i, d)| {
            short_id(
                record
                    .layers
                    .get(i)
                    .map(|l| l.diff_id.as_str())
                    .unwrap_or(&d.digest),
            )
        })
        .collect();
    for id in &shown {
        sink.action(id, "Preparing").await;
    }
    for id in shown.iter().skip(MAX_CONCURRENT_UPLOADS) {
        sink.action(id, "Waiting").await;
    }
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_UPLOADS));
    let target_ref = &target;
    let uploads = document.layers.iter().zip(&shown).map(|(descriptor, id)| {
        let slots = slots.clone();
        async move {
            let _slot = slots
                .acquire_owned()
                .await
                .map_err(|e| RegistryError::Internal(e.to_string()))?;
            push_blob(
                daemon,
                client,
                target_ref,
                descriptor,
                &origin,
                Some((sink, id.as_str())),
            )
            .await
        }
    });
    let results: Vec<RegistryResult<()>> = futures::future::join_all(uploads).await;
    results.into_iter().collect::<RegistryResult<Vec<()>>>()?;

    push_blob(daemon, client, &target, &document.config, &origin, None).await?;

    let content_type = HeaderValue::from_str(&media_type)
        .map_err(|e| RegistryError::Internal(format!("manifest media type {media_type:?}: {e}")))?;
    let size = manifest_bytes.len() as u64;
    let digest = crate::store::digest::sha256_of(&manifest_bytes);
    client
        .oci
        .push_manifest_raw(&target, manifest_bytes, content_type)
        .await
        .map_err(|e| client.translate(e))?;

    record_repo_digest(daemon, name, &digest, &record.id).await?;
    sink.status(None, format!("{tag}: digest: {digest} size: {size}"))
        .await;
    sink.send(JsonMessage::aux(Aux::PushResult {
        tag: tag.to_string(),
        digest,
        size,
    }))
    .await;
    Ok(())
}

/// The manifest bytes and media type the image was pulled with.
async fn stored_manifest(
    daemon: &SharedDaemon,
    record: &ImageRecord,
) -> RegistryResult<(Vec<u8>, String)> {
    match &record.manifest_digest {
        Some(digest) if daemon.content.exists(digest) => {
            let bytes = read_blob(daemon, digest).await?;
            let media_type = match &record.manifest_media_type {
                Some(m) => m.clone(),
                None => manifest::parse(&bytes, &record.id)?
                    .media_type()
                    .to_string(),
            };
            Ok((bytes, media_type))
        }
        _ => local_manifest(daemon, record),
    }
}

/// A manifest for an image that was not pulled (import, load): written from the record
/// when every layer has its blob in the content store — Docker schema 2 when the media
/// types are Docker's, OCI otherwise. The same record always gives the same bytes.
///
/// Hook: images whose layers have no blob (commit, build) need their diffs packed and
/// compressed first; not there yet.
fn local_manifest(
    daemon: &SharedDaemon,
    record: &ImageRecord,
) -> RegistryResult<(Vec<u8>, String)> {
    let not_yet = |why: String| {
        RegistryError::NotImplemented(format!(
            "pushing image {} is not supported yet: {why}",
            record.id
        ))
    };
    let config_size = daemon
        .content
        .size(&record.id)
        .map_err(|_| not_yet("its config is not in the content store".into()))?;
    let mut layers = Vec::with_capacity(record.layers.len());
    for layer in &record.layers {
        let (Some(digest), Some(media_type)) = (&layer.blob_digest, &layer.media_type) else {
            return Err(not_yet(format!(
                "layer {} has no compressed blob (made by commit or build)",
                layer.diff_id
            )));
        };
        if !daemon.content.exists(digest) {
            return Err(not_yet(format!(
                "the blob {digest} of layer {} is not in the content store",
                layer.diff_id
            )));
        }
        layers.push((
            digest.clone(),
            media_type.clone(),
            daemon.content.size(digest)?,
        ));
    }
    let docker = layers
        .iter()
        .all(|(_, m, _)| m.starts_with("application/vnd.docker."));
    let (manifest_type, config_type) = if docker {
        (
            manifest::DOCKER_MANIFEST,
            "application/vnd.docker.container.image.v1+json",
        )
    } else {
        (
            manifest::OCI_MANIFEST,
            "application/vnd.oci.image.config.v1+json",
        )
    };
    let layer_docs: Vec<serde_json::Value> = layers
        .iter()
        .map(|(digest, media_type, size)| {
            let media_type = if docker {
                media_type.clone()
            } else {
                oci_layer_type(media_type)
            };
            serde_json::json!({ "mediaType": media_type, "size": size, "digest": digest })
        })
        .collect();
    let document = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": { "mediaType": config_type, "size": config_size, "digest": record.id },
        "layers": layer_docs,
    });
    let bytes =
        serde_json::to_vec_pretty(&document).map_err(|e| RegistryError::Internal(e.to_string()))?;
    Ok((bytes, manifest_type.to_string()))
}

fn oci_layer_type(media_type: &str) -> String {
    match media_type {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            "application/vnd.oci.image.layer.v1.tar+gzip".into()
        }
        "application/vnd.docker.image.rootfs.diff.tar" => {
            "application/vnd.oci.image.layer.v1.tar".into()
        }
        other => other.into(),
    }
}

/// Where a blob missing from the content store may be fetched again.
#[derive(Clone, Copy)]
struct BlobOrigin<'a> {
    record: &'a ImageRecord,
    push_domain: &'a str,
}

/// Uploads one blob unless the registry has it already.
async fn push_blob(
    daemon: &SharedDaemon,
    client: &RegistryClient,
    target: &oci_client::Reference,
    descriptor: &Descriptor,
    origin: &BlobOrigin<'_>,
    report: Option<(&ProgressSink, &str)>,
) -> RegistryResult<()> {
    let exists = client
        .oci
        .blob_exists(target, &descriptor.digest)
        .await
        .map_err(|e| client.translate(e))?;
    if exists {
        if let Some((sink, id)) = report {
            sink.action(id, "Layer already exists").await;
        }
        return Ok(());
    }
    if !daemon.content.exists(&descriptor.digest) {
        recover_blob(daemon, client, origin, descriptor).await;
    }
    if !daemon.content.exists(&descriptor.digest) {
        return Err(RegistryError::NotImplemented(format!(
            "blob {} is not in the content store (it was not downloaded with the image); pushing it is not supported yet",
            descriptor.digest
        )));
    }
    let path = daemon.content.blob_path(&descriptor.digest)?;
    let size = daemon.content.size(&descriptor.digest)?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| crate::store::StoreError::io(format!("open {}", path.display()), e))?;
    let sink = report.map(|(s, id)| (s.clone(), id.to_string()));
    let mut sent = 0u64;
    let stream = ReaderStream::with_capacity(file, 256 * 1024).then(move |chunk| {
        let sink = sink.clone();
        if let Ok(bytes) = &chunk {
            sent += bytes.len() as u64;
        }
        let current = sent;
        async move {
            if let Some((sink, id)) = &sink {
                sink.bytes(id, "Pushing", current, size).await;
            }
            chunk.map_err(oci_client::errors::OciDistributionError::IoError)
        }
    });
    client
        .oci
        .push_blob_stream(target, stream, &descriptor.digest, Some(size))
        .await
        .map_err(|e| client.translate(e))?;
    if let Some((sink, id)) = report {
        sink.action(id, "Pushed").await;
    }
    Ok(())
}

async fn record_repo_digest(
    daemon: &SharedDaemon,
    name: &Reference,
    digest: &str,
    image_id: &str,
) -> RegistryResult<()> {
    let daemon = daemon.clone();
    let digest_ref = name.with_digest(digest).to_string();
    let image_id = image_id.to_string();
    tokio::task::spawn_blocking(move || -> RegistryResult<()> {
        let keep = daemon
            .images
            .lookup_ref(&digest_ref)
            .is_some_and(|id| daemon.images.get(&id).is_some());
        if !keep {
            daemon.images.set_ref(&digest_ref, &image_id)?;
        }
        Ok(())
    })
    .await?
}
