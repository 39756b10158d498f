//! A container's side of networking, kept in `<container dir>/network.json`: the
//! endpoints it asked for (NetworkingConfig at create, `docker network connect` while
//! stopped) and, while it runs, the namespace netd made for it.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{NetworkError, Networks, Result};
use crate::containers::record::Container;

const STATE_FILE: &str = "network.json";

/// One network a container is to be on, with its options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRequest {
    /// The network's id.
    pub network_id: String,
    /// `--ip`.
    #[serde(default)]
    pub ipv4: Option<String>,
    /// `--mac-address`.
    #[serde(default)]
    pub mac: Option<String>,
    /// `--network-alias`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--ip6` (IPAMConfig.IPv6Address).
    #[serde(default)]
    pub ipv6: Option<String>,
    /// `--link-local-ip` (IPAMConfig.LinkLocalIPs).
    #[serde(default)]
    pub link_local_ips: Vec<String>,
    /// Links on a user-defined network (`name:alias`), as given.
    #[serde(default)]
    pub links: Vec<String>,
    /// `--driver-opt` (DriverOpts), shown as given.
    #[serde(default)]
    pub driver_opts: Option<std::collections::BTreeMap<String, String>>,
    /// GwPriority, shown as given.
    #[serde(default)]
    pub gw_priority: i64,
    /// Given by `docker network connect`: dockerd names such an endpoint at once
    /// (`updateNetworkConfig`: its DNSNames, and the short ID among the Aliases of API
    /// < 1.45), even on a container that has not started yet; one given at create is
    /// named at the container's first start.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub named_at_connect: bool,
}

/// Everything networking remembers of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerNetwork {
    /// In attachment order: the first gives eth0 and the default route.
    #[serde(default)]
    pub requests: Vec<EndpointRequest>,
    /// netd's namespace file while the container runs (not for host or container: modes).
    #[serde(default)]
    pub netns: Option<PathBuf>,
    /// NetworkSettings.SandboxID while running.
    #[serde(default)]
    pub sandbox_id: String,
    /// Ids of the networks the running container was announced on (connect events
    /// sent); each gets its disconnect event when the container stops.
    #[serde(default)]
    pub connected: Vec<String>,
    /// The legacy links' variables, made at start (see `links`).
    #[serde(default)]
    pub link_env: Vec<String>,
    /// A `--network none` container disconnected from `none` (`docker network disconnect
    /// none X`): as dockerd's, it is then on no network and may be connected to others,
    /// which its `requests` then list.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub left_none: bool,
}

impl ContainerNetwork {
    /// Whether `c` is on the `none` network: its mode, unless it was disconnected from it.
    pub fn on_none(&self, c: &Container) -> bool {
        Mode::of(c) == Mode::None && !self.left_none
    }

    pub fn load(dir: &Path) -> ContainerNetwork {
        std::fs::read(dir.join(STATE_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Whether the container has a network state file (every container created by this
    /// version has one, even when disconnected from every network).
    pub fn recorded(dir: &Path) -> bool {
        dir.join(STATE_FILE).exists()
    }

    /// Written only through `Networks::save_container_state`, which keeps it in memory.
    pub(super) fn save(&self, dir: &Path) -> Result<()> {
        self.write(dir, crate::store::atomic::write_file)
    }

    /// Saves what a run changed (its namespace, the networks it is on) without fsync:
    /// it describes a live sandbox, which a crash of the machine ends anyway (the
    /// endpoint requests, saved at create and connect, stay durable). Only through
    /// `Networks::save_container_run_state`.
    pub(super) fn save_run_state(&self, dir: &Path) -> Result<()> {
        self.write(dir, crate::store::atomic::write_file_volatile)
    }

    fn write(
        &self,
        dir: &Path,
        write: fn(&Path, &[u8]) -> crate::store::StoreResult<()>,
    ) -> Result<()> {
        let data = serde_json::to_vec_pretty(self)
            .map_err(|e| NetworkError::Internal(format!("encoding network state: {e}")))?;
        let path = dir.join(STATE_FILE);
        write(&path, &data)
            .map_err(|e| NetworkError::Internal(format!("writing {}: {e}", path.display())))
    }
}

/// How a container is networked (`HostConfig.NetworkMode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Host,
    None,
    /// `container:<name|id>`: that container's namespace.
    Container(String),
    /// A network by name or id (`default` is `bridge`).
    Network(String),
}

impl Mode {
    pub fn of(c: &Container) -> Mode {
        Mode::parse(c.host_config.network_mode.as_deref().unwrap_or("default"))
    }

    pub fn parse(mode: &str) -> Mode {
        match mode {
            "host" => Mode::Host,
            "none" => Mode::None,
            "" | "default" => Mode::Network("bridge".into()),
            m => match m.strip_prefix("container:") {
                Some(other) => Mode::Container(other.to_string()),
                None => Mode::Network(m.to_string()),
            },
        }
    }
}

/// One endpoint config of NetworkingConfig.EndpointsConfig (or a connect body).
pub fn request_from(network_id: &str, config: Option<&Value>) -> Result<EndpointRequest> {
    let settings: bollard_stubs::models::EndpointSettings = match config {
        Some(v) if !v.is_null() => serde_json::from_value(v.clone())
            .map_err(|e| NetworkError::Invalid(format!("invalid endpoint settings: {e}")))?,
        _ => Default::default(),
    };
    let ipam = settings.ipam_config.unwrap_or_default();
    let ipv4 = ipam.ipv4_address.filter(|s| !s.is_empty());
    if let Some(ip) = &ipv4 {
        ip.parse::<std::net::Ipv4Addr>()
            .map_err(|_| NetworkError::Invalid(format!("invalid IPv4 address: {ip}")))?;
    }
    let ipv6 = ipam.ipv6_address.filter(|s| !s.is_empty());
    if let Some(ip) = &ipv6 {
        ip.parse::<std::net::Ipv6Addr>()
            .map_err(|_| NetworkError::Invalid(format!("invalid IPv6 address: {ip}")))?;
    }
    let link_local_ips = ipam.link_local_ips.unwrap_or_default();
    for ip in &link_local_ips {
        ip.parse::<std::net::IpAddr>()
            .map_err(|_| NetworkError::Invalid(format!("invalid link-local IP address: {ip}")))?;
    }
    let mac = settings.mac_address.filter(|s| !s.is_empty());
    if let Some(m) = &mac {
        netd::network::endpoint::parse_mac(m)?;
    }
    let links = settings.links.unwrap_or_default();
    for l in &links {
        super::links::parse(l)?;
    }
    Ok(EndpointRequest {
        network_id: network_id.to_string(),
        ipv4,
        mac,
        aliases: settings.aliases.unwrap_or_default(),
        ipv6,
        link_local_ips,
        links,
        driver_opts: settings.driver_opts.map(|m| m.into_iter().collect()),
        gw_priority: settings.gw_priority.unwrap_or(0),
        named_at_connect: false,
    })
}

/// At create: checks the network mode and NetworkingConfig, and records the endpoints
/// the container is to get at start.
pub fn plan(
    networks: &Networks,
    c: &Container,
    networking_config: Option<&Value>,
    moved_links: Vec<String>,
) -> Result<ContainerNetwork> {
    let configs = networking_config
        .and_then(|n| n.get("EndpointsConfig"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut plan = ContainerNetwork::default();
    let Mode::Network(first) = Mode::of(c) else {
        return Ok(plan);
    };
    // The CLI keys the mode's network by the mode as given ("default", a name, an id).
    let mode_key = c.host_config.network_mode.clone().unwrap_or_default();
    let first = networks.find(&first)?;
    let first_config = configs
        .get(&first.name)
        .or_else(|| configs.get(&mode_key))
        .or_else(|| configs.get(&first.id));
    let mut request = request_from(&first.id, first_config)?;
    // HostConfig.Links of a container on a user-defined network (see `links::at_create`).
    if request.links.is_empty() {
        request.links = moved_links;
    }
    if first.name == "bridge" && !request.aliases.is_empty() {
        return Err(NetworkError::Invalid(
            "network-scoped aliases are only supported for user-defined networks".into(),
        ));
    }
    if first.name == "bridge" && (request.ipv4.is_some() || request.ipv6.is_some()) {
        return Err(NetworkError::Invalid(
            "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
        ));
    }
    plan.requests.push(request);
    for (name, config) in &configs {
        if *name == first.name || *name == first.id || *name == mode_key {
            continue;
        }
        let net = networks.find(name)?;
        if plan.requests.iter().any(|r| r.network_id == net.id) {
            continue;
        }
        plan.requests.push(request_from(&net.id, Some(config))?);
    }
    Ok(plan)
}

/// The container-level `Config.MacAddress` of a create request (`mac`), as dockerd's
/// handleMACAddressBC moves it:
/// - API < 1.44 (`legacy_api`): it is the MAC of the network of the NetworkMode
///   (refused with `host`, `none` and `container:` modes); without it, a MAC given on
///   an endpoint is dropped, as those versions ignored it.
/// - later versions: the field is deprecated; it becomes the MAC of the mode's endpoint
///   unless that has another one (400), and the answer carries dockerd's warning.
pub fn apply_config_mac(
    body: &mut bollard_stubs::models::ContainerCreateBody,
    mac: Option<&str>,
    legacy_api: bool,
) -> Result<Option<String>> {
    let mac = mac.filter(|m| !m.is_empty());
    let mode = body
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "default".into());
    let on_a_network = matches!(Mode::parse(&mode), Mode::Network(_));
    let Some(mac) = mac else {
        if legacy_api {
            for ep in body
                .networking_config
                .iter_mut()
                .flat_map(|n| n.endpoints_config.iter_mut())
                .flat_map(|eps| eps.values_mut())
            {
                ep.mac_address = None;
            }
        }
        return Ok(None);
    };
    if legacy_api && !on_a_network {
        return Err(NetworkError::Invalid(
            "conflicting options: mac-address and the network mode".into(),
        ));
    }
    if on_a_network {
        let endpoints = body
            .networking_config
            .get_or_insert_with(Default::default)
            .endpoints_config
            .get_or_insert_with(Default::default);
        // `plan` finds the mode's endpoint by the network's name or the mode as given.
        let key = if mode == "default" {
            "bridge".into()
        } else {
            mode
        };
        let ep = endpoints.entry(key).or_default();
        match ep.mac_address.as_deref().filter(|m| !m.is_empty()) {
            None => ep.mac_address = Some(mac.to_string()),
            Some(_) if legacy_api => ep.mac_address = Some(mac.to_string()),
            Some(own) if own != mac => {
                return Err(NetworkError::Invalid(
                    "the container-wide MAC address must match the endpoint-specific MAC \
                     address for the main network, or be left empty"
                        .into(),
                ))
            }
            Some(_) => {}
        }
    }
    Ok((!legacy_api).then(|| {
        "The container-wide MacAddress field is now deprecated. It should be specified in \
         EndpointsConfig instead."
            .to_string()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(Mode::parse("default"), Mode::Network("bridge".into()));
        assert_eq!(Mode::parse(""), Mode::Network("bridge".into()));
        assert_eq!(Mode::parse("host"), Mode::Host);
        assert_eq!(Mode::parse("none"), Mode::None);
        assert_eq!(Mode::parse("container:web"), Mode::Container("web".into()));
        assert_eq!(Mode::parse("mynet"), Mode::Network("mynet".into()));
    }

    #[test]
    fn endpoint_settings() {
        let v = serde_json::json!({"IPAMConfig": {"IPv4Address": "10.1.0.5"}, "Aliases": ["db"], "MacAddress": "02:42:0a:01:00:05"});
        let r = request_from("n1", Some(&v)).expect("request");
        assert_eq!(r.ipv4.as_deref(), Some("10.1.0.5"));
        assert_eq!(r.aliases, vec!["db".to_string()]);
        assert_eq!(r.mac.as_deref(), Some("02:42:0a:01:00:05"));
        let bad = serde_json::json!({"IPAMConfig": {"IPv4Address": "nope"}});
        assert!(request_from("n1", Some(&bad)).is_err());
        assert_eq!(request_from("n1", None).expect("empty").network_id, "n1");
        let v = serde_json::json!({"IPAMConfig": {"IPv6Address": "fd00::5", "LinkLocalIPs": ["169.254.1.1"]},
                                   "Links": ["web:w"], "DriverOpts": {"k": "v"}});
        let r = request_from("n1", Some(&v)).expect("request");
        assert_eq!(r.ipv6.as_deref(), Some("fd00::5"));
        assert_eq!(r.link_local_ips, ["169.254.1.1"]);
        assert_eq!(r.links, ["web:w"]);
        assert_eq!(r.driver_opts.as_ref().map(|m| m["k"].as_str()), Some("v"));
        let bad = serde_json::json!({"IPAMConfig": {"IPv6Address": "10.0.0.1"}});
        assert!(request_from("n1", Some(&bad)).is_err());
    }
}
