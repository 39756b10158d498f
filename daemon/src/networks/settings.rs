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
    let ipam_config = request.map(ipam_config_json).unwrap_or(Value::Null);
    let aliases = request
        .filter(|r| !r.aliases.is_empty())
        .map(|r| json!(r.aliases))
        .unwrap_or(Value::Null);
    let links = request
        .filter(|r| !r.links.is_empty())
        .map(|r| json!(r.links))
        .unwrap_or(Value::Null);
    let driver_opts = request
        .and_then(|r| r.driver_opts.as_ref())
        .map(|o| json!(o))
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
        "Links": links,
        "Aliases": aliases,
        "MacAddress": mac,
        "DriverOpts": driver_opts,
        "GwPriority": request.map(|r| r.gw_priority).unwrap_or(0),
        "NetworkID": net.map(|n| n.id.clone()).unwrap_or_default(),
        "EndpointID": ep.map(|e| e.endpoint_id.clone()).unwrap_or_default(),
        "Gateway": ep.map(|e| e.gateway.clone()).unwrap_or_default(),
        "IPAddress": ep.map(|e| e.ip.clone()).unwrap_or_default(),
        "IPPrefixLen": ep.map(|e| e.prefix_len).unwrap_or(0),
        "IPv6Gateway": ep.map(|e| e.ipv6_gateway.clone()).unwrap_or_default(),
        "GlobalIPv6Address": ep.map(|e| e.ipv6.clone()).unwrap_or_default(),
        "GlobalIPv6PrefixLen": ep.map(|e| e.ipv6_prefix_len).unwrap_or(0),
        "DNSNames": dns_names,
    })
}

/// `IPAMConfig` of an endpoint as the client gave it (dockerd's omitempty fields), or
/// null when it gave none.
fn ipam_config_json(r: &EndpointRequest) -> Value {
    let mut m = Map::new();
    if let Some(ip) = &r.ipv4 {
        m.insert("IPv4Address".into(), json!(ip));
    }
    if let Some(ip) = &r.ipv6 {
        m.insert("IPv6Address".into(), json!(ip));
    }
    if !r.link_local_ips.is_empty() {
        m.insert("LinkLocalIPs".into(), json!(r.link_local_ips));
    }
    if m.is_empty() {
        Value::Null
    } else {
        Value::Object(m)
    }
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
        "GlobalIPv6Address": bridge.ipv6,
        "GlobalIPv6PrefixLen": bridge.ipv6_prefix_len,
        "IPAddress": bridge.ip,
        "IPPrefixLen": bridge.prefix_len,
        "IPv6Gateway": bridge.ipv6_gateway,
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
/// container); since then it is in `DNSNames` only.
pub fn add_short_id_aliases(inspect: &mut Value, c: &Container) {
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
        if !aliases.iter().any(|a| a == c.short_id()) {
            aliases.push(Value::String(c.short_id().to_string()));
        }
        ep["Aliases"] = Value::Array(aliases);
    }
}

#[cfg(test)]
mod short_id_alias_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_id_added_once_on_user_networks_only() {
        let c: Container = serde_json::from_value(json!({
            "id": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "name": "/x", "created": "2026-01-01T00:00:00Z", "path": "sh", "args": [],
            "config": {}, "host_config": {}, "image_id": "", "layers": [],
            "state": {"status": "running", "pid": 1, "exit_code": 0, "error": "",
                      "oom_killed": false, "started_at": null, "finished_at": null},
            "restart_count": 0
        }))
        .expect("container");
        let mut doc = json!({"NetworkSettings": {"Networks": {
            "bridge": {"Aliases": null},
            "app": {"Aliases": ["web"]},
            "other": {"Aliases": ["0123456789ab"]},
        }}});
        add_short_id_aliases(&mut doc, &c);
        let n = &doc["NetworkSettings"]["Networks"];
        assert_eq!(n["bridge"]["Aliases"], Value::Null);
        assert_eq!(n["app"]["Aliases"], json!(["web", "0123456789ab"]));
        assert_eq!(n["other"]["Aliases"], json!(["0123456789ab"]));
    }
}
