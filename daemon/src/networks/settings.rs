//! A container's networks as inspect (`NetworkSettings`) and `docker ps` show them,
//! from its endpoint requests, the network records and netd's published ports.
use serde_json::{json, Map, Value};

use super::endpoints::{ContainerNetwork, EndpointRequest, Mode};
use super::ports;
use super::record::{EndpointRecord, NetworkRecord};
use crate::containers::record::Container;
use crate::state::Daemon;

/// One network's entry of `NetworkSettings.Networks`.
fn endpoint_json(
    net: Option<&NetworkRecord>,
    request: Option<&EndpointRequest>,
    ep: Option<&EndpointRecord>,
) -> Value {
    let ipam_config = request
        .and_then(|r| r.ipv4.as_ref())
        .map(|ip| json!({ "IPv4Address": ip }))
        .unwrap_or(Value::Null);
    let aliases = request
        .filter(|r| !r.aliases.is_empty())
        .map(|r| json!(r.aliases))
        .unwrap_or(Value::Null);
    let mac = ep
        .map(|e| e.mac.clone())
        .or_else(|| request.and_then(|r| r.mac.clone()))
        .unwrap_or_default();
    let dns_names = ep
        .filter(|e| !e.dns_names.is_empty())
        .map(|e| json!(e.dns_names))
        .unwrap_or(Value::Null);
    json!({
        "IPAMConfig": ipam_config,
        "Links": null,
        "Aliases": aliases,
        "MacAddress": mac,
        "DriverOpts": null,
        "GwPriority": 0,
        "NetworkID": net.map(|n| n.id.clone()).unwrap_or_default(),
        "EndpointID": ep.map(|e| e.endpoint_id.clone()).unwrap_or_default(),
        "Gateway": ep.map(|e| e.gateway.clone()).unwrap_or_default(),
        "IPAddress": ep.map(|e| e.ip.clone()).unwrap_or_default(),
        "IPPrefixLen": ep.map(|e| e.prefix_len).unwrap_or(0),
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": dns_names,
    })
}

/// `NetworkSettings.Networks`.
pub fn networks_json(daemon: &Daemon, c: &Container) -> Value {
    let state = ContainerNetwork::load(&c.dir);
    let mut out = Map::new();
    match Mode::of(c) {
        Mode::Container(_) => {}
        Mode::Host | Mode::None => {
            let name = if Mode::of(c) == Mode::Host {
                "host"
            } else {
                "none"
            };
            let net = daemon.networks.find(name).ok();
            out.insert(name.into(), endpoint_json(net.as_ref(), None, None));
        }
        Mode::Network(name) => {
            if !ContainerNetwork::recorded(&c.dir) {
                let net = daemon.networks.find(&name).ok();
                out.insert(name, endpoint_json(net.as_ref(), None, None));
            }
            for r in &state.requests {
                let Ok(net) = daemon.networks.find(&r.network_id) else {
                    continue;
                };
                let ep = net.endpoints.get(&c.id);
                out.insert(net.name.clone(), endpoint_json(Some(&net), Some(r), ep));
            }
        }
    }
    Value::Object(out)
}

fn published(daemon: &Daemon, c: &Container) -> Vec<netd::state::PublishedPort> {
    if !c.state.status.is_running() {
        return Vec::new();
    }
    daemon
        .networks
        .netd()
        .ok()
        .and_then(|n| n.published(&c.id).ok())
        .unwrap_or_default()
}

/// `NetworkSettings` of inspect, with dockerd's top-level fields from the default bridge.
pub fn network_settings(daemon: &Daemon, c: &Container) -> Value {
    let state = ContainerNetwork::load(&c.dir);
    let running = c.state.status.is_running();
    let bridge = daemon
        .networks
        .find("bridge")
        .ok()
        .and_then(|n| n.endpoints.get(&c.id).cloned())
        .unwrap_or_default();
    let ports_json = if running {
        ports::inspect_ports(c, &published(daemon, c))
    } else {
        json!({})
    };
    json!({
        "Bridge": "",
        "SandboxID": if running { state.sandbox_id.clone() } else { String::new() },
        "SandboxKey": state.netns.filter(|_| running).map(|p| p.display().to_string()).unwrap_or_default(),
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports_json,
        "SecondaryIPAddresses": null,
        "SecondaryIPv6Addresses": null,
        "EndpointID": bridge.endpoint_id,
        "Gateway": bridge.gateway,
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": bridge.ip,
        "IPPrefixLen": bridge.prefix_len,
        "IPv6Gateway": "",
        "MacAddress": bridge.mac,
        "Networks": networks_json(daemon, c),
    })
}

/// `Ports` of one `docker ps` row.
pub fn list_ports(daemon: &Daemon, c: &Container) -> Value {
    ports::list_ports(c, &published(daemon, c))
}

/// Before API 1.45 dockerd listed the container's short ID among the `Aliases` of each
/// user-defined network (docker-compose 1.x looks for it before it reconnects a
/// container), and its hostname when that differs; since then they are in `DNSNames`
/// only. dockerd adds them when it connects the endpoint (`updateNetworkConfig`), so a
/// container created but never started shows its aliases as the client gave them; after
/// a stop they stay. (A never-started container given a network by `network connect`
/// has them at once under dockerd; here from its first start.)
pub fn add_short_id_aliases(inspect: &mut Value, c: &Container) {
    if c.state.started_at.is_none() {
        return;
    }
    let hostname = c.config.hostname.as_deref().filter(|h| !h.is_empty());
    let Some(networks) = inspect
        .pointer_mut("/NetworkSettings/Networks")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (name, ep) in networks.iter_mut() {
        if matches!(name.as_str(), "bridge" | "host" | "none") {
            continue;
        }
        let mut aliases: Vec<Value> = ep["Aliases"].as_array().cloned().unwrap_or_default();
        for alias in std::iter::once(c.short_id()).chain(hostname) {
            if !aliases.iter().any(|a| a == alias) {
                aliases.push(Value::String(alias.to_string()));
            }
        }
        ep["Aliases"] = Value::Array(aliases);
    }
}

#[cfg(test)]
mod short_id_alias_tests {
    use super::*;
    use serde_json::json;

    fn container(started_at: Value, hostname: &str) -> Container {
        serde_json::from_value(json!({
            "id": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "name": "/x", "created": "2026-01-01T00:00:00Z", "path": "sh", "args": [],
            "config": {"Hostname": hostname}, "host_config": {}, "image_id": "", "layers": [],
            "state": {"status": "running", "pid": 1, "exit_code": 0, "error": "",
                      "oom_killed": false, "started_at": started_at, "finished_at": null},
            "restart_count": 0
        }))
        .expect("container")
    }

    fn networks() -> Value {
        json!({"NetworkSettings": {"Networks": {
            "bridge": {"Aliases": null},
            "app": {"Aliases": ["web"]},
            "other": {"Aliases": ["0123456789ab"]},
        }}})
    }

    #[test]
    fn short_id_added_once_on_user_networks_only() {
        let c = container(json!("2026-01-01T00:00:01Z"), "0123456789ab");
        let mut doc = networks();
        add_short_id_aliases(&mut doc, &c);
        let n = &doc["NetworkSettings"]["Networks"];
        assert_eq!(n["bridge"]["Aliases"], Value::Null);
        assert_eq!(n["app"]["Aliases"], json!(["web", "0123456789ab"]));
        assert_eq!(n["other"]["Aliases"], json!(["0123456789ab"]));
    }

    #[test]
    fn a_hostname_is_an_alias_too_and_nothing_before_the_first_start() {
        let mut doc = networks();
        add_short_id_aliases(&mut doc, &container(json!("2026-01-01T00:00:01Z"), "myh"));
        let n = &doc["NetworkSettings"]["Networks"];
        assert_eq!(n["app"]["Aliases"], json!(["web", "0123456789ab", "myh"]));
        let mut doc = networks();
        add_short_id_aliases(&mut doc, &container(Value::Null, "myh"));
        assert_eq!(doc, networks());
    }
}
