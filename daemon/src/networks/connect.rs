//! `docker network connect` and `disconnect`: to a stopped container they change what it
//! gets at its next start; to a running one they take effect at once (its interface,
//! its names on the embedded DNS).
use netd::netns::NetnsPath;
use serde_json::Value;

use super::endpoints::{request_from, ContainerNetwork, Mode};
use super::{events, sandbox, NetworkError, Result};
use crate::containers::record::Container;
use crate::state::Daemon;

const HOST_CONFLICT: &str =
    "container cannot be disconnected from host network or connected to host network";
const NONE_CONFLICT: &str = "container cannot be connected to multiple networks with one of the networks in private (none) mode";

/// Connects container `c` to network `reference` with `EndpointConfig` (aliases, static
/// IPv4 address, MAC address). A running container joins at once, with dockerd's
/// `connect` event; a stopped one at its next start.
pub async fn connect(
    daemon: &Daemon,
    c: &Container,
    reference: &str,
    endpoint_config: Option<&Value>,
) -> Result<()> {
    let network = daemon.networks.find(reference)?;
    let mut state = ContainerNetwork::load(&c.dir);
    match (Mode::of(c), network.driver.as_str()) {
        (Mode::Host, _) | (_, "host") => return Err(NetworkError::Invalid(HOST_CONFLICT.into())),
        // Back to `none` after leaving it, while on no other network (dockerd's
        // updateNetworkSettings finds nothing to conflict with).
        (Mode::None, "null") if state.left_none && state.requests.is_empty() => {
            return rejoin_none(daemon, c, state, &network);
        }
        (Mode::None, driver) if state.left_none && driver != "null" => {}
        (Mode::None, _) | (_, "null") => return Err(NetworkError::Invalid(NONE_CONFLICT.into())),
        (Mode::Container(_), _) => {
            return Err(NetworkError::Invalid(
                "container sharing network namespace with another container or host cannot be connected to any other network".into(),
            ))
        }
        _ => {}
    }
    if !ContainerNetwork::recorded(&c.dir) && matches!(Mode::of(c), Mode::Network(_)) {
        // A container recorded before it had endpoint requests: its mode's network.
        state.requests = super::endpoints::plan(&daemon.networks, c, None, Vec::new())?.requests;
    }
    if state.requests.iter().any(|r| r.network_id == network.id) {
        return Err(NetworkError::Forbidden(format!(
            "endpoint with name {} already exists in network {}",
            c.bare_name(),
            network.name
        )));
    }
    let mut request = request_from(&network.id, endpoint_config)?;
    request.named_at_connect = true;
    if network.name == "bridge"
        && (!request.aliases.is_empty() || request.ipv4.is_some() || request.ipv6.is_some())
    {
        return Err(NetworkError::Invalid(
            "network-scoped aliases and static addresses are only supported for user-defined networks".into(),
        ));
    }
    let running_ns = state
        .netns
        .clone()
        .filter(|_| c.state.status.is_running())
        .map(NetnsPath::existing);
    let live = running_ns.is_some();
    if let Some(ns) = running_ns {
        let netd = daemon.networks.netd()?;
        let ifname = netd.next_endpoint(&c.id)?;
        sandbox::attach(daemon, c, &ns, &request, &ifname).await?;
        state.connected.push(network.id.clone());
        if network.name != "bridge" {
            // One embedded DNS per namespace: started by the first network that has it,
            // told about its new upstreams by the next ones.
            let dns = sandbox::dns_settings(c);
            if netd.start_dns(&c.id, &ns, &dns.servers)? {
                // As dockerd: the embedded DNS takes over resolv.conf.
                let path = c.resolv_conf_path();
                if let Err(e) = std::fs::write(&path, netd.container_resolv_conf(true, &dns)) {
                    tracing::warn!(container = %c.id, "writing {}: {e}", path.display());
                }
            }
        }
    }
    state.requests.push(request);
    daemon.networks.save_container_state(&c.dir, &state)?;
    if live {
        events::publish(daemon, events::CONNECT, &network, &c.id);
    }
    Ok(())
}

/// `docker network connect none X` for a container that left `none` and is on nothing.
fn rejoin_none(
    daemon: &Daemon,
    c: &Container,
    mut state: ContainerNetwork,
    network: &super::record::NetworkRecord,
) -> Result<()> {
    state.left_none = false;
    let live = state.netns.is_some() && c.state.status.is_running();
    if live {
        state.connected.push(network.id.clone());
    }
    daemon.networks.save_container_state(&c.dir, &state)?;
    if live {
        events::publish(daemon, events::CONNECT, network, &c.id);
    }
    Ok(())
}

/// Disconnects container `c` from network `reference`.
pub async fn disconnect(daemon: &Daemon, c: &Container, reference: &str) -> Result<()> {
    let network = daemon.networks.find(reference)?;
    if Mode::of(c) == Mode::Host || network.driver == "host" {
        return Err(NetworkError::Invalid(HOST_CONFLICT.into()));
    }
    let mut state = ContainerNetwork::load(&c.dir);
    if network.driver == "null" && state.on_none(c) {
        // Leaving `none` removes nothing from the namespace (it has only its loopback).
        state.left_none = true;
        state.connected.retain(|id| *id != network.id);
        daemon.networks.save_container_state(&c.dir, &state)?;
        events::publish(daemon, events::DISCONNECT, &network, &c.id);
        return Ok(());
    }
    let requested = state.requests.iter().any(|r| r.network_id == network.id);
    if !requested && !network.endpoints.contains_key(&c.id) {
        return Err(NetworkError::Forbidden(format!(
            "container {} is not connected to network {}",
            c.id, network.name
        )));
    }
    if network.endpoints.contains_key(&c.id) {
        let netd = daemon.networks.netd()?;
        let running = c.state.status.is_running();
        netd.disconnect(&network.id, &c.id, running).await?;
        daemon.networks.update_endpoints(&network.id, |endpoints| {
            endpoints.remove(&c.id);
        })?;
        // The embedded DNS keeps listening; where it forwards may change (the networks
        // left may all be internal).
        if let (true, Some(ns)) = (running, state.netns.clone()) {
            if netd.dns_running(&c.id)? {
                let servers = sandbox::dns_settings(c).servers;
                netd.start_dns(&c.id, &NetnsPath::existing(ns), &servers)?;
            }
        }
    }
    state.requests.retain(|r| r.network_id != network.id);
    state.connected.retain(|id| *id != network.id);
    daemon.networks.save_container_state(&c.dir, &state)?;
    events::publish(daemon, events::DISCONNECT, &network, &c.id);
    Ok(())
}
