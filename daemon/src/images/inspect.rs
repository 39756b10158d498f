//! `GET /images/{name}/json` (moby `daemon/images/image_inspect.go` and the version
//! rules of its API router): the record and its config shown with dockerd's field names,
//! order and null-versus-empty rules, for the request's API version.
use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::state::Daemon;
use crate::store::content::ContentStore;
use crate::store::images::ImageRecord;
use crate::store::layers::LayerStore;

use super::config::{format_rfc3339_nano, parse_time, ImageConfigFile};
use super::lookup::resolve_image;
use super::refs::ImageRefs;
use super::{image_size, ImageError};

/// Go's zero `time.Time` as JSON.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The inspect document, in dockerd's field order.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInspect {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "RepoTags")]
    pub repo_tags: Vec<String>,
    #[serde(rename = "RepoDigests")]
    pub repo_digests: Vec<String>,
    #[serde(rename = "Parent")]
    pub parent: String,
    #[serde(rename = "Comment")]
    pub comment: String,
    #[serde(rename = "Created", skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(rename = "Container", skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(rename = "ContainerConfig", skip_serializing_if = "Option::is_none")]
    pub container_config: Option<OrderedObject>,
    #[serde(rename = "DockerVersion")]
    pub docker_version: String,
    #[serde(rename = "Author")]
    pub author: String,
    #[serde(rename = "Config")]
    pub config: OrderedObject,
    #[serde(rename = "Architecture")]
    pub architecture: String,
    #[serde(rename = "Variant", skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(rename = "Os")]
    pub os: String,
    #[serde(rename = "OsVersion", skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(rename = "Size")]
    pub size: i64,
    #[serde(rename = "VirtualSize", skip_serializing_if = "Option::is_none")]
    pub virtual_size: Option<i64>,
    #[serde(rename = "GraphDriver")]
    pub graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    pub rootfs: RootFsView,
    #[serde(rename = "Metadata")]
    pub metadata: Metadata,
    #[serde(rename = "Descriptor", skip_serializing_if = "Option::is_none")]
    pub descriptor: Option<Descriptor>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GraphDriver {
    /// overlay2's metadata: LowerDir (when there are lower layers), MergedDir, UpperDir, WorkDir.
    #[serde(rename = "Data")]
    pub data: Option<BTreeMap<String, String>>,
    #[serde(rename = "Name")]
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RootFsView {
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(rename = "Layers", skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    #[serde(rename = "LastTagTime")]
    pub last_tag_time: String,
}

/// OCI descriptor of the manifest the image was pulled with.
#[derive(Debug, Clone, Serialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// A JSON object that keeps the order its keys were added in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderedObject(pub Vec<(&'static str, Value)>);

impl OrderedObject {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

impl Serialize for OrderedObject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Inspects the image `name` for API version 1.`api_version`.
pub fn inspect_image(
    daemon: &Daemon,
    name: &str,
    api_version: u32,
) -> Result<ImageInspect, ImageError> {
    let record = resolve_image(daemon, name)?;
    let config = ImageConfigFile::load(&daemon.content, &record.id)?;
    let refs = ImageRefs::of(&daemon.images, &record.id);
    let graph_data = overlay_metadata(&daemon.layers, &record);
    Ok(build_inspect(
        &record,
        &config,
        &refs,
        graph_data,
        &daemon.content,
        api_version,
    ))
}

/// The inspect document from its parts (no daemon needed: what tests use).
pub fn build_inspect(
    record: &ImageRecord,
    config: &ImageConfigFile,
    refs: &ImageRefs,
    graph_data: Option<BTreeMap<String, String>>,
    content: &ContentStore,
    api_version: u32,
) -> ImageInspect {
    let size = image_size(record) as i64;
    let comment = match config.comment.as_deref() {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => config
            .history
            .last()
            .and_then(|h| h.comment.clone())
            .unwrap_or_default(),
    };
    let created = match config.created.as_deref() {
        Some(text) => Some(
            parse_time(text)
                .map(|t| format_rfc3339_nano(&t))
                .unwrap_or_else(|| text.to_string()),
        ),
        None if api_version < 44 => Some(ZERO_TIME.to_string()),
        None => None,
    };
    let empty = Map::new();
    let run_config = config.config.as_ref().unwrap_or(&empty);
    let old = api_version < 45;
    let descriptor = match (&record.manifest_digest, &record.manifest_media_type) {
        (Some(digest), Some(media_type)) if api_version >= 48 => {
            content.size(digest).ok().map(|size| Descriptor {
                media_type: media_type.clone(),
                digest: digest.clone(),
                size,
            })
        }
        _ => None,
    };
    ImageInspect {
        id: record.id.clone(),
        repo_tags: refs.tags(),
        repo_digests: refs.digests(),
        parent: record.parent.clone(),
        comment,
        created,
        container: if old {
            config.container.clone().filter(|c| !c.is_empty())
        } else {
            None
        },
        container_config: old
            .then(|| container_config(config.container_config.as_ref().unwrap_or(&empty), false)),
        docker_version: config.docker_version.clone().unwrap_or_default(),
        author: config.author.clone().unwrap_or_default(),
        config: if api_version < 50 {
            container_config(run_config, true)
        } else {
            oci_image_config(run_config)
        },
        architecture: config.architecture.clone().unwrap_or_default(),
        variant: config.variant.clone().filter(|v| !v.is_empty()),
        os: config
            .os
            .clone()
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| "linux".to_string()),
        os_version: config.os_version.clone().filter(|v| !v.is_empty()),
        size,
        virtual_size: (api_version < 44).then_some(size),
        graph_driver: GraphDriver {
            data: graph_data,
            name: "overlay2".to_string(),
        },
        rootfs: RootFsView {
            kind: config
                .rootfs
                .as_ref()
                .map(|r| r.kind.clone())
                .unwrap_or_default(),
            layers: config
                .rootfs
                .as_ref()
                .map(|r| r.diff_ids.clone())
                .unwrap_or_default(),
        },
        metadata: Metadata {
            last_tag_time: record
                .last_tag_time
                .map(|t| format_rfc3339_nano(&t))
                .unwrap_or_else(|| ZERO_TIME.to_string()),
        },
        descriptor,
    }
}

/// overlay2's metadata for the image's top layer; `None` for an image without layers.
pub fn overlay_metadata(
    layers: &LayerStore,
    record: &ImageRecord,
) -> Option<BTreeMap<String, String>> {
    let top = record.layers.last()?;
    let mut data = BTreeMap::new();
    let diff = match layers.diff_dir(&top.chain_id) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(image = %record.id, layer = %top.chain_id, error = %e, "layer directory unknown");
            return Some(data);
        }
    };
    let dir = diff
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| diff.clone());
    match layers.lower_dirs(&top.chain_id) {
        Ok(lower) => {
            let lower: Vec<String> = lower
                .iter()
                .filter(|p| **p != diff)
                .map(|p| p.display().to_string())
                .collect();
            if !lower.is_empty() {
                data.insert("LowerDir".to_string(), lower.join(":"));
            }
        }
        Err(e) => tracing::warn!(image = %record.id, error = %e, "lower layers unknown"),
    }
    data.insert(
        "MergedDir".to_string(),
        dir.join("merged").display().to_string(),
    );
    data.insert("UpperDir".to_string(), diff.display().to_string());
    data.insert(
        "WorkDir".to_string(),
        dir.join("work").display().to_string(),
    );
    Some(data)
}

/// What a `container.Config` field shows when absent: a zero value, or nothing (`omitempty`).
type ZeroValue = Option<fn() -> Value>;

/// The fields of dockerd's `container.Config`, in order, with what each shows when absent.
const CONTAINER_CONFIG_FIELDS: &[(&str, ZeroValue)] = &[
    ("Hostname", Some(empty_string)),
    ("Domainname", Some(empty_string)),
    ("User", Some(empty_string)),
    ("AttachStdin", Some(json_false)),
    ("AttachStdout", Some(json_false)),
    ("AttachStderr", Some(json_false)),
    ("ExposedPorts", None),
    ("Tty", Some(json_false)),
    ("OpenStdin", Some(json_false)),
    ("StdinOnce", Some(json_false)),
    ("Env", Some(json_null)),
    ("Cmd", Some(json_null)),
    ("Healthcheck", None),
    ("ArgsEscaped", None),
    ("Image", Some(empty_string)),
    ("Volumes", Some(json_null)),
    ("WorkingDir", Some(empty_string)),
    ("Entrypoint", Some(json_null)),
    ("NetworkDisabled", None),
    ("MacAddress", None),
    ("OnBuild", Some(json_null)),
    ("Labels", Some(json_null)),
    ("StopSignal", None),
    ("StopTimeout", None),
    ("Shell", None),
];

/// The keys an image config carries into a container config (dockerd's
/// `dockerOCIImageConfigToContainerConfig`); the other fields show their zero value.
const IMAGE_CONFIG_KEYS: &[&str] = &[
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
    "ArgsEscaped",
    "Healthcheck",
    "OnBuild",
    "Shell",
];

fn empty_string() -> Value {
    Value::String(String::new())
}
fn json_false() -> Value {
    Value::Bool(false)
}
fn json_null() -> Value {
    Value::Null
}

/// A `container.Config` as Go marshals it. `image_keys_only`: take only the keys an
/// image config carries (API < 1.50 `Config`), else every field (`ContainerConfig`).
fn container_config(source: &Map<String, Value>, image_keys_only: bool) -> OrderedObject {
    let mut out = Vec::new();
    for (key, default) in CONTAINER_CONFIG_FIELDS {
        let taken = if image_keys_only && !IMAGE_CONFIG_KEYS.contains(key) {
            None
        } else {
            source.get(*key)
        };
        match (taken, default) {
            (Some(v), Some(_)) => out.push((*key, v.clone())),
            (Some(v), None) if !is_empty_json(v) => out.push((*key, v.clone())),
            (None, Some(d)) => out.push((*key, d())),
            _ => {}
        }
    }
    OrderedObject(out)
}

/// The image config as the OCI `ImageConfig` plus Docker's extensions, every field
/// omitted when empty (API ≥ 1.50).
fn oci_image_config(source: &Map<String, Value>) -> OrderedObject {
    OrderedObject(
        IMAGE_CONFIG_KEYS
            .iter()
            .filter_map(|key| {
                source
                    .get(*key)
                    .filter(|v| !is_empty_json(v))
                    .map(|v| (*key, v.clone()))
            })
            .collect(),
    )
}

/// Go's `omitempty`: null, false, 0, "", [] and {}.
fn is_empty_json(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

#[cfg(test)]
#[path = "inspect_tests.rs"]
mod tests;
