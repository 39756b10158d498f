//! A container's networks as inspect (`NetworkSettings`) and `docker ps` show them,
//! from its endpoint requests, the network records and netd's published ports.
use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Value};

use super::endpoints::{EndpointRequest, Mode};
use super::ports;
use super::record::{EndpointRecord, NetworkRecord};
use super::RecordsView;
use crate::containers::record::Container;
use crate::state::Daemon;

/// One network's entry of `NetworkSettings.Networks`, in dockerd's field order.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointView<'a> {
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<IpamView<'a>>,
    links: Option<&'a [String]>,
    aliases: Option<&'a [String]>,
    mac_address: &'a str,
    driver_opts: Option<&'a std::collections::BTreeMap<String, String>>,
    gw_priority: i64,
    #[serde(rename = "NetworkID")]
    network_id: &'a str,
    #[serde(rename = "EndpointID")]
    endpoint_id: &'a str,
    gateway: &'a str,
    #[serde(rename = "IPAddress")]
    ip_address: &'a str,
    #[serde(rename = "IPPrefixLen")]
    ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    ipv6_gateway: &'a str,
    #[serde(rename = "GlobalIPv6Address")]
    global_ipv6_address: &'a str,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    global_ipv6_prefix_len: u8,
    #[serde(rename = "DNSNames")]
    dns_names: Option<Cow<'a, [String]>>,
}

/// `IPAMConfig` as the client gave it (dockerd's omitempty fields); absent when it gave none.
#[derive(serde::Serialize)]
struct IpamView<'a> {
    #[serde(rename = "IPv4Address", skip_serializing_if = "Option::is_none")]
    ipv4_address: Option<&'a str>,
    #[serde(rename = "IPv6Address", skip_serializing_if = "Option::is_none")]
    ipv6_address: Option<&'a str>,
    #[serde(rename = "LinkLocalIPs", skip_serializing_if = "<[String]>::is_empty")]
    link_local_ips: &'a [String],
}

impl<'a> IpamView<'a> {
    fn of(r: &'a EndpointRequest) -> Option<IpamView<'a>> {
        let view = IpamView {
            ipv4_address: r.ipv4.as_deref(),
            ipv6_address: r.ipv6.as_deref(),
            link_local_ips: &r.link_local_ips,
        };
        (view.ipv4_address.is_some()
            || view.ipv6_address.is_some()
            || !view.link_local_ips.is_empty())
        .then_some(view)
    }
}

impl<'a> EndpointView<'a> {
    /// Before its first start a container's entries are what the client gave: no
    /// NetworkID (dockerd fills it in when it connects the endpoint); DNSNames only for
    /// a network given by `network connect` (see `EndpointRequest::named_at_connect`).
    /// Once it has run, a stopped container keeps its DNSNames (dockerd's
    /// `cleanOperationalData` leaves them).
    fn new(
        c: &'a Container,
        net: Option<&'a NetworkRecord>,
        request: Option<&'a EndpointRequest>,
        ep: Option<&'a EndpointRecord>,
    ) -> EndpointView<'a> {
        let started = c.state.started_at.is_some();
        let dns_names = match ep {
            Some(e) => (!e.dns_names.is_empty()).then_some(Cow::Borrowed(e.dns_names.as_slice())),
            None => request
                .filter(|r| (r.named_at_connect || started) && net.is_some_and(is_user_defined))
                .map(|r| Cow::Owned(super::sandbox::dns_names(c, &r.aliases))),
        };
        EndpointView {
            ipam_config: request.and_then(IpamView::of),
            links: request
                .filter(|r| !r.links.is_empty())
                .map(|r| r.links.as_slice()),
            aliases: request
                .filter(|r| !r.aliases.is_empty())
                .map(|r| r.aliases.as_slice()),
            mac_address: ep
                .map(|e| e.mac.as_str())
                .or_else(|| request.and_then(|r| r.mac.as_deref()))
                .unwrap_or(""),
            driver_opts: request.and_then(|r| r.driver_opts.as_ref()),
            gw_priority: request.map_or(0, |r| r.gw_priority),
            network_id: net.filter(|_| started).map_or("", |n| n.id.as_str()),
            endpoint_id: ep.map_or("", |e| e.endpoint_id.as_str()),
            gateway: ep.map_or("", |e| e.gateway.as_str()),
            ip_address: ep.map_or("", |e| e.ip.as_str()),
            ip_prefix_len: ep.map_or(0, |e| e.prefix_len),
            ipv6_gateway: ep.map_or("", |e| e.ipv6_gateway.as_str()),
            global_ipv6_address: ep.map_or("", |e| e.ipv6.as_str()),
            global_ipv6_prefix_len: ep.map_or(0, |e| e.ipv6_prefix_len),
            dns_names,
        }
    }
}

/// Networks whose endpoints get DNS names and the short-ID alias (not `bridge`,
/// `host`, `none`).
fn is_user_defined(net: &NetworkRecord) -> bool {
    !matches!(net.name.as_str(), "bridge" | "host" | "none")
}

/// `NetworkSettings.Networks` of one container, serialized from the network records and
/// the container's endpoint requests as they are (nothing copied): what `docker ps` lists.
pub struct NetworksView<'a> {
    entries: Vec<(&'a str, EndpointView<'a>)>,
}

impl<'a> NetworksView<'a> {
    pub fn new(
        records: &'a RecordsView<'_>,
        state: Option<&'a super::endpoints::ContainerNetwork>,
        c: &'a Container,
    ) -> NetworksView<'a> {
        let mut entries = Vec::new();
        let mode = c.host_config.network_mode.as_deref().unwrap_or("default");
        match Mode::parse(mode) {
            Mode::Container(_) => {}
            Mode::None if state.is_some_and(|s| s.left_none) => {
                entries.extend(requested(records, state, c));
            }
            Mode::Host | Mode::None => {
                let name = if mode == "host" { "host" } else { "none" };
                entries.push((
                    name,
                    EndpointView::new(c, records.find(name).ok(), None, None),
                ));
            }
            Mode::Network(_) => {
                if state.is_none() {
                    let name = match mode {
                        "" | "default" => "bridge",
                        m => m,
                    };
                    let net = records.find(name).ok();
                    entries.push((name, EndpointView::new(c, net, None, None)));
                }
                entries.extend(requested(records, state, c));
            }
        }
        // Go encodes maps sorted by key; a name given twice keeps its last entry.
        entries.sort_by(|a, b| a.0.cmp(b.0));
        entries.reverse();
        entries.dedup_by(|later, earlier| later.0 == earlier.0);
        entries.reverse();
        NetworksView { entries }
    }
}

/// The entries of the networks `state` asks for, with their endpoints where they exist.
fn requested<'a>(
    records: &'a RecordsView<'_>,
    state: Option<&'a super::endpoints::ContainerNetwork>,
    c: &'a Container,
) -> impl Iterator<Item = (&'a str, EndpointView<'a>)> + 'a {
    state
        .into_iter()
        .flat_map(|s| s.requests.iter())
        .filter_map(move |r| {
            let net = records.find(&r.network_id).ok()?;
            let ep = net.endpoints.get(&c.id);
            Some((
                net.name.as_str(),
                EndpointView::new(c, Some(net), Some(r), ep),
            ))
        })
}

impl Serialize for NetworksView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (name, ep) in &self.entries {
            map.serialize_entry(name, ep)?;
        }
        map.end()
    }
}

/// `NetworkSettings.Networks`.
pub fn networks_json(daemon: &Daemon, c: &Container) -> Value {
    let state = daemon.networks.container_state(&c.dir);
    let records = daemon.networks.read();
    serde_json::to_value(NetworksView::new(&records, state.as_deref(), c)).unwrap_or(Value::Null)
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
    let state = daemon.networks.container_state(&c.dir).unwrap_or_default();
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
        "SandboxKey": state.netns.as_ref().filter(|_| running).map(|p| p.display().to_string()).unwrap_or_default(),
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
/// container), and its hostname when that differs; since then they are in `DNSNames`
/// only. dockerd adds them when it connects the endpoint (`updateNetworkConfig`: at
/// start, and at `network connect` even to a container that never ran), so a container
/// created but never started shows its aliases as the client gave them, except on the
/// networks in `named_at_connect`; after a stop they stay.
pub fn add_short_id_aliases(inspect: &mut Value, c: &Container, named_at_connect: &[String]) {
    let started = c.state.started_at.is_some();
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
        if !started && !named_at_connect.contains(name) {
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

/// The names of the networks `network connect` gave container `c` (see
/// [`add_short_id_aliases`]).
pub fn named_at_connect(daemon: &Daemon, c: &Container) -> Vec<String> {
    let Some(state) = daemon.networks.container_state(&c.dir) else {
        return Vec::new();
    };
    let records = daemon.networks.read();
    state
        .requests
        .iter()
        .filter(|r| r.named_at_connect)
        .filter_map(|r| records.find(&r.network_id).ok().map(|n| n.name.clone()))
        .collect()
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
        add_short_id_aliases(&mut doc, &c, &[]);
        let n = &doc["NetworkSettings"]["Networks"];
        assert_eq!(n["bridge"]["Aliases"], Value::Null);
        assert_eq!(n["app"]["Aliases"], json!(["web", "0123456789ab"]));
        assert_eq!(n["other"]["Aliases"], json!(["0123456789ab"]));
    }

    #[test]
    fn a_hostname_is_an_alias_too_and_nothing_before_the_first_start() {
        let mut doc = networks();
        add_short_id_aliases(
            &mut doc,
            &container(json!("2026-01-01T00:00:01Z"), "myh"),
            &[],
        );
        let n = &doc["NetworkSettings"]["Networks"];
        assert_eq!(n["app"]["Aliases"], json!(["web", "0123456789ab", "myh"]));
        let mut doc = networks();
        add_short_id_aliases(&mut doc, &container(Value::Null, "myh"), &[]);
        assert_eq!(doc, networks());
        // Given by `network connect` before the first start: named at once.
        let mut doc = networks();
        add_short_id_aliases(&mut doc, &container(Value::Null, "myh"), &["other".into()]);
        let n = &doc["NetworkSettings"]["Networks"];
        assert_eq!(n["app"]["Aliases"], json!(["web"]));
        assert_eq!(n["other"]["Aliases"], json!(["0123456789ab", "myh"]));
    }
}
