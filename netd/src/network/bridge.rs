//! Bridge networks: the default `berth0` and dockerd-named `br-<id>` bridges.

use ipnet::{Ipv4Net, Ipv6Net};
use rtnetlink::Handle;

use crate::error::Result;
use crate::network::link::{self, BRIDGE_ALIAS_PREFIX};
use crate::sysctl;

/// What a bridge gets.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Which netd made it (its state directory): the start-up cleanup of one
    /// berthd never touches another's bridges.
    pub owner: String,
    /// The network's id (written in the bridge's alias so stale ones are found).
    pub network_id: String,
    /// `berth0` for the default network, `br-<first 12 of the id>` otherwise,
    /// or `com.docker.network.bridge.name`.
    pub name: String,
    /// The gateway's address with the subnet's prefix (`172.18.0.1/16`).
    pub gateway: Ipv4Net,
    /// The IPv6 gateway of a network with IPv6 (`fd42::1/64`).
    pub gateway6: Option<Ipv6Net>,
    pub mtu: Option<u32>,
}

impl BridgeConfig {
    /// dockerd's name for a user-defined network's bridge.
    pub fn default_name(network_id: &str) -> String {
        format!("br-{}", &network_id[..network_id.len().min(12)])
    }
}

/// The alias netd writes on a network's bridge: `berth:<owner>:<network id>`.
pub fn bridge_alias(owner: &str, network_id: &str) -> String {
    format!("{BRIDGE_ALIAS_PREFIX}{owner}:{network_id}")
}

/// The network id in an alias written by `owner`, if it is one.
fn network_of<'a>(alias: &'a str, owner: &str) -> Option<&'a str> {
    let (who, id) = alias.strip_prefix(BRIDGE_ALIAS_PREFIX)?.rsplit_once(':')?;
    (who == owner).then_some(id)
}

/// Creates (or adopts after a restart) the bridge, with its address, up, and
/// route_localnet set so ports published on 127.0.0.1 reach its containers.
pub async fn create_bridge(handle: &Handle, config: &BridgeConfig) -> Result<u32> {
    sysctl::enable_ip_forward()?;
    let index = link::ensure_bridge(
        handle,
        &config.name,
        config.mtu,
        config.gateway,
        &bridge_alias(&config.owner, &config.network_id),
    )
    .await?;
    sysctl::set_route_localnet(&config.name)?;
    if let Some(gw6) = config.gateway6 {
        // dockerd: IPv6 on the bridge and forwarding on the host for IPv6 networks.
        sysctl::enable_ipv6_on(&config.name)?;
        sysctl::enable_ipv6_forward()?;
        link::add_address6(handle, index, gw6).await?;
    }
    tracing::info!(bridge = %config.name, gateway = %config.gateway, "bridge ready");
    Ok(index)
}

/// Deletes the bridge `name` of `owner`'s network `network_id` and any host veth ends
/// still enslaved to it, when netd made it (it carries netd's alias for that network): a
/// bridge the user made, or any other link of that name, is left alone, as dockerd
/// deletes only the bridges it created.
pub async fn delete_bridge(
    handle: &Handle,
    name: &str,
    owner: &str,
    network_id: &str,
) -> Result<()> {
    let links = link::list(handle).await?;
    let Some(bridge) = links.iter().find(|l| l.name == name) else {
        return Ok(());
    };
    if !bridge.is_bridge
        || bridge.alias.as_deref() != Some(bridge_alias(owner, network_id).as_str())
    {
        tracing::info!(bridge = name, "not deleting a bridge netd did not create");
        return Ok(());
    }
    for port in links.iter().filter(|l| l.controller == Some(bridge.index)) {
        link::delete(handle, &port.name).await?;
    }
    link::delete(handle, name).await
}

/// Deletes every bridge `owner` made (alias `berth:<owner>:…`) whose network
/// id is not in `keep`, with its ports: the start-up pass over stale state.
/// Returns the names deleted.
pub async fn cleanup_stale_bridges(
    handle: &Handle,
    owner: &str,
    keep: &[&str],
) -> Result<Vec<String>> {
    let mut deleted = Vec::new();
    for l in link::list(handle).await? {
        let Some(id) = l.alias.as_deref().and_then(|a| network_of(a, owner)) else {
            continue;
        };
        if keep.contains(&id) {
            continue;
        }
        tracing::info!(bridge = %l.name, network = id, "removing stale bridge");
        delete_bridge(handle, &l.name, owner, id).await?;
        deleted.push(l.name);
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_dockerd() {
        assert_eq!(
            BridgeConfig::default_name("0123456789abcdef0123"),
            "br-0123456789ab"
        );
        let alias = bridge_alias("/var/lib/berth/network", "abc");
        assert_eq!(alias, "berth:/var/lib/berth/network:abc");
        assert_eq!(network_of(&alias, "/var/lib/berth/network"), Some("abc"));
        assert_eq!(network_of(&alias, "/tmp/other"), None);
    }
}
