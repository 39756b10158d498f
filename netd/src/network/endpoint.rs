//! Endpoints: a container's interface on a bridge network.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rand::Rng;
use rtnetlink::Handle;

use crate::error::{Error, Result};
use crate::netns::{self, NetnsPath};
use crate::network::link::{self, VethSpec};

/// What one container interface gets.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    pub netns: NetnsPath,
    pub bridge: String,
    /// `eth0` for the first network, `eth1`… for the next ones.
    pub ifname: String,
    /// The container's address with the subnet's prefix.
    pub address: Ipv4Net,
    /// Default route via the bridge's address; `None` for internal networks
    /// or when another network already gives the default route.
    pub gateway: Option<Ipv4Addr>,
    pub mtu: Option<u32>,
    /// `--mac-address`; otherwise dockerd 20.10's 02:42:<IPv4 bytes>.
    pub mac: Option<[u8; 6]>,
    /// More addresses on the interface (`--link-local-ip`).
    pub extra_addresses: Vec<IpNet>,
    /// The IPv6 address of an endpoint on a network with IPv6, with the subnet's prefix.
    pub address6: Option<Ipv6Net>,
    /// IPv6 default route via this gateway (as `gateway`).
    pub gateway6: Option<Ipv6Addr>,
}

/// An attached endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host end (`veth` + 7 hex digits, as dockerd names them).
    pub host_ifname: String,
    pub ifname: String,
    pub address: Ipv4Net,
    pub mac: [u8; 6],
}

impl Endpoint {
    /// The MAC as inspect shows it (`02:42:ac:11:00:02`).
    pub fn mac_string(&self) -> String {
        self.mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// dockerd 20.10's MAC for an IPv4 endpoint: 02:42 then the address's bytes.
pub fn mac_from_ip(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// Parses `--mac-address` (`02:42:ac:11:00:02`).
pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let bad = || Error::InvalidMac(s.to_string());
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for byte in mac.iter_mut() {
        let part = parts.next().ok_or_else(bad)?;
        if part.len() != 2 {
            return Err(bad());
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(mac)
}

fn host_veth_name() -> String {
    format!("veth{:07x}", rand::rng().random_range(0..0x1000_0000u32))
}

/// Attaches a container namespace to a bridge: a veth pair born with its
/// container end inside the namespace, then that end configured from a
/// netlink socket opened inside the namespace.
pub async fn attach(host: &Handle, config: &EndpointConfig) -> Result<Endpoint> {
    let bridge = link::find(host, &config.bridge)
        .await?
        .ok_or_else(|| Error::NoSuchLink(config.bridge.clone()))?;
    let mac = config
        .mac
        .unwrap_or_else(|| mac_from_ip(config.address.addr()));
    let host_ifname = host_veth_name();
    let spec = VethSpec {
        host_name: &host_ifname,
        bridge_index: bridge.index,
        container_name: &config.ifname,
        mtu: config.mtu,
        mac,
    };
    link::add_veth_into(host, &spec, &config.netns).await?;
    let inside = netns::netlink_in(&config.netns, &tokio::runtime::Handle::current())?;
    let mut addresses = vec![IpNet::V4(config.address)];
    addresses.extend(config.address6.map(IpNet::V6));
    addresses.extend(config.extra_addresses.iter().copied());
    if let Err(e) = link::configure_inside(
        &inside,
        &config.ifname,
        &addresses,
        config.gateway,
        config.gateway6,
    )
    .await
    {
        let _ = link::delete(host, &host_ifname).await;
        return Err(e);
    }
    tracing::debug!(veth = %host_ifname, address = %config.address, "endpoint attached");
    Ok(Endpoint {
        host_ifname,
        ifname: config.ifname.clone(),
        address: config.address,
        mac,
    })
}

/// Detaches an endpoint of a container that stays alive (docker network
/// disconnect): deletes the pair from the host end. When the container goes
/// instead, removing its namespace frees the pair without this call.
pub async fn detach(host: &Handle, endpoint: &Endpoint) -> Result<()> {
    link::delete(host, &endpoint.host_ifname).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_follows_dockerd_20_10() {
        let ep = Endpoint {
            host_ifname: host_veth_name(),
            ifname: "eth0".into(),
            address: "172.17.0.2/16".parse().unwrap(),
            mac: mac_from_ip(Ipv4Addr::new(172, 17, 0, 2)),
        };
        assert_eq!(ep.mac_string(), "02:42:ac:11:00:02");
        assert_eq!(ep.host_ifname.len(), 11);
        assert!(ep.host_ifname.starts_with("veth"));
        assert_eq!(parse_mac("02:42:AC:11:00:02").unwrap(), ep.mac);
        for bad in [
            "02:42:ac:11:00",
            "02:42:ac:11:00:02:03",
            "2:42:ac:11:00:02",
            "zz:42:ac:11:00:02",
        ] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
    }
}
