//! What the API shows of networks: inspect JSON exactly as dockerd's, the list filters
//! (moby's `FilterNetworks`) and prune.
use serde_json::{json, Map, Value};

use super::record::NetworkRecord;
use super::{NetworkError, Networks, Result};
use crate::images::filters::{parse_timestamp, Filters};
use crate::images::RequestError;

const LIST_FILTERS: [&str; 7] = ["dangling", "driver", "id", "label", "name", "scope", "type"];

fn filter_error(e: RequestError) -> NetworkError {
    NetworkError::Invalid(e.to_string())
}

/// `GET /networks/{id}` (and each item of `GET /networks`).
pub fn inspect_json(r: &NetworkRecord) -> Value {
    let config: Vec<Value> = r
        .ipam
        .iter()
        .map(|c| {
            let mut m = Map::new();
            m.insert("Subnet".into(), json!(c.subnet));
            if let Some(range) = &c.ip_range {
                m.insert("IPRange".into(), json!(range));
            }
            if !c.gateway_chosen {
                m.insert("Gateway".into(), json!(c.gateway));
            }
            if !c.aux_addresses.is_empty() {
                m.insert("AuxiliaryAddresses".into(), json!(c.aux_addresses));
            }
            Value::Object(m)
        })
        .collect();
    let containers: Map<String, Value> = r
        .endpoints
        .iter()
        .map(|(id, ep)| {
            let v = json!({
                "Name": ep.name,
                "EndpointID": ep.endpoint_id,
                "MacAddress": ep.mac,
                "IPv4Address": if ep.ip.is_empty() { String::new() } else { format!("{}/{}", ep.ip, ep.prefix_len) },
                "IPv6Address": if ep.ipv6.is_empty() { String::new() } else { format!("{}/{}", ep.ipv6, ep.ipv6_prefix_len) },
            });
            (id.clone(), v)
        })
        .collect();
    json!({
        "Name": r.name,
        "Id": r.id,
        "Created": crate::containers::format_time(&r.created),
        "Scope": "local",
        "Driver": r.driver,
        "EnableIPv4": true,
        "EnableIPv6": r.enable_ipv6,
        "IPAM": {
            "Driver": "default",
            "Options": r.ipam_options,
            "Config": config,
        },
        "Internal": r.internal,
        "Attachable": r.attachable,
        "Ingress": false,
        "ConfigFrom": { "Network": "" },
        "ConfigOnly": false,
        "Containers": containers,
        "Options": r.options,
        "Labels": r.labels,
    })
}

/// moby's `filters.Match`: equal, or the value found as a (regular-expression-free) part.
fn matches_any(values: &[&str], source: &str) -> bool {
    values.iter().any(|v| source == *v || source.contains(v))
}

/// `GET /networks?filters=…`: name, id, label, driver, scope, type, dangling.
pub fn list(networks: &Networks, filters_json: &str) -> Result<Vec<NetworkRecord>> {
    let filters = Filters::from_json(filters_json).map_err(filter_error)?;
    filters.validate(&LIST_FILTERS).map_err(filter_error)?;
    let mut shown: Vec<NetworkRecord> = networks
        .list()
        .into_iter()
        .filter(|n| {
            !filters.contains("driver") || filters.get("driver").contains(&n.driver.as_str())
        })
        .filter(|n| !filters.contains("name") || matches_any(&filters.get("name"), &n.name))
        .filter(|n| !filters.contains("id") || matches_any(&filters.get("id"), &n.id))
        .filter(|n| !filters.contains("label") || filters.match_kv_list("label", &n.labels))
        .filter(|_| !filters.contains("scope") || filters.get("scope").contains(&"local"))
        .collect();
    let dangling = filters.get("dangling");
    if !dangling.is_empty() {
        if dangling.len() > 1 {
            return Err(NetworkError::Invalid(
                "got more than one value for filter key \"dangling\"".into(),
            ));
        }
        let only_dangling = match dangling[0] {
            "1" | "true" => true,
            "0" | "false" => false,
            _ => {
                return Err(NetworkError::Invalid(
                    "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")".into(),
                ))
            }
        };
        shown.retain(|n| {
            let unused = !n.is_predefined() && n.endpoints.is_empty();
            unused == only_dangling
        });
    }
    if filters.contains("type") {
        let mut typed = Vec::new();
        for t in filters.get("type") {
            let builtin = match t {
                "builtin" => true,
                "custom" => false,
                other => {
                    return Err(NetworkError::Invalid(format!(
                        "invalid filter: 'type'='{other}'"
                    )))
                }
            };
            typed.extend(
                shown
                    .iter()
                    .filter(|n| n.is_predefined() == builtin)
                    .cloned(),
            );
        }
        shown = typed;
    }
    Ok(shown)
}

/// `POST /networks/prune`: removes user-defined networks no container uses, with the
/// `until` and `label`/`label!` filters; the names removed.
pub async fn prune(networks: &Networks, filters_json: &str) -> Result<Vec<String>> {
    let filters = Filters::from_json(filters_json).map_err(filter_error)?;
    filters
        .validate(&["until", "label", "label!"])
        .map_err(filter_error)?;
    let now = chrono::Utc::now();
    let until = match filters.get("until").as_slice() {
        [] => None,
        [one] => Some(parse_timestamp(one, now).map_err(filter_error)?),
        _ => {
            return Err(NetworkError::Invalid(
                "more than one until filter specified".into(),
            ))
        }
    };
    let mut removed = Vec::new();
    for n in networks.list() {
        if n.is_predefined() || !n.endpoints.is_empty() {
            continue;
        }
        if until.is_some_and(|u| n.created >= u) {
            continue;
        }
        if filters.contains("label") && !filters.match_kv_list("label", &n.labels) {
            continue;
        }
        if filters.contains("label!") && filters.match_kv_list("label!", &n.labels) {
            continue;
        }
        match networks.remove(&n.id).await {
            Ok(_) => removed.push(n.name),
            Err(e) => tracing::warn!(network = %n.name, "prune: {e}"),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::networks::create::predefined;

    fn with_custom() -> (tempfile::TempDir, Networks) {
        let dir = tempfile::tempdir().expect("tempdir");
        let networks = Networks::open(dir.path()).expect("open");
        let mut web = predefined("web", "bridge");
        web.labels.insert("tier".into(), "front".into());
        networks.put(web).expect("put");
        (dir, networks)
    }

    fn names(list: Vec<NetworkRecord>) -> Vec<String> {
        list.into_iter().map(|n| n.name).collect()
    }

    #[test]
    fn filters_like_dockerd() {
        let (_dir, n) = with_custom();
        assert_eq!(names(list(&n, "").expect("all")), ["host", "none", "web"]);
        assert_eq!(
            names(list(&n, r#"{"type":{"custom":true}}"#).expect("custom")),
            ["web"]
        );
        assert_eq!(
            names(list(&n, r#"{"label":{"tier=front":true}}"#).expect("label")),
            ["web"]
        );
        assert_eq!(
            names(list(&n, r#"{"dangling":{"true":true}}"#).expect("dangling")),
            ["web"]
        );
        assert_eq!(
            names(list(&n, r#"{"driver":{"null":true}}"#).expect("driver")),
            ["none"]
        );
        assert_eq!(
            names(list(&n, r#"{"name":{"os":true}}"#).expect("name")),
            ["host"]
        );
        let err = list(&n, r#"{"type":{"x":true}}"#).expect_err("bad type");
        assert_eq!(err.to_string(), "invalid filter: 'type'='x'");
        let err = list(&n, r#"{"nope":{"x":true}}"#).expect_err("bad key");
        assert_eq!(err.to_string(), "invalid filter 'nope'");
    }

    #[test]
    fn inspect_shape() {
        let (_dir, n) = with_custom();
        let web = n.find("web").expect("web");
        let v = inspect_json(&web);
        assert_eq!(v["Scope"], "local");
        assert_eq!(v["IPAM"]["Options"], Value::Null);
        assert!(v["Containers"].as_object().is_some_and(|c| c.is_empty()));
        assert_eq!(n.find(&web.id[..6]).expect("prefix").name, "web");
        assert!(matches!(n.find("zzz"), Err(NetworkError::NotFound(_))));
    }
}
