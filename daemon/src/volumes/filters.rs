//! The filters of `GET /volumes` (`dangling`, `name`, `driver`, `label`) and of
//! `POST /volumes/prune` (`label`, `label!`, `all`), as dockerd reads them.
use std::collections::BTreeMap;

use super::{Result, Volume, VolumeError};
use crate::images::filters::Filters;

const LIST_FILTERS: &[&str] = &["dangling", "name", "driver", "label"];
const PRUNE_FILTERS: &[&str] = &["label", "label!", "all"];

fn invalid(e: crate::images::RequestError) -> VolumeError {
    VolumeError::Invalid(e.to_string())
}

fn labels(v: &Volume) -> BTreeMap<String, String> {
    v.labels.clone().unwrap_or_default()
}

/// What `GET /volumes` keeps.
#[derive(Debug)]
pub struct ListFilter {
    filters: Filters,
    dangling: Option<bool>,
}

impl ListFilter {
    pub fn parse(text: &str) -> Result<ListFilter> {
        let filters = Filters::from_json(text).map_err(invalid)?;
        filters.validate(LIST_FILTERS).map_err(invalid)?;
        let dangling = if filters.contains("dangling") {
            Some(
                filters
                    .get_bool_or_default("dangling", false)
                    .map_err(invalid)?,
            )
        } else {
            None
        };
        Ok(ListFilter { filters, dangling })
    }

    /// Whether `v` is listed; `in_use`: some container refers to it.
    pub fn matches(&self, v: &Volume, in_use: bool) -> bool {
        if self.dangling.is_some_and(|d| d == in_use) {
            return false;
        }
        let f = &self.filters;
        if f.contains("name") && !f.get("name").iter().any(|n| v.name.contains(n)) {
            return false;
        }
        if f.contains("driver") && !f.get("driver").iter().any(|d| v.driver.contains(d)) {
            return false;
        }
        if f.contains("label") && !f.match_kv_list("label", &labels(v)) {
            return false;
        }
        true
    }
}

/// What `POST /volumes/prune` removes (among the volumes no container uses).
#[derive(Debug)]
pub struct PruneFilter {
    filters: Filters,
    all: bool,
}

impl PruneFilter {
    /// Before API 1.42 prune considered every volume; since, only anonymous ones unless
    /// `all=true`.
    pub fn parse(text: &str, api_version: (u32, u32)) -> Result<PruneFilter> {
        let filters = Filters::from_json(text).map_err(invalid)?;
        filters.validate(PRUNE_FILTERS).map_err(invalid)?;
        let default_all = api_version < (1, 42);
        let all = filters
            .get_bool_or_default("all", default_all)
            .map_err(invalid)?;
        Ok(PruneFilter { filters, all })
    }

    pub fn matches(&self, v: &Volume) -> bool {
        if !self.all && !v.is_anonymous() {
            return false;
        }
        let l = labels(v);
        let f = &self.filters;
        if f.contains("label") && !f.match_kv_list("label", &l) {
            return false;
        }
        if f.contains("label!") && f.match_kv_list("label!", &l) {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volumes::ANONYMOUS_LABEL;

    fn vol(name: &str, labels: &[(&str, &str)]) -> Volume {
        Volume {
            name: name.into(),
            driver: "local".into(),
            created_at: chrono::Utc::now(),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            options: None,
        }
    }

    #[test]
    fn list_filters() {
        let a = vol("alpha", &[("env", "prod")]);
        let f = ListFilter::parse(r#"{"name":{"alp":true}}"#).unwrap();
        assert!(f.matches(&a, false));
        assert!(!f.matches(&vol("beta", &[]), false));
        let f = ListFilter::parse(r#"{"dangling":{"true":true}}"#).unwrap();
        assert!(f.matches(&a, false));
        assert!(!f.matches(&a, true));
        let f = ListFilter::parse(r#"{"dangling":{"0":true}}"#).unwrap();
        assert!(f.matches(&a, true));
        let f = ListFilter::parse(r#"{"label":{"env=prod":true}}"#).unwrap();
        assert!(f.matches(&a, false));
        assert!(!f.matches(&vol("x1", &[("env", "dev")]), false));
        let f = ListFilter::parse(r#"{"driver":{"local":true}}"#).unwrap();
        assert!(f.matches(&a, false));
        assert_eq!(
            ListFilter::parse(r#"{"foo":{"x":true}}"#)
                .unwrap_err()
                .to_string(),
            "invalid filter 'foo'"
        );
        assert_eq!(
            ListFilter::parse(r#"{"dangling":{"maybe":true}}"#)
                .unwrap_err()
                .to_string(),
            "invalid filter 'dangling=[maybe]'"
        );
    }

    #[test]
    fn prune_takes_anonymous_volumes_unless_all() {
        let named = vol("named", &[]);
        let anon = vol(&"a".repeat(64), &[(ANONYMOUS_LABEL, "")]);
        let f = PruneFilter::parse("", (1, 53)).unwrap();
        assert!(f.matches(&anon));
        assert!(!f.matches(&named));
        let f = PruneFilter::parse(r#"{"all":{"true":true}}"#, (1, 53)).unwrap();
        assert!(f.matches(&named));
        let f = PruneFilter::parse("", (1, 41)).unwrap();
        assert!(f.matches(&named));
        let f = PruneFilter::parse(r#"{"all":["1"],"label!":["keep"]}"#, (1, 53)).unwrap();
        assert!(f.matches(&named));
        assert!(!f.matches(&vol("kept", &[("keep", "")])));
    }
}
