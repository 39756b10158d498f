//! `GET /distribution/{name}/json`: what the registry serves for a reference — the
//! descriptor of the manifest or index, and the platforms it covers.
use futures::StreamExt;
use oci_client::client::LayerDescriptor;
use serde::Serialize;

use super::challenge::{explain, Access};
use super::client::{oci_reference, RegistryClient};
use super::credentials::AuthConfig;
use super::manifest::{self, ImageConfigSummary, ManifestDocument};
use super::platform::Platform;
use super::{RegistryError, RegistryResult};
use crate::config::Config;
use crate::reference::Reference;

/// Largest config blob read for its platform.
const MAX_CONFIG_SIZE: usize = 8 * 1024 * 1024;

/// The answer, in the API's shape.
#[derive(Debug, Clone, Serialize)]
pub struct DistributionInspect {
    #[serde(rename = "Descriptor")]
    pub descriptor: InspectDescriptor,
    #[serde(rename = "Platforms")]
    pub platforms: Vec<Platform>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InspectDescriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// Looks `reference` up in its registry.
pub async fn inspect(
    config: &Config,
    reference: &Reference,
    credentials: &AuthConfig,
) -> RegistryResult<DistributionInspect> {
    let client = RegistryClient::connect(config, &reference.domain, credentials).await;
    match lookup(&client, reference).await {
        Ok(answer) => Ok(answer),
        Err(e) => Err(explain(&client, e, reference, Access::Inspect).await),
    }
}

async fn lookup(
    client: &RegistryClient,
    reference: &Reference,
) -> RegistryResult<DistributionInspect> {
    let image = oci_reference(reference);
    let (bytes, digest) = client
        .oci
        .pull_manifest_raw(&image, &client.auth, manifest::ACCEPTED)
        .await
        .map_err(|e| client.translate(e))?;
    let document = manifest::parse(&bytes, &reference.familiar())?;
    let descriptor = InspectDescriptor {
        media_type: document.media_type().to_string(),
        digest,
        size: bytes.len() as u64,
    };
    let platforms = match document {
        ManifestDocument::Index(index) => index
            .manifests
            .into_iter()
            .filter_map(|d| d.platform)
            .collect(),
        ManifestDocument::Image(manifest) => {
            let layer = LayerDescriptor {
                digest: &manifest.config.digest,
                urls: &manifest.config.urls,
            };
            let mut stream = client
                .oci
                .pull_blob_stream(&image, &layer)
                .await
                .map_err(|e| client.translate(e))?;
            let mut config_bytes = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| RegistryError::Network(e.to_string()))?;
                config_bytes.extend_from_slice(&chunk);
                if config_bytes.len() > MAX_CONFIG_SIZE {
                    return Err(RegistryError::Unsupported(format!(
                        "image config {} is too large",
                        manifest.config.digest
                    )));
                }
            }
            let summary = ImageConfigSummary::parse(&config_bytes)?;
            vec![summary.platform()]
        }
    };
    Ok(DistributionInspect {
        descriptor,
        platforms,
    })
}
