//! What netd remembers across restarts of berthd, besides IPAM's leases:
//! its networks, their endpoints and the ports they publish. One JSON file,
//! written whole.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::firewall::{BridgeOptions, Protocol};
use crate::ipam::store::write_whole;

/// A network netd manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    pub bridge: String,
    pub internal: bool,
    pub mtu: Option<u32>,
    /// Embedded DNS for its containers (user-defined networks; not the default bridge).
    pub dns: bool,
    /// enable_icc, enable_ip_masquerade (both on for records of older versions).
    #[serde(default)]
    pub options: BridgeOptions,
    /// Container id -> its endpoint.
    pub endpoints: BTreeMap<String, EndpointRecord>,
}

/// A container's endpoint on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub host_ifname: String,
    pub ifname: String,
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    /// Its IPv6 address on a network with IPv6, and the subnet's prefix length.
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
    #[serde(default)]
    pub prefix_len6: u8,
    pub mac: [u8; 6],
    /// Names on the embedded DNS (container name, aliases, short id, hostname).
    pub names: Vec<String>,
    pub netns: PathBuf,
    /// Whether the container's default route goes through this endpoint's gateway.
    #[serde(default)]
    pub default_route: bool,
    /// Legacy links on a user-defined network: (alias, linked container id).
    #[serde(default)]
    pub links: Vec<(String, String)>,
}

/// A published port, as `docker port` and NetworkSettings.Ports show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub protocol: Protocol,
    /// `None` means 0.0.0.0 (IPv4's every address); `::` is IPv6's.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct StateFile {
    pub networks: BTreeMap<String, NetworkRecord>,
    /// Container id -> (network id it is published through, ports).
    pub ports: BTreeMap<String, (String, Vec<PublishedPort>)>,
}

impl StateFile {
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::State {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StateFile::default()),
            Err(e) => Err(Error::io(format!("read {}", path.display()), e)),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        write_whole(path, &bytes)
    }
}
