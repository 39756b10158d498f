//! `POST /images/create?fromImage=…`: pulling an image, as dockerd's `pull_v2.go` does.
//!
//! 1. Fetch the manifest the tag or digest names (Docker schema 2, manifest list, OCI
//!    manifest or index). For an index, pick the platform's manifest and fetch it.
//! 2. Fetch the config; if an image with that ID is already here, nothing else moves.
//! 3. Layers already unpacked (by chain ID) are "Already exists"; the others download
//!    3 at a time into the content store and unpack in order (see `pull_layers`).
//! 4. Only when every part is on disk: the image record, then the tag and the repo
//!    digest references. A crash before that leaves only verified blobs and unpacked
//!    layers, which a later pull reuses and the garbage collector may remove.
use super::challenge::{explain, Access};
use super::client::RegistryClient;
use super::credentials::AuthConfig;
use super::download::fetch_blob;
use super::manifest::{self, ImageConfigSummary, ImageManifest, ManifestDocument};
use super::platform::{self, Platform};
use super::pull_layers::{pull_layers, LayerPlan};
use super::{RegistryError, RegistryResult};
use crate::progress::ProgressSink;
use crate::reference::Reference;
use crate::state::SharedDaemon;
use crate::store::images::ImageRecord;
use crate::store::layers::LayerStore;

/// What to pull.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// Normalised, with a tag or a digest.
    pub reference: Reference,
    /// `platform=`; the host's platform when absent.
    pub platform: Option<Platform>,
    pub credentials: AuthConfig,
}

/// What a successful pull produced.
#[derive(Debug, Clone)]
pub struct PullOutcome {
    pub image_id: String,
    /// What the tag resolved to: the index digest for a multi-platform image.
    pub digest: String,
    /// The platform the image's config declares.
    pub platform: Platform,
}

/// The manifest chosen for this platform, and what the reference resolved to.
struct ResolvedManifest {
    /// Digest of what the tag or digest named (index or manifest).
    top_digest: String,
    manifest_digest: String,
    manifest: ImageManifest,
}

/// Pulls `request.reference`, reporting progress to `sink`. A reference with neither tag
/// nor digest pulls every tag of the repository (`docker pull --all-tags`), as dockerd.
pub async fn pull(
    daemon: SharedDaemon,
    request: PullRequest,
    sink: ProgressSink,
) -> RegistryResult<Vec<PullOutcome>> {
    // Blobs and layers written before the record exists must not be collected meanwhile.
    let _lease = daemon.gc_gate.writer().await;
    // The registry's mirrors first, in the order hosts.toml gives them; the next one is
    // tried when one fails.
    let endpoints = super::hosts::endpoints(&daemon.config, &request.reference.domain);
    let mut first_answer: Option<RegistryError> = None;
    let mut last_error: Option<RegistryError> = None;
    for endpoint in &endpoints {
        let client = RegistryClient::for_endpoint(
            &daemon.config,
            &request.reference.domain,
            endpoint,
            &request.credentials,
        )
        .await;
        match pull_from(&daemon, &client, &request, &sink).await {
            Ok(outcomes) => return Ok(outcomes),
            Err(e) => {
                tracing::info!(host = %endpoint.host, error = %e, "pull from this host failed");
                // What a registry answered says more than a host that could not be reached.
                if first_answer.is_none() && !matches!(e, RegistryError::Network(_)) {
                    first_answer = Some(e);
                } else {
                    last_error = Some(e);
                }
            }
        }
    }
    Err(first_answer
        .or(last_error)
        .unwrap_or_else(|| RegistryError::Internal("no registry host to pull from".into())))
}

/// [`pull`] from one endpoint.
async fn pull_from(
    daemon: &SharedDaemon,
    client: &RegistryClient,
    request: &PullRequest,
    sink: &ProgressSink,
) -> RegistryResult<Vec<PullOutcome>> {
    let reference = request.reference.clone();
    let wanted = request.platform.clone().unwrap_or_else(Platform::host);

    let (targets, shown) = if reference.tag.is_none() && reference.digest.is_none() {
        let listing = match client
            .oci
            .list_tags(&client.reference(&reference), &client.auth, None, None)
            .await
        {
            Ok(listing) => listing,
            Err(e) => {
                return Err(explain(client, client.translate(e), &reference, Access::Pull).await)
            }
        };
        let targets: Vec<Reference> = listing.tags.iter().map(|t| reference.with_tag(t)).collect();
        (targets, reference.familiar_name())
    } else {
        (vec![reference.clone()], reference.familiar())
    };

    let mut outcomes = Vec::with_capacity(targets.len());
    let mut updated = false;
    for target in &targets {
        let (outcome, changed) = pull_one(daemon, client, target, &wanted, sink).await?;
        updated |= changed;
        outcomes.push(outcome);
    }
    crate::events::image::publish(
        daemon,
        "pull",
        &reference.familiar(),
        &reference.familiar_name(),
    );
    if updated {
        sink.status(None, format!("Status: Downloaded newer image for {shown}"))
            .await;
    } else {
        sink.status(None, format!("Status: Image is up to date for {shown}"))
            .await;
    }
    // dockerd warns when a single-platform image is not the platform asked for.
    if let Some(asked) = &request.platform {
        for outcome in &outcomes {
            if !asked.matches(&outcome.platform) {
                sink.status(
                    None,
                    format!(
                        "WARNING: image with reference {} was found but does not match the specified platform: wanted {}, actual: {}",
                        reference.familiar_name(),
                        asked.display(),
                        outcome.platform.display()
                    ),
                )
                .await;
            }
        }
    }
    Ok(outcomes)
}

/// Pulls one tag or digest. Returns the outcome and whether anything changed (layers
/// downloaded or the tag moved).
async fn pull_one(
    daemon: &SharedDaemon,
    client: &RegistryClient,
    reference: &Reference,
    wanted: &Platform,
    sink: &ProgressSink,
) -> RegistryResult<(PullOutcome, bool)> {
    let image = client.reference(reference);
    let resolved = match resolve_manifest(daemon, client, &image, reference, wanted, sink).await {
        Ok(resolved) => resolved,
        Err(e) => return Err(explain(client, e, reference, Access::Pull).await),
    };
    let manifest = &resolved.manifest;

    // The config names the image (its digest is the ID) and lists the layers' diff IDs.
    fetch_blob(daemon, client, &image, &manifest.config, None).await?;
    let image_id = manifest.config.digest.clone();
    let config_bytes = read_blob(daemon, &image_id).await?;
    let config = ImageConfigSummary::parse(&config_bytes)?;

    let mut layers_downloaded = false;
    if daemon.images.get(&image_id).is_none() {
        let plans = plan_layers(daemon, manifest, &config)?;
        layers_downloaded = plans.iter().any(|p| !p.present);
        let records = pull_layers(daemon, client, &image, plans, sink).await?;
        let record = ImageRecord {
            id: image_id.clone(),
            manifest_digest: Some(resolved.manifest_digest.clone()),
            manifest_media_type: Some(manifest.media_type.clone()),
            layers: records,
            parent: String::new(),
            created_at: chrono::Utc::now(),
            last_tag_time: None,
        };
        let store_daemon = daemon.clone();
        tokio::task::spawn_blocking(move || store_daemon.images.insert(record)).await??;
        tracing::info!(image = %image_id, reference = %reference, "pulled image");
    }

    let tag_changed = set_references(daemon, reference, &resolved.top_digest, &image_id).await?;
    sink.status(None, format!("Digest: {}", resolved.top_digest))
        .await;
    let outcome = PullOutcome {
        image_id,
        digest: resolved.top_digest,
        platform: config.platform(),
    };
    Ok((outcome, layers_downloaded || tag_changed))
}

/// Fetches what the reference names and, for an index, the platform's manifest; stores
/// both documents in the content store.
async fn resolve_manifest(
    daemon: &SharedDaemon,
    client: &RegistryClient,
    image: &oci_client::Reference,
    reference: &Reference,
    wanted: &Platform,
    sink: &ProgressSink,
) -> RegistryResult<ResolvedManifest> {
    let shown = reference.familiar();
    let (bytes, top_digest) = client
        .oci
        .pull_manifest_raw(image, &client.auth, manifest::ACCEPTED)
        .await
        .map_err(|e| not_found_as_manifest(client.translate(e), &shown))?;
    let document = manifest::parse(&bytes, &shown)?;
    let shown_id = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_default();
    sink.status(Some(&shown_id), format!("Pulling from {}", reference.path))
        .await;
    store_bytes(daemon, bytes.to_vec(), &top_digest).await?;

    match document {
        ManifestDocument::Image(manifest) => Ok(ResolvedManifest {
            manifest_digest: top_digest.clone(),
            top_digest,
            manifest,
        }),
        ManifestDocument::Index(index) => {
            let entry = platform::select(&index.manifests, wanted)?;
            let by_digest = image.clone_with_digest(entry.digest.clone());
            let (bytes, manifest_digest) = client
                .oci
                .pull_manifest_raw(&by_digest, &client.auth, manifest::ACCEPTED)
                .await
                .map_err(|e| not_found_as_manifest(client.translate(e), &shown))?;
            let manifest = match manifest::parse(&bytes, &shown)? {
                ManifestDocument::Image(m) => m,
                ManifestDocument::Index(_) => {
                    return Err(RegistryError::Unsupported(format!(
                        "unsupported nested index in the manifest list of {shown}"
                    )))
                }
            };
            store_bytes(daemon, bytes.to_vec(), &manifest_digest).await?;
            Ok(ResolvedManifest {
                top_digest,
                manifest_digest,
                manifest,
            })
        }
    }
}

/// dockerd: "manifest for REF not found: manifest unknown: manifest unknown".
fn not_found_as_manifest(error: RegistryError, shown: &str) -> RegistryError {
    match error {
        RegistryError::NotFound(cause) => RegistryError::ManifestNotFound {
            reference: shown.to_string(),
            cause,
        },
        other => other,
    }
}

/// Works out each layer's chain ID and whether it is already unpacked.
fn plan_layers(
    daemon: &SharedDaemon,
    manifest: &ImageManifest,
    config: &ImageConfigSummary,
) -> RegistryResult<Vec<LayerPlan>> {
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(RegistryError::Unsupported(format!(
            "invalid image: the manifest has {} layers but the config lists {} diff IDs",
            manifest.layers.len(),
            diff_ids.len()
        )));
    }
    let mut plans = Vec::with_capacity(diff_ids.len());
    let mut parent: Option<String> = None;
    for (descriptor, diff_id) in manifest.layers.iter().zip(diff_ids) {
        if !manifest::is_layer_media_type(&descriptor.media_type) {
            return Err(RegistryError::Unsupported(format!(
                "unsupported layer media type {} in {}",
                descriptor.media_type, descriptor.digest
            )));
        }
        let chain_id = LayerStore::chain_id(parent.as_deref(), diff_id);
        let present = daemon.layers.get(&chain_id)?.is_some();
        plans.push(LayerPlan {
            descriptor: descriptor.clone(),
            diff_id: diff_id.clone(),
            chain_id: chain_id.clone(),
            parent: parent.clone(),
            present,
        });
        parent = Some(chain_id);
    }
    Ok(plans)
}

/// Points the tag (if any) and the repo digest at the image. Returns whether the tag moved.
async fn set_references(
    daemon: &SharedDaemon,
    reference: &Reference,
    top_digest: &str,
    image_id: &str,
) -> RegistryResult<bool> {
    let daemon = daemon.clone();
    let tag_ref = reference
        .digest
        .is_none()
        .then(|| {
            reference
                .tag
                .as_ref()
                .map(|t| reference.with_tag(t).to_string())
        })
        .flatten();
    let digest_ref = reference.with_digest(top_digest).to_string();
    let image_id = image_id.to_string();
    tokio::task::spawn_blocking(move || -> RegistryResult<bool> {
        // As dockerd: a repo digest already naming an existing image stays where it is.
        let keep = daemon
            .images
            .lookup_ref(&digest_ref)
            .is_some_and(|id| daemon.images.get(&id).is_some());
        if !keep {
            daemon.images.set_ref(&digest_ref, &image_id)?;
        }
        let mut changed = false;
        if let Some(tag_ref) = tag_ref {
            let before = daemon.images.lookup_ref(&tag_ref);
            if before.as_deref() != Some(image_id.as_str()) {
                daemon.images.set_ref(&tag_ref, &image_id)?;
                changed = true;
            }
        }
        Ok(changed)
    })
    .await?
}

async fn store_bytes(
    daemon: &SharedDaemon,
    bytes: Vec<u8>,
    expected_digest: &str,
) -> RegistryResult<()> {
    let daemon = daemon.clone();
    let expected = expected_digest.to_string();
    tokio::task::spawn_blocking(move || -> RegistryResult<()> {
        let digest = daemon.content.write_bytes(&bytes)?;
        if digest != expected {
            return Err(RegistryError::Registry(format!(
                "manifest verification failed for digest {expected}: got {digest}"
            )));
        }
        Ok(())
    })
    .await?
}

pub(super) async fn read_blob(daemon: &SharedDaemon, digest: &str) -> RegistryResult<Vec<u8>> {
    let daemon = daemon.clone();
    let digest = digest.to_string();
    Ok(tokio::task::spawn_blocking(move || daemon.content.read(&digest)).await??)
}
