//! The `filters` of `GET /events`, as dockerd's `daemon/events.Filter`: every key given
//! must match; values of one key are alternatives.
use crate::images::filters::Filters;
use crate::reference::Reference;

use super::{Event, EventsError};

/// The keys dockerd accepts; any other is "invalid filter 'key'".
pub const ACCEPTED: &[&str] = &[
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// Parsed, validated event filters.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    filters: Filters,
}

impl EventFilter {
    /// Parses the `filters` query parameter (JSON; empty means everything).
    pub fn parse(json: &str) -> Result<EventFilter, EventsError> {
        let filters =
            Filters::from_json(json).map_err(|e| EventsError::InvalidFilter(e.to_string()))?;
        filters
            .validate(ACCEPTED)
            .map_err(|e| EventsError::InvalidFilter(e.to_string()))?;
        Ok(EventFilter { filters })
    }

    /// From already parsed filters (tests, internal callers); not validated.
    pub fn from_filters(filters: Filters) -> EventFilter {
        EventFilter { filters }
    }

    /// Whether `ev` passes every filter given.
    pub fn include(&self, ev: &Event) -> bool {
        self.match_event(ev)
            && self.exact("type", &ev.kind)
            && self.exact("scope", "local")
            && [
                "daemon",
                "container",
                "plugin",
                "volume",
                "network",
                "node",
                "service",
                "secret",
                "config",
            ]
            .iter()
            .all(|kind| self.fuzzy_name(ev, kind))
            && self.match_image(ev)
            && self.filters.match_kv_list("label", &ev.attributes)
    }

    /// `event=`: exact, except that `health_status`, `exec_create` and `exec_start` also
    /// match their `action: detail` forms (a prefix match, as dockerd's #25798).
    fn match_event(&self, ev: &Event) -> bool {
        let values = self.filters.get("event");
        if values
            .iter()
            .any(|v| matches!(*v, "health_status" | "exec_create" | "exec_start"))
        {
            return self.fuzzy("event", &ev.action);
        }
        self.exact("event", &ev.action)
    }

    /// An object-kind key (`container=`, `network=`, …): a prefix of the actor's ID or
    /// of its `name` attribute.
    fn fuzzy_name(&self, ev: &Event, key: &str) -> bool {
        let name = ev.attributes.get("name").map(String::as_str).unwrap_or("");
        self.fuzzy(key, &ev.actor_id) || self.fuzzy(key, name)
    }

    /// `image=`: the actor's ID or image name (`name` for image events, `image` for
    /// container events), as given or without its tag.
    fn match_image(&self, ev: &Event) -> bool {
        if !self.filters.contains("image") {
            return true;
        }
        let attr = if ev.kind == "image" { "name" } else { "image" };
        let name = ev.attributes.get(attr).map(String::as_str).unwrap_or("");
        [
            ev.actor_id.clone(),
            name.to_string(),
            strip_tag(&ev.actor_id),
            strip_tag(name),
        ]
        .iter()
        .any(|candidate| self.exact("image", candidate))
    }

    /// dockerd's `Args.ExactMatch`: no values for `key`, or `source` is one of them.
    fn exact(&self, key: &str, source: &str) -> bool {
        let values = self.filters.get(key);
        values.is_empty() || values.contains(&source)
    }

    /// dockerd's `Args.FuzzyMatch`: no values, one equal to `source`, or a prefix of it.
    fn fuzzy(&self, key: &str, source: &str) -> bool {
        let values = self.filters.get(key);
        values.is_empty() || values.iter().any(|v| source.starts_with(v))
    }
}

/// The familiar repository name of `image` without tag or digest; `image` itself when
/// it is no reference.
fn strip_tag(image: &str) -> String {
    match Reference::parse(image) {
        Ok(r) => r.familiar_name(),
        Err(_) => image.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn ev(kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        Event {
            kind: kind.into(),
            action: action.into(),
            actor_id: id.into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            time_nano: 1,
        }
    }

    fn filter(json: &str) -> EventFilter {
        EventFilter::parse(json).expect("valid filter")
    }

    #[test]
    fn refuses_unknown_keys_and_bad_json() {
        assert_eq!(
            EventFilter::parse(r#"{"foo":["x"]}"#).err(),
            Some(EventsError::InvalidFilter("invalid filter 'foo'".into()))
        );
        assert!(EventFilter::parse("notjson").is_err());
        for key in ACCEPTED {
            assert!(EventFilter::parse(&format!(r#"{{"{key}":["x"]}}"#)).is_ok());
        }
        assert!(EventFilter::parse(r#"{"type":{"image":true}}"#).is_ok());
        assert!(EventFilter::parse("").is_ok());
    }

    #[test]
    fn type_event_and_scope() {
        let tag = ev("image", "tag", "sha256:abc", &[("name", "bb:latest")]);
        let start = ev("container", "start", "c0ffee", &[("name", "web")]);
        let f = filter(r#"{"type":["image"]}"#);
        assert!(f.include(&tag) && !f.include(&start));
        let f = filter(r#"{"event":["start","die"]}"#);
        assert!(!f.include(&tag) && f.include(&start));
        assert!(filter(r#"{"scope":["local"]}"#).include(&tag));
        assert!(!filter(r#"{"scope":["swarm"]}"#).include(&tag));
        assert!(filter("").include(&tag));
    }

    #[test]
    fn exec_and_health_events_match_by_prefix() {
        let exec = ev("container", "exec_start: sh -c ls", "c0ffee", &[]);
        assert!(filter(r#"{"event":["exec_start"]}"#).include(&exec));
        assert!(!filter(r#"{"event":["exec_die"]}"#).include(&exec));
        let health = ev("container", "health_status: healthy", "c0ffee", &[]);
        assert!(filter(r#"{"event":["health_status"]}"#).include(&health));
    }

    #[test]
    fn containers_match_by_id_prefix_or_name() {
        let start = ev("container", "start", "c0ffee12", &[("name", "web")]);
        assert!(filter(r#"{"container":["c0f"]}"#).include(&start));
        assert!(filter(r#"{"container":["web"]}"#).include(&start));
        assert!(!filter(r#"{"container":["db"]}"#).include(&start));
        // A container filter excludes other kinds of objects.
        let tag = ev("image", "tag", "sha256:abc", &[("name", "bb:latest")]);
        assert!(!filter(r#"{"container":["web"]}"#).include(&tag));
    }

    #[test]
    fn images_match_by_id_name_or_repository() {
        let tag = ev("image", "tag", "sha256:abc", &[("name", "bb:latest")]);
        assert!(filter(r#"{"image":["sha256:abc"]}"#).include(&tag));
        assert!(filter(r#"{"image":["bb:latest"]}"#).include(&tag));
        assert!(filter(r#"{"image":["bb"]}"#).include(&tag));
        assert!(!filter(r#"{"image":["other"]}"#).include(&tag));
        let create = ev("container", "create", "c0ffee", &[("image", "bb:latest")]);
        assert!(filter(r#"{"image":["bb"]}"#).include(&create));
        let pull = ev(
            "image",
            "pull",
            "127.0.0.1:5000/a/b:v1",
            &[("name", "127.0.0.1:5000/a/b")],
        );
        assert!(filter(r#"{"image":["127.0.0.1:5000/a/b"]}"#).include(&pull));
    }

    #[test]
    fn labels_must_all_match() {
        let start = ev(
            "container",
            "start",
            "c0ffee",
            &[("name", "web"), ("tier", "front"), ("team", "a")],
        );
        assert!(filter(r#"{"label":["tier"]}"#).include(&start));
        assert!(filter(r#"{"label":["tier=front","team=a"]}"#).include(&start));
        assert!(!filter(r#"{"label":["tier=back"]}"#).include(&start));
        assert!(!filter(r#"{"label":["tier","missing"]}"#).include(&start));
    }

    #[test]
    fn several_keys_must_all_match() {
        let start = ev("container", "start", "c0ffee", &[("name", "web")]);
        assert!(filter(r#"{"type":["container"],"event":["start"]}"#).include(&start));
        assert!(!filter(r#"{"type":["container"],"event":["stop"]}"#).include(&start));
        assert!(!filter(r#"{"network":["bridge"]}"#).include(&start));
    }
}
