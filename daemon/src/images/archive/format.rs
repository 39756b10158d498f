//! The files of an image archive, as dockerd (moby `image/tarexport`) writes and reads
//! them: the legacy `manifest.json` and `repositories`, and the OCI image layout that
//! Docker 25+ writes beside them (`oci-layout`, `index.json`, `blobs/sha256/…`).
//! Field order follows the Go structs, so the JSON reads as dockerd's.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const MANIFEST_FILE: &str = "manifest.json";
pub const REPOSITORIES_FILE: &str = "repositories";
pub const INDEX_FILE: &str = "index.json";
pub const LAYOUT_FILE: &str = "oci-layout";
/// `oci-layout`'s content, spaced as dockerd writes it.
pub const LAYOUT_CONTENT: &str = r#"{"imageLayoutVersion": "1.0.0"}"#;

pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_TYPE_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// containerd's annotation with the full image name ("docker.io/library/busybox:latest").
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// OCI's annotation with the tag ("latest").
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One entry of `manifest.json` (moby's `manifestItem`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ManifestItem {
    #[serde(rename = "Config")]
    pub config: String,
    /// `null` for an image saved without a tag, as Go encodes a nil slice.
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    pub layers: Vec<String>,
    #[serde(rename = "Parent", default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(
        rename = "LayerSources",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub layer_sources: Option<BTreeMap<String, LayerSource>>,
}

/// A layer's descriptor in `LayerSources` (docker/distribution's `Descriptor`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerSource {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub digest: String,
}

/// An OCI descriptor (in `index.json` and in manifests).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An OCI image manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// An OCI image index (`index.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
}

/// `repositories`: familiar name → tag → the top layer's ID (hex).
pub type Repositories = BTreeMap<String, BTreeMap<String, String>>;

/// "blobs/sha256/<hex>" for "sha256:<hex>".
pub fn blob_path(digest: &str) -> String {
    let (algorithm, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    format!("blobs/{algorithm}/{hex}")
}

/// What an image archive's image config says that loading needs.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConfigSummary {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub rootfs: Option<RootFs>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

impl ConfigSummary {
    /// Parses an image config, as dockerd's `image.NewFromJSON`: it must name a rootfs.
    pub fn parse(data: &[u8]) -> Result<ConfigSummary, String> {
        let summary: ConfigSummary =
            crate::gojson::from_slice(data).map_err(|e| format!("invalid image JSON: {e}"))?;
        if summary.rootfs.is_none() {
            return Err("invalid image JSON, no RootFS key".to_string());
        }
        for diff_id in summary.diff_ids() {
            crate::store::digest::hex_part(diff_id)
                .map_err(|_| format!("invalid diff ID {diff_id:?} in the image config"))?;
        }
        Ok(summary)
    }

    pub fn diff_ids(&self) -> &[String] {
        self.rootfs
            .as_ref()
            .map(|r| r.diff_ids.as_slice())
            .unwrap_or(&[])
    }

    /// The image's platform, for the `platform` parameter.
    pub fn platform(&self) -> crate::registry::platform::Platform {
        crate::registry::platform::Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
            ..Default::default()
        }
    }
}

/// Parses `manifest.json` as dockerd does: a JSON list; `null` is refused.
pub fn parse_manifest(data: &[u8]) -> Result<Vec<ManifestItem>, String> {
    let parsed: Option<Vec<ManifestItem>> = crate::gojson::from_slice(data)
        .map_err(|e| format!("invalid archive: failed to decode {MANIFEST_FILE}: {e}"))?;
    parsed.ok_or_else(|| "invalid manifest, manifest cannot be null (but can be [])".to_string())
}

/// JSON the way Go's `json.Encoder` writes it: compact, with a newline.
pub fn encoded_line<T: Serialize>(value: &T) -> Vec<u8> {
    let mut data = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    data.push(b'\n');
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_items_read_both_formats() {
        let legacy = br#"[{"Config":"573a.json","RepoTags":["127.0.0.1:15000/berth/hello:latest"],"Layers":["0675/layer.tar"]}]"#;
        let items = parse_manifest(legacy).expect("legacy");
        assert_eq!(items[0].config, "573a.json");
        assert_eq!(items[0].layers, vec!["0675/layer.tar"]);
        assert_eq!(
            items[0].repo_tags.as_deref(),
            Some(&["127.0.0.1:15000/berth/hello:latest".to_string()][..])
        );
        let current = br#"[{"Config":"blobs/sha256/aa","RepoTags":null,"Layers":["blobs/sha256/bb"],"LayerSources":{"sha256:bb":{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":1024,"digest":"sha256:bb"}}}]"#;
        let items = parse_manifest(current).expect("current");
        assert_eq!(items[0].repo_tags, None);
        let sources = items[0].layer_sources.as_ref().expect("sources");
        assert_eq!(sources["sha256:bb"].size, 1024);
        assert!(parse_manifest(b"null").is_err());
        assert!(parse_manifest(b"{").is_err());
        assert_eq!(parse_manifest(b"[]").expect("empty"), vec![]);
    }

    #[test]
    fn manifest_items_are_written_as_dockerd_does() {
        let item = ManifestItem {
            config: blob_path("sha256:aa"),
            repo_tags: None,
            layers: vec![blob_path("sha256:bb")],
            parent: None,
            layer_sources: None,
        };
        assert_eq!(
            String::from_utf8(encoded_line(&vec![item])).expect("utf8"),
            "[{\"Config\":\"blobs/sha256/aa\",\"RepoTags\":null,\"Layers\":[\"blobs/sha256/bb\"]}]\n"
        );
        let descriptor = Descriptor {
            media_type: MEDIA_TYPE_MANIFEST.into(),
            digest: "sha256:cc".into(),
            size: 3,
            annotations: None,
        };
        let index = Index {
            schema_version: 2,
            media_type: MEDIA_TYPE_INDEX.into(),
            manifests: vec![descriptor],
        };
        assert_eq!(
            serde_json::to_string(&index).expect("json"),
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:cc","size":3}]}"#
        );
    }

    #[test]
    fn configs_need_a_rootfs_and_good_diff_ids() {
        let good = format!(
            r#"{{"os":"linux","architecture":"amd64","rootfs":{{"type":"layers","diff_ids":["sha256:{}"]}}}}"#,
            "a".repeat(64)
        );
        let summary = ConfigSummary::parse(good.as_bytes()).expect("good");
        assert_eq!(summary.diff_ids().len(), 1);
        assert_eq!(summary.platform().display(), "linux/amd64");
        assert!(ConfigSummary::parse(br#"{"os":"linux"}"#).is_err());
        assert!(ConfigSummary::parse(
            br#"{"rootfs":{"type":"layers","diff_ids":["sha256:../../etc"]}}"#
        )
        .is_err());
        assert!(ConfigSummary::parse(b"not json").is_err());
    }
}
