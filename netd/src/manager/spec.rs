//! What berthd asks of netd and what it answers: a network to create (the default
//! bridge's from `--bip`, `--ipv6`, `--fixed-cidr-v6`), a container's endpoint to connect.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use crate::error::{Error, Result};
use crate::firewall::BridgeOptions;
use crate::ipam::{self, PoolRequest};
use crate::netns::NetnsPath;
use crate::network::Endpoint;

/// A network to create (docker network create, or the default bridge).
#[derive(Debug, Clone, Default)]
pub struct NetworkSpec {
    pub id: String,
    pub name: String,
    /// `com.docker.network.bridge.name`; else `br-<id[..12]>`.
    pub bridge: Option<String>,
    pub internal: bool,
    pub ipam: PoolRequest,
    pub mtu: Option<u32>,
    /// Embedded DNS (true for user-defined networks).
    pub dns: bool,
    /// enable_icc and enable_ip_masquerade (both on by default).
    pub options: BridgeOptions,
}

/// The default network's name and its bridge (dockerd's `bridge` on `docker0`).
pub const DEFAULT_NETWORK_NAME: &str = "bridge";
pub const DEFAULT_BRIDGE: &str = "berth0";

impl NetworkSpec {
    /// The default `bridge` network: `berth0`, its subnet from `--bip` or else
    /// the first default pool free of host routes (172.17.0.0/16 normally);
    /// no embedded DNS, as in Docker.
    pub fn default_bridge(id: &str, bip: Option<&str>, mtu: Option<u32>) -> Result<NetworkSpec> {
        let ipam = match bip {
            Some(bip) => {
                let (subnet, gateway) = ipam::parse_bip(bip)?;
                PoolRequest {
                    subnet: Some(subnet),
                    gateway: Some(gateway),
                    ..Default::default()
                }
            }
            None => PoolRequest::default(),
        };
        Ok(NetworkSpec {
            id: id.to_string(),
            name: DEFAULT_NETWORK_NAME.to_string(),
            bridge: Some(DEFAULT_BRIDGE.to_string()),
            internal: false,
            ipam,
            mtu,
            dns: false,
            options: BridgeOptions::default(),
        })
    }
}

impl NetworkSpec {
    /// `--ipv6 --fixed-cidr-v6 <subnet>` on the default bridge (the subnet from the IPv6
    /// pools when `fixed_cidr_v6` is `None`).
    pub fn with_ipv6(mut self, fixed_cidr_v6: Option<&str>) -> Result<NetworkSpec> {
        self.ipam.ipv6 = true;
        if let Some(cidr) = fixed_cidr_v6 {
            let net: Ipv6Net = cidr
                .parse()
                .map_err(|_| Error::InvalidSubnet(cidr.to_string()))?;
            self.ipam.subnet6 = Some(net.trunc());
        }
        Ok(self)
    }
}

/// A network as inspect shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub id: String,
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub ip_range: Option<Ipv4Net>,
    /// The IPv6 side of a network with IPv6 (subnet, gateway, range).
    pub v6: Option<(Ipv6Net, Ipv6Addr, Option<Ipv6Net>)>,
}

/// docker network connect (or a container's start) on one network.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    pub network_id: String,
    pub container_id: String,
    pub netns: NetnsPath,
    /// `eth0` for the first network, `eth1`…
    pub ifname: String,
    /// `--ip`.
    pub ip: Option<Ipv4Addr>,
    /// `--ip6` (on a network with IPv6).
    pub ip6: Option<Ipv6Addr>,
    /// `--mac-address`.
    pub mac: Option<[u8; 6]>,
    /// Names on the embedded DNS: name, aliases, short id, hostname.
    pub names: Vec<String>,
    /// Legacy links on a user-defined network: (alias, linked container id), names only
    /// this container resolves.
    pub links: Vec<(String, String)>,
    /// `IPAMConfig.LinkLocalIPs`: more addresses on the interface (IPv4 ones in
    /// 169.254.0.0/16 as /16, as dockerd).
    pub link_local: Vec<Ipv4Addr>,
    /// Whether this network gives the default route (the first one does).
    pub default_route: bool,
}

/// What connecting gave the container (NetworkSettings.Networks.<name>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    pub endpoint: Endpoint,
    pub gateway: Ipv4Addr,
    /// Its IPv6 address (with the subnet's prefix) and gateway on a network with IPv6.
    pub ip6: Option<Ipv6Net>,
    pub gateway6: Option<Ipv6Addr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_bridge_spec_follows_bip() {
        let spec = NetworkSpec::default_bridge("id", Some("10.9.0.1/16"), Some(1400)).unwrap();
        assert_eq!(spec.name, DEFAULT_NETWORK_NAME);
        assert_eq!(spec.bridge.as_deref(), Some(DEFAULT_BRIDGE));
        assert_eq!(spec.ipam.subnet, Some("10.9.0.0/16".parse().unwrap()));
        assert_eq!(spec.ipam.gateway, Some(Ipv4Addr::new(10, 9, 0, 1)));
        assert!(!spec.dns);
        let spec = NetworkSpec::default_bridge("id", None, None).unwrap();
        assert_eq!(spec.ipam, PoolRequest::default());
        assert!(NetworkSpec::default_bridge("id", Some("10.9.0.0/16"), None).is_err());
    }

    #[test]
    fn default_bridge_with_ipv6() {
        let spec = NetworkSpec::default_bridge("id", None, None)
            .unwrap()
            .with_ipv6(Some("fd42:7::/64"))
            .unwrap();
        assert!(spec.ipam.ipv6);
        assert_eq!(spec.ipam.subnet6, Some("fd42:7::/64".parse().unwrap()));
        assert!(NetworkSpec::default()
            .with_ipv6(Some("10.0.0.0/8"))
            .is_err());
    }
}
