//! An event as `GET /events` sends it: `Type`, `Action`, `Actor{ID, Attributes}`,
//! `scope`, `time`, `timeNano`, and before API 1.52 the deprecated `status`, `id` and
//! `from` that dockerd still fills for container and image events.
use std::collections::BTreeMap;

use serde::Serialize;

use super::Event;

/// The first API version without `status`, `id` and `from`.
const NO_LEGACY_FIELDS: u32 = 52;

#[derive(Debug, Serialize)]
pub struct Message<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(rename = "Type")]
    kind: &'a str,
    #[serde(rename = "Action")]
    action: &'a str,
    #[serde(rename = "Actor")]
    actor: Actor<'a>,
    scope: &'a str,
    time: i64,
    #[serde(rename = "timeNano")]
    time_nano: i64,
}

#[derive(Debug, Serialize)]
struct Actor<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    #[serde(rename = "Attributes")]
    attributes: &'a BTreeMap<String, String>,
}

impl<'a> Message<'a> {
    /// `ev` as API `1.api_version` shows it.
    pub fn new(ev: &'a Event, api_version: u32) -> Message<'a> {
        let legacy =
            api_version < NO_LEGACY_FIELDS && matches!(ev.kind.as_str(), "container" | "image");
        let from = if legacy && ev.kind == "container" {
            ev.attributes.get("image").map(String::as_str)
        } else {
            None
        };
        Message {
            status: legacy.then_some(ev.action.as_str()),
            id: Some(ev.actor_id.as_str()).filter(|id| legacy && !id.is_empty()),
            from: from.filter(|f| !f.is_empty()),
            kind: &ev.kind,
            action: &ev.action,
            actor: Actor {
                id: &ev.actor_id,
                attributes: &ev.attributes,
            },
            scope: "local",
            time: ev.time_nano.div_euclid(1_000_000_000),
            time_nano: ev.time_nano,
        }
    }
}

/// One line of the stream: the message as JSON and a newline.
pub fn line(ev: &Event, api_version: u32) -> Vec<u8> {
    let mut out = serde_json::to_vec(&Message::new(ev, api_version)).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, attrs: &[(&str, &str)]) -> Event {
        Event {
            kind: kind.into(),
            action: "create".into(),
            actor_id: "abc".into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            time_nano: 1_795_844_491_234_618_634,
        }
    }

    #[test]
    fn legacy_fields_before_1_52_as_dockerd_20_10() {
        let c = ev("container", &[("image", "bb:latest"), ("name", "s1")]);
        assert_eq!(
            String::from_utf8(line(&c, 41)).expect("utf8"),
            concat!(
                r#"{"status":"create","id":"abc","from":"bb:latest","Type":"container","Action":"create","#,
                r#""Actor":{"ID":"abc","Attributes":{"image":"bb:latest","name":"s1"}},"scope":"local","#,
                r#""time":1795844491,"timeNano":1795844491234618634}"#,
                "\n"
            )
        );
        let i = ev("image", &[("name", "bb:latest")]);
        let text = String::from_utf8(line(&i, 41)).expect("utf8");
        assert!(
            text.starts_with(r#"{"status":"create","id":"abc","Type":"image""#),
            "{text}"
        );
        let n = ev("network", &[("name", "net")]);
        let text = String::from_utf8(line(&n, 41)).expect("utf8");
        assert!(text.starts_with(r#"{"Type":"network""#), "{text}");
    }

    #[test]
    fn no_legacy_fields_from_1_52() {
        let c = ev("container", &[("image", "bb:latest")]);
        let text = String::from_utf8(line(&c, 53)).expect("utf8");
        assert!(
            text.starts_with(r#"{"Type":"container","Action":"create""#),
            "{text}"
        );
        assert!(!text.contains("status") && !text.contains("\"from\""));
    }
}
