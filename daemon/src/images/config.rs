//! The image configuration blob (the JSON whose digest is the image ID), read from
//! the content store, and the time formatting dockerd uses when showing it.
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::store::content::ContentStore;
use crate::store::StoreError;

use super::ImageError;

/// The parts of an image config (Docker or OCI) the image endpoints show.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ImageConfigFile {
    pub created: Option<String>,
    pub author: Option<String>,
    pub architecture: Option<String>,
    pub variant: Option<String>,
    pub os: Option<String>,
    #[serde(rename = "os.version")]
    pub os_version: Option<String>,
    pub comment: Option<String>,
    pub docker_version: Option<String>,
    pub container: Option<String>,
    /// The run-time defaults ("config" key), kept as JSON to show it as dockerd does.
    pub config: Option<Map<String, Value>>,
    pub container_config: Option<Map<String, Value>>,
    pub history: Vec<HistoryEntry>,
    pub rootfs: Option<RootFs>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HistoryEntry {
    pub created: Option<String>,
    pub created_by: Option<String>,
    pub author: Option<String>,
    pub comment: Option<String>,
    pub empty_layer: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<String>,
}

impl ImageConfigFile {
    /// Parses a config blob.
    pub fn parse(id: &str, data: &[u8]) -> Result<ImageConfigFile, ImageError> {
        serde_json::from_slice(data).map_err(|e| {
            ImageError::Store(StoreError::Corrupt {
                path: format!("config blob {id}"),
                reason: e.to_string(),
            })
        })
    }

    /// Reads and parses the config blob of image `id` from the content store.
    pub fn load(content: &ContentStore, id: &str) -> Result<ImageConfigFile, ImageError> {
        let data = content.read(id)?;
        Self::parse(id, &data)
    }

    /// `created` as a time, when present and valid.
    pub fn created_time(&self) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        self.created.as_deref().and_then(parse_time)
    }

    /// `created` as unix seconds (0 when absent), as in `GET /images/json`.
    pub fn created_unix(&self) -> i64 {
        self.created_time().map(|t| t.timestamp()).unwrap_or(0)
    }

    /// The `Labels` of the run-time config, if any.
    pub fn labels(&self) -> Option<&Map<String, Value>> {
        self.config
            .as_ref()
            .and_then(|c| c.get("Labels"))
            .and_then(Value::as_object)
    }

    /// Labels as string pairs (non-string values skipped).
    pub fn label_pairs(&self) -> std::collections::BTreeMap<String, String> {
        self.labels()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Parses an RFC 3339 time as image configs carry it.
pub fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(text).ok()
}

/// Go's `time.RFC3339Nano`: fractional seconds without trailing zeros (none when zero),
/// "Z" for UTC, "+hh:mm" otherwise — what dockerd prints for `Created` and friends.
pub fn format_rfc3339_nano<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    use chrono::{Offset, Timelike};
    let offset_secs = t.offset().fix().local_minus_utc();
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    if offset_secs == 0 {
        s.push('Z');
    } else {
        let sign = if offset_secs < 0 { '-' } else { '+' };
        let abs = offset_secs.abs();
        s.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go_rfc3339_nano() {
        let t = parse_time("2024-01-02T03:04:05.120000000Z").unwrap();
        assert_eq!(format_rfc3339_nano(&t), "2024-01-02T03:04:05.12Z");
        let t = parse_time("2024-01-02T03:04:05Z").unwrap();
        assert_eq!(format_rfc3339_nano(&t), "2024-01-02T03:04:05Z");
        let t = parse_time("2024-01-02T03:04:05.000000001+02:00").unwrap();
        assert_eq!(
            format_rfc3339_nano(&t),
            "2024-01-02T03:04:05.000000001+02:00"
        );
    }

    #[test]
    fn parses_docker_config() {
        let json = br#"{"architecture":"amd64","os":"linux","created":"2024-05-01T10:00:00.5Z",
            "config":{"Cmd":["sh"],"Labels":{"a":"b"}},
            "history":[{"created":"2024-05-01T10:00:00Z","created_by":"ADD x /","empty_layer":false},
                       {"created_by":"CMD [\"sh\"]","empty_layer":true}],
            "rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}"#;
        let c = ImageConfigFile::parse("sha256:x", json).unwrap();
        assert_eq!(c.created_unix(), 1714557600);
        assert_eq!(c.label_pairs().get("a").map(String::as_str), Some("b"));
        assert_eq!(c.history.len(), 2);
        assert!(c.history[1].empty_layer);
        assert_eq!(c.rootfs.unwrap().diff_ids, vec!["sha256:aa".to_string()]);
    }
}
