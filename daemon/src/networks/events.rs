//! Network `connect` and `disconnect` events, in dockerd's shape: Type network, the
//! network's id as Actor ID, attributes container, name and type (the driver). dockerd
//! sends them when a running container joins or leaves a network: at start (for every
//! network of the container, `none` and `host` included), at exit, and for
//! `docker network connect`/`disconnect` (a disconnect also for a stopped container; a
//! connect to a stopped one waits for its start). A container never started sends none.
use std::collections::BTreeMap;

use super::record::NetworkRecord;
use crate::state::Daemon;

pub const CONNECT: &str = "connect";
pub const DISCONNECT: &str = "disconnect";

/// The attributes of a connect or disconnect event.
pub fn attributes(network: &NetworkRecord, container_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("container".to_string(), container_id.to_string()),
        ("name".to_string(), network.name.clone()),
        ("type".to_string(), network.driver.clone()),
    ])
}

/// Publishes `action` (connect or disconnect) of `container_id` on `network`.
pub fn publish(daemon: &Daemon, action: &str, network: &NetworkRecord, container_id: &str) {
    daemon.events.publish(
        "network",
        action,
        &network.id,
        attributes(network, container_id),
    );
}

/// Publishes `action` for each network id that still has a record.
pub fn publish_all(daemon: &Daemon, action: &str, network_ids: &[String], container_id: &str) {
    for id in network_ids {
        if let Ok(network) = daemon.networks.find(id) {
            publish(daemon, action, &network, container_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerd_attributes() {
        let net = crate::networks::create::predefined("none", "null");
        let attrs = attributes(&net, "c1");
        assert_eq!(attrs.get("container").map(String::as_str), Some("c1"));
        assert_eq!(attrs.get("name").map(String::as_str), Some("none"));
        assert_eq!(attrs.get("type").map(String::as_str), Some("null"));
        assert_eq!(attrs.len(), 3);
    }
}
