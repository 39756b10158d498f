//! Manifest and index documents: media types, parsing, and the refusal of schema 1.
use serde::{Deserialize, Serialize};

use super::platform::Platform;
use super::{RegistryError, RegistryResult};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// What a pull asks the registry for (the Accept header).
pub const ACCEPTED: &[&str] = &[
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    OCI_INDEX,
];

/// A content descriptor: `{mediaType, digest, size}` and optional extras.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// An image manifest (Docker schema 2 or OCI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    pub media_type: String,
    pub config: Descriptor,
    /// Bottom layer first.
    pub layers: Vec<Descriptor>,
}

/// A manifest list (Docker) or image index (OCI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIndex {
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
}

/// A parsed manifest document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestDocument {
    Image(ImageManifest),
    Index(ImageIndex),
}

impl ManifestDocument {
    pub fn media_type(&self) -> &str {
        match self {
            ManifestDocument::Image(m) => &m.media_type,
            ManifestDocument::Index(i) => &i.media_type,
        }
    }
}

#[derive(Deserialize)]
struct RawDocument {
    #[serde(rename = "schemaVersion", default)]
    schema_version: Option<i64>,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

/// dockerd's refusal of schema 1 images.
pub fn schema1_refusal(reference: &str) -> RegistryError {
    RegistryError::Unsupported(format!(
        "[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of {reference} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/"
    ))
}

/// Parses a manifest or index. `reference` is only used in error messages.
pub fn parse(bytes: &[u8], reference: &str) -> RegistryResult<ManifestDocument> {
    let raw: RawDocument = serde_json::from_slice(bytes).map_err(|e| {
        RegistryError::Unsupported(format!("invalid manifest for {reference}: {e}"))
    })?;
    let media_type = raw.media_type.clone().unwrap_or_default();
    if raw.schema_version == Some(1)
        || media_type == DOCKER_SCHEMA1
        || media_type == DOCKER_SCHEMA1_SIGNED
    {
        return Err(schema1_refusal(reference));
    }
    let is_index = media_type == DOCKER_MANIFEST_LIST
        || media_type == OCI_INDEX
        || (media_type.is_empty() && raw.manifests.is_some() && raw.config.is_none());
    if is_index {
        let media_type = if media_type.is_empty() {
            OCI_INDEX.to_string()
        } else {
            media_type
        };
        return Ok(ManifestDocument::Index(ImageIndex {
            media_type,
            manifests: raw.manifests.unwrap_or_default(),
        }));
    }
    let is_image =
        media_type == DOCKER_MANIFEST || media_type == OCI_MANIFEST || media_type.is_empty();
    if !is_image {
        return Err(RegistryError::Unsupported(format!(
            "unsupported manifest media type and no default available: {media_type}"
        )));
    }
    let config = raw.config.ok_or_else(|| {
        RegistryError::Unsupported(format!(
            "invalid manifest for {reference}: no config descriptor"
        ))
    })?;
    let media_type = if media_type.is_empty() {
        OCI_MANIFEST.to_string()
    } else {
        media_type
    };
    Ok(ManifestDocument::Image(ImageManifest {
        media_type,
        config,
        layers: raw.layers.unwrap_or_default(),
    }))
}

/// The parts of an image config a pull needs.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageConfigSummary {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub rootfs: RootFs,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

impl ImageConfigSummary {
    pub fn parse(bytes: &[u8]) -> RegistryResult<ImageConfigSummary> {
        serde_json::from_slice(bytes)
            .map_err(|e| RegistryError::Unsupported(format!("invalid image config: {e}")))
    }

    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
            os_version: None,
            os_features: None,
        }
    }
}

/// Whether a layer media type is one Berth can unpack (tar, gzip, zstd; Docker or OCI).
pub fn is_layer_media_type(media_type: &str) -> bool {
    matches!(
        media_type,
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.diff.tar"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
            | "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_and_oci_documents() {
        let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":"sha256:aa"},
            "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":9,"digest":"sha256:bb"}]}"#;
        match parse(manifest, "x").expect("parses") {
            ManifestDocument::Image(m) => {
                assert_eq!(m.layers.len(), 1);
                assert_eq!(m.config.digest, "sha256:aa");
            }
            other => panic!("unexpected {other:?}"),
        }
        let index = br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "digest":"sha256:cc","size":3,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}"#;
        match parse(index, "x").expect("parses") {
            ManifestDocument::Index(i) => {
                assert_eq!(i.media_type, OCI_INDEX);
                assert_eq!(
                    i.manifests[0]
                        .platform
                        .as_ref()
                        .map(|p| p.architecture.as_str()),
                    Some("arm64")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn refuses_schema1() {
        let s1 = br#"{"schemaVersion":1,"name":"x","tag":"latest","fsLayers":[]}"#;
        let err = parse(s1, "127.0.0.1:5000/x:latest").expect_err("refused");
        assert!(
            err.to_string()
                .contains("schema 1 support has been removed"),
            "{err}"
        );
    }
}
